//! What a sign-in remembers between its steps: the pending sign-in (state) from authorize to
//! callback, and the pending link from callback to `POST /link`. Both are one-time TTL items
//! keyed by an HMAC of their token, consumed with a conditional delete: of many requests
//! presenting one, exactly one gets it.
//!
//! ```text
//! OAUTH_STATE#<hmac(state)>   STATE   {provider, redirect_uri, nonce, pkce_verifier, binding?}
//!                                     TTL: OAUTH_STATE_TTL (or OAUTH_NONCE_TTL, if shorter)
//! OAUTH_LINK#<hmac(token)>    LINK    {provider, identity, user_id}   TTL: OAUTH_LINK_TTL
//! ```

use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::accounts::identities::Identity;
use shared::auth::tokens::{new_opaque_token, opaque_token_digest};
use shared::store::{Condition, Item, Key, StoreError, Write};

/// The browser cookie that ties a sign-in started by a redirect to the browser that started it
/// (so nobody can finish their own sign-in in someone else's browser).
pub const BINDING_COOKIE: &str = "oauth_flow";

/// A sign-in between authorize and callback. (No `Debug`: it holds the PKCE verifier.)
#[derive(Serialize, Deserialize)]
pub struct PendingSignIn {
    pub provider: String,
    /// Where the result goes (already checked against the allowed list).
    pub redirect_uri: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// HMAC of the browser's [`BINDING_COOKIE`], when the sign-in started with a redirect.
    #[serde(default)]
    pub binding: Option<String>,
}

fn state_key(ctx: &AppContext, state: &str) -> Key {
    Key::new(
        format!(
            "OAUTH_STATE#{}",
            opaque_token_digest(ctx.secrets.token_pepper_key(), state)
        ),
        "STATE",
    )
}

/// The HMAC a binding cookie is stored as.
pub fn binding_digest(ctx: &AppContext, cookie: &str) -> String {
    opaque_token_digest(ctx.secrets.token_pepper_key(), cookie)
}

/// Stores `pending` under `state` for the state's lifetime.
pub async fn remember(
    ctx: &AppContext,
    state: &str,
    pending: &PendingSignIn,
) -> Result<(), StoreError> {
    let ttl = ctx
        .settings
        .oauth
        .state_ttl
        .min(ctx.settings.oauth.nonce_ttl);
    let expires_at = ctx.clock.epoch_seconds() + i64::try_from(ttl.as_secs()).unwrap_or(600);
    let item = Item::from_entity(&state_key(ctx, state), pending)?.with_ttl(expires_at);
    ctx.store.put(item, Some(Condition::NotExists)).await
}

/// Takes the sign-in `state` names, once: `None` when it is unknown, expired or taken.
pub async fn take(ctx: &AppContext, state: &str) -> Result<Option<PendingSignIn>, StoreError> {
    match ctx
        .store
        .delete(&state_key(ctx, state), Some(Condition::Exists))
        .await
    {
        Ok(Some(item)) => Ok(Some(item.to_entity()?)),
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// An identity waiting to be linked to the account that holds its email.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLink {
    pub identity: Identity,
    /// The account whose email the identity has.
    pub user_id: String,
}

pub fn link_key(ctx: &AppContext, token: &str) -> Key {
    Key::new(
        format!(
            "OAUTH_LINK#{}",
            opaque_token_digest(ctx.secrets.token_pepper_key(), token)
        ),
        "LINK",
    )
}

/// Stores `pending` under a new link token, which it returns.
pub async fn offer_link(ctx: &AppContext, pending: &PendingLink) -> Result<String, StoreError> {
    let token = new_opaque_token();
    let ttl = i64::try_from(ctx.settings.oauth.link_ttl.as_secs()).unwrap_or(600);
    let item = Item::from_entity(&link_key(ctx, &token), pending)?
        .with_ttl(ctx.clock.epoch_seconds() + ttl);
    ctx.store.put(item, Some(Condition::NotExists)).await?;
    Ok(token)
}

/// The pending link `token` names, if it is live (read only: the link's transaction spends it).
pub async fn pending_link(
    ctx: &AppContext,
    token: &str,
) -> Result<Option<PendingLink>, StoreError> {
    ctx.store
        .get(&link_key(ctx, token))
        .await?
        .map(|item| item.to_entity())
        .transpose()
}

/// The write that spends a link token: fails when another request spent it first.
pub fn spend_link(ctx: &AppContext, token: &str) -> Write {
    Write::Delete {
        key: link_key(ctx, token),
        condition: Some(Condition::Exists),
    }
}
