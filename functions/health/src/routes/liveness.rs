//! `GET /v1/health`: the process is alive. Touches nothing else, so it stays cheap and honest.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` when the function answers.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "The function is alive", body = Liveness)))]
pub async fn liveness() -> Json<Liveness> {
    Json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
