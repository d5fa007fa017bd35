//! The auth function: accounts, passwords, tokens and sessions, for both products.

pub mod routes;
pub mod seed;

use axum::Router;
use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The auth function's routes, described.
pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext> {
    let auth = OpenApiRouter::new()
        .routes(routes!(routes::signup::signup))
        .routes(routes!(routes::login::login))
        .routes(routes!(routes::refresh::refresh))
        .routes(routes!(routes::logout::logout))
        .routes(routes!(routes::logout::logout_all))
        .routes(routes!(
            routes::me::me,
            routes::me::update_me,
            routes::account::delete_me
        ))
        .routes(routes!(routes::sessions::session_status))
        .routes(routes!(routes::sessions::list_sessions))
        .routes(routes!(routes::sessions::revoke_session))
        .routes(routes!(routes::password::change_password))
        .routes(routes!(routes::reset::request_reset))
        .routes(routes!(routes::reset::confirm_reset))
        .routes(routes!(routes::demo::demo))
        .routes(routes!(routes::events::events));
    let admin = OpenApiRouter::new()
        .routes(routes!(routes::admin::list_users))
        .routes(routes!(routes::admin::update_user));
    OpenApiRouter::with_openapi(shared::openapi::base())
        .nest(&format!("{api_prefix}/auth"), auth)
        .nest(&format!("{api_prefix}/admin"), admin)
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let (routes, _) = api(&ctx.settings.api_prefix).split_for_parts();
    shared::http::app(routes, ctx)
}
