//! The second factor: TOTP codes from an authenticator app and one-time backup codes. Used by the
//! mfa function (setup, login's second step, management) and by the auth function (a password
//! reset of an account with MFA on needs a code too).
//!
//! ```text
//! USER#<id>        MFA            {secret, digits, period, enabled_at, last_step,
//!                                  backup_batch, backup_codes_remaining}
//! USER#<id>        MFA#SETUP      {secret, digits, period, created_at}   TTL: SETUP_TTL
//! USER#<id>        BACKUP#<hmac>  {batch}
//! MFATOKEN#<jti>   MFATOKEN       {attempts, consumed}                   TTL: the mfa_token's expiry
//! ```
//!
//! Everything lives in the user's partition, which login and reset already read in one query, so
//! checking a code costs no extra round trip. Each accepted proof comes back as conditional
//! writes for the caller's own transaction: a TOTP step is recorded as `last_step` with the
//! condition `last_step < step`, a backup code is deleted with the condition that it exists, so
//! of any number of parallel uses exactly one commits.

pub mod backup;
pub mod guard;
pub mod totp;

use std::time::Duration;

use secrecy::SecretSlice;
use serde::{Deserialize, Serialize};

use crate::AppContext;
use crate::accounts::users::user_partition;
use crate::store::{
    Condition, EXPIRES_AT, Item, Key, MAX_TRANSACTION_WRITES, StoreError, Update, Write,
};
pub use guard::Guard;
pub use totp::Shape;

pub const ENROLLMENT: &str = "MFA";
pub const SETUP: &str = "MFA#SETUP";
/// How long a started setup waits for its first code.
pub const SETUP_TTL: Duration = Duration::from_secs(10 * 60);
/// What a wrong second factor is recorded as, wherever it is checked.
pub const FAILURE_EVENT: &str = "auth.mfa.verify.failure";
/// Verification attempts one `mfa_token` allows.
pub const TOKEN_ATTEMPTS: i64 = 5;

pub fn enrollment_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), ENROLLMENT)
}

pub fn setup_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), SETUP)
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// Wrong, malformed or already used: callers answer the same for all three.
    #[error("invalid or already used code")]
    InvalidCode,
    #[error("MFA_ENCRYPTION_KEY is not configured")]
    NotConfigured,
    #[error("a stored TOTP secret cannot be decrypted with MFA_ENCRYPTION_KEY")]
    Undecryptable,
    #[error("TOTP: {0}")]
    Totp(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<MfaError> for crate::http::ApiError {
    fn from(err: MfaError) -> Self {
        match err {
            MfaError::InvalidCode => Self::invalid_field("body.code", "is not a valid code"),
            MfaError::Store(err) => err.into(),
            MfaError::NotConfigured => {
                tracing::error!("MFA_ENCRYPTION_KEY is not set: two-factor endpoints answer 503");
                Self::coded(
                    crate::http::ErrorCode::ServiceUnavailable,
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "two-factor authentication is not configured on this server",
                )
            }
            other => Self::internal(other),
        }
    }
}

/// 401 `INVALID_MFA_CODE`: a sign-in step got a wrong or already used code (where a code is a
/// credential, not a field of a settings change, which answers 422).
pub fn invalid_code() -> crate::http::ApiError {
    crate::http::ApiError::coded(
        crate::http::ErrorCode::InvalidMfaCode,
        http::StatusCode::UNAUTHORIZED,
        "invalid or already used code",
    )
}

/// A TOTP secret, encrypted, with its shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSecret {
    /// Fernet token of the base32 secret.
    secret: String,
    #[serde(default = "default_digits")]
    digits: u32,
    #[serde(default = "default_period")]
    period: u32,
}

fn default_digits() -> u32 {
    6
}

fn default_period() -> u32 {
    30
}

impl StoredSecret {
    pub fn seal(ctx: &AppContext, secret: &SecretSlice<u8>) -> Result<Self, MfaError> {
        Ok(Self {
            secret: totp::encrypt(&ctx.secrets, secret)?,
            digits: ctx.settings.mfa.totp_digits,
            period: ctx.settings.mfa.totp_period,
        })
    }

    pub fn shape(&self) -> Shape {
        Shape {
            digits: self.digits,
            period: self.period,
        }
    }

    pub fn open(&self, ctx: &AppContext) -> Result<SecretSlice<u8>, MfaError> {
        totp::decrypt(&ctx.secrets, &self.secret)
    }

    /// The step `code` matches now, if any.
    pub fn matching_step(&self, ctx: &AppContext, code: &str) -> Result<Option<i64>, MfaError> {
        totp::matching_step(
            self.shape(),
            &self.open(ctx)?,
            code,
            ctx.clock.epoch_seconds(),
        )
    }
}

