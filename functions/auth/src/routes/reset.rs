//! Password reset: `POST /v1/auth/password-reset/request` sends a one-time link;
//! `POST /v1/auth/password-reset/confirm` sets a new password with it and ends every session.
//!
//! ```text
//! RESET#<hmac of token>   RESET   {user_id}     TTL: PASSWORD_RESET_EXPIRE_MINUTES
//! ```
//!
//! The request answers the same, after at least `RESET_MIN_RESPONSE_MS`, whether or not the email
//! has an account, so neither the body nor the timing tells.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::sessions::{self, sessions_in};
use shared::accounts::users::{self, Credential};
use shared::auth::tokens::{new_opaque_token, opaque_token_digest};
use shared::auth::{Email, Password};
use shared::http::{ApiError, ApiJson};
use shared::mailer::Message;
use shared::store::{Condition, Item, Key, Query, StoreError, Update, Write};
use utoipa::ToSchema;

use shared::http::ClientOrigin;

fn reset_key(digest: &str) -> Key {
    Key::new(format!("RESET#{digest}"), "RESET")
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    pub email: Email,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub message: &'static str,
}

const ACCEPTED: &str = "If an account exists for this email, a reset link is on its way.";

/// Ask for a reset link. Always 202 with the same body.
#[utoipa::path(
    post,
    path = "/password-reset/request",
    tag = "auth",
    request_body = ResetRequest,
    responses((status = 202, description = "Accepted (whether or not the account exists)", body = Accepted))
)]
pub async fn request_reset(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let started = Instant::now();
    let limits = &ctx.settings.rate_limits;
    let ip = Subject::ip(&origin);
    let email = Subject::email(&ctx, &body.email);
    let credential_key = users::credential_key(&body.email);
    let (credential, ip_limit, email_limit) = tokio::join!(
        ctx.store.get(&credential_key),
        abuse::rate_limit(&ctx, "reset_ip", &ip, limits.reset_ip),
        abuse::rate_limit(&ctx, "reset_email", &email, limits.reset_email),
    );
    if let Some(retry_after) = ip_limit?.retry_after().or(email_limit?.retry_after()) {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        return Err(ApiError::rate_limited(retry_after));
    }
    let credential: Option<Credential> = credential?.map(|i| i.to_entity()).transpose()?;
    match credential.filter(|c| !c.disabled) {
        Some(credential) => {
            let token = format!("{}.{}", credential.user_id, new_opaque_token());
            let digest = opaque_token_digest(ctx.secrets.token_pepper_key(), &token);
            let ttl = ctx.settings.tokens.password_reset_ttl;
            let expires_at =
                ctx.clock.epoch_seconds() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
            let item = Item::new(&reset_key(&digest))
                .with("user_id", credential.user_id.clone())
                .with("issued_at", ctx.clock.epoch_seconds())
                .with_ttl(expires_at);
            // Failures here are logged, never answered: the answer must not depend on the account.
            if let Err(err) = ctx.store.put(item, None).await {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "reset token not stored"
                );
            }
            let message = Message {
                to: body.email.as_str().to_owned(),
                subject: "Reset your password".to_owned(),
                text: format!(
                    "Someone asked to reset the password of your account.\n\n\
                     To choose a new password, open this link within {} minutes:\n{}?token={}\n\n\
                     If it was not you, ignore this message: your password stays as it is.",
                    ttl.as_secs() / 60,
                    ctx.settings.mail.reset_url,
                    token
                ),
            };
            // A failed send is logged, not answered: the answer must not depend on the account.
            if let Err(err) = ctx.mailer.send(&message).await {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    mailer = ctx.mailer.name(),
                    "reset mail not sent"
                );
            }
            shared::audit::record(
                &ctx,
                "auth.password_reset.requested",
                Some(&credential.user_id),
                &origin,
            );
        }
        None => shared::audit::record(&ctx, "auth.password_reset.requested", None, &origin),
    }
    let floor = ctx.settings.mail.reset_min_response;
    if let Some(rest) = floor.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    Ok((StatusCode::ACCEPTED, Json(Accepted { message: ACCEPTED })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: Password,
    /// A TOTP or backup code: required when the account has MFA on.
    #[serde(default)]
    pub code: Option<shared::mfa::Code>,
}

fn invalid_token() -> ApiError {
    ApiError::bad_request("invalid or expired reset token")
}

/// Set a new password with a reset token. The token works once; every session ends.
#[utoipa::path(
    post,
    path = "/password-reset/confirm",
    tag = "auth",
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "Password changed; every session ended"),
        (status = 400, description = "Invalid, used or expired token", body = shared::http::ErrorBody),
    )
)]
pub async fn confirm_reset(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    let user_id = sessions::token_user(&body.token).ok_or_else(invalid_token)?;
    let digest = opaque_token_digest(ctx.secrets.token_pepper_key(), &body.token);
    let key = reset_key(&digest);
    let ip = Subject::ip(&origin);
    let (record, partition, ip_limit) = tokio::join!(
        ctx.store.get(&key),
        ctx.store
            .query(Query::table(users::user_partition(user_id)).limit(1000)),
        abuse::rate_limit(
            &ctx,
            "reset_confirm_ip",
            &ip,
            ctx.settings.rate_limits.login_ip
        ),
    );
    if let Some(retry_after) = ip_limit?.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        return Err(ApiError::rate_limited(retry_after));
    }
    let record = record?.ok_or_else(invalid_token)?;
    if record.get_str("user_id") != Some(user_id) {
        return Err(invalid_token());
    }
    let partition = partition?;
    let user = users::profile_in(&partition.items)?.ok_or_else(invalid_token)?;
    // A link issued before the last password change is dead.
    let changed_at = users::password_changed_at(&partition.items);
    if changed_at.is_some_and(|at| {
        record
            .get_i64("issued_at")
            .is_none_or(|issued| issued <= at)
    }) {
        return Err(invalid_token());
    }
    if user.disabled {
        return Err(invalid_token());
    }
    let email = Email::parse(&user.email).map_err(|_| invalid_token())?;
    // The new password first: a weak one should not cost a second-factor attempt.
    let password_write = super::new_password_write(&ctx, &email, &body.new_password).await?;
    // A reset must not bypass the second factor: the code is spent with the reset.
    let factor = if user.mfa_enabled {
        let code = body.code.as_ref().ok_or_else(|| {
            ApiError::invalid_field("body.code", "a TOTP or backup code is required")
        })?;
        Some(SecondFactor::check(&ctx, &user, &key, &partition.items, code, &origin).await?)
    } else {
        None
    };
    let mut writes = factor
        .as_ref()
        .map(|f| f.writes.clone())
        .unwrap_or_default();
    let proof_writes = writes.len();
    writes.extend([
        Write::Delete {
            key,
            condition: Some(Condition::Exists),
        },
        password_write,
        super::password_changed_write(&ctx, &user.id),
        shared::audit::history_write(&ctx, "auth.password_reset.completed", &user.id, &origin),
    ]);
    if let Some(factor) = &factor {
        writes.extend(factor.success_writes(&ctx, &user.id, &origin));
    }
    let all_sessions = sessions_in(&partition.items)?;
    let fit = sessions::closable_in(writes.len(), 0).min(all_sessions.len());
    for session in &all_sessions[..fit] {
        writes.extend(sessions::close(session));
    }
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        // A parallel request spent the code first.
        Err(StoreError::ConditionFailed { index: Some(i) }) if i < proof_writes => {
            if let Some(factor) = &factor {
                factor.failed(&ctx, &user.id, &origin).await?;
            }
            return Err(shared::mfa::MfaError::InvalidCode.into());
        }
        // Another request used the token first.
        Err(StoreError::ConditionFailed { .. }) => return Err(invalid_token()),
        Err(err) => return Err(err.into()),
    }
    sessions::close_all(&ctx, &all_sessions[fit..]).await?;
    shared::audit::record(
        &ctx,
        "auth.password_reset.completed",
        Some(&user.id),
        &origin,
    );
    if let Some(factor) = &factor {
        factor.succeeded(&ctx, &user.id, &origin);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Reset links allow this many second-factor attempts; a new link is needed after.
const CODE_ATTEMPTS: i64 = 5;

/// The second factor of a reset, checked: the writes that spend it.
struct SecondFactor {
    writes: Vec<Write>,
    method: shared::mfa::Method,
    guard: shared::mfa::Guard,
}

impl SecondFactor {
    /// Checks `code` for `user` (MFA on), under the link's own attempt limit and the sign-in
    /// lockout, like a login's second step.
    async fn check(
        ctx: &AppContext,
        user: &shared::accounts::User,
        reset: &Key,
        items: &[Item],
        code: &shared::mfa::Code,
        origin: &shared::accounts::Origin,
    ) -> Result<Self, ApiError> {
        use shared::mfa::{Enrollment, Guard, MfaError, Proof};
        let attempt_left =
            Condition::Exists.and(Condition::absent_or_below("attempts", CODE_ATTEMPTS));
        let (attempt, guard) = tokio::join!(
            ctx.store
                .update(reset, vec![Update::add("attempts", 1)], Some(attempt_left)),
            Guard::begin(ctx, &user.email, origin),
        );
        let guard = guard?;
        match attempt {
            Ok(_) => {}
            Err(err) if err.is_condition_failed() => return Err(invalid_token()),
            Err(err) => return Err(err.into()),
        }
        let proof = Proof::either(code.expose());
        let checked = match Enrollment::in_partition(items)? {
            Some(enrollment) => enrollment.check(ctx, &user.id, items, &proof),
            None => Err(MfaError::InvalidCode),
        };
        let factor = |writes| Self {
            writes,
            method: proof.method(),
            guard,
        };
        match checked {
            Ok(accepted) => Ok(factor(accepted.writes(&user.id, Vec::new()))),
            Err(MfaError::InvalidCode) => {
                factor(Vec::new()).failed(ctx, &user.id, origin).await?;
                Err(MfaError::InvalidCode.into())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The writes that go with a successful reset: the lockout's reservation freed, the
    /// second factor's events in the account's history.
    fn success_writes(
        &self,
        ctx: &AppContext,
        user_id: &str,
        origin: &shared::accounts::Origin,
    ) -> Vec<Write> {
        let mut writes = vec![
            self.guard.success_write(),
            shared::audit::history_write(ctx, "auth.mfa.verify.success", user_id, origin),
        ];
        if self.method == shared::mfa::Method::BackupCode {
            writes.push(shared::audit::history_write(
                ctx,
                "auth.mfa.backup_code.used",
                user_id,
                origin,
            ));
        }
        writes
    }

    fn succeeded(&self, ctx: &AppContext, user_id: &str, origin: &shared::accounts::Origin) {
        shared::mfa::count_attempt(ctx, "success", self.method);
        shared::audit::record(ctx, "auth.mfa.verify.success", Some(user_id), origin);
        if self.method == shared::mfa::Method::BackupCode {
            shared::audit::security(ctx, "auth.mfa.backup_code.used", Some(user_id), origin);
        }
    }

    async fn failed(
        &self,
        ctx: &AppContext,
        user_id: &str,
        origin: &shared::accounts::Origin,
    ) -> Result<(), ApiError> {
        self.guard
            .code_failed(ctx, user_id, origin, self.method)
            .await
    }
}
