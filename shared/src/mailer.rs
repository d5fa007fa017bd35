//! Outgoing mail (password reset links): Amazon SES v2 when `MAIL_FROM` is configured; otherwise,
//! in development only, a local outbox folder a developer can read. Messages never go to a log.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
use tokio::sync::OnceCell;

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
    /// Built by the first message: most containers never send one, and building an SDK client
    /// is a third of a millisecond of every cold start.
    client: OnceCell<aws_sdk_sesv2::Client>,
    region: Option<String>,
    endpoint: Option<String>,
    from: String,
}

impl SesMailer {
    /// A mailer sending through `client`.
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
            region: None,
            endpoint: None,
            from: from.into(),
        }
    }

    /// A mailer that builds its SES client (`endpoint` for a local emulator) when it first sends.
    pub fn connecting_on_first_send(
        region: Option<&str>,
        endpoint: Option<&str>,
        from: impl Into<String>,
    ) -> Self {
        Self {
            client: OnceCell::new(),
            region: region.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            from: from.into(),
        }
    }

    async fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client
            .get_or_init(|| {
                crate::aws::sesv2_client(self.region.as_deref(), self.endpoint.as_deref())
            })
            .await
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
        self.client()
            .await
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
        // Names sort in sending order: time, then a sequence for messages in the same instant.
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "{:020}-{:010}-{}.json",
            jiff::Timestamp::now().as_nanosecond(),
            SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            crate::ids::random_uuid().simple()
        );
        let json =
            serde_json::json!({"to": message.to, "subject": message.subject, "text": message.text})
                .to_string();
        let dir = self.dir.clone();
        // Files are written on the blocking pool, not on the thread that serves requests.
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write as _;
            options.open(dir.join(name))?.write_all(json.as_bytes())
        })
        .await
        .map_err(|panicked| MailError::Outbox(std::io::Error::other(panicked)))?
        .map_err(MailError::Outbox)
    }
}

/// The configured mailer: SES with `MAIL_FROM`, else the dev outbox. Builds no client and
/// no connection until the first message.
pub fn from_settings(settings: &Settings) -> Arc<dyn Mailer> {
    match &settings.mail.from {
        Some(from) => Arc::new(SesMailer::connecting_on_first_send(
            settings.aws_region.as_deref(),
            settings.mail.ses_endpoint.as_deref(),
            from.clone(),
        )),
        None => Arc::new(OutboxMailer::new(settings.local_data_dir.join("outbox"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ses_client_waits_for_the_first_message() {
        let mailer = SesMailer::connecting_on_first_send(
            Some("eu-west-1"),
            Some("http://127.0.0.1:9"),
            "noreply@example.com",
        );
        assert!(!mailer.client.initialized());
    }
}
