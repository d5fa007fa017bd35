//! The embedded backend: one SQLite file in WAL mode.
//!
//! Several processes (every function under `cargo lambda watch`) share the file. Each write runs
//! in a `BEGIN IMMEDIATE` transaction, so a condition and the write it guards are one atomic step
//! across processes, as a DynamoDB conditional write is. Items are stored as JSON beside the key
//! and index columns; conditions and updates are evaluated by the same code the DynamoDB
//! translation is tested against.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    Backend, Condition, Cursor, Direction, Index, Item, Key, Page, Query, SortKey, StoreError,
    Update, Write,
};

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk         TEXT NOT NULL,
    sk         TEXT NOT NULL,
    gsi1pk     TEXT,
    gsi1sk     TEXT,
    expires_at INTEGER,
    body       TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
";

pub struct EmbeddedBackend {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBackend")
            .field("path", &self.path)
            .finish()
    }
}

impl EmbeddedBackend {
    /// Opens (creating when needed) the store file and its folder, and removes expired items.
    pub fn open(path: &Path, now: i64) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        }
        let connection = Connection::open(path).map_err(StoreError::backend)?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(StoreError::backend)?;
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(StoreError::backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::backend(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        connection
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(StoreError::backend)?;
        connection
            .execute_batch(SCHEMA)
            .map_err(StoreError::backend)?;
        connection
            .execute("DELETE FROM items WHERE expires_at <= ?1", params![now])
            .map_err(StoreError::backend)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection off the async runtime.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-write poisons the lock, but the connection is sound: the dropped
            // transaction rolled back. Keep serving rather than fail every later call.
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs `work` in a write transaction that holds the database's write lock from the start.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_connection(move |connection| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_sql_error)?;
            let output = work(&tx)?;
            tx.commit().map_err(map_sql_error)?;
            Ok(output)
        })
        .await
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn name(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.with_connection(move |connection| load_live(connection, &key, now))
            .await
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        let condition = condition.cloned();
        self.write(move |tx| {
            let key = item
                .key()
                .ok_or_else(|| StoreError::invalid("item without a key"))?;
            check(tx, &key, condition.as_ref(), now, None)?;
            save(tx, &item)
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        let (key, updates, condition) = (key.clone(), updates.to_vec(), condition.cloned());
        self.write(move |tx| {
            let current = check(tx, &key, condition.as_ref(), now, None)?;
            let item = apply_updates(current, &key, &updates)?;
            save(tx, &item)?;
            Ok(item)
        })
        .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let (key, condition) = (key.clone(), condition.cloned());
        self.write(move |tx| {
            let current = check(tx, &key, condition.as_ref(), now, None)?;
            remove(tx, &key)?;
            Ok(current)
        })
        .await
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        let query = query.clone();
        self.with_connection(move |connection| run_query(connection, &query, now))
            .await
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        let writes = writes.to_vec();
        self.write(move |tx| {
            // Every condition is checked before anything is written: all or nothing.
            let mut planned = Vec::with_capacity(writes.len());
            for (index, write) in writes.iter().enumerate() {
                let key = write
                    .key()
                    .ok_or_else(|| StoreError::invalid("write without a key"))?;
                let condition = match write {
                    Write::Put { condition, .. }
                    | Write::Update { condition, .. }
                    | Write::Delete { condition, .. } => condition.as_ref(),
                    Write::Check { condition, .. } => Some(condition),
                };
                let current = check(tx, &key, condition, now, Some(index))?;
                planned.push((key, current));
            }
            for (write, (key, current)) in writes.iter().zip(planned) {
                match write {
                    Write::Put { item, .. } => save(tx, item)?,
                    Write::Update { updates, .. } => {
                        save(tx, &apply_updates(current, &key, updates)?)?
                    }
                    Write::Delete { .. } => remove(tx, &key)?,
                    Write::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }
}

fn map_sql_error(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(Box::new(err))
        }
        _ => StoreError::backend(err),
    }
}

fn decode(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(StoreError::corrupt)
}

fn load_live(connection: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = connection
        .query_row(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
            params![key.pk, key.sk, now],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_sql_error)?;
    body.as_deref().map(decode).transpose()
}

/// Loads the live item and checks `condition` against it.
fn check(
    tx: &Transaction<'_>,
    key: &Key,
    condition: Option<&Condition>,
    now: i64,
    index: Option<usize>,
) -> Result<Option<Item>, StoreError> {
    let current = load_live(tx, key, now)?;
    if condition.is_some_and(|c| !c.evaluate(current.as_ref())) {
        return Err(StoreError::ConditionFailed { index });
    }
    Ok(current)
}

fn apply_updates(current: Option<Item>, key: &Key, updates: &[Update]) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| Item::new(key));
    for update in updates {
        update.apply(&mut item)?;
    }
    item.validate()?;
    Ok(item)
}

fn save(tx: &Transaction<'_>, item: &Item) -> Result<(), StoreError> {
    let key = item
        .key()
        .ok_or_else(|| StoreError::invalid("item without a key"))?;
    let (gsi1pk, gsi1sk) = match item.gsi1() {
        Some((pk, sk)) => (Some(pk), Some(sk)),
        None => (None, None),
    };
    let body = serde_json::to_string(item).map_err(StoreError::corrupt)?;
    tx.execute(
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.pk, key.sk, gsi1pk, gsi1sk, item.expires_at(), body],
    )
    .map_err(map_sql_error)?;
    Ok(())
}

