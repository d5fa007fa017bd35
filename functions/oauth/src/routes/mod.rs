//! The oauth function's endpoints, and what they share: which provider a path names, how a
//! result reaches the client, and the metric.

pub mod authorize;
pub mod callback;
pub mod identities;
pub mod link;

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use shared::AppContext;
use shared::http::{ApiError, ErrorCode};
use shared::metrics::Metric;
use utoipa::ToSchema;

use crate::providers::{Provider, ProviderError, Providers};

/// The configured provider `name`: 404 when there is none by that name.
pub(crate) fn provider<'a>(
    providers: &'a Arc<Providers>,
    name: &str,
) -> Result<Provider<'a>, ApiError> {
    providers.get(name).ok_or_else(|| {
        ApiError::http(
            StatusCode::NOT_FOUND,
            "no sign-in provider by this name is configured",
        )
    })
}

/// Whether the client asked for JSON rather than a browser redirect.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// `oauth_logins_total{provider, result}`.
pub(crate) fn count(ctx: &AppContext, provider: &str, result: &'static str) {
    ctx.metrics.emit(
        &[("provider", provider), ("result", result)],
        &[Metric::count("oauth_logins_total")],
        &[],
    );
}

/// 401 `OAUTH_FAILED`, for a refused code or a failed ID token check; 503 when the provider
/// could not be reached. The cause goes to the log, never to the client.
pub(crate) fn provider_failure(provider: &str, err: ProviderError) -> ApiError {
    match err {
        ProviderError::Unavailable(_) => {
            tracing::error!(provider, error = %err, "OpenID Provider unavailable");
            ApiError::unavailable(std::io::Error::other(err.to_string()))
        }
        ProviderError::CodeRefused(_)
        | ProviderError::InvalidIdToken(_)
        | ProviderError::UnknownKey => {
            tracing::warn!(provider, error = %err, "sign-in at provider rejected");
            ApiError::coded(
                ErrorCode::OAuthFailed,
                StatusCode::UNAUTHORIZED,
                "the sign-in at the provider could not be verified; start again",
            )
        }
    }
}

/// 400 `INVALID_OAUTH_STATE`.
pub(crate) fn invalid_state() -> ApiError {
    ApiError::coded(
        ErrorCode::InvalidOAuthState,
        StatusCode::BAD_REQUEST,
        "unknown, expired or already used sign-in state; start the sign-in again",
    )
}

/// A redirect (303) to `location`, never cached.
pub(crate) fn see_other(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| ApiError::bad_request("the redirect URI cannot be used in a header"))?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// What `GET /authorize` answers a client that asks for JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationStarted {
    /// Send the browser here.
    pub authorization_url: String,
    /// Seconds the sign-in may take before its state expires.
    pub expires_in: u64,
}

pub(crate) fn json<T: Serialize>(status: StatusCode, body: T) -> Response {
    (status, Json(body)).into_response()
}
