//! Sessions and refresh tokens.
//!
//! ```text
//! USER#<id>          SESSION#<sid>  {id, user_id, family, refresh_digest, created_at, last_used_at,
//!                                    user_agent, ip}                       TTL: refresh expiry
//! REFRESH#<digest>   REFRESH        {user_id, session_id, rotated}         TTL: refresh expiry
//! ```
//!
//! A session lives as long as its item: revoking it deletes the item, and every access token
//! naming it stops working at once, because bearer checks read it (concurrently with the request's
//! own work, or as a condition of its writes — never as an extra sequential step).
//!
//! A refresh token is `<user id>.<256 random bits>`, stored only as an HMAC with the pepper.
//! Rotation marks the presented token `rotated` (a tombstone kept until it would have expired)
//! and issues a new one in one conditional transaction: of many parallel rotations of one token,
//! exactly one wins. A token presented again after its rotation is reuse — a stolen copy or a
//! replay — and revokes the session it belongs to; within [`REUSE_GRACE_SECS`] of the rotation
//! it is only refused, because that is what a client's own concurrent or retried refresh looks
//! like (the practice of the major identity providers' "reuse interval").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{self, User};
use crate::AppContext;
use crate::auth::TokenError;
use crate::auth::tokens::{TokenType, new_opaque_token, opaque_token_digest};
use crate::store::{Condition, Item, Key, StoreError, Update, Write};

pub const SESSION_PREFIX: &str = "SESSION#";

/// A rotated token presented again this soon is a duplicate request, not a replay.
pub const REUSE_GRACE_SECS: i64 = 10;
const REFRESH: &str = "REFRESH";

pub fn session_key(user_id: &str, session_id: &str) -> Key {
    Key::new(
        users::user_partition(user_id),
        format!("{SESSION_PREFIX}{session_id}"),
    )
}

fn refresh_key(digest: &str) -> Key {
    Key::new(format!("REFRESH#{digest}"), REFRESH)
}

/// Where a session was opened from (shown to the user in their session list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub refresh_digest: String,
    pub created_at: String,
    pub last_used_at: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RefreshRecord {
    user_id: String,
    session_id: String,
    rotated: bool,
    #[serde(default)]
    rotated_at: Option<i64>,
}

/// What a successful sign-in or refresh answers.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// A signed-in answer: the token pair and the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: User,
}

impl SignedIn {
    /// The answer, with the refresh token also set as an HttpOnly cookie.
    pub fn respond(self, ctx: &AppContext, status: http::StatusCode) -> axum::response::Response {
        use axum::response::IntoResponse;
        let cookie = super::cookies::set(ctx, &self.tokens.refresh_token);
        (
            status,
            [(http::header::SET_COOKIE, cookie)],
            axum::Json(self),
        )
            .into_response()
    }
}

/// The answer to a first factor when the account has MFA on: complete with
/// `POST /v1/auth/mfa/verify`. (No `Debug`: nothing should ever print the token.)
#[derive(Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// Short-lived token (`typ` = `mfa_pending`), never usable as an access token.
    pub mfa_token: String,
}

