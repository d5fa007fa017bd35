//! `GET /v1/ready`: can this function serve requests? One real store round trip, with a time
//! limit, and a result per check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::store::StoreError;
use utoipa::ToSchema;

/// Past this the store counts as down.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);
/// Past this the store counts as slow: the service is degraded.
pub const STORE_SLOW: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check passed.
    Ok,
    /// Serving, but a check is slow or a non-critical one failed.
    Degraded,
    /// A critical check failed: answered with 503.
    Down,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Slow,
    Down,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    pub status: CheckStatus,
    /// Whether the service is down when this check is.
    pub critical: bool,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<&'static str>,
    /// What went wrong, as a category (`timeout`, `unavailable`, `throttled`, `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: Status,
    pub checks: BTreeMap<&'static str, Check>,
    pub version: &'static str,
}

/// Readiness.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready (`ok` or `degraded`)", body = Readiness),
        (status = 503, description = "Not ready (`down`)", body = Readiness),
    )
)]
pub async fn readiness(State(ctx): State<AppContext>) -> Response {
    let checks = BTreeMap::from([("store", store_check(&ctx).await)]);
    let status = if checks
        .values()
        .any(|c| c.critical && c.status == CheckStatus::Down)
    {
        Status::Down
    } else if checks.values().any(|c| c.status != CheckStatus::Ok) {
        Status::Degraded
    } else {
        Status::Ok
    };
    let code = if status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = Readiness {
        status,
        checks,
        version: env!("CARGO_PKG_VERSION"),
    };
    (code, Json(body)).into_response()
}

async fn store_check(ctx: &AppContext) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(STORE_TIMEOUT, ctx.store.ping()).await;
    let elapsed = started.elapsed();
    let (status, error) = match outcome {
        Ok(Ok(())) if elapsed > STORE_SLOW => (CheckStatus::Slow, None),
        Ok(Ok(())) => (CheckStatus::Ok, None),
        Ok(Err(err)) => {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "readiness: store check failed"
            );
            let category = match err {
                StoreError::Throttled => "throttled",
                StoreError::Unavailable(_) | StoreError::Conflict => "unavailable",
                _ => "error",
            };
            (CheckStatus::Down, Some(category))
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = STORE_TIMEOUT.as_millis() as u64,
                "readiness: store check timed out"
            );
            (CheckStatus::Down, Some("timeout"))
        }
    };
    Check {
        status,
        critical: true,
        latency_ms: (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        backend: Some(ctx.store.backend_name()),
        error,
    }
}