/// A setup waiting for its first code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    #[serde(flatten)]
    pub secret: StoredSecret,
    pub created_at: String,
}

impl Setup {
    pub fn in_partition(items: &[Item]) -> Result<Option<Self>, StoreError> {
        find(items, SETUP)
    }

    pub fn to_item(&self, user_id: &str, expires_at: i64) -> Result<Item, StoreError> {
        Ok(Item::from_entity(&setup_key(user_id), self)?.with_ttl(expires_at))
    }
}

/// MFA turned on: the secret, the last step used and the current batch of backup codes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Enrollment {
    #[serde(flatten)]
    pub secret: StoredSecret,
    pub enabled_at: String,
    #[serde(default)]
    pub last_step: Option<i64>,
    pub backup_batch: String,
    pub backup_codes_remaining: i64,
}

/// Finds the item with sort key `sk` in a page of the user's partition.
fn find<T: serde::de::DeserializeOwned>(items: &[Item], sk: &str) -> Result<Option<T>, StoreError> {
    items
        .iter()
        .find(|i| i.sk() == Some(sk))
        .map(Item::to_entity)
        .transpose()
}

impl Enrollment {
    pub fn in_partition(items: &[Item]) -> Result<Option<Self>, StoreError> {
        find(items, ENROLLMENT)
    }

    pub fn to_item(&self, user_id: &str) -> Result<Item, StoreError> {
        Item::from_entity(&enrollment_key(user_id), self)
    }

    /// Checks `proof` for `user_id`, whose partition page is `items` (backup codes are found
    /// there, without another read). An accepted proof is spent by committing
    /// [`Accepted::writes`].
    pub fn check(
        &self,
        ctx: &AppContext,
        user_id: &str,
        items: &[Item],
        proof: &Proof,
    ) -> Result<Accepted, MfaError> {
        match proof {
            Proof::Totp(code) => {
                let step = self
                    .secret
                    .matching_step(ctx, code)?
                    .ok_or(MfaError::InvalidCode)?;
                // Quick refusal of a replay; the condition below is what makes it exact.
                if self.last_step.is_some_and(|last| last >= step) {
                    return Err(MfaError::InvalidCode);
                }
                Ok(Accepted {
                    method: Method::Totp,
                    updates: vec![Update::set("last_step", step)],
                    condition: Condition::Exists.and(Condition::absent_or_below("last_step", step)),
                    others: Vec::new(),
                })
            }
            Proof::BackupCode(code) => {
                let normalized = backup::normalize(code).ok_or(MfaError::InvalidCode)?;
                let key = backup::key(&ctx.secrets, user_id, &self.backup_batch, &normalized);
                if !items.iter().any(|i| i.has_key(&key)) {
                    return Err(MfaError::InvalidCode);
                }
                Ok(Accepted {
                    method: Method::BackupCode,
                    updates: vec![Update::add("backup_codes_remaining", -1)],
                    condition: Condition::eq("backup_batch", self.backup_batch.clone()),
                    others: vec![Write::Delete {
                        key,
                        condition: Some(Condition::Exists),
                    }],
                })
            }
        }
    }
}

/// The writes that store the backup codes `codes` of `batch` (an account that expires by
/// itself passes its `expires_at`, so they go with it).
pub fn backup_batch_writes(
    ctx: &AppContext,
    user_id: &str,
    batch: &str,
    codes: &[String],
    expires_at: Option<i64>,
) -> Vec<Write> {
    codes
        .iter()
        .filter_map(|code| backup::normalize(code))
        .map(|normalized| {
            let item = Item::new(&backup::key(&ctx.secrets, user_id, batch, &normalized))
                .with("batch", batch.to_owned());
            Write::Put {
                item: match expires_at {
                    Some(at) => item.with_ttl(at),
                    None => item,
                },
                condition: Some(Condition::NotExists),
            }
        })
        .collect()
}

/// Every backup-code item in a page of the user's partition, of any batch.
fn backup_keys_in(items: &[Item]) -> Vec<Key> {
    // Keys are copied only for the codes, not for every item of the partition.
    items
        .iter()
        .filter(|item| item.sk().is_some_and(|sk| sk.starts_with(backup::PREFIX)))
        .filter_map(Item::key)
        .collect()
}

/// Deletes of the backup codes found in `items` (a page of the user's partition) that
/// `writes` does not already touch, added to `writes` as far as they fit beside `reserve`
/// more writes. Returns the codes that did not fit, for [`delete_codes_after_commit`].
pub fn delete_codes_within(items: &[Item], writes: &mut Vec<Write>, reserve: usize) -> Vec<Key> {
    let mut codes: Vec<Key> = backup_keys_in(items)
        .into_iter()
        .filter(|key| !writes.iter().any(|write| write.has_key(key)))
        .collect();
    let room = MAX_TRANSACTION_WRITES.saturating_sub(writes.len() + reserve);
    let rest = codes.split_off(room.min(codes.len()));
    writes.extend(codes.into_iter().map(code_delete));
    rest
}

