//! Abuse protection on TTL items: rate limits and lockouts, exact under concurrency because every
//! count is one atomic `ADD`.
//!
//! ```text
//! RL#<scope>#<subject>     W#<window>   {count}            TTL: end of the window
//! LOCK#<kind>#<subject>    FAILS        {count}            TTL: the counting period
//! LOCK#<kind>#<subject>    LOCKED       {until, level}     TTL: end of the lock
//! LOCK#ip#<subject>        LEVEL        {level}            TTL: twice the longest lock
//! ```
//!
//! Subjects that are personal data (emails) are stored as an HMAC with the pepper.

use std::time::Duration;

use crate::AppContext;
use crate::auth::Email;
use crate::auth::tokens::opaque_token_digest;
use crate::config::RateLimit;
use crate::store::{Condition, EXPIRES_AT, Item, Key, StoreError, Update};

/// Whether a request may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit (or locked): retry after this many seconds.
    Refused {
        retry_after: u64,
    },
}

impl Decision {
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Self::Allowed => None,
            Self::Refused { retry_after } => Some(retry_after),
        }
    }
}

/// What a limit or lock is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Ip(String),
    Email(String),
    User(String),
}

impl Subject {
    /// The caller's address as API Gateway saw it (`unknown` outside API Gateway).
    pub fn ip(origin: &crate::accounts::Origin) -> Self {
        Self::Ip(origin.ip.clone().unwrap_or_else(|| "unknown".to_owned()))
    }

    pub fn email(ctx: &AppContext, email: &Email) -> Self {
        Self::Email(opaque_token_digest(
            ctx.secrets.token_pepper_key(),
            email.as_str(),
        ))
    }

