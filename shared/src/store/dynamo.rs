//! The DynamoDB backend (aws-sdk-dynamodb; items mapped with serde_dynamo).
//!
//! DynamoDB deletes expired items lazily (up to days later), so every operation treats an item
//! with `expires_at <= now` as absent:
//! - reads drop expired items;
//! - a condition is rewritten so that an expired item answers as an absent one would;
//! - an update never builds on an expired item: it is guarded by "not expired", and when that
//!   guard is what failed, the stale item is deleted and the update retried.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update as UpdateOp,
};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};
use serde_json::{Map, Value};

use super::{
    Backend, Cmp, Condition, Cursor, EXPIRES_AT, GSI1PK, GSI1SK, Index, Item, Key, PK, Page, Query,
    SK, SortKey, StoreError, Update, Write,
};

/// Name of the one global secondary index.
pub const GSI1: &str = "GSI1";

/// How often a write is retried when its only obstacle was an expired item, or a transaction
/// collided with another.
const MAX_ATTEMPTS: usize = 4;

/// A query reads at most this many pages to fill one page of live items past expired ones.
const MAX_QUERY_CALLS: usize = 8;

/// Items read per refill call once expired items were met (the first call reads just enough).
const REFILL_PAGE: usize = 100;

type RawItem = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoBackend {
    client: Client,
    table: String,
}

impl DynamoBackend {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Deletes `key` only if it has expired; used before retrying a write it blocked.
    async fn delete_expired(&self, key: &Key, now: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .condition_expression("#exp <= :now")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else replaced or removed it meanwhile: the retry will see what is there now.
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(map_sdk_error(err)),
        }
    }
}

#[async_trait]
impl Backend for DynamoBackend {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        live_item(output.item, now)
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let condition = condition.map(|c| expr.guarded(c, now)).transpose()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(raw_item(&item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let mut expr = Expr::default();
            let update_expression = expr.updates(updates)?;
            let not_expired = expr.not_expired(now);
            let guard = match condition {
                Some(c) => format!("{not_expired} AND {}", expr.guarded(c, now)?),
                None => not_expired,
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(raw_key(key)))
                .update_expression(update_expression)
                .condition_expression(guard)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(output) => {
                    return decode(output.attributes.unwrap_or_default());
                }
                Err(err) => {
                    let blocked_by_expired = match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(e)) => e
                            .item()
                            .map(|old| decode(old.clone()))
                            .transpose()?
                            .is_some_and(|old| !old.is_live(now)),
                        _ => false,
                    };
                    if !blocked_by_expired {
                        return Err(map_sdk_error(err));
                    }
                    self.delete_expired(key, now).await?;
                }
            }
        }
        Err(StoreError::Conflict)
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        let mut expr = Expr::default();
        let condition = condition.map(|c| expr.guarded(c, now)).transpose()?;
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_sdk_error)?;
        live_item(output.attributes, now)
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        let mut expr = Expr::default();
        let key_condition = expr.key_condition(query);
        let limit = query.limit as usize;
        let mut start = query.cursor.as_ref().map(start_key).transpose()?;
        let mut items = Vec::new();
        // Expired items are dropped here, so a page may need more than one call to fill; the
        // calls are bounded, and a page cut short continues after the last key read.
        let mut resume_after = None;
        for call in 0..MAX_QUERY_CALLS {
            let wanted = limit + 1 - items.len();
            let read = if call == 0 {
                wanted
            } else {
                wanted.max(REFILL_PAGE)
            };
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(match query.index {
                    Index::Table => None,
                    Index::Gsi1 => Some(GSI1.to_owned()),
                })
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .scan_index_forward(query.direction == super::Direction::Forward)
                .consistent_read(query.index == Index::Table)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(map_sdk_error)?;
            for raw in output.items.unwrap_or_default() {
                let item = decode(raw)?;
                if item.is_live(now) {
                    items.push(item);
                }
            }
            resume_after = None;
            match output.last_evaluated_key {
                Some(next) if items.len() <= limit => {
                    resume_after = Some(next.clone());
                    start = Some(next);
                }
                _ => break,
            }
        }
        let cursor = if items.len() > limit {
            items.truncate(limit);
            match items.last() {
                Some(last) => Some(Cursor::after_item(query.index, &query.partition, last)?),
                None => None,
            }
        } else if let Some(raw) = resume_after {
            Some(cursor_at_key(query, &raw)?)
        } else {
            None
        };
        Ok(Page { items, cursor })
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        let mut backoff = Duration::from_millis(20);
        for _ in 0..MAX_ATTEMPTS {
            let items = writes
                .iter()
                .map(|w| transact_item(&self.table, w, now))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(());
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
                err.as_service_error()
            else {
                return Err(map_sdk_error(err));
            };
            let reasons = canceled.cancellation_reasons();
            let mut retry = false;
            for (index, reason) in reasons.iter().enumerate() {
                match reason.code() {
                    Some("ConditionalCheckFailed") => {
                        let old = reason.item().map(|raw| decode(raw.clone())).transpose()?;
                        let expired_under_update =
                            matches!(writes.get(index), Some(Write::Update { .. }))
                                && old.as_ref().is_some_and(|o| !o.is_live(now));
                        if !expired_under_update {
                            return Err(StoreError::ConditionFailed { index: Some(index) });
                        }
                        if let Some(key) = writes.get(index).and_then(Write::key) {
                            self.delete_expired(&key, now).await?;
                        }
                        retry = true;
                    }
                    Some("TransactionConflict") => retry = true,
                    Some(
                        "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                        | "RequestLimitExceeded",
                    ) => {
                        return Err(StoreError::Throttled);
                    }
                    _ => {}
                }
            }
            if !retry {
                return Err(map_sdk_error(err));
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(StoreError::Conflict)
    }
}