impl MfaRequired {
    /// A new `mfa_pending` token for `user_id`, and the `auth.login.mfa_required` event.
    pub fn issue(ctx: &AppContext, user_id: &str, origin: &Origin) -> Result<Self, TokenError> {
        let (mfa_token, _) = ctx.tokens.issue(
            TokenType::MfaPending,
            user_id,
            None,
            &[],
            ctx.settings.mfa.token_ttl,
            ctx.clock.epoch_seconds(),
        )?;
        crate::audit::record(ctx, "auth.login.mfa_required", Some(user_id), origin);
        Ok(Self {
            mfa_required: true,
            mfa_token,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired, already used in a race, or its session is gone.
    #[error("invalid refresh token")]
    Invalid,
    /// Presented again after it was rotated: the session has been revoked.
    #[error("refresh token reused")]
    Reused { user_id: String, session_id: String },
    /// Too many refreshes for this user.
    #[error("rate limited")]
    Limited { retry_after: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

fn now_rfc3339(ctx: &AppContext) -> String {
    ctx.clock.now().to_string()
}

fn refresh_expiry(ctx: &AppContext) -> i64 {
    ctx.clock.epoch_seconds()
        + i64::try_from(ctx.settings.tokens.refresh_ttl.as_secs()).unwrap_or(i64::MAX)
}

fn new_refresh_token(user_id: &str) -> String {
    format!("{user_id}.{}", new_opaque_token())
}

fn access_token(ctx: &AppContext, user: &User, session_id: &str) -> Result<TokenPair, TokenError> {
    let ttl = ctx.settings.tokens.access_ttl;
    let (token, _) = ctx.tokens.issue(
        TokenType::Access,
        &user.id,
        Some(session_id),
        &user.roles,
        ttl,
        ctx.clock.epoch_seconds(),
    )?;
    Ok(TokenPair {
        access_token: token,
        refresh_token: String::new(),
        token_type: "bearer",
        expires_in: ttl.as_secs(),
    })
}

/// A new session for `user`: the writes to commit (with the caller's own, in one transaction)
/// and the token pair to answer once they are committed.
pub fn open(
    ctx: &AppContext,
    user: &User,
    origin: &Origin,
) -> Result<(Vec<Write>, TokenPair), SessionError> {
    let session_id = crate::ids::random_uuid().to_string();
    let refresh_token = new_refresh_token(&user.id);
    let digest = opaque_token_digest(ctx.secrets.token_pepper_key(), &refresh_token);
    let expires_at = refresh_expiry(ctx);
    let now = now_rfc3339(ctx);
    let session = Session {
        id: session_id.clone(),
        user_id: user.id.clone(),
        refresh_digest: digest.clone(),
        created_at: now.clone(),
        last_used_at: now,
        user_agent: origin.user_agent.clone(),
        ip: origin.ip.clone(),
    };
    let record = RefreshRecord {
        user_id: user.id.clone(),
        session_id: session_id.clone(),
        rotated: false,
        rotated_at: None,
    };
    let writes = vec![
        Write::Put {
            item: Item::from_entity(&session_key(&user.id, &session_id), &session)?
                .with_ttl(expires_at),
            condition: Some(Condition::NotExists),
        },
        Write::Put {
            item: Item::from_entity(&refresh_key(&digest), &record)?.with_ttl(expires_at),
            condition: Some(Condition::NotExists),
        },
    ];
    let mut pair = access_token(ctx, user, &session_id)?;
    pair.refresh_token = refresh_token;
    Ok((writes, pair))
}

/// [`open`] for a sign-in: the session's writes are added to `writes`, and under the
/// single-device policy the account's other sessions (found in `items`, a page of its
/// partition) are closed in the same transaction, as many as fit beside `reserve` more writes.
/// Returns the token pair and the sessions that did not fit, for [`close_after_commit`].
pub fn open_replacing(
    ctx: &AppContext,
    user: &User,
    origin: &Origin,
    items: &[Item],
    writes: &mut Vec<Write>,
    reserve: usize,
) -> Result<(TokenPair, Vec<Session>), SessionError> {
    let (session_writes, tokens) = open(ctx, user, origin)?;
    writes.extend(session_writes);
    let mut others = if ctx.settings.single_session {
        sessions_in(items)?
    } else {
        Vec::new()
    };
    let fit = closable_in(writes.len(), reserve).min(others.len());
    let rest = others.split_off(fit);
    writes.extend(others.iter().flat_map(close));
    Ok((tokens, rest))
}

/// The writes that end `session` (its item and its current refresh token).
pub fn close(session: &Session) -> Vec<Write> {
    vec![
        Write::Delete {
            key: session_key(&session.user_id, &session.id),
            condition: None,
        },
        Write::Delete {
            key: refresh_key(&session.refresh_digest),
            condition: None,
        },
    ]
}

/// How many sessions to close inside a transaction that already holds `used` writes, leaving
/// room for `reserve` more (DynamoDB allows 100 writes per transaction).
pub fn closable_in(used: usize, reserve: usize) -> usize {
    100usize.saturating_sub(used + reserve) / 2
}

/// Closes `sessions` in as many transactions as it takes: what did not fit in the transaction
/// that changed the account is closed right after it, so none survives a revocation.
pub async fn close_all(ctx: &AppContext, sessions: &[Session]) -> Result<(), StoreError> {
    for chunk in sessions.chunks(50) {
        ctx.store
            .transact(chunk.iter().flat_map(close).collect())
            .await?;
    }
    Ok(())
}

/// [`close_all`] after a transaction whose answer must reach the client (one-time backup
/// codes, a new token pair): a failure here is logged, not answered, since the change itself
/// is already committed.
pub async fn close_after_commit(ctx: &AppContext, sessions: &[Session]) {
    if let Err(err) = close_all(ctx, sessions).await {
        tracing::error!(
            error = &err as &dyn std::error::Error,
            sessions = sessions.len(),
            "sessions left open after a committed change"
        );
    }
}

/// The sessions found in a page of the user's partition.
pub fn sessions_in(items: &[Item]) -> Result<Vec<Session>, StoreError> {
    items
        .iter()
        .filter(|i| i.sk().is_some_and(|sk| sk.starts_with(SESSION_PREFIX)))
        .map(Item::to_entity)
        .collect()
}

/// The user id a refresh token names (not yet verified).
pub fn token_user(token: &str) -> Option<&str> {
    let (user_id, random) = token.split_once('.')?;
    let valid = uuid::Uuid::parse_str(user_id).is_ok() && random.len() == 43;
    valid.then_some(user_id)
}

/// Rotates `presented`: two sequential store calls (the token and the profile read together,
/// then one conditional transaction that also counts the refresh against the user's `limit`).
pub async fn rotate(
    ctx: &AppContext,
    presented: &str,
    origin: &Origin,
    limit: crate::config::RateLimit,
) -> Result<(TokenPair, User), SessionError> {
    let user_id = token_user(presented).ok_or(SessionError::Invalid)?;
    let digest = opaque_token_digest(ctx.secrets.token_pepper_key(), presented);
    let old_key = refresh_key(&digest);
    let profile_key = users::profile_key(user_id);
    let (record, profile) = tokio::join!(ctx.store.get(&old_key), ctx.store.get(&profile_key));
    let record: RefreshRecord = record?.ok_or(SessionError::Invalid)?.to_entity()?;
    if record.user_id != user_id {
        return Err(SessionError::Invalid);
    }
    let now = ctx.clock.epoch_seconds();
    if record.rotated
        && record
            .rotated_at
            .is_some_and(|at| now - at < REUSE_GRACE_SECS)
    {
        return Err(SessionError::Invalid);
    }
    if record.rotated {
        ctx.store
            .transact(vec![
                Write::Delete {
                    key: session_key(user_id, &record.session_id),
                    condition: None,
                },
                crate::audit::history_write(ctx, "auth.refresh.reuse_detected", user_id, origin),
            ])
            .await?;
        return Err(SessionError::Reused {
            user_id: record.user_id,
            session_id: record.session_id,
        });
    }
    let user: User = profile?.ok_or(SessionError::Invalid)?.to_entity()?;
    if user.disabled {
        return Err(SessionError::Invalid);
    }

    let new_token = new_refresh_token(user_id);
    let new_digest = opaque_token_digest(ctx.secrets.token_pepper_key(), &new_token);
    let expires_at = refresh_expiry(ctx);
    let new_record = RefreshRecord {
        user_id: user_id.to_owned(),
        session_id: record.session_id.clone(),
        rotated: false,
        rotated_at: None,
    };
    let mut session_updates = vec![
        Update::set("refresh_digest", new_digest.clone()),
        Update::set("last_used_at", now_rfc3339(ctx)),
        Update::set(crate::store::EXPIRES_AT, expires_at),
    ];
    if let Some(agent) = &origin.user_agent {
        session_updates.push(Update::set("user_agent", agent.clone()));
    }
    if let Some(ip) = &origin.ip {
        session_updates.push(Update::set("ip", ip.clone()));
    }
    let subject = crate::abuse::Subject::User(user_id.to_owned());
    let (limit_write, retry_after) =
        crate::abuse::limit_write(ctx, "refresh_user", &subject, limit);
    let writes = vec![
        limit_write,
        Write::Update {
            key: old_key,
            updates: vec![Update::set("rotated", true), Update::set("rotated_at", now)],
            condition: Some(Condition::eq("rotated", false)),
        },
        Write::Put {
            item: Item::from_entity(&refresh_key(&new_digest), &new_record)?.with_ttl(expires_at),
            condition: Some(Condition::NotExists),
        },
        Write::Update {
            key: session_key(user_id, &record.session_id),
            updates: session_updates,
            condition: Some(Condition::Exists),
        },
    ];
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            return Err(SessionError::Limited { retry_after });
        }
        // Another request rotated it first, or the session was revoked meanwhile.
        Err(StoreError::ConditionFailed { .. }) => return Err(SessionError::Invalid),
        Err(err) => return Err(err.into()),
    }
    let mut pair = access_token(ctx, &user, &record.session_id)?;
    pair.refresh_token = new_token;
    Ok((pair, user))
}

/// Ends the session `presented` belongs to. Unknown tokens end nothing; a rotated one ends its
/// session too (whoever holds it should not).
pub async fn revoke_by_refresh_token(
    ctx: &AppContext,
    presented: &str,
) -> Result<Option<String>, SessionError> {
    let Some(user_id) = token_user(presented) else {
        return Ok(None);
    };
    let digest = opaque_token_digest(ctx.secrets.token_pepper_key(), presented);
    let Some(item) = ctx.store.get(&refresh_key(&digest)).await? else {
        return Ok(None);
    };
    let record: RefreshRecord = item.to_entity()?;
    if record.user_id != user_id {
        return Ok(None);
    }
    ctx.store
        .transact(vec![
            Write::Delete {
                key: session_key(user_id, &record.session_id),
                condition: None,
            },
            Write::Delete {
                key: refresh_key(&digest),
                condition: None,
            },
        ])
        .await?;
    Ok(Some(record.user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_name_their_user() {
        let id = crate::ids::random_uuid().to_string();
        let token = new_refresh_token(&id);
        assert_eq!(token_user(&token), Some(id.as_str()));
        for bad in ["", "no-dot", "not-a-uuid.abc", &format!("{id}.short")] {
            assert_eq!(token_user(bad), None, "{bad}");
        }
    }
}
