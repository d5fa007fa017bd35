//! Helpers for tests of this crate and of the functions (feature `testkit`): isolated stores on
//! both backends, local servers, a fault-injecting backend, log capture and request helpers.
//! Test support fails loudly: a missing emulator is a failed test, never a skipped one.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod faults;
pub mod oidc_provider;
pub mod recording;
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

/// A store of its own for one test, with a manual clock set to the real time now. Its temporary
/// folder (the SQLite file, and the local data of every [`context`] over it: dev secrets, the
/// mail outbox) is removed with it.
pub struct TestStore {
    pub store: Store,
    pub clock: Clock,
    pub backend: Arc<dyn Backend>,
    dir: tempfile::TempDir,
}

impl TestStore {
    pub async fn new(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Embedded => Self::embedded(),
            BackendKind::DynamoDb => Self::dynamodb().await,
        }
    }

    /// The same store behind a [`faults::FaultyBackend`], whose plan the test controls.
    pub fn with_faults(self) -> (Self, Arc<faults::FaultyBackend>) {
        let faulty = Arc::new(faults::FaultyBackend::new(self.backend.clone()));
        let backend: Arc<dyn Backend> = faulty.clone();
        let store = Self {
            store: Store::new(backend.clone(), self.clock.clone()),
            backend,
            ..self
        };
        (store, faulty)
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
            dir,
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
            dir: tempfile::tempdir().expect("temporary folder"),
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

/// Settings for a test: development defaults plus `overrides`, never the process environment,
/// with local state (dev secrets, outbox) in `local_data_dir`. Password hashing is cheap in dev
/// unless a test asks for the real cost (prod refuses cheap).
pub fn settings(
    local_data_dir: &std::path::Path,
    overrides: &[(&str, &str)],
) -> crate::config::Settings {
    let deployed = overrides
        .iter()
        .any(|(name, value)| *name == "ENV" && *value != "dev");
    let mut env = crate::config::EnvMap::default();
    if deployed {
        env.set("MAIL_FROM", "noreply@example.com");
        env.set(
            "PASSWORD_RESET_URL",
            "https://app.example.com/reset-password",
        );
    } else {
        env.set("PASSWORD_HASH_MEMORY_KIB", "8");
        env.set("PASSWORD_HASH_ITERATIONS", "1");
    }
    env.set("LOCAL_DATA_DIR", &local_data_dir.display().to_string());
    for (name, value) in overrides {
        env.set(name, value);
    }
    crate::config::Settings::from_env(&env, "test").expect("test settings")
}

/// An application context over `store`, with generated secrets and metrics captured in memory.
pub fn context(
    store: &TestStore,
    overrides: &[(&str, &str)],
) -> (crate::AppContext, crate::telemetry::Sink) {
    let metrics_sink = crate::telemetry::Sink::memory();
    // Each context's local state in a folder of its own, inside the store's.
    let local = store
        .dir
        .path()
        .join(format!("local-{}", uuid::Uuid::new_v4().simple()));
    let settings = settings(&local, overrides);
    let outbox = Arc::new(crate::mailer::OutboxMailer::new(
        settings.local_data_dir.join("outbox"),
    ));
    let ctx = crate::AppContext::new(
        settings,
        crate::secrets::Secrets::generate(),
        store.store.clone(),
        store.clock.clone(),
        crate::metrics::Metrics::new("test", metrics_sink.clone()),
        outbox,
    )
    .expect("test context");
    (ctx, metrics_sink)
}

static LOGS: std::sync::OnceLock<crate::telemetry::Sink> = std::sync::OnceLock::new();

/// Every log line this test process wrote, captured by one global subscriber installed on first
/// use (tests run in parallel, so a per-thread subscriber would miss lines). Call it before
/// sending requests; filter lines by request id with [`logs_for_request`].
pub fn captured_logs() -> crate::telemetry::Sink {
    LOGS.get_or_init(|| {
        let sink = crate::telemetry::Sink::memory();
        crate::telemetry::init(crate::telemetry::subscriber(
            "test",
            crate::config::LogLevel::Debug,
            sink.clone(),
        ));
        sink
    })
    .clone()
}

/// The captured log lines of one request, parsed.
pub fn logs_for_request(request_id: &str) -> Vec<serde_json::Value> {
    captured_logs()
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["request_id"] == request_id)
        .collect()
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the response is the error envelope with `status` and `code`; returns the error.
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        let body = self.json();
        let error = body["error"].clone();
        assert_eq!(error["code"], code, "body: {body}");
        assert!(error["message"].is_string(), "body: {body}");
        assert!(error["details"].is_object(), "body: {body}");
        let request_id = error["request_id"].as_str().expect("request_id");
        assert_eq!(
            Some(request_id),
            self.header("x-request-id"),
            "envelope and header ids differ"
        );
        error
    }
}

/// Sends `request` through `router` in-process, as Lambda would.
pub async fn send(router: &axum::Router, request: http::Request<axum::body::Body>) -> TestResponse {
    use tower::ServiceExt;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A request with no body.
pub fn request(method: &str, uri: &str) -> http::Request<axum::body::Body> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::empty())
        .expect("request")
}

/// A request with a JSON body.
pub fn json_request(
    method: &str,
    uri: &str,
    body: &serde_json::Value,
) -> http::Request<axum::body::Body> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request")
}

/// Runs each listed `async fn(TestStore)` twice: in `mod embedded` on a fresh SQLite store and in
/// `mod dynamodb` on a fresh DynamoDB Local table, so a behaviour is proven on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case($crate::testkit::TestStore::embedded()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case($crate::testkit::TestStore::dynamodb().await).await;
                }
            )*
        }
    };
}

/// The messages a test context's mailer sent (its outbox), oldest first.
pub fn outbox(ctx: &crate::AppContext) -> Vec<crate::mailer::Message> {
    crate::mailer::OutboxMailer::new(ctx.settings.local_data_dir.join("outbox")).messages()
}

/// The code an authenticator app shows at `now` (epoch seconds) for the base32 `secret` of a
/// setup answer, with the default shape (6 digits, 30 seconds).
pub fn totp_code(secret: &str, now: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .expect("base32 secret")
        .as_ref()
        .to_vec();
    let shape = crate::mfa::Shape {
        digits: 6,
        period: 30,
    };
    crate::mfa::totp::code_at(shape, &secrecy::SecretSlice::from(bytes), now).expect("a code")
}
