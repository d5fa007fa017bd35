//! The whole API over HTTP on 127.0.0.1:$PORT (default 9100) in one process, configured from the
//! environment exactly as the functions are (ENV, STORE, ...), for contract fuzzing, load tests
//! and benchmarks. `make run` is the way to develop: it runs the real function binaries.

use api_tests::Gateway;
use shared::AppContext;
use shared::config::{EnvMap, LogLevel, Settings};
use shared::telemetry::{self, Sink};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let env = EnvMap::from_process();
    telemetry::init(telemetry::subscriber(
        "local-api",
        LogLevel::Info,
        Sink::Stdout,
    ));
    let mut contexts = std::collections::HashMap::new();
    for (function, _) in api_tests::FUNCTIONS {
        let settings = Settings::from_env(&env, function)?;
        let ctx = AppContext::build(settings, &env, Sink::Stdout).await?;
        contexts.insert(*function, ctx);
    }
    if let Some(auth) = contexts.get("auth") {
        auth::seed::demo_accounts(auth).await?;
    }
    // Every name in FUNCTIONS has a context: the loop above built one for each.
    let gateway = Gateway::per_function(|name| contexts[name].clone());
    let port = env.get("PORT").unwrap_or("9100");
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(address = %listener.local_addr()?, "local API ready");
    api_tests::server::serve(gateway, listener).await?;
    Ok(())
}
