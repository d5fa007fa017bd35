//! `POST /v1/auth/login`: email and password to a session (or to the MFA step).
//!
//! Three sequential store calls at most: the email's credential; the user's partition (profile
//! and sessions) in one query; one transaction that opens the session and, with the default
//! single-device policy, closes the others.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Decision, Subject, lockout};
use shared::accounts::sessions::{self, sessions_in};
use shared::accounts::users::{self, Credential};
use shared::auth::{Email, Password, Verification};
use shared::http::{ApiError, ApiJson, ErrorCode};
use shared::metrics::Metric;
use shared::store::{Condition, Query, StoreError, Update, Write};
use utoipa::ToSchema;

use shared::accounts::{MfaRequired, SignedIn};
use shared::http::ClientOrigin;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: Email,
    pub password: Password,
}

fn invalid_credentials() -> ApiError {
    ApiError::coded(
        ErrorCode::InvalidCredentials,
        StatusCode::UNAUTHORIZED,
        "invalid email or password",
    )
}

/// Sign in with email and password.
#[utoipa::path(
    post,
    path = "/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (or `mfa_required`)", body = SignedIn),
        (status = 401, description = "`INVALID_CREDENTIALS`, the same for an unknown email and a wrong password", body = shared::http::ErrorBody),
    )
)]
pub async fn login(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let limits = &ctx.settings.rate_limits;
    let ip = Subject::ip(&origin);
    let email = Subject::email(&ctx, &body.email);
    let credential_key = users::credential_key(&body.email);
    // One step: the credential, both rate limits and both locks, together.
    let (credential, ip_limit, email_limit, email_lock, ip_lock) = tokio::join!(
        ctx.store.get(&credential_key),
        abuse::rate_limit(&ctx, "login_ip", &ip, limits.login_ip),
        abuse::rate_limit(&ctx, "login_email", &email, limits.login_email),
        lockout::check(&ctx, "login", &email),
        lockout::check(&ctx, "login", &ip),
    );
    if let Some(retry_after) = ip_limit?.retry_after().or(email_limit?.retry_after()) {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        attempt(&ctx, "rate_limited");
        return Err(ApiError::rate_limited(retry_after));
    }
    let lock = [email_lock?, ip_lock?]
        .into_iter()
        .find(|d| *d != Decision::Allowed);
    if let Some(retry_after) = lock.and_then(Decision::retry_after) {
        // The same answer whether or not the email has an account; the attempt is still a
        // security event, since guessing on during a lock is what stuffing looks like.
        shared::audit::security(&ctx, "auth.login.locked", None, &origin);
        attempt(&ctx, "locked");
        return Err(ApiError::locked(retry_after));
    }
    let credential: Option<Credential> = credential?.map(|item| item.to_entity()).transpose()?;
    // An unknown email costs one hash too, so timing does not tell which emails have accounts.
    let stored_hash = credential.as_ref().and_then(|c| c.password_hash.as_deref());
    // The account's partition is read while the password is checked: the read hides behind
    // the hash (several times longer), so a sign-in costs one hash and two sequential steps.
    let partition_read = async {
        match &credential {
            Some(c) if !c.disabled => Some(
                ctx.store
                    .query(Query::table(users::user_partition(&c.user_id)).limit(1000))
                    .await,
            ),
            _ => None,
        }
    };
    let (verification, partition) = tokio::join!(
        ctx.passwords.verify(&body.password, stored_hash),
        partition_read
    );
    let verification = verification.map_err(ApiError::internal)?;
    let (credential, needs_rehash) = match (credential, verification) {
        (Some(c), Verification::Match { needs_rehash }) if !c.disabled => (c, needs_rehash),
        (credential, _) => {
            let user_id = credential.as_ref().map(|c| c.user_id.as_str());
            shared::audit::record(&ctx, "auth.login.failure", user_id, &origin);
            attempt(&ctx, "failure");
            lockout::record_sign_in_failure(
                &ctx,
                "auth.login.failure",
                &email,
                None,
                &ip,
                user_id,
                &origin,
            )
            .await?;
            return Err(invalid_credentials());
        }
    };

    let partition = partition
        .ok_or_else(|| ApiError::internal(anyhow_missing_profile(&credential.user_id)))??;
    let user = users::profile_in(&partition.items)?
        .ok_or_else(|| ApiError::internal(anyhow_missing_profile(&credential.user_id)))?;
    if user.mfa_enabled {
        return mfa_required(&ctx, &user.id, &origin);
    }

    let (mut writes, tokens) = sessions::open(&ctx, &user, &origin).map_err(ApiError::internal)?;
    // MFA turned on since the profile was read: no session without the second factor.
    writes.push(Write::Check {
        key: users::profile_key(&user.id),
        condition: Condition::eq("mfa_enabled", false),
    });
    let mfa_check = writes.len() - 1;
    writes.push(lockout::clear_writes("login", &email));
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.login.success",
        &user.id,
        &origin,
    ));
    // One device at a time: this login ends the others (those that do not fit in the
    // transaction right after it; one write stays free for a rehash).
    let others = if ctx.settings.single_session {
        sessions_in(&partition.items)?
    } else {
        Vec::new()
    };
    let fit = sessions::closable_in(writes.len(), 1).min(others.len());
    for session in &others[..fit] {
        writes.extend(sessions::close(session));
    }
    if needs_rehash {
        let hash = ctx
            .passwords
            .hash(&body.password)
            .await
            .map_err(ApiError::internal)?;
        writes.push(Write::Update {
            key: users::credential_key(&body.email),
            updates: vec![Update::set("password_hash", hash)],
            condition: Some(shared::store::Condition::Exists),
        });
    }
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(i) }) if i == mfa_check => {
            return mfa_required(&ctx, &user.id, &origin);
        }
        Err(err) => return Err(err.into()),
    }
    sessions::close_all(&ctx, &others[fit..]).await?;
    shared::audit::record(&ctx, "auth.login.success", Some(&user.id), &origin);
    attempt(&ctx, "success");
    Ok(SignedIn { tokens, user }.respond(&ctx, StatusCode::OK))
}

/// The answer for an account with MFA on: a short-lived `mfa_pending` token for
/// `POST /v1/auth/mfa/verify`.
fn mfa_required(
    ctx: &AppContext,
    user_id: &str,
    origin: &shared::accounts::Origin,
) -> Result<Response, ApiError> {
    let answer = MfaRequired::issue(ctx, user_id, origin).map_err(ApiError::internal)?;
    Ok(Json(answer).into_response())
}

/// `authentication_attempts_total{result, method}`.
fn attempt(ctx: &AppContext, result: &'static str) {
    ctx.metrics.emit(
        &[("result", result), ("method", "password")],
        &[Metric::count("authentication_attempts_total")],
        &[],
    );
}

fn anyhow_missing_profile(user_id: &str) -> std::io::Error {
    std::io::Error::other(format!("credential without a profile for user {user_id}"))
}
