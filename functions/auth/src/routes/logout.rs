//! `POST /v1/auth/logout` (one session, by its refresh token) and `POST /v1/auth/logout-all`
//! (every session of the caller).

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::sessions::{self, SessionError, sessions_in};
use shared::accounts::{Bearer, users};
use shared::http::{ApiError, ApiJsonOrDefault};
use shared::store::Query;
use utoipa::ToSchema;

use shared::http::ClientOrigin;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token; browsers may leave it out and send the `refresh_token` cookie.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// End the session a refresh token belongs to. Answers 204 whether or not the token was live.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "auth",
    request_body = Option<LogoutRequest>,
    responses((status = 204, description = "The session is ended"))
)]
pub async fn logout(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    headers: http::HeaderMap,
    ApiJsonOrDefault(body): ApiJsonOrDefault<LogoutRequest>,
) -> Result<axum::response::Response, ApiError> {
    let presented = body
        .refresh_token
        .or_else(|| shared::accounts::cookies::token(&headers))
        .unwrap_or_default();
    match sessions::revoke_by_refresh_token(&ctx, &presented).await {
        Ok(Some(user_id)) => shared::audit::record(&ctx, "auth.logout", Some(&user_id), &origin),
        Ok(None) => {}
        Err(SessionError::Store(err)) => return Err(err.into()),
        Err(err) => return Err(ApiError::internal(err)),
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            http::header::SET_COOKIE,
            shared::accounts::cookies::clear(&ctx),
        )],
    )
        .into_response())
}

/// End every session of the caller, on every device.
#[utoipa::path(
    post,
    path = "/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Every session is ended"))
)]
pub async fn logout_all(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
) -> Result<StatusCode, ApiError> {
    let partition = users::user_partition(bearer.user_id());
    let query = Query::table(partition)
        .prefix(sessions::SESSION_PREFIX)
        .limit(1000);
    let sessions = ctx.store.query(query);
    let page = bearer
        .with_live_session(&ctx, async { Ok(sessions.await?) })
        .await?;
    let mut writes: Vec<_> = sessions_in(&page.items)?
        .iter()
        .flat_map(sessions::close)
        .collect();
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.logout_all",
        bearer.user_id(),
        &origin,
    ));
    for chunk in writes.chunks(100) {
        ctx.store.transact(chunk.to_vec()).await?;
    }
    shared::audit::record(&ctx, "auth.logout_all", Some(bearer.user_id()), &origin);
    Ok(StatusCode::NO_CONTENT)
}
