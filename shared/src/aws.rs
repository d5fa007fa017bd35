//! AWS SDK configuration, built once per container.
//!
//! In AWS the default chain applies (Lambda provides credentials and region in the environment).
//! Against a local endpoint (DynamoDB Local, moto) the configuration is fixed instead: a region,
//! dummy static credentials and nothing read from the machine, so the SDK never reaches for the
//! instance-metadata address or any other host.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Region used for local endpoints when none is configured.
pub const LOCAL_REGION: &str = "us-east-1";

/// Store calls are short: fail fast so readiness can say `down` and requests answer 503 quickly.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

/// Configuration for the real AWS services, from the default provider chain.
pub async fn cloud_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Configuration for a local emulator: fixed region, dummy credentials, no provider chain.
pub fn local_config(region: Option<&str>) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.unwrap_or(LOCAL_REGION).to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            Credentials::new("local", "local", None, None, "local-emulator"),
        ))
        .timeout_config(timeouts())
        .build()
}

/// A DynamoDB client; `endpoint` points it at DynamoDB Local.
pub async fn dynamodb_client(
    region: Option<&str>,
    endpoint: Option<&str>,
) -> aws_sdk_dynamodb::Client {
    match endpoint {
        Some(endpoint) => {
            let config = aws_sdk_dynamodb::config::Builder::from(&local_config(region))
                .endpoint_url(endpoint)
                .build();
            aws_sdk_dynamodb::Client::from_conf(config)
        }
        None => aws_sdk_dynamodb::Client::new(&cloud_config(region).await),
    }
}

/// A Secrets Manager client; `endpoint` points it at a local emulator.
pub async fn secrets_manager_client(
    region: Option<&str>,
    endpoint: Option<&str>,
) -> aws_sdk_secretsmanager::Client {
    match endpoint {
        Some(endpoint) => {
            let config = aws_sdk_secretsmanager::config::Builder::from(&local_config(region))
                .endpoint_url(endpoint)
                .build();
            aws_sdk_secretsmanager::Client::from_conf(config)
        }
        None => aws_sdk_secretsmanager::Client::new(&cloud_config(region).await),
    }
}

/// An SES v2 client; `endpoint` points it at a local emulator.
pub async fn sesv2_client(region: Option<&str>, endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    match endpoint {
        Some(endpoint) => {
            let config = aws_sdk_sesv2::config::Builder::from(&local_config(region))
                .endpoint_url(endpoint)
                .build();
            aws_sdk_sesv2::Client::from_conf(config)
        }
        None => aws_sdk_sesv2::Client::new(&cloud_config(region).await),
    }
}
