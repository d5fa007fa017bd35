//! The auth function: accounts, passwords, tokens and sessions, for both products.

pub mod routes;
pub mod seed;

use axum::Router;
use shared::AppContext;

shared::api_routes! {
    "/auth" => [
        routes::signup::signup,
        routes::login::login,
        routes::refresh::refresh,
        routes::logout::logout,
        routes::logout::logout_all,
        routes::me::me,
        routes::me::update_me,
        routes::account::delete_me,
        routes::sessions::session_status,
        routes::sessions::list_sessions,
        routes::sessions::revoke_session,
        routes::password::change_password,
        routes::reset::request_reset,
        routes::reset::confirm_reset,
        routes::demo::demo,
        routes::events::events,
    ],
    "/admin" => [routes::admin::list_users, routes::admin::update_user],
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    shared::http::app(lambda_routes(&ctx.settings.api_prefix), ctx)
}
