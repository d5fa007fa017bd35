//! The signed-in caller, from `Authorization: Bearer <access token>`.
//!
//! Extracting a [`Bearer`] verifies the token (signature, key, algorithm, issuer, audience,
//! type, expiry) without touching the store. The session it names is checked where it costs no
//! extra sequential round trip: alongside the request's own read ([`Bearer::with_live_session`])
//! or as a condition of its write transaction ([`Bearer::session_guard`]).

use std::future::Future;

use axum::extract::FromRequestParts;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::sessions::{Session, session_key, sessions_in};
use super::users::{self, User};
use crate::AppContext;
use crate::auth::{Claims, Role, TokenType};
use crate::http::{ApiError, ErrorCode};
use crate::store::{Condition, Item, Key, Query, Write};

/// A verified access token.
#[derive(Clone, Debug)]
pub struct Bearer {
    pub claims: Claims,
}

/// 401 `UNAUTHORIZED`, with the challenge bearer clients expect.
pub fn unauthorized() -> ApiError {
    ApiError::coded(
        ErrorCode::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "missing, invalid or expired access token",
    )
    .with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    )
}

impl FromRequestParts<AppContext> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        Self::from_authorization(parts.headers.get(AUTHORIZATION), ctx)
    }
}

impl Bearer {
    /// The caller named by an `Authorization` header's value: 401 without a valid access token.
    pub fn from_authorization(
        header: Option<&HeaderValue>,
        ctx: &AppContext,
    ) -> Result<Self, ApiError> {
        let header = header
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        let claims = ctx
            .tokens
            .verify(token.trim(), TokenType::Access, ctx.clock.epoch_seconds())
            .map_err(|_| unauthorized())?;
        if claims.sid.is_none() {
            return Err(unauthorized());
        }
        Ok(Self { claims })
    }

    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    pub fn session_id(&self) -> &str {
        self.claims.sid.as_deref().unwrap_or_default()
    }

    pub fn session_key(&self) -> Key {
        session_key(self.user_id(), self.session_id())
    }

    /// Runs `work` while checking the session; `work`'s result is only returned when the session
    /// is still live (not logged out, revoked or expired). Create `work`'s store calls before
    /// calling this (not lazily inside it), so both are one step in the round-trip count.
    pub async fn with_live_session<T>(
        &self,
        ctx: &AppContext,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let key = self.session_key();
        let (session, output) = tokio::join!(ctx.store.get(&key), work);
        if session?.is_none() {
            return Err(unauthorized());
        }
        output
    }

    /// A transaction check that fails the whole write when the session is gone. A transaction
    /// cancelled by it answers with [`unauthorized`].
    pub fn session_guard(&self) -> Write {
        Write::Check {
            key: self.session_key(),
            condition: Condition::Exists,
        }
    }

    /// Commits `writes` only while the caller's session is live: the guard is added (unless the
    /// writes touch the session themselves), and a cancelled transaction answers 401.
    pub async fn transact(&self, ctx: &AppContext, mut writes: Vec<Write>) -> Result<(), ApiError> {
        let key = self.session_key();
        if !writes.iter().any(|w| w.has_key(&key)) {
            writes.push(self.session_guard());
        }
        match ctx.store.transact(writes).await {
            Ok(()) => Ok(()),
            Err(crate::store::StoreError::ConditionFailed { .. }) => Err(unauthorized()),
            Err(err) => Err(err.into()),
        }
    }

    /// Commits `writes`, which carry conditions of their own, only while the caller's session is
    /// live: 401 when it is gone; [`Outcome::Conflict`] with the index (in `writes`) of the
    /// write whose condition failed otherwise.
    pub async fn transact_checked(
        &self,
        ctx: &AppContext,
        writes: Vec<Write>,
    ) -> Result<Outcome, ApiError> {
        let mut all = Vec::with_capacity(writes.len() + 1);
        all.push(self.session_guard());
        all.extend(writes);
        match ctx.store.transact(all).await {
            Ok(()) => Ok(Outcome::Committed),
            Err(crate::store::StoreError::ConditionFailed { index: Some(0) }) => {
                Err(unauthorized())
            }
            Err(crate::store::StoreError::ConditionFailed { index }) => Ok(Outcome::Conflict {
                index: index.map(|i| i - 1),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// The caller's account in one query of their partition (profile, sessions, second
    /// factor…), which is also the session check: 401 when the session or the account is gone.
    pub async fn account(&self, ctx: &AppContext) -> Result<Account, ApiError> {
        let partition = ctx
            .store
            .query(Query::table(users::user_partition(self.user_id())).limit(1000))
            .await?;
        let session = self.session_key();
        if !partition.items.iter().any(|i| i.has_key(&session)) {
            return Err(unauthorized());
        }
        let user = users::profile_in(&partition.items)?
            .filter(|user| !user.disabled)
            .ok_or_else(unauthorized)?;
        Ok(Account {
            user,
            items: partition.items,
        })
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.claims.roles.contains(&role)
    }
}

/// How a [`Bearer::transact_checked`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// A condition failed: the write at `index`, when the store says which.
    Conflict {
        index: Option<usize>,
    },
}

/// The signed-in caller's account and the items of their partition.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: User,
    pub items: Vec<Item>,
}

impl Account {
    pub fn sessions(&self) -> Result<Vec<Session>, ApiError> {
        Ok(sessions_in(&self.items)?)
    }

    /// The account's sessions other than `session_id`.
    pub fn other_sessions(&self, session_id: &str) -> Result<Vec<Session>, ApiError> {
        let mut sessions = self.sessions()?;
        sessions.retain(|s| s.id != session_id);
        Ok(sessions)
    }

    /// When the account disappears by itself (demo accounts): what it creates must go with it.
    pub fn expires_at(&self) -> Option<i64> {
        users::profile_item(&self.items).and_then(Item::expires_at)
    }
}

/// Which roles an endpoint accepts; see [`RequireRoles`].
pub trait RolePolicy: Send + Sync + 'static {
    /// The caller needs at least one of these.
    const ROLES: &'static [Role];
}

/// ADMIN only.
pub struct AdminOnly;

impl RolePolicy for AdminOnly {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// ADMIN or REVIEWER.
pub struct Staff;

impl RolePolicy for Staff {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Reviewer];
}

/// A [`Bearer`] holding one of `P::ROLES`: 401 without a valid token, 403 without the role.
/// Roles come from the access token; changing a user's roles ends their sessions, so a token
/// never outlives the roles it names.
pub struct RequireRoles<P: RolePolicy> {
    pub bearer: Bearer,
    _policy: std::marker::PhantomData<P>,
}

impl<P: RolePolicy> FromRequestParts<AppContext> for RequireRoles<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        let bearer = Bearer::from_request_parts(parts, ctx).await?;
        if !P::ROLES.iter().any(|role| bearer.has_role(*role)) {
            // A token of an ended session or a gone account is no one's: 401, not a statement
            // about its roles.
            let profile_key = users::profile_key(bearer.user_id());
            let session_key = bearer.session_key();
            let (session, profile) =
                tokio::join!(ctx.store.get(&session_key), ctx.store.get(&profile_key));
            let account_live = profile?
                .map(|item| item.to_entity::<User>())
                .transpose()?
                .is_some_and(|user| !user.disabled);
            if session?.is_none() || !account_live {
                return Err(unauthorized());
            }
            return Err(ApiError::coded(
                ErrorCode::Forbidden,
                StatusCode::FORBIDDEN,
                "your account does not have the role this needs",
            ));
        }
        Ok(Self {
            bearer,
            _policy: std::marker::PhantomData,
        })
    }
}
