//! The health function: liveness, readiness and the API's description.
//!
//! It also answers every path no other function owns (the catch-all route locally and API
//! Gateway's `$default` route), so unknown paths get the same 404 envelope everywhere.

mod docs_page;
pub mod routes;

use std::sync::{Arc, OnceLock};

use axum::{Extension, Router};
use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The health function's routes, described.
pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext> {
    let versioned = OpenApiRouter::new()
        .routes(routes!(routes::liveness::liveness))
        .routes(routes!(routes::readiness::readiness))
        .routes(routes!(routes::description::openapi_json));
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(routes::info::info))
        .routes(routes!(routes::description::docs))
        .nest(api_prefix, versioned)
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let (routes, _) = api(&ctx.settings.api_prefix).split_for_parts();
    let description: Arc<OnceLock<routes::description::Rendered>> = Arc::new(OnceLock::new());
    shared::http::app(routes.layer(Extension(description)), ctx)
}

/// The one OpenAPI document of the whole API: every function's routes, merged. A new function
/// adds its `api` here.
pub fn openapi(api_prefix: &str) -> utoipa::openapi::OpenApi {
    let mut doc = api(api_prefix).into_openapi();
    doc.merge(auth::api(api_prefix).into_openapi());
    doc.merge(mfa::api(api_prefix).into_openapi());
    doc.merge(oauth::api(api_prefix).into_openapi());
    doc.merge(tracker::api(api_prefix).into_openapi());
    shared::openapi::finish(&mut doc);
    doc
}
