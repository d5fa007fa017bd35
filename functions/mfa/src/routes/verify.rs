//! `POST /v1/auth/mfa/verify`: the second step of a sign-in. The `mfa_token` from
//! `POST /v1/auth/login` and a TOTP or backup code become the token pair.
//!
//! The token allows five attempts, taken one at a time with a conditional write before each
//! check (so parallel guesses cannot exceed them), and is spent in the same transaction that
//! opens the session and spends the code. Wrong codes also count against the account's
//! sign-in lockout, exactly like wrong passwords. Three sequential store calls: the attempt,
//! the user's partition and the address's rate limit together; the locks; the transaction.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::sessions::{self, sessions_in};
use shared::accounts::{SignedIn, users};
use shared::auth::TokenType;
use shared::http::{ApiError, ApiJson, ClientOrigin, ErrorCode};
use shared::mfa::{self, Code, Enrollment, Guard, Method, MfaError, Proof, attempts};
use shared::store::{Condition, Query, StoreError, Write};
use utoipa::ToSchema;

/// (No `Debug`: nothing should ever print the token or the code.)
#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// From `POST /v1/auth/login` (`mfa_required: true`).
    pub mfa_token: String,
    /// The authenticator's current code.
    #[serde(default)]
    pub code: Option<Code>,
    /// A backup code, instead of `code`.
    #[serde(default)]
    pub backup_code: Option<Code>,
}

fn invalid_mfa_token() -> ApiError {
    ApiError::coded(
        ErrorCode::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "invalid, expired or used-up mfa_token: sign in again",
    )
}

/// Complete a sign-in with the second factor.
#[utoipa::path(
    post,
    path = "/verify",
    tag = "mfa",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Signed in", body = SignedIn),
        (status = 401, description = "`INVALID_MFA_CODE` for a wrong or used code; `UNAUTHORIZED` for an invalid, expired, spent or used-up `mfa_token`", body = shared::http::ErrorBody),
        (status = 422, description = "Neither or both of `code` and `backup_code`", body = shared::http::ErrorBody),
        (status = 429, description = "`ACCOUNT_LOCKED` after repeated failures, or `RATE_LIMITED`", body = shared::http::ErrorBody),
    )
)]
pub async fn verify(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let proof = match (&body.code, &body.backup_code) {
        (Some(code), None) => Proof::Totp(code.expose().to_owned()),
        (None, Some(code)) => Proof::BackupCode(code.expose().to_owned()),
        _ => {
            return Err(ApiError::invalid_field(
                "body",
                "give exactly one of `code` and `backup_code`",
            ));
        }
    };
    let method = proof.method();
    let claims = ctx
        .tokens
        .verify(
            body.mfa_token.trim(),
            TokenType::MfaPending,
            ctx.clock.epoch_seconds(),
        )
        .map_err(|_| invalid_mfa_token())?;
    let user_id = claims.sub.as_str();
    let ip = Subject::ip(&origin);
    let (allowed, partition, ip_limit) = tokio::join!(
        attempts::take(&ctx, &claims.jti, claims.exp),
        ctx.store
            .query(Query::table(users::user_partition(user_id)).limit(1000)),
        abuse::rate_limit(&ctx, "mfa_ip", &ip, ctx.settings.rate_limits.login_ip),
    );
    if let Some(retry_after) = ip_limit?.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", Some(user_id), &origin);
        mfa::count_attempt(&ctx, "rate_limited", method);
        return Err(ApiError::rate_limited(retry_after));
    }
    if !allowed? {
        mfa::count_attempt(&ctx, "token_used_up", method);
        return Err(invalid_mfa_token());
    }
    let items = partition?.items;
    let user = users::profile_in(&items)?
        .filter(|user| !user.disabled)
        .ok_or_else(invalid_mfa_token)?;
    // MFA turned off (and maybe on again), or the password changed, since the password step:
    // start again.
    let enrollment = Enrollment::in_partition(&items)?.ok_or_else(invalid_mfa_token)?;
    let changed_at = users::password_changed_at(&items);
    let enabled_at = enrollment
        .enabled_at
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .unwrap_or(i64::MAX);
    if changed_at.is_some_and(|at| claims.iat <= at) || claims.iat < enabled_at {
        return Err(invalid_mfa_token());
    }
    let guard = Guard::begin(&ctx, &user.email, &origin)
        .await
        .inspect_err(|err| {
            if err.code() == ErrorCode::AccountLocked {
                mfa::count_attempt(&ctx, "locked", method);
            }
        })?;
    let accepted = match enrollment.check(&ctx, &user.id, &items, &proof) {
        Ok(accepted) => accepted,
        Err(MfaError::InvalidCode) => {
            guard.code_failed(&ctx, &user.id, &origin, method).await?;
            return Err(mfa::invalid_code());
        }
        Err(err) => return Err(err.into()),
    };

    let proof_writes = accepted.write_count();
    let mut writes = accepted.writes(&user.id, Vec::new());
    writes.push(attempts::spend(&claims.jti));
    // Nothing about the account changed since it was read (a reset, MFA turned off).
    writes.push(Write::Check {
        key: users::profile_key(&user.id),
        condition: match changed_at {
            Some(at) => Condition::eq(users::PASSWORD_CHANGED_AT, at),
            None => Condition::attribute_not_exists(users::PASSWORD_CHANGED_AT),
        }
        .and(Condition::eq("mfa_enabled", true))
        .and(users::not_disabled()),
    });
    let (session_writes, tokens) =
        sessions::open(&ctx, &user, &origin).map_err(ApiError::internal)?;
    writes.extend(session_writes);
    writes.push(guard.success_write());
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.mfa.verify.success",
        &user.id,
        &origin,
    ));
    if method == Method::BackupCode {
        writes.push(shared::audit::history_write(
            &ctx,
            "auth.mfa.backup_code.used",
            &user.id,
            &origin,
        ));
    }
    let others = if ctx.settings.single_session {
        sessions_in(&items)?
    } else {
        Vec::new()
    };
    let fit = sessions::closable_in(writes.len(), 0).min(others.len());
    for session in &others[..fit] {
        writes.extend(sessions::close(session));
    }
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        // The code was spent by a parallel request: a replay, counted like a wrong code.
        Err(StoreError::ConditionFailed { index: Some(i) }) if i < proof_writes => {
            guard.code_failed(&ctx, &user.id, &origin, method).await?;
            return Err(mfa::invalid_code());
        }
        // The token was spent by a parallel request, or the account changed meanwhile.
        Err(StoreError::ConditionFailed { .. }) => return Err(invalid_mfa_token()),
        Err(err) => return Err(err.into()),
    }
    sessions::close_after_commit(&ctx, &others[fit..]).await;
    shared::audit::record(&ctx, "auth.mfa.verify.success", Some(&user.id), &origin);
    if method == Method::BackupCode {
        shared::audit::security(&ctx, "auth.mfa.backup_code.used", Some(&user.id), &origin);
    }
    mfa::count_attempt(&ctx, "success", method);
    Ok(SignedIn { tokens, user }.respond(&ctx, StatusCode::OK))
}
