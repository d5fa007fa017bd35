//! A backend wrapper that fails or slows calls on demand, to test how requests behave when the
//! store misbehaves (and that readiness notices).
//!
//! Three kinds of failure, as a client of DynamoDB meets them:
//! - [`Fault::Unavailable`]: the store cannot be reached. The call never arrives, so it changes
//!   nothing; the caller gets [`StoreError::Unavailable`].
//! - [`Fault::Throttled`]: the store refuses the call. Nothing changes; the caller gets
//!   [`StoreError::Throttled`].
//! - [`Fault::TimedOut`]: the call reaches the store and takes effect, but its answer is lost
//!   (the client's timeout fires first). The caller gets [`StoreError::Unavailable`], exactly as
//!   for an unreachable store, yet the write is committed: a request failing this way must
//!   still leave every item whole, and a client's retry must meet a consistent state.
//!
//! [`Fault::Slow`] is not a failure: the call succeeds, late.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::store::{Backend, Condition, Item, Key, Page, Query, StoreError, Update, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The backend cannot be reached: the call changes nothing.
    Unavailable,
    /// The backend throttles the call: it changes nothing.
    Throttled,
    /// The call takes effect, but its answer is lost: the caller sees the store unavailable.
    TimedOut,
    /// The call succeeds, but only after this long.
    Slow(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Every call goes through untouched.
    Healthy,
    /// Every call gets the fault.
    Always(Fault),
    /// Only the N-th call (counting from 1 after the plan is set) gets the fault.
    Nth(u32, Fault),
}

pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    plan: Mutex<Plan>,
    calls: AtomicU32,
}

/// What becomes of one call.
enum Fate {
    /// It goes through (maybe late).
    Proceed,
    /// It never reaches the store.
    Fail(StoreError),
    /// It reaches the store, and its answer is lost.
    LoseAnswer,
}

/// The error a call whose answer was lost reports.
fn timed_out() -> StoreError {
    StoreError::Unavailable("injected fault: the store's answer timed out".into())
}

impl FaultyBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            plan: Mutex::new(Plan::Healthy),
            calls: AtomicU32::new(0),
        }
    }

    /// Sets the plan and restarts the call count.
    pub fn set_plan(&self, plan: Plan) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = plan;
        self.calls.store(0, Ordering::SeqCst);
    }

    /// Calls made since the plan was set.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn before_call(&self) -> Fate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let plan = *self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let fault = match plan {
            Plan::Healthy => None,
            Plan::Always(fault) => Some(fault),
            Plan::Nth(k, fault) => (k == n).then_some(fault),
        };
        match fault {
            None => Fate::Proceed,
            Some(Fault::Unavailable) => Fate::Fail(StoreError::Unavailable(
                "injected fault: store unreachable".into(),
            )),
            Some(Fault::Throttled) => Fate::Fail(StoreError::Throttled),
            Some(Fault::TimedOut) => Fate::LoseAnswer,
            Some(Fault::Slow(delay)) => {
                tokio::time::sleep(delay).await;
                Fate::Proceed
            }
        }
    }
}

/// Runs `call` as `fate` says: not at all, or with its answer replaced by a timeout.
async fn run<T>(
    fate: Fate,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match fate {
        Fate::Proceed => call.await,
        Fate::Fail(err) => Err(err),
        Fate::LoseAnswer => {
            // Whatever the store answered (done, or a failed condition), the caller never hears.
            let _lost = call.await;
            Err(timed_out())
        }
    }
}

#[async_trait]
impl Backend for FaultyBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.get(key, now)).await
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.put(item, condition, now)).await
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.update(key, updates, condition, now)).await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.delete(key, condition, now)).await
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.query(query, now)).await
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        let fate = self.before_call().await;
        run(fate, self.inner.transact(writes, now)).await
    }
}
