//! `GET /v1/auth/oauth/{provider}/authorize?redirect_uri=…`: starts a sign-in at a provider.
//!
//! A new `state`, `nonce` and PKCE verifier (S256) are stored as one TTL item; the browser is
//! sent to the provider (302), or a client that asks for JSON gets the URL. A redirect also
//! sets a short-lived cookie that binds the sign-in to this browser: the callback refuses a
//! state that another browser started (login CSRF).

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::auth::tokens::new_opaque_token;
use shared::config::Environment;
use shared::http::{ApiError, ApiPath, ApiQuery, ClientOrigin};
use utoipa::IntoParams;

use super::{AuthorizationStarted, count, provider, provider_failure, wants_json};
use crate::flow::{self, BINDING_COOKIE, PendingSignIn};
use crate::providers::Providers;

/// Longest redirect URI accepted.
const MAX_REDIRECT_URI: usize = 2048;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// Where the result goes: exactly one of `OAUTH_ALLOWED_REDIRECT_URIS` or the provider's
    /// configured redirect URI (the default).
    pub redirect_uri: Option<String>,
}

/// Start a sign-in at a provider.
#[utoipa::path(
    get,
    path = "/{provider}/authorize",
    tag = "oauth",
    params(
        ("provider" = String, Path, description = "`google`, `microsoft`, or a configured provider's name"),
        AuthorizeParams,
    ),
    responses(
        (status = 200, description = "With `Accept: application/json`: where to send the browser", body = AuthorizationStarted),
        (status = 302, description = "To the provider's sign-in page"),
        (status = 400, description = "`redirect_uri` is not on the allowed list", body = shared::http::ErrorBody),
        (status = 404, description = "No provider by this name is configured", body = shared::http::ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = shared::http::ErrorBody),
    )
)]
pub async fn authorize(
    State(ctx): State<AppContext>,
    Extension(providers): Extension<Arc<Providers>>,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<AuthorizeParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let provider = provider(&providers, &name)?;
    let redirect_uri = match params.redirect_uri {
        None => provider.settings.redirect_uri.clone(),
        Some(uri) if allowed(&ctx, &provider.settings.redirect_uri, &uri) => uri,
        Some(_) => {
            return Err(ApiError::bad_request(
                "redirect_uri is not on the list of allowed redirect URIs",
            )
            .with_details(serde_json::json!({"field": "query.redirect_uri"})));
        }
    };
    let ip = Subject::ip(&origin);
    let limit = abuse::rate_limit(&ctx, "oauth_ip", &ip, ctx.settings.rate_limits.login_ip).await?;
    if let Some(retry_after) = limit.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        count(&ctx, provider.name(), "rate_limited");
        return Err(ApiError::rate_limited(retry_after));
    }
    let state = new_opaque_token();
    let authorization = provider
        .authorization(&state, ctx.clock.epoch_seconds())
        .await
        .map_err(|err| provider_failure(provider.name(), err))?;
    let json = wants_json(&headers);
    let binding = (!json).then(new_opaque_token);
    let pending = PendingSignIn {
        provider: provider.name().to_owned(),
        redirect_uri,
        nonce: authorization.nonce,
        pkce_verifier: authorization.pkce_verifier,
        binding: binding.as_deref().map(|b| flow::binding_digest(&ctx, b)),
    };
    flow::remember(&ctx, &state, &pending).await?;
    let expires_in = ctx
        .settings
        .oauth
        .state_ttl
        .min(ctx.settings.oauth.nonce_ttl)
        .as_secs();
    if json {
        return Ok(super::json(
            StatusCode::OK,
            AuthorizationStarted {
                authorization_url: authorization.url,
                expires_in,
            },
        ));
    }
    let location = HeaderValue::from_str(&authorization.url)
        .map_err(|_| ApiError::internal(std::io::Error::other("authorization URL not a header")))?;
    let cookie = binding_cookie(&ctx, binding.as_deref().unwrap_or_default(), expires_in);
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// Exact string match against the allowed list and the provider's own redirect URI.
fn allowed(ctx: &AppContext, provider_redirect: &str, uri: &str) -> bool {
    uri.len() <= MAX_REDIRECT_URI
        && (uri == provider_redirect
            || ctx
                .settings
                .oauth
                .allowed_redirect_uris
                .iter()
                .any(|allowed| allowed == uri))
}

/// The binding cookie: HttpOnly, only for the oauth paths, `SameSite=Lax` so that it comes
/// back on the provider's top-level redirect to the callback, `Secure` when deployed.
fn binding_cookie(ctx: &AppContext, value: &str, max_age: u64) -> HeaderValue {
    let path = ctx.settings.path("/auth/oauth");
    let secure = if ctx.settings.env == Environment::Dev {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The binding cookie's value in the request, if any.
pub(crate) fn binding_in(headers: &HeaderMap) -> Option<String> {
    shared::accounts::cookies::value(headers, BINDING_COOKIE)
}

/// `Set-Cookie` that removes the binding cookie.
pub(crate) fn clear_binding_cookie(ctx: &AppContext) -> HeaderValue {
    binding_cookie(ctx, "", 0)
}
