//! `DELETE /v1/auth/me`: the account deletes itself, with everything it holds.
//!
//! Proven like a sign-in: the password (and the second factor when MFA is on), under the same
//! lockout. Then, in this order:
//! 1. the tracker's health data and the account's security history are erased (idempotent; a
//!    failure here leaves the account usable, so the user can simply retry);
//! 2. one transaction deletes the account itself: credential, profile, sessions and their
//!    refresh tokens, linked identities, second factor and every other item of its partition.
//!    Until it commits the account is whole; once it has, nothing can sign in to it and every
//!    token it issued stops working.
//!
//! An account that signs in only through a provider has no password: it sets one first (password
//! reset), so deletion always needs something a thief of an access token does not have.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::{Bearer, identities, sessions, users};
use shared::auth::{Email, Password};
use shared::http::{ApiError, ApiJson, ClientOrigin};
use shared::mfa::{self, Code, Enrollment, Guard, MfaError, Proof};
use shared::store::{Condition, Item, StoreError, Write};
use utoipa::ToSchema;

/// Most writes of one transaction: the account must go in one.
const MAX_WRITES: usize = shared::store::MAX_TRANSACTION_WRITES;

/// (No `Debug`: nothing should ever print the password or the code.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The account's password.
    pub password: Password,
    /// A TOTP or backup code, when the account has two-factor authentication on.
    #[serde(default)]
    pub code: Option<Code>,
}

/// Delete the signed-in account and all its data.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    request_body = DeleteAccount,
    responses(
        (status = 204, description = "The account and everything it held are gone"),
        (status = 401, description = "`INVALID_CREDENTIALS`, `INVALID_MFA_CODE`, or `UNAUTHORIZED`", body = shared::http::ErrorBody),
        (status = 422, description = "`code` is missing for an account with MFA on", body = shared::http::ErrorBody),
        (status = 429, description = "`ACCOUNT_LOCKED` after repeated failures", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_me(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<DeleteAccount>,
) -> Result<StatusCode, ApiError> {
    let account = bearer.account(&ctx).await?;
    let user = &account.user;
    let enrollment = if user.mfa_enabled {
        if body.code.is_none() {
            return Err(ApiError::invalid_field(
                "body.code",
                "is required: this account has two-factor authentication on",
            ));
        }
        Enrollment::in_partition(&account.items)?
    } else {
        None
    };
    let (guard, password_matches) =
        Guard::check_password(&ctx, &user.email, &body.password, &origin).await?;
    if !password_matches {
        guard
            .failed(&ctx, "auth.account.delete.failure", &user.id, &origin)
            .await?;
        return Err(users::wrong_password());
    }
    let mut writes = Vec::new();
    if let (Some(enrollment), Some(code)) = (&enrollment, &body.code) {
        let proof = Proof::either(code.expose());
        match enrollment.check(&ctx, &user.id, &account.items, &proof) {
            // The code is spent by deleting what records it, under the same condition.
            Ok(accepted) => {
                writes = accepted
                    .writes(&user.id, Vec::new())
                    .into_iter()
                    .map(deleting)
                    .collect()
            }
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
    let proof_writes = writes.len();
    if let Err(err) = erase_data(&ctx, &user.id).await {
        guard.release(&ctx).await?;
        return Err(err.into());
    }
    let email = users::stored_email(&user.email)?;
    let spent: Vec<_> = writes.iter().filter_map(Write::key).collect();
    writes.extend(
        account_writes(&user.id, &email, &account.items)?
            .into_iter()
            .filter(|w| w.key().is_none_or(|key| !spent.contains(&key))),
    );
    writes.push(guard.success_write());
    if writes.len() > MAX_WRITES {
        // Thousands of sessions or codes: not an account a person keeps; refuse rather than
        // delete it in parts.
        guard.release(&ctx).await?;
        return Err(ApiError::http(
            StatusCode::CONFLICT,
            "this account holds too many sessions to delete at once; sign out everywhere first",
        ));
    }
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(i) }) if i < proof_writes => {
            guard
                .code_failed(&ctx, &user.id, &origin, mfa::Method::Totp)
                .await?;
            return Err(mfa::invalid_code());
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
    shared::audit::record(&ctx, "auth.account.deleted", Some(&user.id), &origin);
    Ok(StatusCode::NO_CONTENT)
}

/// A write that spends a code, turned into the deletion of the item it updates.
fn deleting(write: Write) -> Write {
    match write {
        Write::Update { key, condition, .. } => Write::Delete { key, condition },
        other => other,
    }
}

/// Health data and the security history: separate partitions, erased before the account.
async fn erase_data(ctx: &AppContext, user_id: &str) -> Result<(), StoreError> {
    shared::tracker::erase(&ctx.store, user_id).await?;
    ctx.store
        .delete_partition(&shared::audit::history_partition(user_id))
        .await?;
    Ok(())
}

/// Every item of the account: its partition (profile, sessions, second factor, identities …),
/// the credential, the sessions' refresh tokens and the identities' lookup items.
fn account_writes(user_id: &str, email: &Email, items: &[Item]) -> Result<Vec<Write>, StoreError> {
    let mut writes = vec![Write::Delete {
        key: users::credential_key(email),
        condition: Some(Condition::eq("user_id", user_id)),
    }];
    for session in sessions::sessions_in(items)? {
        writes.extend(sessions::close(&session));
    }
    for identity in identities::identities_in(items)? {
        writes.extend(identities::unlink_writes(user_id, &identity));
    }
    let taken: Vec<_> = writes.iter().filter_map(Write::key).collect();
    writes.extend(
        items
            .iter()
            .filter_map(Item::key)
            .filter(|key| !taken.contains(key))
            .map(|key| Write::Delete {
                key,
                condition: None,
            }),
    );
    Ok(writes)
}
