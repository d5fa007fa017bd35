//! The mfa function's endpoints, and what they share.

pub mod backup_codes;
pub mod disable;
pub mod enable;
pub mod setup;
pub mod status;
pub mod verify;

use http::StatusCode;
use serde::Serialize;
use shared::accounts::principal::Account;
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
