//! The oauth function: sign-in with Google, Microsoft or any OpenID Connect provider, and the
//! linking of those identities to accounts, under `/v1/auth/oauth/…`.

pub mod flow;
pub mod providers;
pub mod routes;

use std::sync::Arc;

use axum::{Extension, Router};
use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The oauth function's routes, described.
pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext> {
    let oauth = OpenApiRouter::new()
        .routes(routes!(routes::authorize::authorize))
        .routes(routes!(routes::callback::callback))
        .routes(routes!(routes::link::link))
        .routes(routes!(routes::identities::list_identities))
        .routes(routes!(routes::identities::unlink_identity));
    OpenApiRouter::with_openapi(shared::openapi::base())
        .nest(&format!("{api_prefix}/auth/oauth"), oauth)
}

/// The router Lambda runs, with the providers (and their cached keys) of this container.
pub fn router(ctx: AppContext) -> Router {
    let providers = Arc::new(providers::Providers::new(&ctx));
    let (routes, _) = api(&ctx.settings.api_prefix).split_for_parts();
    shared::http::app(routes.layer(Extension(providers)), ctx)
}
