//! What a function builds once per container and shares with every request.

use std::sync::Arc;

use crate::auth::{PasswordHasher, TokenKeys};
use crate::clock::Clock;
use crate::config::{ConfigError, EnvMap, Settings, StoreKind, StoreSettings};
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::store::dynamo::DynamoBackend;
use crate::store::embedded::EmbeddedBackend;
use crate::store::{Backend, Store, StoreError};
use crate::telemetry::Sink;

/// Shared state of a function: settings, secrets, store, clock and metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppContext {
    pub settings: Arc<Settings>,
    pub secrets: Arc<Secrets>,
    pub store: Store,
    pub clock: Clock,
    pub metrics: Metrics,
    /// Signs and verifies tokens with the keys from the secrets.
    pub tokens: Arc<TokenKeys>,
    /// Argon2id at the configured cost.
    pub passwords: PasswordHasher,
    /// SES, or the dev outbox.
    pub mailer: Arc<dyn crate::mailer::Mailer>,
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not open the store")]
    Store(#[from] StoreError),
    #[error("invalid password hashing parameters")]
    Hashing(#[from] crate::auth::password::HashError),
}

impl AppContext {
    /// Loads secrets (at most one network call) and opens the store (none).
    pub async fn build(settings: Settings, env: &EnvMap, sink: Sink) -> Result<Self, StartupError> {
        let secrets = Secrets::load(&settings, env).await?;
        let clock = Clock::system();
        let store = open_store(
            &settings.store,
            settings.aws_region.as_deref(),
            clock.clone(),
        )
        .await?;
        let metrics = Metrics::new(&settings.function_name, sink);
        let mailer = crate::mailer::from_settings(&settings);
        Self::new(settings, secrets, store, clock, metrics, mailer)
    }

    pub fn new(
        settings: Settings,
        secrets: Secrets,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        mailer: Arc<dyn crate::mailer::Mailer>,
    ) -> Result<Self, StartupError> {
        let tokens = Arc::new(TokenKeys::new(&settings.tokens, &secrets));
        let passwords = PasswordHasher::new(&settings.passwords)?;
        Ok(Self {
            settings: Arc::new(settings),
            secrets: Arc::new(secrets),
            store,
            clock,
            metrics,
            tokens,
            passwords,
            mailer,
        })
    }
}

/// Opens the configured store. The DynamoDB client is built without a network call.
pub async fn open_store(
    settings: &StoreSettings,
    region: Option<&str>,
    clock: Clock,
) -> Result<Store, StoreError> {
    let backend: Arc<dyn Backend> = match settings.kind {
        StoreKind::Embedded => Arc::new(EmbeddedBackend::open(
            &settings.embedded_path,
            clock.epoch_seconds(),
        )?),
        StoreKind::DynamoDb => {
            let client =
                crate::aws::dynamodb_client(region, settings.dynamodb_endpoint.as_deref()).await;
            Arc::new(DynamoBackend::new(client, settings.table_name.clone()))
        }
    };
    Ok(Store::new(backend, clock))
}
