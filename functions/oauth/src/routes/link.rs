//! `POST /v1/auth/oauth/link`: links a provider identity to the account that holds its email,
//! proven with the account's password (and its second factor when MFA is on), and signs in.
//!
//! The password and the code are checked under the same lockout as a password sign-in (one
//! failure reserved before the check), and the link token, the code, the identity and the new
//! session are written in one conditional transaction: a token or a code works once.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::identities;
use shared::accounts::{SignedIn, sessions, users};
use shared::auth::Password;
use shared::http::{ApiError, ApiJson, ClientOrigin, ErrorCode};
use shared::mfa::{self, Code, Enrollment, Guard, MfaError, Proof};
use shared::store::{Condition, Query, StoreError, Write};
use utoipa::ToSchema;

use super::count;
use crate::flow;

/// Longest link token accepted (ours are 43 characters).
const MAX_TOKEN: usize = 128;

/// (No `Debug`: nothing should ever print the token, the password or the code.)
#[derive(Deserialize, ToSchema)]
pub struct LinkRequest {
    /// `details.link_token` of the callback's `LINK_REQUIRED` answer.
    pub link_token: String,
    /// The account's password.
    pub password: Password,
    /// A TOTP or backup code, when the account has two-factor authentication on.
    #[serde(default)]
    pub code: Option<Code>,
}

fn invalid_link_token() -> ApiError {
    ApiError::coded(
        ErrorCode::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "invalid, expired or used link_token: sign in with the provider again",
    )
}

/// Link a provider identity to an existing account.
#[utoipa::path(
    post,
    path = "/link",
    tag = "oauth",
    request_body = LinkRequest,
    responses(
        (status = 200, description = "Linked and signed in", body = SignedIn),
        (status = 401, description = "`INVALID_CREDENTIALS`, `INVALID_MFA_CODE`, or `UNAUTHORIZED` for an invalid, expired or used `link_token`", body = shared::http::ErrorBody),
        (status = 409, description = "The account already has an identity at this provider, or the identity was linked meanwhile", body = shared::http::ErrorBody),
        (status = 422, description = "`code` is missing for an account with MFA on", body = shared::http::ErrorBody),
        (status = 429, description = "`ACCOUNT_LOCKED` after repeated failures, or `RATE_LIMITED`", body = shared::http::ErrorBody),
    )
)]
pub async fn link(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<LinkRequest>,
) -> Result<Response, ApiError> {
    let token = body.link_token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(invalid_link_token());
    }
    let ip = Subject::ip(&origin);
    let (pending, limit) = tokio::join!(
        flow::pending_link(&ctx, token),
        abuse::rate_limit(&ctx, "oauth_ip", &ip, ctx.settings.rate_limits.login_ip),
    );
    if let Some(retry_after) = limit?.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        return Err(ApiError::rate_limited(retry_after));
    }
    let pending = pending?.ok_or_else(invalid_link_token)?;
    let provider = pending.identity.provider.clone();
    let partition = ctx
        .store
        .query(Query::table(users::user_partition(&pending.user_id)).limit(1000))
        .await?;
    let items = partition.items;
    let user = users::profile_in(&items)?
        .filter(|user| !user.disabled)
        .ok_or_else(invalid_link_token)?;
    let enrollment = if user.mfa_enabled {
        let enrollment = Enrollment::in_partition(&items)?.ok_or_else(invalid_link_token)?;
        if body.code.is_none() {
            return Err(ApiError::invalid_field(
                "body.code",
                "is required: this account has two-factor authentication on",
            ));
        }
        Some(enrollment)
    } else {
        None
    };
    let (guard, password_matches) =
        Guard::check_password(&ctx, &user.email, &body.password, &origin).await?;
    if !password_matches {
        guard
            .failed(&ctx, "auth.oauth.link.failure", &user.id, &origin)
            .await?;
        count(&ctx, &provider, "link_failure");
        return Err(users::wrong_password());
    }
    let mut writes = Vec::new();
    let mut method = None;
    if let (Some(enrollment), Some(code)) = (&enrollment, &body.code) {
        let proof = Proof::either(code.expose());
        method = Some(proof.method());
        match enrollment.check(&ctx, &user.id, &items, &proof) {
            Ok(accepted) => writes = accepted.writes(&user.id, Vec::new()),
            Err(MfaError::InvalidCode) => {
                guard
                    .code_failed(&ctx, &user.id, &origin, proof.method())
                    .await?;
                return Err(mfa::invalid_code());
            }
            Err(err) => {
                guard.release(&ctx).await?;
                return Err(err.into());
            }
        }
    }
    if identities::identities_in(&items)?
        .iter()
        .any(|i| i.provider == provider)
    {
        guard.release(&ctx).await?;
        return Err(already_linked());
    }
    let proof_writes = writes.len();
    writes.push(flow::spend_link(&ctx, token));
    let identity_at = writes.len();
    writes.extend(identities::link_writes(&user.id, &pending.identity)?);
    writes.extend([
        // Nothing about the account changed since it was read.
        Write::Check {
            key: users::profile_key(&user.id),
            condition: Condition::eq("mfa_enabled", user.mfa_enabled).and(users::not_disabled()),
        },
        guard.success_write(),
        shared::audit::history_write(&ctx, "auth.oauth.linked", &user.id, &origin),
        shared::audit::history_write(&ctx, "auth.oauth.login.success", &user.id, &origin),
    ]);
    let (tokens, rest) = sessions::open_replacing(&ctx, &user, &origin, &items, &mut writes, 0)
        .map_err(ApiError::internal)?;
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(i) }) if i < proof_writes => {
            // The code was spent by a parallel request: a replay, counted like a wrong code.
            guard
                .code_failed(&ctx, &user.id, &origin, method.unwrap_or(mfa::Method::Totp))
                .await?;
            return Err(mfa::invalid_code());
        }
        Err(StoreError::ConditionFailed { index: Some(i) }) if i == proof_writes => {
            guard.release(&ctx).await?;
            return Err(invalid_link_token());
        }
        Err(StoreError::ConditionFailed { index: Some(i) })
            if (identity_at..identity_at + 2).contains(&i) =>
        {
            guard.release(&ctx).await?;
            return Err(already_linked());
        }
        Err(StoreError::ConditionFailed { .. }) => {
            guard.release(&ctx).await?;
            return Err(ApiError::http(
                StatusCode::CONFLICT,
                "the account changed meanwhile; try again",
            ));
        }
        Err(err) => {
            guard.release(&ctx).await?;
            return Err(err.into());
        }
    }
    sessions::close_after_commit(&ctx, &rest).await;
    shared::audit::record(&ctx, "auth.oauth.linked", Some(&user.id), &origin);
    shared::audit::record(&ctx, "auth.oauth.login.success", Some(&user.id), &origin);
    count(&ctx, &provider, "linked");
    Ok(SignedIn { tokens, user }.respond(&ctx, StatusCode::OK))
}

fn already_linked() -> ApiError {
    ApiError::http(
        StatusCode::CONFLICT,
        "this account already has an identity at this provider, or this identity belongs to another account",
    )
}
