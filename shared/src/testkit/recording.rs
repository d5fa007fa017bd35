//! A backend wrapper that notes the IAM actions the calls through it need, so a test can hold
//! each function's IAM policy in the SAM template to exactly what its code calls.
//!
//! The names mirror what `store::dynamo` sends: `GetItem`, `PutItem`, `UpdateItem`,
//! `DeleteItem`, `Query`, and `TransactWriteItems`, whose permissions are those of each write
//! inside it (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::store::{Backend, Condition, Index, Item, Key, Page, Query, StoreError, Update, Write};

/// What a policy needs: `dynamodb:<Action>` on the table, and whether any query reads the index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub actions: BTreeSet<String>,
    pub reads_index: bool,
}

pub struct RecordingBackend {
    inner: Arc<dyn Backend>,
    access: Mutex<Access>,
    /// Keys changed by calls that succeeded since the last [`RecordingBackend::take_writes`]
    /// (a write refused by its condition changed nothing).
    writes: Mutex<Vec<Key>>,
}

impl RecordingBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            access: Mutex::new(Access::default()),
            writes: Mutex::new(Vec::new()),
        }
    }

    /// The keys changed since the last call.
    pub fn take_writes(&self) -> Vec<Key> {
        std::mem::take(&mut *self.writes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn wrote(&self, key: Key) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
    }

    pub fn access(&self) -> Access {
        self.access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note(&self, action: &str) {
        self.access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .actions
            .insert(format!("dynamodb:{action}"));
    }
}

#[async_trait]
impl Backend for RecordingBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        self.note("GetItem");
        self.inner.get(key, now).await
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.note("PutItem");
        let key = item.key();
        self.inner.put(item, condition, now).await?;
        if let Some(key) = key {
            self.wrote(key);
        }
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        self.note("UpdateItem");
        let item = self.inner.update(key, updates, condition, now).await?;
        self.wrote(key.clone());
        Ok(item)
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        self.note("DeleteItem");
        let old = self.inner.delete(key, condition, now).await?;
        self.wrote(key.clone());
        Ok(old)
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        self.note("Query");
        if query.index == Index::Gsi1 {
            self.access
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .reads_index = true;
        }
        self.inner.query(query, now).await
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        for write in writes {
            self.note(match write {
                Write::Put { .. } => "PutItem",
                Write::Update { .. } => "UpdateItem",
                Write::Delete { .. } => "DeleteItem",
                Write::Check { .. } => "ConditionCheckItem",
            });
        }
        self.inner.transact(writes, now).await?;
        for write in writes {
            if let (Some(key), false) = (write.key(), matches!(write, Write::Check { .. })) {
                self.wrote(key);
            }
        }
        Ok(())
    }
}

/// A mailer wrapper that notes whether anything was sent (`ses:SendEmail` in AWS).
#[derive(Debug)]
pub struct RecordingMailer {
    inner: Arc<dyn crate::mailer::Mailer>,
    sent: std::sync::atomic::AtomicBool,
}

impl RecordingMailer {
    pub fn new(inner: Arc<dyn crate::mailer::Mailer>) -> Self {
        Self {
            inner,
            sent: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn sent_any(&self) -> bool {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl crate::mailer::Mailer for RecordingMailer {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn send(&self, message: &crate::mailer::Message) -> Result<(), crate::mailer::MailError> {
        self.sent.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.send(message).await
    }
}
