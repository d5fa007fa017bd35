//! `POST /v1/auth/refresh`: a refresh token to a new pair; the presented token is dead.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::sessions::{self, SessionError};
use shared::http::{ApiError, ApiJsonOrDefault, ErrorCode};
use utoipa::ToSchema;

use shared::accounts::SignedIn;
use shared::http::ClientOrigin;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token; browsers may leave it out and send the `refresh_token` cookie.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Rotate a refresh token.
#[utoipa::path(
    post,
    path = "/refresh",
    tag = "auth",
    request_body = Option<RefreshRequest>,
    responses(
        (status = 200, description = "A new token pair", body = SignedIn),
        (status = 401, description = "`UNAUTHORIZED`: unknown, expired or already used token", body = shared::http::ErrorBody),
    )
)]
pub async fn refresh(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    headers: http::HeaderMap,
    ApiJsonOrDefault(body): ApiJsonOrDefault<RefreshRequest>,
) -> Result<axum::response::Response, ApiError> {
    let presented = body
        .refresh_token
        .or_else(|| shared::accounts::cookies::token(&headers))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "body.refresh_token",
                "this field is required (or the refresh_token cookie)",
            )
        })?;
    match sessions::rotate(
        &ctx,
        &presented,
        &origin,
        ctx.settings.rate_limits.refresh_user,
    )
    .await
    {
        Ok((tokens, user)) => Ok(SignedIn { tokens, user }.respond(&ctx, StatusCode::OK)),
        Err(SessionError::Invalid) => Err(invalid_refresh()),
        Err(SessionError::Reused { user_id, .. }) => {
            shared::audit::security(&ctx, "auth.refresh.reuse_detected", Some(&user_id), &origin);
            Err(invalid_refresh())
        }
        Err(SessionError::Limited { retry_after }) => {
            shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
            Err(ApiError::rate_limited(retry_after))
        }
        Err(SessionError::Store(err)) => Err(err.into()),
        Err(SessionError::Token(err)) => Err(ApiError::internal(err)),
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::coded(
        ErrorCode::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "invalid or expired refresh token",
    )
}