/// Deletes `codes` once a committed change has made them unusable (a new batch, MFA off): only
/// housekeeping, so a failure is logged, not answered.
pub async fn delete_codes_after_commit(ctx: &AppContext, codes: &[Key]) {
    for chunk in codes.chunks(MAX_TRANSACTION_WRITES) {
        let deletes = chunk.iter().cloned().map(code_delete).collect();
        if let Err(err) = ctx.store.transact(deletes).await {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "old backup codes left in place"
            );
        }
    }
}

fn code_delete(key: Key) -> Write {
    Write::Delete {
        key,
        condition: None,
    }
}

/// A code as it arrives in a request (TOTP or backup code): never printed, at most 64
/// characters.
#[derive(Clone)]
pub struct Code(secrecy::SecretString);

impl Code {
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value.trim().is_empty() || value.chars().count() > 64 {
            return Err(serde::de::Error::custom("must be 1 to 64 characters"));
        }
        Ok(Self(secrecy::SecretString::from(value)))
    }
}

impl utoipa::PartialSchema for Code {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .into()
    }
}

impl utoipa::ToSchema for Code {}

/// What the caller offers as a second factor.
#[derive(Clone)]
pub enum Proof {
    Totp(String),
    BackupCode(String),
}

impl Proof {
    /// For fields that take either: all digits is a TOTP code, anything else a backup code.
    pub fn either(code: &str) -> Self {
        let code = code.trim();
        if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
            Self::Totp(code.to_owned())
        } else {
            Self::BackupCode(code.to_owned())
        }
    }

    pub fn method(&self) -> Method {
        match self {
            Self::Totp(_) => Method::Totp,
            Self::BackupCode(_) => Method::BackupCode,
        }
    }
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proof::{:?}([REDACTED])", self.method())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    BackupCode,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::BackupCode => "backup_code",
        }
    }
}

/// `mfa_attempts_total{result, method}`: every check of a second factor, by outcome.
pub fn count_attempt(ctx: &AppContext, result: &'static str, method: Method) {
    ctx.metrics.emit(
        &[("result", result), ("method", method.as_str())],
        &[crate::metrics::Metric::count("mfa_attempts_total")],
        &[],
    );
}

/// A proof that checked out, not yet spent.
#[derive(Debug)]
pub struct Accepted {
    pub method: Method,
    updates: Vec<Update>,
    condition: Condition,
    others: Vec<Write>,
}

impl Accepted {
    /// The writes that spend the proof, with `more` updates of the enrollment in the same write
    /// (a transaction may touch each item once). The enrollment's write comes first, so a
    /// transaction cancelled at index 0 or 1 means the proof was spent by someone else.
    pub fn writes(self, user_id: &str, more: Vec<Update>) -> Vec<Write> {
        let mut updates = self.updates;
        updates.extend(more);
        let mut writes = vec![Write::Update {
            key: enrollment_key(user_id),
            updates,
            condition: Some(self.condition),
        }];
        writes.extend(self.others);
        writes
    }

    /// The writes that spend the proof while deleting the enrollment (MFA off).
    pub fn writes_deleting(self, user_id: &str) -> Vec<Write> {
        let mut writes = vec![Write::Delete {
            key: enrollment_key(user_id),
            condition: Some(self.condition),
        }];
        writes.extend(self.others);
        writes
    }

    /// How many writes at the start of [`Self::writes`] belong to the proof.
    pub fn write_count(&self) -> usize {
        1 + self.others.len()
    }
}

/// Verification attempts of one `mfa_token`, counted before each check.
pub mod attempts {
    use super::*;

    fn key(jti: &str) -> Key {
        Key::new(format!("MFATOKEN#{jti}"), "MFATOKEN")
    }

    /// Takes one of the token's attempts; `false` once all are used or the token was spent.
    /// Exact under concurrency: one conditional `ADD` each.
    pub async fn take(ctx: &AppContext, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let left = Condition::attribute_not_exists("consumed")
            .and(Condition::absent_or_below("attempts", TOKEN_ATTEMPTS));
        match ctx
            .store
            .update(
                &key(jti),
                vec![
                    Update::add("attempts", 1),
                    Update::set_if_absent(EXPIRES_AT, expires_at),
                ],
                Some(left),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.is_condition_failed() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The write that spends the token with the sign-in it completes: fails if another request
    /// spent it first.
    pub fn spend(jti: &str) -> Write {
        Write::Update {
            key: key(jti),
            updates: vec![Update::set("consumed", true)],
            condition: Some(Condition::Exists.and(Condition::attribute_not_exists("consumed"))),
        }
    }
}
