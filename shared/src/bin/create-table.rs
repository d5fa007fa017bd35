//! Creates the single table (PK/SK, GSI1, TTL on `expires_at`) where `STORE=dynamodb` points:
//! DynamoDB Local when `DYNAMODB_ENDPOINT` is set. In AWS the SAM template owns the table.
//! Idempotent: an existing table is left as it is.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = shared::config::EnvMap::from_process();
    let settings = shared::config::Settings::from_env(&env, "create-table")?;
    let endpoint = settings.store.dynamodb_endpoint.as_deref();
    let client = shared::aws::dynamodb_client(settings.aws_region.as_deref(), endpoint).await;
    let table = &settings.store.table_name;
    // DynamoDB Local may still be starting.
    let mut attempt = 0;
    loop {
        match shared::store::dynamo::create_table(&client, table).await {
            Ok(()) => break,
            Err(err) if attempt < 40 && err.is_transient() => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    println!(
        "table {table} is ready (PK/SK, GSI1, TTL on expires_at) at {}",
        endpoint.unwrap_or("AWS")
    );
    Ok(())
}
