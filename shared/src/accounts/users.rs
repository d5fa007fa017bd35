//! Accounts: a profile and a credential.
//!
//! ```text
//! USER#<id>       PROFILE      {id, name, email, roles, mfa_enabled, disabled, created_at, timezone}
//!                              GSI1: USERS / <email>   (admin listing, searchable by email prefix)
//! EMAIL#<email>   CREDENTIAL   {user_id, password_hash, disabled}
//! ```
//!
//! The credential item makes an email unique (created with `attribute_not_exists` in the same
//! transaction as the profile) and is all a login needs to read first.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Email, Role};
use crate::store::{Condition, Item, Key, Write};

pub const PROFILE: &str = "PROFILE";
pub const CREDENTIAL: &str = "CREDENTIAL";
pub const USERS_INDEX: &str = "USERS";
/// Profile attribute: epoch seconds of the last password change.
pub const PASSWORD_CHANGED_AT: &str = "password_changed_at";

pub fn profile_key(user_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), PROFILE)
}

pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

pub fn credential_key(email: &Email) -> Key {
    Key::new(format!("EMAIL#{email}"), CREDENTIAL)
}

/// What a client sees of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    #[schema(value_type = String, format = Email)]
    pub email: String,
    pub roles: Vec<Role>,
    pub mfa_enabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Disabled accounts cannot sign in; never shown to the account itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(ignore)]
    pub disabled: bool,
}

/// The login record of an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub user_id: String,
    /// `None` for accounts that only sign in through a provider.
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

impl User {
    pub fn new(
        id: String,
        name: String,
        email: &Email,
        roles: Vec<Role>,
        created_at: String,
    ) -> Self {
        Self {
            id,
            name,
            email: email.as_str().to_owned(),
            roles,
            mfa_enabled: false,
            created_at,
            timezone: "UTC".to_owned(),
            disabled: false,
        }
    }

    pub fn to_item(&self) -> Result<Item, crate::store::StoreError> {
        Ok(Item::from_entity(&profile_key(&self.id), self)?
            .with_gsi1(USERS_INDEX, self.email.clone()))
    }
}

/// The writes that create an account: fail whole (at index 0) when the email is taken.
pub fn create_writes(
    user: &User,
    email: &Email,
    password_hash: Option<String>,
) -> Result<Vec<Write>, crate::store::StoreError> {
    let credential = Credential {
        user_id: user.id.clone(),
        password_hash,
        disabled: false,
    };
    Ok(vec![
        Write::Put {
            item: Item::from_entity(&credential_key(email), &credential)?,
            condition: Some(Condition::NotExists),
        },
        Write::Put {
            item: user.to_item()?,
            condition: Some(Condition::NotExists),
        },
    ])
}

/// The profile's item in a page of the user's partition.
pub fn profile_item(items: &[Item]) -> Option<&Item> {
    items.iter().find(|i| i.sk() == Some(PROFILE))
}

/// When the password last changed (epoch seconds), from a page of the user's partition:
/// reset links and pending sign-ins from before it are dead.
pub fn password_changed_at(items: &[Item]) -> Option<i64> {
    profile_item(items).and_then(|i| i.get_i64(PASSWORD_CHANGED_AT))
}

/// Finds the profile in a page of the user's partition.
pub fn profile_in(items: &[Item]) -> Result<Option<User>, crate::store::StoreError> {
    profile_item(items).map(Item::to_entity).transpose()
}

/// An email as the store holds it (a profile's), parsed: stored emails were valid when written,
/// so a failure is an internal error, never the client's.
pub fn stored_email(raw: &str) -> Result<Email, crate::http::ApiError> {
    Email::parse(raw)
        .map_err(|_| crate::http::ApiError::internal(std::io::Error::other("stored email invalid")))
}

/// The condition that the profile's account is not disabled (older profiles lack the flag).
pub fn not_disabled() -> Condition {
    Condition::eq("disabled", false).or(Condition::attribute_not_exists("disabled"))
}

/// 401 `INVALID_CREDENTIALS` for a signed-in account proving itself again (linking a provider,
/// deleting the account) with a wrong password.
pub fn wrong_password() -> crate::http::ApiError {
    crate::http::ApiError::coded(
        crate::http::ErrorCode::InvalidCredentials,
        http::StatusCode::UNAUTHORIZED,
        "invalid password",
    )
}

/// The stored password hash of `email`'s account, if it has one (provider sign-in only: none).
pub async fn password_hash(
    ctx: &crate::AppContext,
    email: &str,
) -> Result<Option<String>, crate::http::ApiError> {
    let email = stored_email(email)?;
    let credential: Option<Credential> = ctx
        .store
        .get(&credential_key(&email))
        .await?
        .map(|item| item.to_entity())
        .transpose()?;
    Ok(credential.and_then(|c| c.password_hash))
}

/// Whether `password` matches `hash` (from [`password_hash`]). No hash still costs one, so
/// timing does not tell which accounts have a password.
pub async fn password_verifies(
    ctx: &crate::AppContext,
    password: &crate::auth::Password,
    hash: Option<&str>,
) -> Result<bool, crate::http::ApiError> {
    let verified = ctx
        .passwords
        .verify(password, hash)
        .await
        .map_err(crate::http::ApiError::internal)?;
    Ok(matches!(verified, crate::auth::Verification::Match { .. }))
}
