//! The mfa function: TOTP second factor and backup codes, under `/v1/auth/mfa/…`.

pub mod routes;

use axum::Router;
use shared::AppContext;

shared::api_routes! {
    "/auth/mfa" => [
        routes::setup::setup,
        routes::enable::enable,
        routes::verify::verify,
        routes::backup_codes::regenerate,
        routes::disable::disable,
        routes::status::status,
    ],
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    shared::http::app(lambda_routes(&ctx.settings.api_prefix), ctx)
}
