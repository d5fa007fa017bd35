//! `POST /v1/auth/mfa/disable`: MFA off, confirmed with the password or a code (TOTP or backup
//! code, for someone who lost the phone). The secret and every backup code are deleted, and the
//! caller's other sessions end.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::principal::Outcome;
use shared::accounts::users;
use shared::accounts::{Bearer, sessions};
use shared::auth::Password;
use shared::http::{ApiError, ApiJson, ClientOrigin};
use shared::mfa::{self, Code, Guard, Method, MfaError, Proof};
use shared::store::{Condition, Update, Write};
use utoipa::ToSchema;

use super::enrolled;
use super::status::MfaStatus;

#[derive(Deserialize, ToSchema)]
pub struct DisableRequest {
    /// The account's password…
    #[serde(default)]
    pub password: Option<Password>,
    /// …or a TOTP or backup code.
    #[serde(default)]
    pub code: Option<Code>,
}

enum Confirmation {
    Password(Password),
    Code(Proof),
}

/// Turn two-factor authentication off.
#[utoipa::path(
    post,
    path = "/disable",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = DisableRequest,
    responses(
        (status = 200, description = "MFA is off; the caller's other sessions are ended", body = MfaStatus),
        (status = 409, description = "Two-factor authentication is already off", body = shared::http::ErrorBody),
        (status = 422, description = "Neither or both of `password` and `code`, or the one given is wrong", body = shared::http::ErrorBody),
        (status = 429, description = "`ACCOUNT_LOCKED` after repeated failures", body = shared::http::ErrorBody),
    )
)]
pub async fn disable(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<DisableRequest>,
) -> Result<Json<MfaStatus>, ApiError> {
    let confirmation = match (body.password, body.code) {
        (Some(password), None) => Confirmation::Password(password),
        (None, Some(code)) => Confirmation::Code(Proof::either(code.expose())),
        _ => {
            return Err(ApiError::invalid_field(
                "body",
                "give exactly one of `password` and `code`",
            ));
        }
    };
    let method = match &confirmation {
        Confirmation::Password(_) => None,
        Confirmation::Code(proof) => Some(proof.method()),
    };
    let account = bearer.account(&ctx).await?;
    let user_id = bearer.user_id();
    let enrollment = enrolled(&account)?;
    let email = &account.user.email;
    let (guard, wrong_password) = match &confirmation {
        Confirmation::Password(password) => {
            let (guard, matches) = Guard::check_password(&ctx, email, password, &origin).await?;
            (guard, !matches)
        }
        Confirmation::Code(_) => (Guard::begin(&ctx, email, &origin).await?, false),
    };

    let (mut writes, proof_writes) = match confirmation {
        Confirmation::Password(_) => {
            if wrong_password {
                guard
                    .failed(&ctx, "auth.mfa.disable_failed", user_id, &origin)
                    .await?;
                return Err(ApiError::invalid_field(
                    "body.password",
                    "is not the account's password",
                ));
            }
            let delete = Write::Delete {
                key: mfa::enrollment_key(user_id),
                condition: Some(Condition::Exists),
            };
            (vec![delete], 0)
        }
        Confirmation::Code(proof) => {
            match enrollment.check(&ctx, user_id, &account.items, &proof) {
                Ok(accepted) => {
                    let count = accepted.write_count();
                    (accepted.writes_deleting(user_id), count)
                }
                Err(MfaError::InvalidCode) => {
                    guard
                        .code_failed(&ctx, user_id, &origin, proof.method())
                        .await?;
                    return Err(MfaError::InvalidCode.into());
                }
                Err(err) => return Err(err.into()),
            }
        }
    };
    writes.extend([
        Write::Update {
            key: users::profile_key(user_id),
            updates: vec![Update::set("mfa_enabled", false)],
            condition: Some(Condition::Exists),
        },
        Write::Delete {
            key: mfa::setup_key(user_id),
            condition: None,
        },
        shared::audit::history_write(&ctx, "auth.mfa.disabled", user_id, &origin),
        guard.success_write(),
    ]);
    if method == Some(Method::BackupCode) {
        writes.push(shared::audit::history_write(
            &ctx,
            "auth.mfa.backup_code.used",
            user_id,
            &origin,
        ));
    }
    // Every backup code goes (the one spent as proof is already deleted above); room is kept
    // for the session guard, and what does not fit goes right after.
    let codes_left = mfa::delete_codes_within(&account.items, &mut writes, 1);
    let others = account.other_sessions(bearer.session_id())?;
    let fit = sessions::closable_in(writes.len(), 1).min(others.len());
    for other in &others[..fit] {
        writes.extend(sessions::close(other));
    }
    match (bearer.transact_checked(&ctx, writes).await?, method) {
        (Outcome::Committed, _) => {}
        // The code was used by a parallel request first.
        (Outcome::Conflict { index: Some(i) }, Some(method)) if i < proof_writes => {
            guard.code_failed(&ctx, user_id, &origin, method).await?;
            return Err(MfaError::InvalidCode.into());
        }
        (Outcome::Conflict { .. }, _) => {
            return Err(super::conflict(
                "two-factor authentication was just turned off by another request",
            ));
        }
    }
    // Unusable already (their enrollment is gone); removing them is housekeeping.
    mfa::delete_codes_after_commit(&ctx, &codes_left).await;
    sessions::close_after_commit(&ctx, &others[fit..]).await;
    shared::audit::record(&ctx, "auth.mfa.disabled", Some(user_id), &origin);
    if let Some(method) = method {
        mfa::count_attempt(&ctx, "success", method);
        if method == Method::BackupCode {
            shared::audit::security(&ctx, "auth.mfa.backup_code.used", Some(user_id), &origin);
        }
    }
    Ok(Json(MfaStatus::off()))
}
