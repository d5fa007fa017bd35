//! Secrets from AWS Secrets Manager, against a local Secrets Manager (moto's server mode on
//! 127.0.0.1), through the same code path a deployed function takes at cold start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use secrecy::ExposeSecret;
use shared::config::{EnvMap, SecretsSource, Settings};
use shared::secrets::{Secrets, SecretsOrigin};
use shared::testkit::moto_endpoint;

const FERNET: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

async fn create_secret(endpoint: &str, value: &str) -> String {
    let client = shared::aws::secrets_manager_client(None, Some(endpoint)).await;
    let name = format!("app-secrets-{}", uuid::Uuid::new_v4().simple());
    // moto may take a moment after opening its port.
    for _ in 0..50 {
        match client
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(out) => return out.arn().expect("arn").to_owned(),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    panic!("could not create a secret in moto at {endpoint}");
}

fn settings(pairs: &[(&str, &str)]) -> (Settings, EnvMap) {
    let env = EnvMap::from_pairs(pairs.iter().copied());
    (Settings::from_env(&env, "test").unwrap(), env)
}

/// Prod settings whose secret lives in the local Secrets Manager. (From the environment, prod
/// refuses endpoint overrides; the test sets the source directly.)
fn prod_settings(arn: &str, endpoint: &str, extra: &[(&str, &str)]) -> (Settings, EnvMap) {
    let mut pairs = vec![
        ("ENV", "prod"),
        ("APP_SECRETS_ARN", arn),
        ("MAIL_FROM", "noreply@example.com"),
        ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
    ];
    pairs.extend_from_slice(extra);
    let (mut settings, env) = settings(&pairs);
    settings.secrets_source = SecretsSource::SecretsManager {
        arn: arn.to_owned(),
        endpoint: Some(endpoint.to_owned()),
    };
    (settings, env)
}

#[tokio::test]
async fn prod_reads_its_secrets_from_secrets_manager() {
    let endpoint = moto_endpoint();
    let jwt = "jwt-Zx9Qw3Er7Ty1Ui5Op0As2Df4Gh6Jk8Lz".to_owned();
    let pepper = "pepper-Mn2Bv4Cx6Za8Sd0Fg1Hj3Kl5Qw7Er9".to_owned();
    let value = serde_json::json!({"JWT_SECRET": jwt, "TOKEN_PEPPER": pepper, "MFA_ENCRYPTION_KEY": FERNET});
    let arn = create_secret(&endpoint, &value.to_string()).await;
    // Environment values are ignored when a secret is configured.
    let (settings, env) = prod_settings(
        &arn,
        &endpoint,
        &[("JWT_SECRET", "ignored-because-the-secret-wins-0123456789")],
    );
    let secrets = Secrets::load(&settings, &env).await.unwrap();
    assert_eq!(secrets.origin(), SecretsOrigin::SecretsManager);
    assert_eq!(secrets.jwt_secret().expose_secret(), jwt);
    assert_eq!(secrets.token_pepper().expose_secret(), pepper);
    assert_eq!(
        secrets.mfa_encryption_key().unwrap().expose_secret(),
        FERNET
    );
}

#[tokio::test]
async fn a_secret_missing_a_value_fails_naming_it() {
    let endpoint = moto_endpoint();
    let value = serde_json::json!({"JWT_SECRET": "x".repeat(40)});
    let arn = create_secret(&endpoint, &value.to_string()).await;
    let (settings, env) = prod_settings(&arn, &endpoint, &[]);
    let err = Secrets::load(&settings, &env).await.unwrap_err();
    assert!(
        err.mentions("TOKEN_PEPPER") && err.mentions("MFA_ENCRYPTION_KEY"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(&"x".repeat(40)),
        "values never appear in errors"
    );
}

#[tokio::test]
async fn a_secret_that_is_not_json_fails_without_echoing_it() {
    let endpoint = moto_endpoint();
    let arn = create_secret(&endpoint, "jwt=hunter2-not-json").await;
    let (settings, env) = settings(&[
        ("APP_SECRETS_ARN", &arn),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint),
    ]);
    let err = Secrets::load(&settings, &env).await.unwrap_err();
    assert!(err.mentions("APP_SECRETS_ARN"));
    assert!(!err.to_string().contains("hunter2"));
}

#[tokio::test]
async fn an_unknown_secret_fails_at_start_naming_the_variable() {
    let endpoint = moto_endpoint();
    let (settings, env) = settings(&[
        (
            "APP_SECRETS_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint),
    ]);
    let err = Secrets::load(&settings, &env).await.unwrap_err();
    assert!(err.mentions("APP_SECRETS_ARN"), "{err}");
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
}