fn transact_item(table: &str, write: &Write, now: i64) -> Result<TransactWriteItem, StoreError> {
    let mut expr = Expr::default();
    let on_failure = Some(ReturnValuesOnConditionCheckFailure::AllOld);
    let item = match write {
        Write::Put { item, condition } => {
            let condition = condition
                .as_ref()
                .map(|c| expr.guarded(c, now))
                .transpose()?;
            TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(raw_item(item)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(StoreError::backend)?,
            )
        }
        Write::Update {
            key,
            updates,
            condition,
        } => {
            let update_expression = expr.updates(updates)?;
            let not_expired = expr.not_expired(now);
            let guard = match condition {
                Some(c) => format!("{not_expired} AND {}", expr.guarded(c, now)?),
                None => not_expired,
            };
            TransactWriteItem::builder().update(
                UpdateOp::builder()
                    .table_name(table)
                    .set_key(Some(raw_key(key)))
                    .update_expression(update_expression)
                    .condition_expression(guard)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(StoreError::backend)?,
            )
        }
        Write::Delete { key, condition } => {
            let condition = condition
                .as_ref()
                .map(|c| expr.guarded(c, now))
                .transpose()?;
            TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(raw_key(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(StoreError::backend)?,
            )
        }
        Write::Check { key, condition } => {
            let condition = expr.guarded(condition, now)?;
            TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(raw_key(key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(StoreError::backend)?,
            )
        }
    };
    Ok(item.build())
}

/// Placeholders for attribute names and values, so no name can collide with a reserved word.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        let next = format!("#n{}", self.names.len());
        self.names
            .entry(attribute.to_owned())
            .or_insert(next)
            .clone()
    }

    fn value(&mut self, value: &Value) -> Result<String, StoreError> {
        let placeholder = format!(":v{}", self.values.len());
        let value = to_attribute_value(value).map_err(StoreError::corrupt)?;
        self.values.insert(placeholder.clone(), value);
        Ok(placeholder)
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(attr, ph)| (ph.clone(), attr.clone()))
                .collect()
        })
    }

    fn values(&self) -> Option<RawItem> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// True when the item is absent or has not expired.
    fn not_expired(&mut self, now: i64) -> String {
        let exp = self.name(EXPIRES_AT);
        let now = self.value(&Value::from(now)).unwrap_or_default();
        format!("(attribute_not_exists({exp}) OR {exp} > {now})")
    }

    /// `condition` as it must be read when an expired item counts as absent. What the condition
    /// says about an absent item is a constant, so: either "not live, or the condition", or
    /// "live, and the condition".
    fn guarded(&mut self, condition: &Condition, now: i64) -> Result<String, StoreError> {
        let inner = self.condition(condition)?;
        let pk = self.name(PK);
        let exp = self.name(EXPIRES_AT);
        let now = self.value(&Value::from(now))?;
        Ok(if condition.evaluate(None) {
            format!("(attribute_not_exists({pk}) OR {exp} <= {now} OR {inner})")
        } else {
            format!(
                "(attribute_exists({pk}) AND (attribute_not_exists({exp}) OR {exp} > {now}) AND {inner})"
            )
        })
    }

    fn condition(&mut self, condition: &Condition) -> Result<String, StoreError> {
        Ok(match condition {
            Condition::Exists => format!("attribute_exists({})", self.name(PK)),
            Condition::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Condition::AttributeExists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::AttributeNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::Compare(a, op, v) => {
                let name = self.name(a);
                let value = self.value(v)?;
                let op = match op {
                    Cmp::Eq => "=",
                    Cmp::Ne => "<>",
                    Cmp::Lt => "<",
                    Cmp::Le => "<=",
                    Cmp::Gt => ">",
                    Cmp::Ge => ">=",
                };
                // A missing attribute satisfies no comparison, `<>` included.
                format!("(attribute_exists({name}) AND {name} {op} {value})")
            }
            Condition::And(all) => self.join(all, " AND ")?,
            Condition::Or(any) => self.join(any, " OR ")?,
            Condition::Not(inner) => format!("(NOT {})", self.condition(inner)?),
        })
    }

    fn join(&mut self, conditions: &[Condition], separator: &str) -> Result<String, StoreError> {
        let parts = conditions
            .iter()
            .map(|c| self.condition(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(separator)))
    }

    fn updates(&mut self, updates: &[Update]) -> Result<String, StoreError> {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for update in updates {
            match update {
                Update::Set(a, v) => {
                    let (name, value) = (self.name(a), self.value(v)?);
                    set.push(format!("{name} = {value}"));
                }
                Update::SetIfAbsent(a, v) => {
                    let (name, value) = (self.name(a), self.value(v)?);
                    set.push(format!("{name} = if_not_exists({name}, {value})"));
                }
                Update::Add(a, delta) => {
                    let (name, value) = (self.name(a), self.value(&Value::from(*delta))?);
                    add.push(format!("{name} {value}"));
                }
                Update::Remove(a) => remove.push(self.name(a)),
            }
        }
        let mut clauses = Vec::new();
        for (verb, parts) in [("SET", set), ("ADD", add), ("REMOVE", remove)] {
            if !parts.is_empty() {
                clauses.push(format!("{verb} {}", parts.join(", ")));
            }
        }
        Ok(clauses.join(" "))
    }

    fn key_condition(&mut self, query: &Query) -> String {
        let partition = self.name(query.index.partition_attr());
        let partition_value = self.text(&query.partition);
        let whole_partition = format!("{partition} = {partition_value}");
        if matches!(&query.sort_key, SortKey::All)
            || matches!(&query.sort_key, SortKey::Prefix(p) if p.is_empty())
        {
            return whole_partition;
        }
        let sort = self.name(query.index.sort_attr());
        let range = match &query.sort_key {
            SortKey::All => return whole_partition,
            SortKey::Eq(v) => format!("{sort} = {}", self.text(v)),
            SortKey::Prefix(p) => format!("begins_with({sort}, {})", self.text(p)),
            SortKey::Between(a, b) => {
                format!("{sort} BETWEEN {} AND {}", self.text(a), self.text(b))
            }
            SortKey::Lt(v) => format!("{sort} < {}", self.text(v)),
            SortKey::Le(v) => format!("{sort} <= {}", self.text(v)),
            SortKey::Gt(v) => format!("{sort} > {}", self.text(v)),
            SortKey::Ge(v) => format!("{sort} >= {}", self.text(v)),
        };
        format!("{whole_partition} AND {range}")
    }

    fn text(&mut self, value: &str) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), AttributeValue::S(value.to_owned()));
        placeholder
    }
}

