//! The real binary at cold start: a bad configuration stops it at once with a message naming the
//! variable, before any request; a good one gets as far as asking the Lambda runtime for work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::time::Duration;

const MAIL_FROM: (&str, &str) = ("MAIL_FROM", "noreply@example.com");
const RESET_URL: (&str, &str) = ("PASSWORD_RESET_URL", "https://app.example.com/reset");

fn start(env: &[(&str, &str)]) -> Output {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_health"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LOCAL_DATA_DIR", data_dir.path());
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "startup must fail fast"
    );
    output
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_invalid_value_stops_the_function_naming_the_variable() {
    let output = start(&[
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "abc"),
        ("RL_LOGIN_IP_LIMIT", "0"),
    ]);
    assert!(!output.status.success());
    let text = all_output(&output);
    assert!(text.contains("ACCESS_TOKEN_EXPIRE_MINUTES"), "{text}");
    assert!(text.contains("RL_LOGIN_IP_LIMIT"), "{text}");
    // The error is a structured log line a person and CloudWatch can both read.
    let line = text
        .lines()
        .find(|l| l.contains("cannot start"))
        .expect("a startup error line");
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["level"], "ERROR");
}

#[test]
fn prod_refuses_missing_secrets_and_the_embedded_store() {
    let text = all_output(&start(&[("ENV", "prod"), ("STORE", "embedded")]));
    assert!(text.contains("STORE"), "{text}");
    let output = start(&[("ENV", "prod"), MAIL_FROM, RESET_URL]);
    assert!(!output.status.success());
    let text = all_output(&output);
    for variable in ["JWT_SECRET", "TOKEN_PEPPER", "MFA_ENCRYPTION_KEY"] {
        assert!(text.contains(variable), "{variable} not named: {text}");
    }
}

#[test]
fn prod_refuses_development_secrets() {
    // What `.local/dev-secrets.json` holds: random, but marked as development values.
    let dev_jwt = "dev-Zx9Qw3Er7Ty1Ui5Op0As2Df4Gh6Jk8Lz".to_owned();
    let dev_pepper = "dev-Mn2Bv4Cx6Za8Sd0Fg1Hj3Kl5Qw7Er9".to_owned();
    let output = start(&[
        ("ENV", "prod"),
        MAIL_FROM,
        RESET_URL,
        ("JWT_SECRET", &dev_jwt),
        ("TOKEN_PEPPER", &dev_pepper),
        (
            "MFA_ENCRYPTION_KEY",
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
        ),
    ]);
    assert!(!output.status.success());
    let text = all_output(&output);
    assert!(
        text.contains("JWT_SECRET") && text.contains("development or placeholder"),
        "{text}"
    );
    assert!(
        !text.contains(&dev_jwt),
        "the value itself is never printed"
    );
}

#[test]
fn a_valid_configuration_starts_and_waits_for_the_runtime() {
    // Outside Lambda there is no runtime API to ask for work: the function gets that far, having
    // loaded settings, generated dev secrets and opened the embedded store, then stops.
    let output = start(&[("ENV", "dev")]);
    let text = all_output(&output);
    assert!(text.contains("\"message\":\"function ready\""), "{text}");
    assert!(text.contains("\"store\":\"embedded\""), "{text}");
    assert!(!output.status.success());
    assert!(text.contains("AWS_LAMBDA_RUNTIME_API"), "{text}");
}
