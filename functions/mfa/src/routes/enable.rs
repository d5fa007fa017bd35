//! `POST /v1/auth/mfa/enable`: the first code from the authenticator confirms the pending setup;
//! MFA is on, backup codes are issued (shown this once), and the caller's other sessions end,
//! so every session from now on has passed the second factor.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::principal::Outcome;
use shared::accounts::{Bearer, sessions, users};
use shared::http::{ApiError, ApiJson, ClientOrigin};
use shared::mfa::{self, Code, Enrollment, Method, Setup, backup};
use shared::store::{Condition, Update, Write};
use utoipa::ToSchema;

use super::{BackupCodes, conflict};

#[derive(Debug, Deserialize, ToSchema)]
pub struct EnableRequest {
    /// The code the authenticator shows now.
    pub code: Code,
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
    let Some(step) = setup.secret.matching_step(&ctx, body.code.expose())? else {
        // Nothing to guess here (the caller chose this secret), so no lockout; still recorded.
        shared::audit::security(&ctx, super::FAILURE_EVENT, Some(user_id), &origin);
        mfa::count_attempt(&ctx, "failure", Method::Totp);
        return Err(mfa::MfaError::InvalidCode.into());
    };
    let count = ctx.settings.mfa.backup_codes_count;
    let codes = backup::generate(count);
    let batch = uuid::Uuid::new_v4().to_string();
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
