//! The mfa function's endpoints, and what they share.

pub mod backup_codes;
pub mod disable;
pub mod enable;
pub mod setup;
pub mod status;
pub mod verify;

use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::principal::Account;
use shared::accounts::users::{self, Credential};
use shared::auth::{Email, Password, Verification};
use shared::http::ApiError;
use shared::mfa::Enrollment;
use utoipa::ToSchema;

pub(crate) fn conflict(message: &'static str) -> ApiError {
    ApiError::http(StatusCode::CONFLICT, message)
}

/// The caller's enrollment: 409 when MFA is off.
pub(crate) fn enrolled(account: &Account) -> Result<Enrollment, ApiError> {
    Enrollment::in_partition(&account.items)?
        .ok_or_else(|| conflict("two-factor authentication is off for this account"))
}

/// New backup codes, shown this once. (No `Debug`: nothing should ever print them.)
#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    /// Each works once, in place of a TOTP code. Store them somewhere safe: they are not shown
    /// again.
    pub backup_codes: Vec<String>,
}

/// Whether `password` is the account's (`email`'s) password. An account without one (provider
/// sign-in only) still costs one hash.
pub(crate) async fn password_matches(
    ctx: &AppContext,
    email: &str,
    password: &Password,
) -> Result<bool, ApiError> {
    let email = Email::parse(email)
        .map_err(|_| ApiError::internal(std::io::Error::other("stored email invalid")))?;
    let credential: Option<Credential> = ctx
        .store
        .get(&users::credential_key(&email))
        .await?
        .map(|item| item.to_entity())
        .transpose()?;
    let hash = credential.as_ref().and_then(|c| c.password_hash.as_deref());
    let verified = ctx
        .passwords
        .verify(password, hash)
        .await
        .map_err(ApiError::internal)?;
    Ok(matches!(verified, Verification::Match { .. }))
}
