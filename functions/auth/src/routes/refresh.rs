//! `POST /v1/auth/refresh`: a refresh token to a new pair; the presented token is dead.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::sessions::{self, SessionError};
use shared::http::{ApiError, ApiJson, ErrorCode};
use utoipa::ToSchema;

use super::SignedIn;
use crate::origin::ClientOrigin;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Rotate a refresh token.
#[utoipa::path(
    post,
    path = "/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = SignedIn),
        (status = 401, description = "`UNAUTHORIZED`: unknown, expired or already used token", body = shared::http::ErrorBody),
    )
)]
pub async fn refresh(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<SignedIn>, ApiError> {
    let user = Subject::User(
        sessions::token_user(&body.refresh_token)
            .unwrap_or("unknown")
            .to_owned(),
    );
    let gate = abuse::rate_limit(
        &ctx,
        "refresh_user",
        &user,
        ctx.settings.rate_limits.refresh_user,
    );
    match sessions::rotate(&ctx, &body.refresh_token, &origin, gate).await {
        Ok((tokens, user)) => Ok(Json(SignedIn { tokens, user })),
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
