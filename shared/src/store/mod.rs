//! The store: a narrow item-level interface over one single-table design, with two backends.
//!
//! - [`dynamo::DynamoBackend`]: DynamoDB (production; DynamoDB Local in tests).
//! - [`embedded::EmbeddedBackend`]: one SQLite file in WAL mode, shared by every local function
//!   process: the zero-setup default for development and fast tests.
//!
//! Entity modules (users, sessions, tracker entries …) own their key layout and talk only to
//! [`Store`]. Both backends pass one conformance suite (`shared/tests/store_conformance.rs`).
//! The store counts its calls per request ([`count_calls`]) so tests and metrics can see how many
//! round trips, and how many sequential ones, each request makes.
//!
//! Two things callers must know:
//! - Items with equal `GSI1SK` come back in an unspecified order: make index sort keys unique
//!   (append an id) where order matters.
//! - On DynamoDB, the SDK retries a call whose reply was lost (timeout, 5xx). A retried
//!   non-transactional write may then report `ConditionFailed` although its first attempt
//!   succeeded, or apply an `Add` twice. Every use so far fails safe under that (a one-time item
//!   reads as already taken, a rate counter counts high); writes that must not, go through
//!   [`Store::transact`], which carries an idempotency token.

mod condition;
pub mod dynamo;
pub mod embedded;
mod item;
mod query;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

pub use condition::{Cmp, Condition, Update};
pub use item::{EXPIRES_AT, GSI1PK, GSI1SK, Item, Key, PK, SK};
pub use query::{Cursor, Direction, Index, MAX_PAGE_SIZE, Page, Query, SortKey};

use crate::clock::Clock;

/// DynamoDB's limit on the writes of one transaction.
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// What can go wrong in the store. Callers branch on the first variants; the rest become a
/// 503 (transient) or a 500 envelope.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold. In a transaction, `index` names the first write whose
    /// condition failed; nothing was written.
    #[error("the condition of write {index:?} did not hold")]
    ConditionFailed { index: Option<usize> },
    /// A cursor that this query did not produce.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Concurrent transactions on the same items kept colliding; retrying later may succeed.
    #[error("transaction conflict")]
    Conflict,
    /// The backend is throttling requests.
    #[error("the store is throttling requests")]
    Throttled,
    /// The backend could not be reached or did not answer in time.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A request the store refuses (a programming error: callers validate input first).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// An item that does not decode into the expected shape.
    #[error("corrupt item")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else the backend reported.
    #[error("store backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub(crate) fn corrupt(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Corrupt(Box::new(err))
    }

    pub(crate) fn backend(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(err.into())
    }

    /// Whether retrying later may succeed (answered as 503 rather than 500).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Conflict | Self::Throttled | Self::Unavailable(_)
        )
    }

    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; cancels the transaction unless the condition holds.
    Check { key: Key, condition: Condition },
}

impl Write {
    pub fn key(&self) -> Option<Key> {
        match self {
            Self::Put { item, .. } => item.key(),
            Self::Update { key, .. } | Self::Delete { key, .. } | Self::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }

    /// Whether this write is to the item at `key` (no copy of the key is made).
    pub fn has_key(&self, key: &Key) -> bool {
        match self {
            Self::Put { item, .. } => item.has_key(key),
            Self::Update { key: own, .. }
            | Self::Delete { key: own, .. }
            | Self::Check { key: own, .. } => own == key,
        }
    }

    /// Checks the write; answers the key it touches, borrowed.
    fn validate(&self) -> Result<(&str, &str), StoreError> {
        let (key, condition) = match self {
            Self::Put { item, condition } => (item.validate()?, condition.as_ref()),
            Self::Update {
                key,
                updates,
                condition,
            } => {
                key.validate()?;
                Update::validate_all(updates)?;
                ((key.pk.as_str(), key.sk.as_str()), condition.as_ref())
            }
            Self::Delete { key, condition } => {
                key.validate()?;
                ((key.pk.as_str(), key.sk.as_str()), condition.as_ref())
            }
            Self::Check { key, condition } => {
                key.validate()?;
                ((key.pk.as_str(), key.sk.as_str()), Some(condition))
            }
        };
        condition.map(Condition::validate).transpose()?;
        Ok(key)
    }
}

/// What a backend implements. `now` is epoch seconds: an item with `expires_at <= now` is
/// absent for every operation. Inputs arrive validated by [`Store`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `"embedded"` or `"dynamodb"`.
    fn name(&self) -> &'static str;
    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError>;
    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Applies the updates (creating the item when absent) and returns the item as written.
    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError>;
    /// Deletes the item and returns it as it was, if it was live.
    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError>;
    /// All writes or none.
    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError>;
}

