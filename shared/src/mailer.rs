//! Outgoing mail (password reset links): Amazon SES v2 when `MAIL_FROM` is configured; otherwise,
//! in development only, a local outbox folder a developer can read. Messages never go to a log.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};

use crate::config::Settings;

/// One plain-text message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl std::fmt::Debug for Message {
    // The text holds one-time links: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SES refused or failed to send the message")]
    Ses(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("could not write to the outbox")]
    Outbox(#[source] std::io::Error),
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// `ses` or `outbox`.
    fn name(&self) -> &'static str;
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// Amazon SES v2.
#[derive(Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    fn name(&self) -> &'static str {
        "ses"
    }

    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let text = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let body = Body::builder()
            .text(text(&message.text).map_err(|e| MailError::Ses(Box::new(e)))?)
            .build();
        let content = EmailContent::builder()
            .simple(
                SesMessage::builder()
                    .subject(text(&message.subject).map_err(|e| MailError::Ses(Box::new(e)))?)
                    .body(body)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(content)
            .send()
            .await
            .map_err(|e| MailError::Ses(Box::new(e)))?;
        Ok(())
    }
}

/// Development only: each message becomes a JSON file in `LOCAL_DATA_DIR/outbox/`.
#[derive(Debug)]
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Every message in the outbox, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .map(|json| Message {
                to: json["to"].as_str().unwrap_or_default().to_owned(),
                subject: json["subject"].as_str().unwrap_or_default().to_owned(),
                text: json["text"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, message: &Message) -> Result<(), MailError> {
        std::fs::create_dir_all(&self.dir).map_err(MailError::Outbox)?;
        // Names sort in sending order: time, then a sequence for messages in the same instant.
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "{:020}-{:010}-{}.json",
            jiff::Timestamp::now().as_nanosecond(),
            SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            uuid::Uuid::new_v4().simple()
        );
        let json =
            serde_json::json!({"to": message.to, "subject": message.subject, "text": message.text});
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write as _;
        options
            .open(self.dir.join(name))
            .and_then(|mut file| file.write_all(json.to_string().as_bytes()))
            .map_err(MailError::Outbox)
    }
}

/// The configured mailer: SES with `MAIL_FROM`, else the dev outbox. Builds no network
/// connection until the first message.
pub async fn from_settings(settings: &Settings) -> Arc<dyn Mailer> {
    match &settings.mail.from {
        Some(from) => {
            let client = crate::aws::sesv2_client(
                settings.aws_region.as_deref(),
                settings.mail.ses_endpoint.as_deref(),
            )
            .await;
            Arc::new(SesMailer::new(client, from.clone()))
        }
        None => Arc::new(OutboxMailer::new(settings.local_data_dir.join("outbox"))),
    }
}
