//! `/v1/tracker/catalog/medications`: the shared medication catalogue. Everyone signed in can
//! search it; ADMIN adds, edits and retires entries. The starter set ships inside the binary;
//! stored entries with a starter id override it (an edit or a retirement), so nothing needs
//! seeding and both store backends behave the same.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::accounts::principal::{AdminOnly, RequireRoles};
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery, ClientOrigin};
use shared::store::{Condition, Item, Key, Query, Write};
use shared::tracker::{self, CATALOG_PARTITION, CatalogEntry, CatalogEntryInput, catalog};
use utoipa::IntoParams;

/// Whether `id` can name a catalogue entry: a starter entry, or one of our random ids (the
/// shapes we issue; anything else names nothing).
pub fn may_name_an_entry(id: &str) -> bool {
    tracker::is_id(id) || catalog::is_starter_id(id)
}

/// Whether `key` is a starter entry's (which exists without being stored).
pub fn is_starter_key(key: &Key) -> bool {
    key.sk
        .strip_prefix("MED#")
        .is_some_and(catalog::is_starter_id)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The start of a name or generic name (or of any word of the name); empty lists all.
    #[serde(default)]
    pub q: String,
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

async fn stored_entries(ctx: &AppContext) -> Result<Vec<CatalogEntry>, ApiError> {
    let items = ctx
        .store
        .query_all(Query::table(CATALOG_PARTITION).limit(shared::store::MAX_PAGE_SIZE))
        .await?;
    Ok(items
        .iter()
        .map(Item::to_entity)
        .collect::<Result<_, _>>()?)
}

/// Search the medication catalogue by name prefix.
#[utoipa::path(
    operation_id = "search_catalog",
    get,
    path = "/catalog/medications",
    tag = "tracker",
    security(("bearer" = [])),
    params(SearchParams),
    responses((status = 200, description = "Matching entries, by name", body = [CatalogEntry]))
)]
pub async fn search(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Vec<CatalogEntry>>, ApiError> {
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "query.limit",
            "must be from 1 to 100",
        ));
    }
    if params.q.chars().count() > 100 || params.q.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "query.q",
            "must be at most 100 characters of text",
        ));
    }
    let stored = stored_entries(&ctx);
    let stored = bearer.with_live_session(&ctx, stored).await?;
    Ok(Json(catalog::search(
        catalog::merged(&stored),
        params.q.trim(),
        limit as usize,
    )))
}

/// Add a catalogue entry (ADMIN).
#[utoipa::path(
    operation_id = "add_catalog_entry",
    post,
    path = "/catalog/medications",
    tag = "tracker",
    security(("bearer" = [])),
    request_body = CatalogEntryInput,
    responses(
        (status = 201, description = "The new entry", body = CatalogEntry),
        (status = 403, description = "Not an admin", body = shared::http::ErrorBody),
    )
)]
pub async fn add(
    State(ctx): State<AppContext>,
    admin: RequireRoles<AdminOnly>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<CatalogEntryInput>,
) -> Result<(StatusCode, Json<CatalogEntry>), ApiError> {
    let entry = input.into_entry(tracker::new_id())?;
    let item = Item::from_entity(&tracker::catalog_key(&entry.id), &entry)?;
    super::common::commit(&ctx, &admin.bearer, vec![tracker::create(item)], |_| {
        ApiError::http(StatusCode::CONFLICT, "the new entry's id is taken; retry")
    })
    .await?;
    shared::audit::record(
        &ctx,
        "tracker.catalog.created",
        Some(admin.bearer.user_id()),
        &origin,
    );
    Ok((StatusCode::CREATED, Json(entry)))
}

fn entry_key(id: &str) -> Result<Key, ApiError> {
    if may_name_an_entry(id) {
        Ok(tracker::catalog_key(id))
    } else {
        Err(ApiError::not_found())
    }
}

/// The stored entry (or a starter entry) with `id`.
fn known(id: &str, stored: Option<Item>) -> Result<CatalogEntry, ApiError> {
    match stored {
        Some(item) => Ok(item.to_entity()?),
        None => catalog::starter()
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(ApiError::not_found),
    }
}

/// Replace a catalogue entry, starter entries included (ADMIN).
#[utoipa::path(
    operation_id = "edit_catalog_entry",
    put,
    path = "/catalog/medications/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Catalogue entry id")),
    request_body = CatalogEntryInput,
    responses(
        (status = 200, description = "The entry as replaced", body = CatalogEntry),
        (status = 404, description = "No such entry", body = shared::http::ErrorBody),
    )
)]
pub async fn edit(
    State(ctx): State<AppContext>,
    admin: RequireRoles<AdminOnly>,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CatalogEntryInput>,
) -> Result<Json<CatalogEntry>, ApiError> {
    let key = entry_key(&id)?;
    let entry = input.into_entry(id)?;
    let item = Item::from_entity(&key, &entry)?;
    // A starter entry may not be stored yet; any other must exist.
    let write = if is_starter_key(&key) {
        Write::Put {
            item,
            condition: None,
        }
    } else {
        tracker::replace(item)
    };
    super::common::commit(&ctx, &admin.bearer, vec![write], |_| ApiError::not_found()).await?;
    shared::audit::record(
        &ctx,
        "tracker.catalog.updated",
        Some(admin.bearer.user_id()),
        &origin,
    );
    Ok(Json(entry))
}

/// Retire a catalogue entry: search no longer offers it; medications made from it stay (ADMIN).
#[utoipa::path(
    operation_id = "retire_catalog_entry",
    delete,
    path = "/catalog/medications/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Catalogue entry id")),
    responses(
        (status = 204, description = "Retired"),
        (status = 404, description = "No such entry", body = shared::http::ErrorBody),
    )
)]
pub async fn retire(
    State(ctx): State<AppContext>,
    admin: RequireRoles<AdminOnly>,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let key = entry_key(&id)?;
    let stored = ctx.store.get(&key).await?;
    let was_stored = stored.is_some();
    let mut entry = known(&id, stored)?;
    entry.retired = true;
    let item = Item::from_entity(&key, &entry)?;
    let condition = if was_stored {
        Some(Condition::Exists)
    } else {
        Some(Condition::NotExists)
    };
    super::common::commit(
        &ctx,
        &admin.bearer,
        vec![Write::Put { item, condition }],
        |_| ApiError::http(StatusCode::CONFLICT, "the entry changed meanwhile; retry"),
    )
    .await?;
    shared::audit::record(
        &ctx,
        "tracker.catalog.retired",
        Some(admin.bearer.user_id()),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}
