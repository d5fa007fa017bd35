//! Checks of a second factor (or of the password that confirms an MFA change) under the
//! sign-in lockout. A failure is taken before the check, with a conditional count, so parallel
//! checks cannot overshoot `LOGIN_FAIL_EMAIL_THRESHOLD`: a wrong answer settles it (and may
//! lock), a right one frees it in its own transaction.

use crate::AppContext;
use crate::abuse::{Subject, lockout};
use crate::accounts::Origin;
use crate::http::ApiError;
use crate::store::Write;

/// One check in progress.
#[derive(Debug)]
pub struct Guard {
    email: Subject,
    ip: Subject,
    reserved: i64,
}

impl Guard {
    /// 429 `ACCOUNT_LOCKED` while sign-ins of the account (`email`) or from the caller's address
    /// are locked, or when the account has no failure left to spend; otherwise one is taken.
    pub async fn begin(ctx: &AppContext, email: &str, origin: &Origin) -> Result<Self, ApiError> {
        let email = crate::accounts::users::stored_email(email)?;
        let email = Subject::email(ctx, &email);
        let ip = Subject::ip(origin);
        let policy = lockout::email_policy(ctx);
        let (locked, reserved) = tokio::join!(
            lockout::sign_in_locked(ctx, &email, &ip),
            lockout::reserve(ctx, "login", &email, policy),
        );
        let reserved = reserved?;
        if let Some(retry_after) = locked? {
            if reserved.is_some() {
                // Not a failure: give it back, so the count does not outlast the lock.
                lockout::give_back(ctx, "login", &email).await?;
            }
            return Err(ApiError::locked(retry_after));
        }
        match reserved {
            Some(reserved) => Ok(Self {
                email,
                ip,
                reserved,
            }),
            // Every remaining failure is taken by checks still running.
            None => Err(ApiError::locked(policy.lock_ttl.as_secs().max(1))),
        }
    }

    /// [`Guard::begin`] for a password confirmation, with the account's stored hash read in the
    /// same store step. The password is hashed only once the guard holds a failure, so parallel
    /// guesses still cannot overshoot the lockout. Returns the guard and whether the password
    /// matched.
    pub async fn check_password(
        ctx: &AppContext,
        email: &str,
        password: &crate::auth::Password,
        origin: &Origin,
    ) -> Result<(Self, bool), ApiError> {
        let (guard, hash) = tokio::join!(
            Self::begin(ctx, email, origin),
            crate::accounts::users::password_hash(ctx, email),
        );
        let guard = guard?;
        let matched =
            crate::accounts::users::password_verifies(ctx, password, hash?.as_deref()).await?;
        Ok((guard, matched))
    }

    /// The check failed: a security event, the failure kept in the account's history as
    /// `event_type`, and the lockout counts (which may lock now).
    pub async fn failed(
        &self,
        ctx: &AppContext,
        event_type: &'static str,
        user_id: &str,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        crate::audit::security(ctx, event_type, Some(user_id), origin);
        lockout::record_sign_in_failure(
            ctx,
            event_type,
            &self.email,
            Some(self.reserved),
            &self.ip,
            Some(user_id),
            origin,
        )
        .await?;
        Ok(())
    }

    /// A wrong or already used second factor: `mfa_attempts_total{result=failure}`, the
    /// `auth.mfa.verify.failure` event, and the failure in the lockout.
    pub async fn code_failed(
        &self,
        ctx: &AppContext,
        user_id: &str,
        origin: &Origin,
        method: super::Method,
    ) -> Result<(), ApiError> {
        super::count_attempt(ctx, "failure", method);
        self.failed(ctx, super::FAILURE_EVENT, user_id, origin)
            .await
    }

    /// The check was neither a success nor a failure of this factor (the request failed on
    /// something else): the taken failure is given back.
    pub async fn release(&self, ctx: &AppContext) -> Result<(), ApiError> {
        lockout::give_back(ctx, "login", &self.email).await?;
        Ok(())
    }

    /// For the transaction of a success: frees the taken failure (and forgets earlier ones, as
    /// any successful sign-in does).
    pub fn success_write(&self) -> Write {
        lockout::clear_writes("login", &self.email)
    }
}
