//! `POST /v1/auth/demo`: a temporary demo account, signed in. Every item it creates (profile,
//! credential, session, refresh token) carries the same TTL, so it disappears by itself after
//! `DEMO_TTL_MINUTES`; it has no password, so nobody can sign in to it otherwise.

use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::{User, sessions, users};
use shared::auth::{Email, Role};
use shared::http::ApiError;
use shared::metrics::Metric;
use shared::store::{EXPIRES_AT, Write};
use utoipa::ToSchema;

use shared::accounts::SignedIn;
use shared::http::ClientOrigin;

#[derive(Debug, Serialize, ToSchema)]
pub struct DemoSession {
    #[serde(flatten)]
    pub signed_in: SignedIn,
    /// When the demo account and everything in it disappear (RFC 3339).
    pub demo_expires_at: String,
}

fn created(ctx: &AppContext, success: bool) {
    ctx.metrics.emit(
        &[("success", if success { "true" } else { "false" })],
        &[Metric::count("demo_session_creations_total")],
        &[],
    );
}

/// Start a demo session.
#[utoipa::path(
    post,
    path = "/demo",
    tag = "auth",
    responses((status = 201, description = "A temporary account, signed in", body = DemoSession))
)]
pub async fn demo(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
) -> Result<axum::response::Response, ApiError> {
    let ip = Subject::ip(&origin);
    let limit = abuse::rate_limit(&ctx, "demo_ip", &ip, ctx.settings.rate_limits.signup_ip).await?;
    if let Some(retry_after) = limit.retry_after() {
        created(&ctx, false);
        return Err(ApiError::rate_limited(retry_after));
    }
    let id = shared::ids::random_uuid().to_string();
    let email = Email::parse(&format!("demo-{id}@demo.invalid"))
        .map_err(|_| ApiError::internal(std::io::Error::other("demo email")))?;
    let user = User::new(
        id,
        "Demo User".to_owned(),
        &email,
        vec![Role::Student],
        ctx.clock.now().to_string(),
    );
    let ttl = i64::try_from(ctx.settings.demo_ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = ctx.clock.epoch_seconds() + ttl;
    let mut writes = users::create_writes(&user, &email, None)?;
    let (session_writes, tokens) =
        sessions::open(&ctx, &user, &origin).map_err(ApiError::internal)?;
    writes.extend(session_writes);
    for write in &mut writes {
        if let Write::Put { item, .. } = write {
            item.set(EXPIRES_AT, expires_at);
        }
    }
    if let Err(err) = ctx.store.transact(writes).await {
        created(&ctx, false);
        return Err(err.into());
    }
    // Two weeks of tracker data, with the same TTL, once the account exists. Should this fail,
    // the client gets a 503 and the account expires unused like every demo account.
    if let Err(err) = sample_tracker_data(&ctx, &user.id, expires_at).await {
        created(&ctx, false);
        return Err(err);
    }
    created(&ctx, true);
    shared::audit::record(&ctx, "auth.demo.start", Some(&user.id), &origin);
    let demo_expires_at = jiff::Timestamp::from_second(expires_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let cookie = shared::accounts::cookies::set(&ctx, &tokens.refresh_token);
    let body = DemoSession {
        signed_in: SignedIn { tokens, user },
        demo_expires_at,
    };
    use axum::response::IntoResponse;
    Ok((
        StatusCode::CREATED,
        [(http::header::SET_COOKIE, cookie)],
        axum::Json(body),
    )
        .into_response())
}

async fn sample_tracker_data(
    ctx: &AppContext,
    user_id: &str,
    expires_at: i64,
) -> Result<(), ApiError> {
    let today = ctx.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut items = shared::tracker::demo::two_weeks(user_id, today, expires_at)?.into_iter();
    // The items move into their writes: a copy of each would cost a tenth of the request.
    let mut batches = Vec::new();
    loop {
        let writes: Vec<Write> = items
            .by_ref()
            .take(shared::store::MAX_TRANSACTION_WRITES)
            .map(|item| Write::Put {
                item,
                condition: None,
            })
            .collect();
        if writes.is_empty() {
            break;
        }
        batches.push(ctx.store.transact(writes));
    }
    for result in futures::future::join_all(batches).await {
        result?;
    }
    Ok(())
}
