//! `/v1/tracker/doses` and `/v1/tracker/symptoms`: entries of a day. Each write is one
//! transaction (a dose's medication is checked inside it); an entry's id starts with its day, so
//! an edit or a delete finds its key without a read. An edit keeps the entry on its day: to move
//! it to another day, delete it and log it again.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use jiff::civil::Date;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery, ClientOrigin};
use shared::store::Key;
use shared::tracker::{self, Dose, DoseInput, Kind, MEDICATION_PREFIX, Symptom, SymptomInput};

use super::common::{self, Change, Page, RangePage};

/// The medication a dose names must be the caller's: checked in the write's transaction.
fn medication_check(user_id: &str, medication_id: &str) -> Result<Vec<(Key, String)>, ApiError> {
    if !tracker::is_id(medication_id) {
        return Err(ApiError::invalid_field(
            "body.medication_id",
            "no such medication",
        ));
    }
    Ok(vec![(
        tracker::passport_key(user_id, MEDICATION_PREFIX, medication_id),
        "body.medication_id".to_owned(),
    )])
}

/// The day of an entry id from the path; anything else names nothing (404).
fn day_of(id: &str) -> Result<Date, ApiError> {
    tracker::entry_day(id).ok_or_else(common::not_found)
}

fn same_day(field: &str, day: Date, new_day: Date) -> Result<(), ApiError> {
    if day == new_day {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("an entry stays on its day ({day}); delete it and log it again to move it"),
        ))
    }
}

async fn store_new<T: Serialize>(
    ctx: &AppContext,
    bearer: &Bearer,
    kind: Kind,
    day: Date,
    id: &str,
    entity: &T,
    checks: Vec<(Key, String)>,
) -> Result<(), ApiError> {
    let item = tracker::entry_item(bearer.user_id(), kind, day, id, entity)?;
    common::create_item(ctx, bearer, item, checks).await
}

/// Log a dose.
#[utoipa::path(
    post,
    path = "/doses",
    tag = "tracker",
    security(("bearer" = [])),
    request_body = DoseInput,
    responses(
        (status = 201, description = "The dose", body = Dose),
        (status = 422, description = "Invalid fields, or no such medication", body = shared::http::ErrorBody),
    )
)]
pub async fn log_dose(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<DoseInput>,
) -> Result<(StatusCode, Json<Dose>), ApiError> {
    let (mut dose, day) = input.validate(ctx.clock.now())?;
    let checks = medication_check(bearer.user_id(), &dose.medication_id)?;
    dose.id = tracker::new_entry_id(day);
    store_new(&ctx, &bearer, Kind::Dose, day, &dose.id, &dose, checks).await?;
    common::audit(&ctx, Kind::Dose, Change::Created, bearer.user_id(), &origin);
    Ok((StatusCode::CREATED, Json(dose)))
}

/// Doses between two days, oldest first, paginated.
#[utoipa::path(
    get,
    path = "/doses",
    tag = "tracker",
    security(("bearer" = [])),
    params(RangePage),
    responses((status = 200, description = "One page of doses", body = Page<Dose>))
)]
pub async fn list_doses(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<RangePage>,
) -> Result<Json<Page<Dose>>, ApiError> {
    Ok(Json(
        common::page_of(&ctx, &bearer, Kind::Dose, params).await?,
    ))
}

/// Replace a dose (on the same day).
#[utoipa::path(
    put,
    path = "/doses/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Dose id")),
    request_body = DoseInput,
    responses(
        (status = 200, description = "The dose as replaced", body = Dose),
        (status = 404, description = "No such dose of yours", body = shared::http::ErrorBody),
        (status = 422, description = "Invalid fields, another day, or no such medication", body = shared::http::ErrorBody),
    )
)]
pub async fn replace_dose(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<DoseInput>,
) -> Result<Json<Dose>, ApiError> {
    let day = day_of(&id)?;
    let (mut dose, new_day) = input.validate(ctx.clock.now())?;
    same_day("body.taken_at", day, new_day)?;
    let checks = medication_check(bearer.user_id(), &dose.medication_id)?;
    dose.id = id;
    let item = tracker::entry_item(bearer.user_id(), Kind::Dose, day, &dose.id, &dose)?;
    common::replace_item(&ctx, &bearer, item, checks).await?;
    common::audit(&ctx, Kind::Dose, Change::Updated, bearer.user_id(), &origin);
    Ok(Json(dose))
}