fn raw_key(key: &Key) -> RawItem {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn raw_item(item: &Item) -> Result<RawItem, StoreError> {
    to_item(item.attributes()).map_err(StoreError::corrupt)
}

fn decode(raw: RawItem) -> Result<Item, StoreError> {
    from_item::<Map<String, Value>>(raw)
        .map(Item::from_attributes)
        .map_err(StoreError::corrupt)
}

fn live_item(raw: Option<RawItem>, now: i64) -> Result<Option<Item>, StoreError> {
    Ok(raw
        .filter(|r| !r.is_empty())
        .map(decode)
        .transpose()?
        .filter(|item| item.is_live(now)))
}

/// A cursor that resumes after a raw DynamoDB key (when a page was cut short).
fn cursor_at_key(query: &Query, raw: &RawItem) -> Result<Cursor, StoreError> {
    let text = |name: &str| match raw.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::backend(format!(
            "LastEvaluatedKey without {name}"
        ))),
    };
    Cursor::at(&super::query::Position {
        index: query.index,
        partition: query.partition.clone(),
        pk: text(PK)?,
        sk: text(SK)?,
        index_sk: match query.index {
            Index::Table => None,
            Index::Gsi1 => Some(text(GSI1SK)?),
        },
    })
}

fn start_key(cursor: &Cursor) -> Result<RawItem, StoreError> {
    let position = cursor.decode()?;
    let mut key = raw_key(&Key::new(position.pk, position.sk));
    if position.index == Index::Gsi1 {
        key.insert(GSI1PK.to_owned(), AttributeValue::S(position.partition));
        key.insert(
            GSI1SK.to_owned(),
            AttributeValue::S(position.index_sk.unwrap_or_default()),
        );
    }
    Ok(key)
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// Maps an SDK error onto the store's own, keeping the SDK error as the source.
fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(Box::new(err))
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { index: None },
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled,
            Some("TransactionConflictException") => StoreError::Conflict,
            Some("InternalServerError" | "ServiceUnavailable") => {
                StoreError::Unavailable(Box::new(err))
            }
            _ => StoreError::backend(err),
        },
        _ => StoreError::backend(err),
    }
}

/// Creates the single table (PK/SK, GSI1, on-demand) and turns on TTL for `expires_at`.
/// Idempotent: an existing table is left as it is and its TTL setting ensured.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(StoreError::backend)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(StoreError::backend)
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1PK, KeyType::Hash)?)
        .key_schema(key(GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(StoreError::backend)?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attr(PK)?)
        .attribute_definitions(string_attr(SK)?)
        .attribute_definitions(string_attr(GSI1PK)?)
        .attribute_definitions(string_attr(GSI1SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(map_sdk_error(err)),
    }
    wait_until_active(client, table).await?;
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT)
                .build()
                .map_err(StoreError::backend)?,
        )
        .send()
        .await;
    match ttl {
        Ok(_) => Ok(()),
        // Already enabled on this attribute.
        Err(err)
            if err
                .as_service_error()
                .and_then(ProvideErrorMetadata::message)
                .is_some_and(|m| m.contains("already enabled")) =>
        {
            Ok(())
        }
        Err(err) => Err(map_sdk_error(err)),
    }
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::backend(format!(
        "table {table} did not become active"
    )))
}
