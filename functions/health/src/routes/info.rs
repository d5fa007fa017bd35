//! `GET /`: what this API is and where its description lives.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::AppContext;
use shared::config::Environment;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// `dev`, `staging` or `prod`.
    pub environment: &'static str,
    /// The human-readable API page (absent in prod).
    pub docs: Option<&'static str>,
    /// The OpenAPI 3.1 document.
    pub openapi: String,
    pub health: String,
}

/// API information.
#[utoipa::path(get, path = "/", tag = "health", responses((status = 200, description = "API information", body = ApiInfo)))]
pub async fn info(State(ctx): State<AppContext>) -> Json<ApiInfo> {
    Json(ApiInfo {
        name: shared::openapi::TITLE,
        version: env!("CARGO_PKG_VERSION"),
        environment: ctx.settings.env.as_str(),
        docs: (ctx.settings.env != Environment::Prod).then_some("/docs"),
        openapi: ctx.settings.path("/openapi.json"),
        health: ctx.settings.path("/health"),
    })
}
