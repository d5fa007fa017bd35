//! What every tracker endpoint does the same way: one conditional transaction per write (with
//! the session check inside it), reads alongside the session check, 404 for whatever is not in
//! the caller's own partition, audit events and metrics that never carry a health value.

use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::AppContext;
use shared::accounts::principal::Outcome;
use shared::accounts::{Bearer, Origin};
use shared::http::ApiError;
use shared::store::{Condition, Cursor, Item, Key, Query, Write};
use shared::tracker::{self, Kind};
use utoipa::{IntoParams, ToSchema};

/// What happened to an item, for audit events.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Created,
    /// Written whether or not it existed (an idempotent `PUT`).
    Recorded,
    Updated,
    Deleted,
}

/// Records `tracker.<kind>.<change>` (no values, only the kind) and counts new entries.
pub fn audit(ctx: &AppContext, kind: Kind, change: Change, user_id: &str, origin: &Origin) {
    shared::audit::record(ctx, event_type(kind, change), Some(user_id), origin);
    if matches!(change, Change::Created | Change::Recorded) {
        ctx.metrics
            .count("tracker_entries_total", &[("kind", kind.as_str())]);
    }
}

fn event_type(kind: Kind, change: Change) -> &'static str {
    let [created, updated, deleted] = match kind {
        Kind::Medication => [
            "tracker.medication.created",
            "tracker.medication.updated",
            "tracker.medication.archived",
        ],
        Kind::Dose => [
            "tracker.dose.created",
            "tracker.dose.updated",
            "tracker.dose.deleted",
        ],
        Kind::Symptom => [
            "tracker.symptom.created",
            "tracker.symptom.updated",
            "tracker.symptom.deleted",
        ],
        Kind::Feeling => [
            "tracker.feeling.recorded",
            "tracker.feeling.recorded",
            "tracker.feeling.deleted",
        ],
        Kind::Condition => [
            "tracker.condition.created",
            "tracker.condition.updated",
            "tracker.condition.deleted",
        ],
        Kind::Allergy => [
            "tracker.allergy.created",
            "tracker.allergy.updated",
            "tracker.allergy.deleted",
        ],
        Kind::Doctor => [
            "tracker.doctor.created",
            "tracker.doctor.updated",
            "tracker.doctor.deleted",
        ],
        Kind::EmergencyContact => [
            "tracker.emergency_contact.recorded",
            "tracker.emergency_contact.recorded",
            "tracker.emergency_contact.deleted",
        ],
    };
    match change {
        Change::Created | Change::Recorded => created,
        Change::Updated => updated,
        Change::Deleted => deleted,
    }
}

/// Commits `writes` while the caller's session is live. When a write's condition fails,
/// `refused(index)` says what to answer (`index` into `writes`).
pub async fn commit(
    ctx: &AppContext,
    bearer: &Bearer,
    writes: Vec<Write>,
    refused: impl Fn(usize) -> ApiError,
) -> Result<(), ApiError> {
    match bearer.transact_checked(ctx, writes).await? {
        Outcome::Committed => Ok(()),
        Outcome::Conflict { index } => Err(refused(index.unwrap_or(0))),
    }
}

/// An item that is not in the caller's partition.
pub fn not_found() -> ApiError {
    ApiError::not_found()
}

/// Reads one item of the caller's, alongside the session check.
pub async fn read_one<T: DeserializeOwned>(
    ctx: &AppContext,
    bearer: &Bearer,
    key: Key,
) -> Result<T, ApiError> {
    let item = ctx.store.get(&key);
    let item = bearer
        .with_live_session(ctx, async { Ok(item.await?) })
        .await?;
    Ok(item.ok_or_else(not_found)?.to_entity()?)
}

/// Reads every item under a sort-key prefix of the caller's partition, alongside the session
/// check.
pub async fn read_prefix<T: DeserializeOwned>(
    ctx: &AppContext,
    bearer: &Bearer,
    prefix: &str,
) -> Result<Vec<T>, ApiError> {
    let items = read_items(
        ctx,
        bearer,
        Query::table(tracker::partition(bearer.user_id())).prefix(prefix),
    )
    .await?;
    Ok(tracker::under(&items, prefix)?)
}

/// Every item a query finds and the caller's profile, both alongside the session check.
pub async fn read_with_profile(
    ctx: &AppContext,
    bearer: &Bearer,
    query: Query,
) -> Result<(Vec<Item>, shared::accounts::User), ApiError> {
    let items = ctx.store.query_all(query);
    let profile_key = shared::accounts::users::profile_key(bearer.user_id());
    let profile = ctx.store.get(&profile_key);
    let (items, profile) = bearer
        .with_live_session(ctx, async {
            let (items, profile) = tokio::join!(items, profile);
            Ok((items?, profile?))
        })
        .await?;
    let profile = profile
        .ok_or_else(shared::accounts::principal::unauthorized)?
        .to_entity()?;
    Ok((items, profile))
}

/// Today in the time zone of `user`'s profile (UTC when unset or unknown).
pub fn today_of(ctx: &AppContext, user: &shared::accounts::User) -> jiff::civil::Date {
    let zone = tracker::dates::parse_time_zone("timezone", &user.timezone)
        .unwrap_or(jiff::tz::TimeZone::UTC);
    tracker::dates::today_in(&zone, ctx.clock.now())
}

