//! A minimal local Lambda Runtime API — the endpoint `AWS_LAMBDA_RUNTIME_API` names — for one
//! function process. It hands out the invocations the harness queues and reports, with the
//! instant it saw them, when the function asks for work and when it answers.
//!
//! Only what `lambda_runtime` calls is served: `GET /invocation/next`, `POST /invocation/{id}/response`,
//! `POST /invocation/{id}/error` and `POST /init/error` (all under `/2018-06-01/runtime`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

/// How long a function may take to answer, as told in `Lambda-Runtime-Deadline-Ms`.
const DEADLINE: Duration = Duration::from_secs(30);

/// One event to hand to the function.
pub struct Invocation {
    pub id: String,
    /// The event, e.g. an API Gateway HTTP API (v2) request as JSON.
    pub event: Vec<u8>,
}

/// What the function did, with the instant the Runtime API saw it.
pub enum Report {
    /// It asked for its next invocation (its first ask ends what Lambda calls Init Duration).
    Polled { at: Instant },
    /// It answered invocation `id` with `body` (an API Gateway response as JSON).
    Responded {
        id: String,
        at: Instant,
        body: Bytes,
    },
    /// It reported invocation `id` as failed.
    Failed { id: String, body: Bytes },
    /// It reported that it could not start.
    InitFailed { body: Bytes },
}

struct Shared {
    function_arn: String,
    queued: Mutex<mpsc::Receiver<Invocation>>,
    reports: mpsc::UnboundedSender<Report>,
}

/// A Runtime API on 127.0.0.1 for one function process. It stops serving when dropped, and a
/// function still waiting for work then gets `410 Gone`.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    invocations: mpsc::Sender<Invocation>,
    reports: mpsc::UnboundedReceiver<Report>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts serving on a free port of 127.0.0.1, for the function `function_name`.
    pub async fn start(function_name: &str) -> anyhow::Result<Self> {
        let (invocations, queued) = mpsc::channel(1);
        let (report_sender, reports) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queued: Mutex::new(queued),
            reports: report_sender,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_fail))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("the local Runtime API stopped: {err}");
            }
        });
        Ok(Self {
            addr,
            invocations,
            reports,
            server,
        })
    }

    /// Queues an invocation; the function gets it at its next `GET /invocation/next`.
    pub async fn queue(&self, invocation: Invocation) -> anyhow::Result<()> {
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| anyhow!("the local Runtime API has stopped"))
    }

    /// The next thing the function did, or `None` when it did nothing for `timeout`.
    pub async fn next_report(&mut self, timeout: Duration) -> Option<Report> {
        tokio::time::timeout(timeout, self.reports.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `GET /invocation/next`: reports the ask at once, then waits for a queued invocation.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.reports.send(Report::Polled { at: Instant::now() });
    let Some(invocation) = shared.queued.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline_ms = chrono::Utc::now().timestamp_millis()
        + i64::try_from(DEADLINE.as_millis()).unwrap_or(i64::MAX);
    let headers = [
        (header::CONTENT_TYPE, "application/json".to_owned()),
        (
            runtime_header("lambda-runtime-aws-request-id"),
            invocation.id.clone(),
        ),
        (
            runtime_header("lambda-runtime-deadline-ms"),
            deadline_ms.to_string(),
        ),
        (
            runtime_header("lambda-runtime-invoked-function-arn"),
            shared.function_arn.clone(),
        ),
        (
            runtime_header("lambda-runtime-trace-id"),
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
    ];
    let mut response = invocation.event.into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn runtime_header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// `POST /invocation/{id}/response`.
async fn respond(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let _ = shared.reports.send(Report::Responded { id, at, body });
    StatusCode::ACCEPTED
}

/// `POST /invocation/{id}/error`.
async fn fail(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = shared.reports.send(Report::Failed { id, body });
    StatusCode::ACCEPTED
}

/// `POST /init/error`.
async fn init_fail(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.reports.send(Report::InitFailed { body });
    StatusCode::ACCEPTED
}
