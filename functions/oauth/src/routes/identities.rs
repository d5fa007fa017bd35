//! `GET /v1/auth/oauth/identities` (the caller's linked identities) and
//! `DELETE /v1/auth/oauth/identities/{provider}` (unlink one).
//!
//! Unlinking never leaves an account without a way in: the transaction that deletes the
//! identity also requires another linked identity to still exist, or the account's password.
//! Two parallel unlinks of an account's last two identities cannot both succeed.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::accounts::identities::{self, Identity};
use shared::accounts::principal::Outcome;
use shared::accounts::users;
use shared::http::{ApiError, ApiPath, ClientOrigin};
use shared::store::{Cmp, Condition, Write};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    pub identities: Vec<Identity>,
}

/// The caller's linked identities.
#[utoipa::path(
    get,
    path = "/identities",
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Linked identities, by provider", body = IdentityList),
        (status = 401, description = "`UNAUTHORIZED`", body = shared::http::ErrorBody),
    )
)]
pub async fn list_identities(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<IdentityList>, ApiError> {
    let account = bearer.account(&ctx).await?;
    let mut identities = identities::identities_in(&account.items)?;
    identities.sort_by(|a, b| a.provider.cmp(&b.provider));
    Ok(Json(IdentityList { identities }))
}

/// Unlink the caller's identity at a provider.
#[utoipa::path(
    delete,
    path = "/identities/{provider}",
    tag = "oauth",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "The provider's name")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "`UNAUTHORIZED`", body = shared::http::ErrorBody),
        (status = 404, description = "No identity at this provider is linked", body = shared::http::ErrorBody),
        (status = 409, description = "It is the account's only way to sign in: set a password (password reset) or link another provider first", body = shared::http::ErrorBody),
    )
)]
pub async fn unlink_identity(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(provider): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let account = bearer.account(&ctx).await?;
    let linked = identities::identities_in(&account.items)?;
    let target = linked
        .iter()
        .find(|i| i.provider == provider)
        .ok_or_else(ApiError::not_found)?;
    let user_id = bearer.user_id();
    let mut writes = identities::unlink_writes(user_id, target);
    // Another way in must remain: another identity, or else a password.
    let other_way = match linked.iter().find(|i| i.provider != provider) {
        Some(other) => Write::Check {
            key: identities::user_identity_key(user_id, &other.provider),
            condition: Condition::Exists,
        },
        None => Write::Check {
            key: users::credential_key(&users::stored_email(&account.user.email)?),
            // A hash is a non-empty string (a provider-only account stores null).
            condition: Condition::compare("password_hash", Cmp::Gt, "")
                .and(Condition::eq("user_id", user_id)),
        },
    };
    let other_way_at = writes.len();
    writes.push(other_way);
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.oauth.unlinked",
        user_id,
        &origin,
    ));
    match bearer.transact_checked(&ctx, writes).await? {
        Outcome::Committed => {}
        Outcome::Conflict { index: Some(i) } if i == other_way_at => {
            return Err(ApiError::http(
                StatusCode::CONFLICT,
                "this is the account's only way to sign in: set a password or link another provider first",
            ));
        }
        // Unlinked by a parallel request.
        Outcome::Conflict { .. } => return Err(ApiError::not_found()),
    }
    shared::audit::record(&ctx, "auth.oauth.unlinked", Some(user_id), &origin);
    Ok(StatusCode::NO_CONTENT)
}