/// Every item a query finds, alongside the session check.
pub async fn read_items(
    ctx: &AppContext,
    bearer: &Bearer,
    query: Query,
) -> Result<Vec<Item>, ApiError> {
    let items = ctx
        .store
        .query_all(query.limit(shared::store::MAX_PAGE_SIZE));
    bearer
        .with_live_session(ctx, async { Ok(items.await?) })
        .await
}

/// Stores a new item (a fresh id) with `checks` (items that must exist, each with the field that
/// named it) in one transaction. A failed check answers 422 on its field.
pub async fn create_item(
    ctx: &AppContext,
    bearer: &Bearer,
    item: Item,
    checks: Vec<(Key, String)>,
) -> Result<(), ApiError> {
    // A fresh random id taken already: astronomically unlikely; the client may retry.
    let taken = || {
        ApiError::http(
            http::StatusCode::CONFLICT,
            "the new item's id is taken; retry",
        )
    };
    write_checked(ctx, bearer, tracker::create(item), checks, taken).await
}

/// Replaces an item that must exist (404 otherwise), with the same kind of checks.
pub async fn replace_item(
    ctx: &AppContext,
    bearer: &Bearer,
    item: Item,
    checks: Vec<(Key, String)>,
) -> Result<(), ApiError> {
    write_checked(ctx, bearer, tracker::replace(item), checks, not_found).await
}

/// `write` and its reference checks in one transaction; `refused` answers when the write's own
/// condition fails.
async fn write_checked(
    ctx: &AppContext,
    bearer: &Bearer,
    write: Write,
    checks: Vec<(Key, String)>,
    refused: impl Fn() -> ApiError,
) -> Result<(), ApiError> {
    let (keys, fields): (Vec<Key>, Vec<String>) = checks.into_iter().unzip();
    let mut writes = vec![write];
    writes.extend(keys.into_iter().map(tracker::must_exist));
    commit(ctx, bearer, writes, |index| {
        match index.checked_sub(1).and_then(|i| fields.get(i)) {
            Some(field) => missing_reference(field),
            None => refused(),
        }
    })
    .await
}

/// Deletes an item that must exist (404 otherwise).
pub async fn delete_item(ctx: &AppContext, bearer: &Bearer, key: Key) -> Result<(), ApiError> {
    let delete = Write::Delete {
        key,
        condition: Some(Condition::Exists),
    };
    commit(ctx, bearer, vec![delete], |_| not_found()).await
}

/// 422 on the field that named an item that is not there (`body.doctor_ids[0]` …).
fn missing_reference(field: &str) -> ApiError {
    let what = if field.contains("doctor") {
        "doctor"
    } else if field.contains("catalog") {
        "catalogue entry"
    } else {
        "medication"
    };
    ApiError::invalid_field(field, format!("no such {what}"))
}

/// A passport id from the path: anything not shaped like our ids names nothing (404).
pub fn passport_id(id: &str) -> Result<&str, ApiError> {
    if tracker::is_id(id) {
        Ok(id)
    } else {
        Err(not_found())
    }
}

/// `from`, `to` (both YYYY-MM-DD, at most 366 days apart), a page size and a cursor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangePage {
    /// First day, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: String,
    /// Last day (included); a range covers at most 366 days, both ends included.
    #[param(format = Date)]
    pub to: String,
    /// 1 to 100; 50 by default.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of a kind's index between two days, alongside the session check.
pub async fn page_of<T: DeserializeOwned + ToSchema>(
    ctx: &AppContext,
    bearer: &Bearer,
    kind: Kind,
    params: RangePage,
) -> Result<Page<T>, ApiError> {
    let (from, to) =
        tracker::dates::parse_range(&params.from, &params.to).map_err(ApiError::validation)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "query.limit",
            "must be from 1 to 100",
        ));
    }
    if params
        .cursor
        .as_deref()
        .is_some_and(|c| c.is_empty() || c.len() > 2048)
    {
        return Err(ApiError::invalid_field(
            "query.cursor",
            "this cursor does not belong to this list",
        ));
    }
    let query = Query::gsi1(tracker::kind_index(bearer.user_id(), kind))
        .between(from.to_string(), format!("{to}#~"))
        .limit(limit)
        .after(params.cursor.map(Cursor::from_token));
    let page = ctx.store.query(query);
    let page = bearer
        .with_live_session(ctx, async { Ok(page.await?) })
        .await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(Item::into_entity)
            .collect::<Result<_, _>>()?,
        next_cursor: page.cursor.map(|c| c.as_token().to_owned()),
    })
}

/// A layer: a request refused with a 4xx other than 401 (an id that names nothing, an invalid
/// body, a date out of range …) answers 401 instead when its token's session is gone. Handlers
/// check the session together with their own store work, so requests refused before any store
/// call would otherwise tell a dead session's holder about their input; the extra read happens
/// on refusals only, and so does reading the token a second time (the handler has already
/// verified it once).
pub async fn dead_sessions_are_unauthorized(
    axum::extract::State(ctx): axum::extract::State<AppContext>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let authorization = request.headers().get(http::header::AUTHORIZATION).cloned();
    let response = next.run(request).await;
    let status = response.status();
    let refused = status.is_client_error() && status != http::StatusCode::UNAUTHORIZED;
    if !refused {
        return response;
    }
    let Ok(bearer) = Bearer::from_authorization(authorization.as_ref(), &ctx) else {
        return response;
    };
    match bearer.with_live_session(&ctx, async { Ok(()) }).await {
        Err(err) if err.status() == http::StatusCode::UNAUTHORIZED => err.into_response(),
        _ => response,
    }
}
