//! The health function: liveness, readiness and the API's description.
//!
//! It also answers every path no other function owns (the catch-all route locally and API
//! Gateway's `$default` route), so unknown paths get the same 404 envelope everywhere.

mod docs_page;
pub mod routes;

use std::sync::{Arc, OnceLock};

use axum::{Extension, Router};
use shared::AppContext;

shared::api_routes! {
    root => [routes::info::info, routes::description::docs],
    "" => [
        routes::liveness::liveness,
        routes::readiness::readiness,
        routes::description::openapi_json,
    ],
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let routes = lambda_routes(&ctx.settings.api_prefix);
    let description: Arc<OnceLock<routes::description::Rendered>> = Arc::new(OnceLock::new());
    shared::http::app_with(routes, ctx, Extension(description))
}

/// The prefix the committed document's versioned paths are written under.
pub const DOCUMENT_PREFIX: &str = "/v1";

/// The whole API's OpenAPI document, generated from every function's routers by `make openapi`
/// (checked to be current by a test). It is committed rather than built here so that this
/// function links no other function's handlers: that kept its zip above 8 MB.
const DOCUMENT: &str = include_str!("../openapi.json");

/// The one OpenAPI document of the whole API, its versioned paths under `api_prefix`.
pub fn openapi(api_prefix: &str) -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap_or_default();
    if api_prefix != DOCUMENT_PREFIX
        && let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut())
    {
        *paths = std::mem::take(paths)
            .into_iter()
            .map(|(path, item)| match path.strip_prefix(DOCUMENT_PREFIX) {
                Some(rest) if rest.starts_with('/') => (format!("{api_prefix}{rest}"), item),
                _ => (path, item),
            })
            .collect();
    }
    doc
}
