//! `/v1/tracker/medications`: the user's medications. Created from the catalogue (its id is
//! checked in the same transaction) or custom; replaced whole; archived rather than deleted so
//! the dose history keeps its medication.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery, ClientOrigin};
use shared::store::{Condition, Item, Update, Write};
use shared::tracker::{self, Kind, MEDICATION_PREFIX, Medication, MedicationInput};
use utoipa::IntoParams;

use super::common::{self, Change};

fn item(user_id: &str, medication: &Medication) -> Result<Item, ApiError> {
    Ok(Item::from_entity(
        &tracker::passport_key(user_id, MEDICATION_PREFIX, &medication.id),
        medication,
    )?)
}

/// The catalogue entry a medication names must exist: checked in the write's transaction, except
/// for starter entries, which exist without being stored.
fn catalog_check(medication: &Medication) -> Result<Vec<(shared::store::Key, String)>, ApiError> {
    match medication.catalog_id.as_deref() {
        None => Ok(vec![]),
        Some(id) if !super::catalog::may_name_an_entry(id) => Err(ApiError::invalid_field(
            "body.catalog_id",
            "no such catalogue entry",
        )),
        Some(id) if super::catalog::is_starter_key(&tracker::catalog_key(id)) => Ok(vec![]),
        Some(id) => Ok(vec![(
            tracker::catalog_key(id),
            "body.catalog_id".to_owned(),
        )]),
    }
}

/// Add a medication.
#[utoipa::path(
    operation_id = "create_medication",
    post,
    path = "/medications",
    tag = "tracker",
    security(("bearer" = [])),
    request_body = MedicationInput,
    responses(
        (status = 201, description = "The medication", body = Medication),
        (status = 422, description = "Invalid fields, or no such catalogue entry", body = shared::http::ErrorBody),
    )
)]
pub async fn create(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<MedicationInput>,
) -> Result<(StatusCode, Json<Medication>), ApiError> {
    let medication = input.into_medication(tracker::new_id(), ctx.clock.now())?;
    let checks = catalog_check(&medication)?;
    common::create_item(&ctx, &bearer, item(bearer.user_id(), &medication)?, checks).await?;
    common::audit(
        &ctx,
        Kind::Medication,
        Change::Created,
        bearer.user_id(),
        &origin,
    );
    Ok((StatusCode::CREATED, Json(medication)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Include archived medications (default false).
    #[serde(default)]
    pub include_archived: bool,
}

/// The user's medications, current ones first by name.
#[utoipa::path(
    operation_id = "list_medications",
    get,
    path = "/medications",
    tag = "tracker",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "The medications", body = [Medication]))
)]
pub async fn list(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<Medication>>, ApiError> {
    let mut medications: Vec<Medication> =
        common::read_prefix(&ctx, &bearer, MEDICATION_PREFIX).await?;
    medications.retain(|m| params.include_archived || !m.archived);
    medications.sort_by(|a, b| {
        a.archived
            .cmp(&b.archived)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(Json(medications))
}

/// One medication.
#[utoipa::path(
    operation_id = "read_medication",
    get,
    path = "/medications/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Medication id")),
    responses(
        (status = 200, description = "The medication", body = Medication),
        (status = 404, description = "No such medication of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn read(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Medication>, ApiError> {
    let id = common::passport_id(&id)?;
    let key = tracker::passport_key(bearer.user_id(), MEDICATION_PREFIX, id);
    Ok(Json(common::read_one(&ctx, &bearer, key).await?))
}

/// Replace a medication (every field; archived ones stay archived only if archived again).
#[utoipa::path(
    operation_id = "replace_medication",
    put,
    path = "/medications/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Medication id")),
    request_body = MedicationInput,
    responses(
        (status = 200, description = "The medication as replaced", body = Medication),
        (status = 404, description = "No such medication of yours", body = shared::http::ErrorBody),
        (status = 422, description = "Invalid fields", body = shared::http::ErrorBody),
    )
)]
pub async fn replace(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<MedicationInput>,
) -> Result<Json<Medication>, ApiError> {
    let id = common::passport_id(&id)?.to_owned();
    let medication = input.into_medication(id, ctx.clock.now())?;
    let checks = catalog_check(&medication)?;
    common::replace_item(&ctx, &bearer, item(bearer.user_id(), &medication)?, checks).await?;
    common::audit(
        &ctx,
        Kind::Medication,
        Change::Updated,
        bearer.user_id(),
        &origin,
    );
    Ok(Json(medication))
}

/// Archive a medication: it leaves the current list, schedules and the passport; its doses stay.
#[utoipa::path(
    operation_id = "archive_medication",
    delete,
    path = "/medications/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Medication id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 404, description = "No such medication of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn archive(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = common::passport_id(&id)?;
    let write = Write::Update {
        key: tracker::passport_key(bearer.user_id(), MEDICATION_PREFIX, id),
        updates: vec![
            Update::set("archived", true),
            Update::set("updated_at", ctx.clock.now().to_string()),
        ],
        condition: Some(Condition::Exists),
    };
    common::commit(&ctx, &bearer, vec![write], |_| common::not_found()).await?;
    common::audit(
        &ctx,
        Kind::Medication,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}
