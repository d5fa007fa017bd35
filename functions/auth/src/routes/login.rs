//! `POST /v1/auth/login`: email and password to a session (or to the MFA step).
//!
//! Three sequential store calls at most: the email's credential; the user's partition (profile
//! and sessions) in one query; one transaction that opens the session and, with the default
//! single-device policy, closes the others.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::accounts::sessions::{self, sessions_in};
use shared::accounts::users::{self, Credential};
use shared::auth::{Email, Password, TokenType, Verification};
use shared::http::{ApiError, ApiJson, ErrorCode};
use shared::store::{Query, Update, Write};
use utoipa::ToSchema;

use super::SignedIn;
use crate::origin::ClientOrigin;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: Email,
    pub password: Password,
}

/// The answer when the account has MFA on: complete with `POST /v1/auth/mfa/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// Short-lived token (`typ` = `mfa_pending`), never usable as an access token.
    pub mfa_token: String,
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
    let credential: Option<Credential> = ctx
        .store
        .get(&users::credential_key(&body.email))
        .await?
        .map(|item| item.to_entity())
        .transpose()?;
    // An unknown email costs one hash too, so timing does not tell which emails have accounts.
    let stored_hash = credential.as_ref().and_then(|c| c.password_hash.as_deref());
    let verification = ctx
        .passwords
        .verify(&body.password, stored_hash)
        .await
        .map_err(ApiError::internal)?;
    let (credential, needs_rehash) = match (credential, verification) {
        (Some(c), Verification::Match { needs_rehash }) if !c.disabled => (c, needs_rehash),
        (credential, _) => {
            shared::audit::record(
                "auth.login.failure",
                credential.as_ref().map(|c| c.user_id.as_str()),
                &origin,
            );
            return Err(invalid_credentials());
        }
    };

    let partition = ctx
        .store
        .query(Query::table(users::user_partition(&credential.user_id)).limit(1000))
        .await?;
    let user = users::profile_in(&partition.items)?
        .ok_or_else(|| ApiError::internal(anyhow_missing_profile(&credential.user_id)))?;
    if user.mfa_enabled {
        let (mfa_token, _) = ctx
            .tokens
            .issue(
                TokenType::MfaPending,
                &user.id,
                None,
                &[],
                ctx.settings.mfa.token_ttl,
                ctx.clock.epoch_seconds(),
            )
            .map_err(ApiError::internal)?;
        shared::audit::record("auth.login.mfa_required", Some(&user.id), &origin);
        return Ok(Json(MfaRequired {
            mfa_required: true,
            mfa_token,
        })
        .into_response());
    }

    let (mut writes, tokens) = sessions::open(&ctx, &user, &origin).map_err(ApiError::internal)?;
    if ctx.settings.single_session {
        // One device at a time: this login ends the others. (A transaction holds 100 writes.)
        for session in sessions_in(&partition.items)?.iter().take(48) {
            writes.extend(sessions::close(session));
        }
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
    ctx.store.transact(writes).await?;
    shared::audit::record("auth.login.success", Some(&user.id), &origin);
    Ok(Json(SignedIn { tokens, user }).into_response())
}

fn anyhow_missing_profile(user_id: &str) -> std::io::Error {
    std::io::Error::other(format!("credential without a profile for user {user_id}"))
}
