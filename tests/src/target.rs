//! The API a suite talks to: the in-process gateway, or a running API over HTTP (the test's own
//! loopback server, or whatever `API_BASE_URL` names: `make run`, a deployed stage). The same
//! requests and the same assertions on both, so a suite proves a running API keeps the promises
//! the in-process one does.

use std::path::PathBuf;

use axum::body::Body;
use shared::clock::Clock;
use shared::testkit::{TestResponse, captured_logs};

use crate::Gateway;

enum Transport {
    InProcess(Gateway),
    Http {
        base_url: String,
        client: reqwest::Client,
    },
}

/// Where the API's log lines can be read, if anywhere.
pub enum Logs {
    /// This process's own lines (the API runs in it).
    Captured,
    /// A file the running API writes its log lines to (`API_LOG_FILE`).
    File(PathBuf),
    /// Not readable from here (a deployment: use its Logs Insights queries).
    Unavailable,
}

pub struct Target {
    transport: Transport,
    clock: Option<Clock>,
    pub logs: Logs,
}

impl Target {
    /// The gateway in this process, on its context's clock.
    pub fn in_process(gateway: Gateway, clock: Clock) -> Self {
        Self {
            transport: Transport::InProcess(gateway),
            clock: Some(clock),
            logs: Logs::Captured,
        }
    }

    /// An API over HTTP at `base_url`; `clock` when it runs in this process on a known clock.
    pub fn http(base_url: &str, clock: Option<Clock>, logs: Logs) -> Self {
        // reqwest's rustls needs the process's crypto provider (an https API_BASE_URL); nothing
        // else in a test process against a running API installs it.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Self {
            transport: Transport::Http {
                base_url: base_url.trim_end_matches('/').to_owned(),
                client: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("an HTTP client"),
            },
            clock,
            logs,
        }
    }

    /// What `API_BASE_URL` names, with the log file `API_LOG_FILE` names, if set.
    pub fn from_env() -> Option<Self> {
        let base_url = std::env::var("API_BASE_URL").ok()?;
        let logs = std::env::var_os("API_LOG_FILE")
            .map_or(Logs::Unavailable, |path| Logs::File(path.into()));
        Some(Self::http(&base_url, None, logs))
    }

    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::InProcess(_) => "the in-process API".to_owned(),
            Transport::Http { base_url, .. } => format!("the API at {base_url}"),
        }
    }

    /// The API's time, in epoch seconds (for TOTP codes).
    pub fn now(&self) -> i64 {
        self.clock
            .as_ref()
            .map_or_else(|| jiff::Timestamp::now().as_second(), Clock::epoch_seconds)
    }

    pub async fn send(&self, request: http::Request<Body>) -> TestResponse {
        match &self.transport {
            Transport::InProcess(gateway) => gateway.send(request).await,
            Transport::Http { base_url, client } => {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("request body");
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let response = client
                    .request(parts.method, format!("{base_url}{path}"))
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{base_url}{path}: {e}"));
                TestResponse {
                    status: response.status(),
                    headers: response.headers().clone(),
                    body: response.bytes().await.expect("response body"),
                }
            }
        }
    }

    /// Every log line of the API that can be read, parsed; `None` when none can be.
    pub fn log_lines(&self) -> Option<Vec<serde_json::Value>> {
        let lines = match &self.logs {
            Logs::Captured => captured_logs().lines(),
            Logs::File(path) => std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("API_LOG_FILE {}: {e}", path.display()))
                .lines()
                .map(str::to_owned)
                .collect(),
            Logs::Unavailable => return None,
        };
        Some(
            lines
                .iter()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect(),
        )
    }
}
