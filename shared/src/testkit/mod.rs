//! Helpers for tests of this crate and of the functions (feature `testkit`): isolated stores on
//! both backends, local servers, a fault-injecting backend, log capture and request helpers.
//! Test support fails loudly: a missing emulator is a failed test, never a skipped one.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod faults;
pub mod servers;

use std::sync::Arc;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::store::dynamo::{DynamoBackend, create_table};
use crate::store::embedded::EmbeddedBackend;
use crate::store::{Backend, Store};

pub use servers::{dynamodb_endpoint, moto_endpoint, workspace_root};

/// Which backend a test store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    DynamoDb,
}

/// A store of its own for one test, with a manual clock set to the real time now.
pub struct TestStore {
    pub store: Store,
    pub clock: Clock,
    pub backend: Arc<dyn Backend>,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    pub async fn new(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Embedded => Self::embedded(),
            BackendKind::DynamoDb => Self::dynamodb().await,
        }
    }

    /// A fresh SQLite file in a temporary folder.
    pub fn embedded() -> Self {
        let clock = Clock::manual(Timestamp::now());
        let dir = tempfile::tempdir().expect("temporary folder");
        let backend: Arc<dyn Backend> = Arc::new(
            EmbeddedBackend::open(&dir.path().join("store.sqlite3"), clock.epoch_seconds())
                .expect("open embedded store"),
        );
        Self {
            store: Store::new(backend.clone(), clock.clone()),
            clock,
            backend,
            _dir: Some(dir),
        }
    }

    /// A fresh table in DynamoDB Local.
    pub async fn dynamodb() -> Self {
        let clock = Clock::manual(Timestamp::now());
        let backend: Arc<dyn Backend> = Arc::new(dynamodb_table().await);
        Self {
            store: Store::new(backend.clone(), clock.clone()),
            clock,
            backend,
            _dir: None,
        }
    }
}

/// A new, uniquely named table in DynamoDB Local, created as in production.
pub async fn dynamodb_table() -> DynamoBackend {
    let endpoint = dynamodb_endpoint();
    let client = crate::aws::dynamodb_client(None, Some(&endpoint)).await;
    let table = format!("test-{}", uuid::Uuid::new_v4().simple());
    // DynamoDB Local can take a moment after opening its port.
    let mut last_error = None;
    for _ in 0..60 {
        match create_table(&client, &table).await {
            Ok(()) => return DynamoBackend::new(client, table),
            Err(err) => last_error = Some(err),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("could not create a table in DynamoDB Local at {endpoint}: {last_error:?}");
}
