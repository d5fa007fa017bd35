//! AWS SDK configuration, built once per container.
//!
//! In AWS the default chain applies, except for credentials where the environment has them (as
//! Lambda's does): the chain would pick them first anyway, and building it costs about half a
//! millisecond of every cold start (STS, IMDS, SSO-token and profile providers it never uses).
//! Against a local endpoint (DynamoDB Local, moto) the configuration is fixed instead: a region,
//! dummy static credentials and nothing read from the machine, so the SDK never reaches for the
//! instance-metadata address or any other host.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

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

/// The root certificates AWS service endpoints chain to: Amazon Root CA 1-4 and the Starfield
/// Services root that cross-signs them (Amazon Trust Services), copied from the Mozilla store
/// as Debian's ca-certificates ships it. They expire in 2037-2040.
pub const AWS_ROOTS_PEM: &str = include_str!("../certs/aws-roots.pem");

/// An HTTPS client for SDK clients that trusts only [`AWS_ROOTS_PEM`]: the SDK's default loads
/// the machine's whole certificate store at start, 2-6 ms of every cold start, and no other
/// authority has any business vouching for an AWS endpoint. One per configuration, not one per
/// process: its connection pool lives on the tokio runtime that first uses it.
fn http_client() -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS_PEM.as_bytes());
    // Building the context only stores the certificates; it has no failure of its own.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

/// Configuration for the real AWS services, from the default provider chain.
pub async fn cloud_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts());
    if has_environment_credentials(|name| std::env::var_os(name)) {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Whether the process environment holds an access key, as Lambda's always does: then the
/// default chain's first provider, the environment one, is the one that answers.
fn has_environment_credentials(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| var(name).is_some_and(|value| !value.is_empty()))
}

/// Configuration for a local emulator: fixed region, dummy credentials, no provider chain.
pub fn local_config(region: Option<&str>) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.unwrap_or(LOCAL_REGION).to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            Credentials::new("local", "local", None, None, "local-emulator"),
        ))
        .http_client(http_client())
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

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest::{SHA256, digest};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    /// SHA-256 fingerprints of the roots, as Amazon Trust Services publishes them.
    const FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
    ];

    #[test]
    fn environment_credentials_need_both_halves_of_the_key() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| std::ffi::OsString::from(value))
            }
        };
        const LAMBDA: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ];
        assert!(has_environment_credentials(env(LAMBDA)));
        assert!(!has_environment_credentials(env(&[(
            "AWS_ACCESS_KEY_ID",
            "ASIAEXAMPLE"
        )])));
        assert!(!has_environment_credentials(env(&[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])));
        assert!(!has_environment_credentials(env(&[])));
    }

    #[test]
    fn the_sdk_trusts_exactly_the_amazon_trust_services_roots() {
        let certificates: Vec<CertificateDer<'_>> =
            CertificateDer::pem_slice_iter(AWS_ROOTS_PEM.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let fingerprints: Vec<String> = certificates
            .iter()
            .map(|der| hex::encode(digest(&SHA256, der)))
            .collect();
        assert_eq!(fingerprints, FINGERPRINTS);
        // And rustls accepts each of them as a trust anchor.
        let mut roots = rustls::RootCertStore::empty();
        let (added, rejected) = roots.add_parsable_certificates(certificates);
        assert_eq!((added, rejected), (5, 0));
    }
}
