//! The mfa function: TOTP second factor and backup codes, under `/v1/auth/mfa/…`.

pub mod routes;

use axum::Router;
use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The mfa function's routes, described.
pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext> {
    let mfa = OpenApiRouter::new()
        .routes(routes!(routes::setup::setup))
        .routes(routes!(routes::enable::enable))
        .routes(routes!(routes::verify::verify))
        .routes(routes!(routes::backup_codes::regenerate))
        .routes(routes!(routes::disable::disable))
        .routes(routes!(routes::status::status));
    OpenApiRouter::with_openapi(shared::openapi::base())
        .nest(&format!("{api_prefix}/auth/mfa"), mfa)
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let (routes, _) = api(&ctx.settings.api_prefix).split_for_parts();
    shared::http::app(routes, ctx)
}
