//! `POST /v1/auth/mfa/enable`: the first code from the authenticator confirms the pending setup;
//! MFA is on, backup codes are issued (shown this once), and the caller's other sessions end,
//! so every session from now on has passed the second factor.
//!
//! Turning MFA on changes how the account signs in, so it needs a recent sign-in (ASVS V7.5.1):
//! a session opened more than [`RECENT_SIGN_IN`] ago must confirm with the password too.
//! Otherwise a stolen access token could enrol the thief's authenticator and sign the owner out
//! of every other session.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::principal::Account;
use shared::accounts::principal::Outcome;
use shared::accounts::{Bearer, sessions, users};
use shared::auth::Password;
use shared::http::{ApiError, ApiJson, ClientOrigin};
use shared::mfa::{self, Code, Enrollment, Guard, Method, Setup, backup};
use shared::store::{Condition, Update, Write};
use utoipa::ToSchema;

use super::{BackupCodes, conflict};

/// How long after signing in a session may turn MFA on without typing the password again.
pub const RECENT_SIGN_IN: std::time::Duration = std::time::Duration::from_secs(10 * 60);

#[derive(Deserialize, ToSchema)]
pub struct EnableRequest {
    /// The code the authenticator shows now.
    pub code: Code,
    /// The account's password: required when this session signed in more than 10 minutes ago.
    #[serde(default)]
    pub password: Option<Password>,
}

/// Turn two-factor authentication on.
#[utoipa::path(
    post,
    path = "/enable",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = EnableRequest,
    responses(
        (status = 200, description = "MFA is on; the backup codes, shown this once", body = BackupCodes),
        (status = 409, description = "Already on, or no setup pending (it expires after ten minutes)", body = shared::http::ErrorBody),
        (status = 422, description = "`code` is not the authenticator's current code", body = shared::http::ErrorBody),
    )
)]
pub async fn enable(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<EnableRequest>,
) -> Result<Json<BackupCodes>, ApiError> {
    let account = bearer.account(&ctx).await?;
    let user_id = bearer.user_id();
    if Enrollment::in_partition(&account.items)?.is_some() {
        return Err(conflict("two-factor authentication is already on"));
    }
    let setup = Setup::in_partition(&account.items)?.ok_or_else(|| {
        conflict("no setup is pending (it lasts ten minutes): start with POST /v1/auth/mfa/setup")
    })?;
    let guard =
        confirm_recent_sign_in(&ctx, &bearer, &account, body.password.as_ref(), &origin).await?;
    let Some(step) = setup.secret.matching_step(&ctx, body.code.expose())? else {
        // Nothing to guess here (the caller chose this secret), so no lockout; still recorded.
        shared::audit::security(&ctx, mfa::FAILURE_EVENT, Some(user_id), &origin);
        mfa::count_attempt(&ctx, "failure", Method::Totp);
        if let Some(guard) = &guard {
            guard.release(&ctx).await?;
        }
        return Err(mfa::MfaError::InvalidCode.into());
    };
    let count = ctx.settings.mfa.backup_codes_count;
    let codes = backup::generate(count);
    let batch = shared::ids::random_uuid().to_string();
    let enrollment = Enrollment {
        secret: setup.secret,
        enabled_at: ctx.clock.now().to_string(),
        last_step: Some(step),
        backup_batch: batch.clone(),
        backup_codes_remaining: i64::from(count),
    };
    let expires_at = account.expires_at();
    let enrollment_item = enrollment.to_item(user_id)?;
    let mut writes = vec![
        // Two enables racing: the one that deletes the setup wins.
        Write::Delete {
            key: mfa::setup_key(user_id),
            condition: Some(Condition::Exists),
        },
        Write::Put {
            item: match expires_at {
                Some(at) => enrollment_item.with_ttl(at),
                None => enrollment_item,
            },
            condition: Some(Condition::NotExists),
        },
        Write::Update {
            key: users::profile_key(user_id),
            updates: vec![Update::set("mfa_enabled", true)],
            condition: Some(Condition::Exists),
        },
        shared::audit::history_write(&ctx, "auth.mfa.enabled", user_id, &origin),
    ];
    writes.extend(guard.map(|g| g.success_write()));
    writes.extend(mfa::backup_batch_writes(
        &ctx, user_id, &batch, &codes, expires_at,
    ));
    let others = account.other_sessions(bearer.session_id())?;
    // One place stays free for the session guard.
    let fit = sessions::closable_in(writes.len(), 1).min(others.len());
    for other in &others[..fit] {
        writes.extend(sessions::close(other));
    }
    if let Outcome::Conflict { .. } = bearer.transact_checked(&ctx, writes).await? {
        return Err(conflict(
            "two-factor authentication was just turned on by another request",
        ));
    }
    sessions::close_after_commit(&ctx, &others[fit..]).await;
    shared::audit::record(&ctx, "auth.mfa.enabled", Some(user_id), &origin);
    mfa::count_attempt(&ctx, "success", Method::Totp);
    Ok(Json(BackupCodes {
        backup_codes: codes,
    }))
}

/// Nothing when the caller's session is recent; otherwise the password must come along and be
/// right (under the sign-in lockout): the guard whose reservation the success frees.
async fn confirm_recent_sign_in(
    ctx: &AppContext,
    bearer: &Bearer,
    account: &Account,
    password: Option<&Password>,
    origin: &shared::accounts::Origin,
) -> Result<Option<Guard>, ApiError> {
    let signed_in_at = account
        .sessions()?
        .into_iter()
        .find(|s| s.id == bearer.session_id())
        .and_then(|s| s.created_at.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    let window = i64::try_from(RECENT_SIGN_IN.as_secs()).unwrap_or(600);
    if signed_in_at.is_some_and(|at| ctx.clock.epoch_seconds() - at <= window) {
        return Ok(None);
    }
    let password = password.ok_or_else(|| {
        ApiError::invalid_field(
            "body.password",
            "required: this session signed in more than 10 minutes ago",
        )
    })?;
    let (guard, password_matches) =
        Guard::check_password(ctx, &account.user.email, password, origin).await?;
    if !password_matches {
        guard
            .failed(ctx, "auth.mfa.enable_failed", bearer.user_id(), origin)
            .await?;
        return Err(ApiError::invalid_field(
            "body.password",
            "is not the account's password",
        ));
    }
    Ok(Some(guard))
}