    fn key_part(&self) -> String {
        match self {
            Self::Ip(ip) => format!("ip#{ip}"),
            Self::Email(digest) => format!("email#{}", &digest[..digest.len().min(32)]),
            Self::User(id) => format!("user#{id}"),
        }
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The counter of the current fixed window: its key, its end (epoch seconds) and the seconds
/// until then.
fn window(ctx: &AppContext, scope: &str, subject: &Subject, limit: RateLimit) -> (Key, i64, u64) {
    let now = ctx.clock.epoch_seconds();
    let length = secs(limit.window).max(1);
    let start = now - now.rem_euclid(length);
    let end = start + length;
    let key = Key::new(
        format!("RL#{scope}#{}", subject.key_part()),
        format!("W#{start}"),
    );
    (key, end, u64::try_from(end - now).unwrap_or(1).max(1))
}

/// Counts one request of `scope` for `subject`; refused once `limit.limit` are used in the window.
pub async fn rate_limit(
    ctx: &AppContext,
    scope: &str,
    subject: &Subject,
    limit: RateLimit,
) -> Result<Decision, StoreError> {
    let (key, end, retry_after) = window(ctx, scope, subject, limit);
    let item = ctx
        .store
        .update(
            &key,
            vec![
                Update::add("count", 1),
                Update::set_if_absent(EXPIRES_AT, end),
            ],
            None,
        )
        .await?;
    let count = item.get_i64("count").unwrap_or(i64::MAX);
    Ok(if count <= i64::from(limit.limit) {
        Decision::Allowed
    } else {
        Decision::Refused { retry_after }
    })
}

/// Counts one use of `scope` for `subject` as part of a transaction: the transaction cancels
/// (at this write) once the window's limit is used, so only committed, verified uses count —
/// nobody can spend someone else's quota with requests that fail. Returns the write and the
/// seconds until the window ends.
pub fn limit_write(
    ctx: &AppContext,
    scope: &str,
    subject: &Subject,
    limit: RateLimit,
) -> (crate::store::Write, u64) {
    let (key, end, retry_after) = window(ctx, scope, subject, limit);
    let under_limit = Condition::absent_or_below("count", i64::from(limit.limit));
    let write = crate::store::Write::Update {
        key,
        updates: vec![
            Update::add("count", 1),
            Update::set_if_absent(EXPIRES_AT, end),
        ],
        condition: Some(under_limit),
    };
    (write, retry_after)
}

/// Lockouts after repeated failures.
pub mod lockout {
    use super::*;

    fn lock_key(kind: &str, subject: &Subject) -> Key {
        Key::new(format!("LOCK#{kind}#{}", subject.key_part()), "LOCKED")
    }

    fn fails_key(kind: &str, subject: &Subject) -> Key {
        Key::new(format!("LOCK#{kind}#{}", subject.key_part()), "FAILS")
    }

    fn level_key(kind: &str, subject: &Subject) -> Key {
        Key::new(format!("LOCK#{kind}#{}", subject.key_part()), "LEVEL")
    }

    /// Whether `subject` is locked for `kind` (e.g. `login`) now.
    pub async fn check(
        ctx: &AppContext,
        kind: &str,
        subject: &Subject,
    ) -> Result<Decision, StoreError> {
        let now = ctx.clock.epoch_seconds();
        Ok(match ctx.store.get(&lock_key(kind, subject)).await? {
            Some(item) => Decision::Refused {
                retry_after: u64::try_from(item.expires_at().unwrap_or(now + 1) - now)
                    .unwrap_or(1)
                    .max(1),
            },
            None => Decision::Allowed,
        })
    }

    /// Whether sign-ins for `email` or from `ip` are locked: the seconds until they are not.
    pub async fn sign_in_locked(
        ctx: &AppContext,
        email: &Subject,
        ip: &Subject,
    ) -> Result<Option<u64>, StoreError> {
        let (email_lock, ip_lock) =
            tokio::join!(check(ctx, "login", email), check(ctx, "login", ip));
        Ok(email_lock?.retry_after().or(ip_lock?.retry_after()))
    }

    /// How a lock grows on repeats.
    #[derive(Clone, Copy, Debug)]
    pub struct Policy {
        pub threshold: u32,
        pub lock_ttl: Duration,
        /// Double the lock on each repeat, up to `max_ttl`.
        pub escalation: Option<Duration>,
    }

    fn count_failure(ctx: &AppContext, policy: Policy) -> Vec<Update> {
        let counting_until = ctx.clock.epoch_seconds() + secs(policy.lock_ttl);
        vec![
            Update::add("count", 1),
            Update::set_if_absent(EXPIRES_AT, counting_until),
        ]
    }

    /// Counts a failure; returns `true` when this failure locked the subject (once per lock).
    pub async fn record_failure(
        ctx: &AppContext,
        kind: &str,
        subject: &Subject,
        policy: Policy,
    ) -> Result<bool, StoreError> {
        let fails = ctx
            .store
            .update(&fails_key(kind, subject), count_failure(ctx, policy), None)
            .await?
            .get_i64("count")
            .unwrap_or(0);
        settle(ctx, kind, subject, policy, fails).await
    }

    /// Takes one of `subject`'s remaining failures before a check whose outcome is not known
    /// yet, so that parallel checks cannot overshoot the threshold: the failure count it holds,
    /// or `None` when none is left. A failed check settles it with [`settle`]; a successful one
    /// commits [`clear_writes`].
    pub async fn reserve(
        ctx: &AppContext,
        kind: &str,
        subject: &Subject,
        policy: Policy,
    ) -> Result<Option<i64>, StoreError> {
        let room = Condition::absent_or_below("count", i64::from(policy.threshold));
        match ctx
            .store
            .update(
                &fails_key(kind, subject),
                count_failure(ctx, policy),
                Some(room),
            )
            .await
        {
            Ok(item) => Ok(item.get_i64("count")),
            Err(err) if err.is_condition_failed() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Returns a failure taken with [`reserve`] that turned out not to be one.
    pub async fn give_back(
        ctx: &AppContext,
        kind: &str,
        subject: &Subject,
    ) -> Result<(), StoreError> {
        match ctx
            .store
            .update(
                &fails_key(kind, subject),
                vec![Update::add("count", -1)],
                Some(Condition::Exists),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.is_condition_failed() => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Locks `subject` when `fails` (a count from [`record_failure`] or [`reserve`]) reaches
    /// the threshold; returns `true` when it did (once per lock).
    pub async fn settle(
        ctx: &AppContext,
        kind: &str,
        subject: &Subject,
        policy: Policy,
        fails: i64,
    ) -> Result<bool, StoreError> {
        // Counts are unique under concurrency: exactly one failure reaches the threshold.
        if fails != i64::from(policy.threshold) {
            return Ok(false);
        }
        let now = ctx.clock.epoch_seconds();
        let ttl = match policy.escalation {
            None => secs(policy.lock_ttl),
            Some(max) => {
                let level = ctx
                    .store
                    .update(
                        &level_key(kind, subject),
                        vec![
                            Update::add("level", 1),
                            Update::set(EXPIRES_AT, now + 2 * secs(max)),
                        ],
                        None,
                    )
                    .await?
                    .get_i64("level")
                    .unwrap_or(1);
                let doublings = u32::try_from((level - 1).clamp(0, 30)).unwrap_or(30);
                secs(policy.lock_ttl)
                    .saturating_mul(1_i64 << doublings)
                    .min(secs(max))
            }
        };
        let lock = Item::new(&lock_key(kind, subject))
            .with("until", now + ttl)
            .with_ttl(now + ttl);
        match ctx.store.put(lock, Some(Condition::NotExists)).await {
            Ok(()) => {
                // The count stays full for as long as the lock lasts, so no check can take a
                // failure from it meanwhile (a check racing the lock would otherwise start a
                // fresh count), and both end together: the next count starts from zero.
                ctx.store
                    .update(
                        &fails_key(kind, subject),
                        vec![Update::set(EXPIRES_AT, now + ttl)],
                        Some(Condition::Exists),
                    )
                    .await
                    .map(|_| ())
                    .or_else(|err| {
                        if err.is_condition_failed() {
                            Ok(())
                        } else {
                            Err(err)
                        }
                    })?;
                Ok(true)
            }
            Err(err) if err.is_condition_failed() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The lockout of sign-ins per email.
    pub fn email_policy(ctx: &AppContext) -> Policy {
        let settings = &ctx.settings.lockout;
        Policy {
            threshold: settings.email_threshold,
            lock_ttl: settings.email_lock_ttl,
            escalation: None,
        }
    }

    /// Counts a failed sign-in (a wrong password or second factor) against the email and the
    /// address, keeps it in the account's history as `event_type`, and locks them at their
    /// thresholds. `email_reserved` is the count of a failure already taken with [`reserve`].
    pub async fn record_sign_in_failure(
        ctx: &AppContext,
        event_type: &'static str,
        email: &Subject,
        email_reserved: Option<i64>,
        ip: &Subject,
        user_id: Option<&str>,
        origin: &crate::accounts::Origin,
    ) -> Result<(), StoreError> {
        let settings = &ctx.settings.lockout;
        let email_policy = email_policy(ctx);
        let ip_policy = Policy {
            threshold: settings.ip_threshold,
            lock_ttl: settings.ip_lock_ttl,
            escalation: settings
                .ip_lock_escalation
                .then_some(settings.ip_lock_max_ttl),
        };
        // A known account keeps the failure in its own history, in the same step.
        let history = async {
            match user_id {
                Some(id) => {
                    let crate::store::Write::Put { item, .. } =
                        crate::audit::history_write(ctx, event_type, id, origin)
                    else {
                        return Ok(());
                    };
                    ctx.store.put(item, None).await
                }
                None => Ok(()),
            }
        };
        let email_failure = async {
            match email_reserved {
                Some(fails) => settle(ctx, "login", email, email_policy, fails).await,
                None => record_failure(ctx, "login", email, email_policy).await,
            }
        };
        let (email_locked, ip_locked, history) = tokio::join!(
            email_failure,
            record_failure(ctx, "login", ip, ip_policy),
            history,
        );
        history?;
        if email_locked? {
            crate::audit::security(ctx, "auth.lockout.trigger", user_id, origin);
        }
        if ip_locked? {
            crate::audit::security(ctx, "auth.lockout.trigger", None, origin);
        }
        Ok(())
    }

    /// Forgets the failures of `subject` (after a success).
    pub fn clear_writes(kind: &str, subject: &Subject) -> crate::store::Write {
        crate::store::Write::Delete {
            key: fails_key(kind, subject),
            condition: None,
        }
    }
}
