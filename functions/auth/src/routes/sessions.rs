//! The caller's sessions: `GET /v1/auth/session` (is mine valid, until when),
//! `GET /v1/auth/sessions` (all of mine) and `DELETE /v1/auth/sessions/{id}` (end one).

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::principal::unauthorized;
use shared::accounts::sessions::{self, SESSION_PREFIX, Session, sessions_in};
use shared::accounts::{Bearer, users};
use shared::auth::TokenType;
use shared::http::{ApiError, ApiPath};
use shared::metrics::Metric;
use shared::store::Query;
use utoipa::ToSchema;

use shared::http::ClientOrigin;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionStatus {
    pub valid: bool,
    /// When the access token presented expires (RFC 3339), if valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<String>,
    /// When the session ends unless refreshed (RFC 3339), if valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_expires_at: Option<String>,
}

fn rfc3339(epoch: i64) -> Option<String> {
    jiff::Timestamp::from_second(epoch)
        .ok()
        .map(|t| t.to_string())
}

/// Whether the presented access token and its session are valid, and until when. Never 401.
#[utoipa::path(
    get,
    path = "/session",
    tag = "auth",
    responses((status = 200, description = "Validity of the presented session", body = SessionStatus))
)]
pub async fn session_status(
    State(ctx): State<AppContext>,
    headers: http::HeaderMap,
) -> Result<Json<SessionStatus>, ApiError> {
    let claims = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| {
            ctx.tokens
                .verify(token.trim(), TokenType::Access, ctx.clock.epoch_seconds())
                .ok()
        })
        .filter(|claims| claims.sid.is_some());
    let status = match claims {
        None => SessionStatus {
            valid: false,
            access_token_expires_at: None,
            session_expires_at: None,
        },
        Some(claims) => {
            let key = sessions::session_key(&claims.sub, claims.sid.as_deref().unwrap_or_default());
            match ctx.store.get(&key).await? {
                Some(session) => SessionStatus {
                    valid: true,
                    access_token_expires_at: rfc3339(claims.exp),
                    session_expires_at: session.expires_at().and_then(rfc3339),
                },
                None => SessionStatus {
                    valid: false,
                    access_token_expires_at: None,
                    session_expires_at: None,
                },
            }
        }
    };
    ctx.metrics.emit(
        &[("valid", if status.valid { "true" } else { "false" })],
        &[Metric::count("session_status_checks_total")],
        &[],
    );
    Ok(Json(status))
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_used_at: String,
    /// The session of the token that asked.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

async fn my_sessions(ctx: &AppContext, bearer: &Bearer) -> Result<Vec<Session>, ApiError> {
    let query = Query::table(users::user_partition(bearer.user_id()))
        .prefix(SESSION_PREFIX)
        .limit(1000);
    let sessions = sessions_in(&ctx.store.query(query).await?.items)?;
    // The caller's own session is in the list, or it is not live: one query checks both.
    if !sessions.iter().any(|s| s.id == bearer.session_id()) {
        return Err(unauthorized());
    }
    Ok(sessions)
}

/// The caller's active sessions, most recently used first.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Active sessions", body = SessionList))
)]
pub async fn list_sessions(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<SessionList>, ApiError> {
    let mut sessions: Vec<SessionView> = my_sessions(&ctx, &bearer)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id == bearer.session_id(),
            id: s.id,
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
        })
        .collect();
    sessions.sort_by(|a, b| b.last_used_at.cmp(&a.last_used_at));
    Ok(Json(SessionList { sessions }))
}

/// End one of the caller's sessions (its access and refresh tokens stop working at once).
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "The session is ended"),
        (status = 404, description = "No such session of the caller", body = shared::http::ErrorBody),
    )
)]
pub async fn revoke_session(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let sessions = my_sessions(&ctx, &bearer).await?;
    let target = sessions
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(ApiError::not_found)?;
    let mut writes = sessions::close(target);
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.session.revoked",
        bearer.user_id(),
        &origin,
    ));
    bearer.transact(&ctx, writes).await?;
    shared::audit::record(
        &ctx,
        "auth.session.revoked",
        Some(bearer.user_id()),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}
