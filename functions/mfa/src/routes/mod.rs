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
use shared::abuse::{Subject, lockout};
use shared::accounts::Origin;
use shared::accounts::principal::Account;
use shared::auth::Email;
use shared::http::ApiError;
use shared::metrics::Metric;
use shared::mfa::{Enrollment, Method};
use utoipa::ToSchema;

/// `mfa_attempts_total{result, method}`: every check of a second factor, by outcome.
pub(crate) fn attempt(ctx: &AppContext, result: &'static str, method: Method) {
    ctx.metrics.emit(
        &[("result", result), ("method", method.as_str())],
        &[Metric::count("mfa_attempts_total")],
        &[],
    );
}

pub(crate) fn conflict(message: &'static str) -> ApiError {
    ApiError::http(StatusCode::CONFLICT, message)
}

/// The caller's enrollment: 409 when MFA is off.
pub(crate) fn enrolled(account: &Account) -> Result<Enrollment, ApiError> {
    Enrollment::in_partition(&account.items)?
        .ok_or_else(|| conflict("two-factor authentication is off for this account"))
}

/// The subjects a failed second factor counts against: the same as a failed password.
pub(crate) fn subjects(
    ctx: &AppContext,
    email: &str,
    origin: &Origin,
) -> Result<(Subject, Subject), ApiError> {
    let email = Email::parse(email)
        .map_err(|_| ApiError::internal(std::io::Error::other("stored email invalid")))?;
    Ok((Subject::email(ctx, &email), Subject::ip(origin)))
}

/// 429 when sign-ins of this account or address are locked.
pub(crate) async fn refuse_if_locked(
    ctx: &AppContext,
    subjects: &(Subject, Subject),
    method: Method,
) -> Result<(), ApiError> {
    if let Some(retry_after) = lockout::sign_in_locked(ctx, &subjects.0, &subjects.1).await? {
        attempt(ctx, "locked", method);
        return Err(ApiError::locked(retry_after));
    }
    Ok(())
}

/// Records a wrong (or replayed) second factor: audit event, metric, and a failure in the same
/// lockout as a wrong password.
pub(crate) async fn record_failure(
    ctx: &AppContext,
    user_id: &str,
    subjects: &(Subject, Subject),
    origin: &Origin,
    method: Method,
) -> Result<(), ApiError> {
    const EVENT: &str = "auth.mfa.verify.failure";
    shared::audit::security(ctx, EVENT, Some(user_id), origin);
    attempt(ctx, "failure", method);
    lockout::record_sign_in_failure(ctx, EVENT, &subjects.0, &subjects.1, Some(user_id), origin)
        .await?;
    Ok(())
}

/// New backup codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodes {
    /// Each works once, in place of a TOTP code. Store them somewhere safe: they are not shown
    /// again.
    pub backup_codes: Vec<String>,
}