/// The store handle every function uses: validates requests, supplies "now", counts calls.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    clock: Clock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>, clock: Clock) -> Self {
        Self { backend, clock }
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    // Each call is counted from the moment it is created (see [`count_calls`]), so calls created
    // together (`tokio::join!`) count as one sequential step however fast each one finishes.

    pub fn get<'a>(
        &'a self,
        key: &'a Key,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send + 'a {
        let valid = key.validate();
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend.get(key, self.clock.epoch_seconds()).await
        }
    }

    pub fn put(
        &self,
        mut item: Item,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + '_ {
        item.normalize_numbers();
        let valid = item
            .validate()
            .and_then(|_| condition.as_ref().map(Condition::validate).transpose());
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend
                .put(item, condition.as_ref(), self.clock.epoch_seconds())
                .await
        }
    }

    pub fn update<'a>(
        &'a self,
        key: &'a Key,
        mut updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<Item, StoreError>> + Send + 'a {
        updates.iter_mut().for_each(Update::normalize_numbers);
        let valid = key
            .validate()
            .and_then(|()| Update::validate_all(&updates))
            .and_then(|()| condition.as_ref().map(Condition::validate).transpose());
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend
                .update(
                    key,
                    &updates,
                    condition.as_ref(),
                    self.clock.epoch_seconds(),
                )
                .await
        }
    }

    pub fn delete<'a>(
        &'a self,
        key: &'a Key,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send + 'a {
        let valid = key
            .validate()
            .and_then(|()| condition.as_ref().map(Condition::validate).transpose());
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend
                .delete(key, condition.as_ref(), self.clock.epoch_seconds())
                .await
        }
    }

    pub fn query(
        &self,
        query: Query,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send + '_ {
        let valid = query.validate();
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend.query(&query, self.clock.epoch_seconds()).await
        }
    }

    pub fn transact(
        &self,
        mut writes: Vec<Write>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + '_ {
        for write in &mut writes {
            match write {
                Write::Put { item, .. } => item.normalize_numbers(),
                Write::Update { updates, .. } => {
                    updates.iter_mut().for_each(Update::normalize_numbers)
                }
                Write::Delete { .. } | Write::Check { .. } => {}
            }
        }
        let valid = validate_transaction(&writes);
        let call = valid.is_ok().then(CallGuard::start);
        async move {
            valid?;
            let _call = call;
            // A round trip never completes in the poll that starts it; yielding once makes calls
            // started together count as one step, whatever the backend.
            tokio::task::yield_now().await;
            self.backend
                .transact(&writes, self.clock.epoch_seconds())
                .await
        }
    }

    /// Every item a query finds, following cursors: one call per page.
    pub async fn query_all(&self, query: Query) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut query = query;
        loop {
            let page = self.query(query.clone()).await?;
            items.extend(page.items);
            match page.cursor {
                Some(cursor) => query = query.after(Some(cursor)),
                None => return Ok(items),
            }
        }
    }

    /// Deletes every item of a partition, a transaction per page of at most
    /// [`MAX_TRANSACTION_WRITES`]. Safe to run again after a failure part-way: it deletes
    /// whatever is left. Returns how many were deleted.
    pub async fn delete_partition(&self, partition: &str) -> Result<usize, StoreError> {
        let mut deleted = 0;
        loop {
            let page = self
                .query(Query::table(partition).limit(MAX_TRANSACTION_WRITES as u32))
                .await?;
            if page.items.is_empty() {
                return Ok(deleted);
            }
            let writes: Vec<Write> = page
                .items
                .iter()
                .filter_map(Item::key)
                .map(|key| Write::Delete {
                    key,
                    condition: None,
                })
                .collect();
            deleted += writes.len();
            self.transact(writes).await?;
        }
    }

    /// One real round trip, for readiness: reads a key that never exists.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.get(&Key::new("__ready__", "__ready__"))
            .await
            .map(|_| ())
    }
}

/// Store calls made while serving one request.
#[derive(Debug, Default)]
pub struct CallStats {
    total: AtomicU32,
    depth: AtomicU32,
    in_flight: AtomicU32,
}

/// A snapshot of [`CallStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCount {
    /// Every store call.
    pub total: u32,
    /// Calls that had to wait for the previous ones: concurrent calls count once.
    pub sequential: u32,
}

impl CallStats {
    pub fn snapshot(&self) -> CallCount {
        CallCount {
            total: self.total.load(Ordering::SeqCst),
            sequential: self.depth.load(Ordering::SeqCst),
        }
    }
}

tokio::task_local! {
    static CALLS: Arc<CallStats>;
}

/// Runs `future`, counting the store calls it makes (those on its own task).
pub async fn count_calls<F: Future>(future: F) -> (F::Output, CallCount) {
    let stats = Arc::new(CallStats::default());
    let output = CALLS.scope(stats.clone(), future).await;
    (output, stats.snapshot())
}

fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::invalid(format!(
            "a transaction has 1..={MAX_TRANSACTION_WRITES} writes"
        )));
    }
    // Borrowed and sorted: no key is copied or hashed.
    let mut keys = writes
        .iter()
        .map(Write::validate)
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(StoreError::invalid(
            "a transaction touches one item at most once",
        ));
    }
    Ok(())
}

/// One store call in flight, counted in the request's [`CallStats`] from creation to drop.
struct CallGuard(Option<Arc<CallStats>>);

impl CallGuard {
    fn start() -> Self {
        let stats = CALLS.try_with(Arc::clone).ok();
        if let Some(stats) = &stats {
            stats.total.fetch_add(1, Ordering::SeqCst);
            if stats.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
                stats.depth.fetch_add(1, Ordering::SeqCst);
            }
        }
        Self(stats)
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(stats) = &self.0 {
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
