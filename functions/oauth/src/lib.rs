//! The oauth function: sign-in with Google, Microsoft or any OpenID Connect provider, and the
//! linking of those identities to accounts, under `/v1/auth/oauth/…`.

pub mod flow;
pub mod keys;
pub mod providers;
pub mod routes;

use std::sync::Arc;

use axum::{Extension, Router};
use shared::AppContext;

shared::api_routes! {
    "/auth/oauth" => [
        routes::authorize::authorize,
        routes::callback::callback,
        routes::link::link,
        routes::identities::list_identities,
        routes::identities::unlink_identity,
    ],
}

/// The router Lambda runs, with the providers (and their cached keys) of this container.
pub fn router(ctx: AppContext) -> Router {
    let providers = Arc::new(providers::Providers::new(&ctx));
    let routes = lambda_routes(&ctx.settings.api_prefix);
    shared::http::app_with(routes, ctx, Extension(providers))
}
