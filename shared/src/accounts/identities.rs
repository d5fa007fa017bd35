//! Sign-in identities at OpenID Providers, linked to accounts.
//!
//! ```text
//! IDENTITY#<issuer>#<subject>   IDENTITY              {user_id, provider, issuer, subject, email, linked_at}
//! USER#<id>                     IDENTITY#<provider>   {provider, issuer, subject, email, linked_at}
//! ```
//!
//! An identity is its issuer and subject, never its email: an email can change hands at a
//! provider, a subject cannot. The first item finds the account at sign-in in one read; the
//! second lists an account's identities with its partition and allows one identity per provider
//! per account. Both are written and deleted together, conditionally, in one transaction.
//! (An issuer never contains `#`: configuration refuses it, so the key is unambiguous.)

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users;
use crate::store::{Condition, Item, Key, StoreError, Write};

pub const IDENTITY_PREFIX: &str = "IDENTITY#";

/// The key that finds an identity's account.
pub fn identity_key(issuer: &str, subject: &str) -> Key {
    Key::new(format!("{IDENTITY_PREFIX}{issuer}#{subject}"), "IDENTITY")
}

/// The account's own record of its identity at `provider`.
pub fn user_identity_key(user_id: &str, provider: &str) -> Key {
    Key::new(
        users::user_partition(user_id),
        format!("{IDENTITY_PREFIX}{provider}"),
    )
}

/// A linked identity, as its account sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    /// The provider's name in this API: `google`, `microsoft`, or a configured one.
    pub provider: String,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The account's id at the provider (`sub`).
    pub subject: String,
    /// The email the provider gave when it was linked.
    #[schema(value_type = String, format = Email)]
    pub email: String,
    /// RFC 3339.
    pub linked_at: String,
}

/// The lookup record: which account an identity signs in to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityOwner {
    pub user_id: String,
    #[serde(flatten)]
    pub identity: Identity,
}

/// The writes that link `identity` to `user_id`: both fail when the identity belongs to an
/// account already, or the account has an identity at this provider.
pub fn link_writes(user_id: &str, identity: &Identity) -> Result<Vec<Write>, StoreError> {
    let owner = IdentityOwner {
        user_id: user_id.to_owned(),
        identity: identity.clone(),
    };
    Ok(vec![
        Write::Put {
            item: Item::from_entity(&identity_key(&identity.issuer, &identity.subject), &owner)?,
            condition: Some(Condition::NotExists),
        },
        Write::Put {
            item: Item::from_entity(&user_identity_key(user_id, &identity.provider), identity)?,
            condition: Some(Condition::NotExists),
        },
    ])
}

/// The writes that unlink `identity` from `user_id` (fail when it is gone already).
pub fn unlink_writes(user_id: &str, identity: &Identity) -> Vec<Write> {
    vec![
        Write::Delete {
            key: identity_key(&identity.issuer, &identity.subject),
            condition: Some(Condition::eq("user_id", user_id)),
        },
        Write::Delete {
            key: user_identity_key(user_id, &identity.provider),
            condition: Some(Condition::Exists),
        },
    ]
}

/// The identities in a page of the user's partition, by provider name.
pub fn identities_in(items: &[Item]) -> Result<Vec<Identity>, StoreError> {
    items
        .iter()
        .filter(|i| i.sk().is_some_and(|sk| sk.starts_with(IDENTITY_PREFIX)))
        .map(Item::to_entity)
        .collect()
}
