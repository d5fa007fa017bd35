//! A backend wrapper that fails or slows calls on demand, to test how requests behave when the
//! store misbehaves (and that readiness notices).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::store::{Backend, Condition, Item, Key, Page, Query, StoreError, Update, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The backend cannot be reached.
    Unavailable,
    /// The backend throttles the call.
    Throttled,
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

    async fn before_call(&self) -> Result<(), StoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let plan = *self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let fault = match plan {
            Plan::Healthy => None,
            Plan::Always(fault) => Some(fault),
            Plan::Nth(k, fault) => (k == n).then_some(fault),
        };
        match fault {
            None => Ok(()),
            Some(Fault::Unavailable) => Err(StoreError::Unavailable(
                "injected fault: store unreachable".into(),
            )),
            Some(Fault::Throttled) => Err(StoreError::Throttled),
            Some(Fault::Slow(delay)) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Backend for FaultyBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        self.before_call().await?;
        self.inner.get(key, now).await
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.before_call().await?;
        self.inner.put(item, condition, now).await
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        self.before_call().await?;
        self.inner.update(key, updates, condition, now).await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        self.before_call().await?;
        self.inner.delete(key, condition, now).await
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        self.before_call().await?;
        self.inner.query(query, now).await
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        self.before_call().await?;
        self.inner.transact(writes, now).await
    }
}
