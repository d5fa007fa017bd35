//! The mailers: SES v2 against moto's SES on 127.0.0.1 (the call a deployed function makes),
//! and the development outbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::config::{EnvMap, Settings};
use shared::mailer::{Mailer, Message, OutboxMailer, SesMailer};
use shared::testkit::moto_endpoint;

fn message(to: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: "Reset your password".to_owned(),
        text: "https://app.example.com/reset?token=abc".to_owned(),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_sender() {
    let endpoint = moto_endpoint();
    let client = shared::aws::sesv2_client(None, Some(&endpoint)).await;
    let mut verified = false;
    for _ in 0..50 {
        if client
            .create_email_identity()
            .email_identity("noreply@example.com")
            .send()
            .await
            .is_ok()
        {
            verified = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(verified, "could not verify a sender in moto at {endpoint}");
    let mailer = SesMailer::new(client, "noreply@example.com");
    assert_eq!(mailer.name(), "ses");
    mailer.send(&message("user@example.com")).await.unwrap();

    // As a function configures it: the client is built by the first message, not at start.
    let env = EnvMap::from_pairs([
        ("MAIL_FROM", "noreply@example.com"),
        ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
        ("AWS_ENDPOINT_URL_SESV2", endpoint.as_str()),
    ]);
    let settings = Settings::from_env(&env, "auth").unwrap();
    let configured = shared::mailer::from_settings(&settings);
    assert_eq!(configured.name(), "ses");
    configured
        .send(&message("first@example.com"))
        .await
        .unwrap();
    configured
        .send(&message("second@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_outbox_keeps_every_message_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = OutboxMailer::new(dir.path().join("outbox"));
    outbox.send(&message("first@example.com")).await.unwrap();
    outbox.send(&message("second@example.com")).await.unwrap();
    let sent = outbox.messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].to, "first@example.com");
    assert_eq!(sent[1], message("second@example.com"));
    // Messages hold one-time links: never printable.
    assert!(!format!("{:?}", sent[0]).contains("token"));
}