/// Delete a dose.
#[utoipa::path(
    delete,
    path = "/doses/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Dose id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such dose of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_dose(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let day = day_of(&id)?;
    common::delete_item(
        &ctx,
        &bearer,
        tracker::entry_key(bearer.user_id(), Kind::Dose, day, &id),
    )
    .await?;
    common::audit(&ctx, Kind::Dose, Change::Deleted, bearer.user_id(), &origin);
    Ok(StatusCode::NO_CONTENT)
}

/// Log a symptom.
#[utoipa::path(
    post,
    path = "/symptoms",
    tag = "tracker",
    security(("bearer" = [])),
    request_body = SymptomInput,
    responses(
        (status = 201, description = "The symptom", body = Symptom),
        (status = 422, description = "Invalid fields", body = shared::http::ErrorBody),
    )
)]
pub async fn log_symptom(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<SymptomInput>,
) -> Result<(StatusCode, Json<Symptom>), ApiError> {
    let (mut symptom, day) = input.validate(ctx.clock.now())?;
    symptom.id = tracker::new_entry_id(day);
    store_new(
        &ctx,
        &bearer,
        Kind::Symptom,
        day,
        &symptom.id,
        &symptom,
        vec![],
    )
    .await?;
    common::audit(
        &ctx,
        Kind::Symptom,
        Change::Created,
        bearer.user_id(),
        &origin,
    );
    Ok((StatusCode::CREATED, Json(symptom)))
}

/// Symptoms between two days, oldest first, paginated.
#[utoipa::path(
    get,
    path = "/symptoms",
    tag = "tracker",
    security(("bearer" = [])),
    params(RangePage),
    responses((status = 200, description = "One page of symptoms", body = Page<Symptom>))
)]
pub async fn list_symptoms(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<RangePage>,
) -> Result<Json<Page<Symptom>>, ApiError> {
    Ok(Json(
        common::page_of(&ctx, &bearer, Kind::Symptom, params).await?,
    ))
}

/// Replace a symptom (on the same day).
#[utoipa::path(
    put,
    path = "/symptoms/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Symptom id")),
    request_body = SymptomInput,
    responses(
        (status = 200, description = "The symptom as replaced", body = Symptom),
        (status = 404, description = "No such symptom of yours", body = shared::http::ErrorBody),
        (status = 422, description = "Invalid fields or another day", body = shared::http::ErrorBody),
    )
)]
pub async fn replace_symptom(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SymptomInput>,
) -> Result<Json<Symptom>, ApiError> {
    let day = day_of(&id)?;
    let (mut symptom, new_day) = input.validate(ctx.clock.now())?;
    same_day("body.occurred_at", day, new_day)?;
    symptom.id = id;
    let item = tracker::entry_item(bearer.user_id(), Kind::Symptom, day, &symptom.id, &symptom)?;
    common::replace_item(&ctx, &bearer, item, vec![]).await?;
    common::audit(
        &ctx,
        Kind::Symptom,
        Change::Updated,
        bearer.user_id(),
        &origin,
    );
    Ok(Json(symptom))
}

/// Delete a symptom.
#[utoipa::path(
    delete,
    path = "/symptoms/{id}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Symptom id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such symptom of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_symptom(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let day = day_of(&id)?;
    common::delete_item(
        &ctx,
        &bearer,
        tracker::entry_key(bearer.user_id(), Kind::Symptom, day, &id),
    )
    .await?;
    common::audit(
        &ctx,
        Kind::Symptom,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}