fn remove(tx: &Transaction<'_>, key: &Key) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
        params![key.pk, key.sk],
    )
    .map_err(map_sql_error)?;
    Ok(())
}

fn run_query(connection: &Connection, query: &Query, now: i64) -> Result<Page, StoreError> {
    let (partition_col, sort_col) = match query.index {
        Index::Table => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
    };
    let mut sql = format!("SELECT body FROM items WHERE {partition_col} = ?");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(query.partition.clone())];
    let mut bind = |sql: &mut String, fragment: &str, values: &[&str]| {
        sql.push_str(fragment);
        args.extend(values.iter().map(|v| SqlValue::Text((*v).to_owned())));
    };
    match &query.sort_key {
        SortKey::All => {}
        SortKey::Eq(v) => bind(&mut sql, &format!(" AND {sort_col} = ?"), &[v]),
        // SQLite's default collation compares UTF-8 bytes, as DynamoDB does.
        SortKey::Prefix(p) => bind(
            &mut sql,
            &format!(" AND {sort_col} >= ? AND substr({sort_col}, 1, length(?)) = ?"),
            &[p, p, p],
        ),
        SortKey::Between(a, b) => bind(
            &mut sql,
            &format!(" AND {sort_col} BETWEEN ? AND ?"),
            &[a, b],
        ),
        SortKey::Lt(v) => bind(&mut sql, &format!(" AND {sort_col} < ?"), &[v]),
        SortKey::Le(v) => bind(&mut sql, &format!(" AND {sort_col} <= ?"), &[v]),
        SortKey::Gt(v) => bind(&mut sql, &format!(" AND {sort_col} > ?"), &[v]),
        SortKey::Ge(v) => bind(&mut sql, &format!(" AND {sort_col} >= ?"), &[v]),
    }
    let (after, order) = match query.direction {
        Direction::Forward => (">", "ASC"),
        Direction::Backward => ("<", "DESC"),
    };
    if let Some(cursor) = &query.cursor {
        let position = cursor.decode()?;
        match query.index {
            Index::Table => bind(&mut sql, &format!(" AND sk {after} ?"), &[&position.sk]),
            Index::Gsi1 => {
                let index_sk = position.index_sk.unwrap_or_default();
                bind(
                    &mut sql,
                    &format!(" AND (gsi1sk, pk, sk) {after} (?, ?, ?)"),
                    &[&index_sk, &position.pk, &position.sk],
                );
            }
        }
    }
    sql.push_str(" AND (expires_at IS NULL OR expires_at > ?)");
    args.push(SqlValue::Integer(now));
    match query.index {
        Index::Table => sql.push_str(&format!(" ORDER BY sk {order}")),
        Index::Gsi1 => sql.push_str(&format!(" ORDER BY gsi1sk {order}, pk {order}, sk {order}")),
    }
    // One more than asked: tells whether another page follows without a second query.
    sql.push_str(" LIMIT ?");
    args.push(SqlValue::Integer(i64::from(query.limit) + 1));

    let mut statement = connection.prepare_cached(&sql).map_err(map_sql_error)?;
    let bodies = statement
        .query_map(rusqlite::params_from_iter(args), |row| {
            row.get::<_, String>(0)
        })
        .map_err(map_sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_sql_error)?;
    let mut items = bodies
        .iter()
        .map(|b| decode(b))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = query.limit as usize;
    let cursor = if items.len() > limit {
        items.truncate(limit);
        match items.last() {
            Some(last) => Some(Cursor::after_item(query.index, &query.partition, last)?),
            None => None,
        }
    } else {
        None
    };
    Ok(Page { items, cursor })
}
