//! The condition passport: conditions, allergies, doctors and the emergency contact, and
//! `GET /passport`, the one document a patient shows a doctor (read with one query of `P#` and
//! the profile, in parallel).

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiJson, ApiPath, ClientOrigin};
use shared::store::{Item, Key, Query};
use shared::tracker::{
    self, ALLERGY_PREFIX, Allergy, AllergyInput, CONDITION_PREFIX, ConditionInput, ConditionStatus,
    DOCTOR_PREFIX, Doctor, DoctorInput, EmergencyContact, EmergencyContactInput, Kind,
    MEDICATION_PREFIX, MedicalCondition, Medication, PASSPORT_PREFIX,
};
use utoipa::ToSchema;

use super::common::{self, Change};

fn key(user_id: &str, prefix: &str, id: &str) -> Key {
    tracker::passport_key(user_id, prefix, id)
}

/// The doctors a condition names must be the caller's: checked in the write's transaction.
fn doctor_checks(user_id: &str, input: &ConditionInput) -> Vec<(Key, String)> {
    input
        .doctor_fields()
        .into_iter()
        .map(|(id, field)| (key(user_id, DOCTOR_PREFIX, &id), field))
        .collect()
}

/// Add a condition.
#[utoipa::path(
    post, path = "/conditions", tag = "tracker", security(("bearer" = [])),
    request_body = ConditionInput,
    responses(
        (status = 201, description = "The condition", body = MedicalCondition),
        (status = 422, description = "Invalid fields, or no such doctor", body = shared::http::ErrorBody),
    )
)]
pub async fn create_condition(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<ConditionInput>,
) -> Result<(StatusCode, Json<MedicalCondition>), ApiError> {
    let checks = doctor_checks(bearer.user_id(), &input);
    let condition = input.into_condition(tracker::new_id(), utc_today(&ctx))?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, CONDITION_PREFIX, &condition.id), &condition)?;
    common::create_item(&ctx, &bearer, item, checks).await?;
    common::audit(&ctx, Kind::Condition, Change::Created, user, &origin);
    Ok((StatusCode::CREATED, Json(condition)))
}

/// The user's conditions, active and resolved.
#[utoipa::path(
    get, path = "/conditions", tag = "tracker", security(("bearer" = [])),
    responses((status = 200, description = "The conditions", body = [MedicalCondition]))
)]
pub async fn list_conditions(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<Vec<MedicalCondition>>, ApiError> {
    Ok(Json(
        common::read_prefix(&ctx, &bearer, CONDITION_PREFIX).await?,
    ))
}

/// Replace a condition.
#[utoipa::path(
    put, path = "/conditions/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Condition id")),
    request_body = ConditionInput,
    responses(
        (status = 200, description = "The condition as replaced", body = MedicalCondition),
        (status = 404, description = "No such condition of yours", body = shared::http::ErrorBody),
        (status = 422, description = "Invalid fields, or no such doctor", body = shared::http::ErrorBody),
    )
)]
pub async fn replace_condition(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ConditionInput>,
) -> Result<Json<MedicalCondition>, ApiError> {
    let id = common::passport_id(&id)?.to_owned();
    let checks = doctor_checks(bearer.user_id(), &input);
    let condition = input.into_condition(id, utc_today(&ctx))?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, CONDITION_PREFIX, &condition.id), &condition)?;
    common::replace_item(&ctx, &bearer, item, checks).await?;
    common::audit(&ctx, Kind::Condition, Change::Updated, user, &origin);
    Ok(Json(condition))
}

/// Delete a condition.
#[utoipa::path(
    delete, path = "/conditions/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Condition id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such condition of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_condition(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = common::passport_id(&id)?;
    common::delete_item(&ctx, &bearer, key(bearer.user_id(), CONDITION_PREFIX, id)).await?;
    common::audit(
        &ctx,
        Kind::Condition,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Add an allergy.
#[utoipa::path(
    post, path = "/allergies", tag = "tracker", security(("bearer" = [])),
    request_body = AllergyInput,
    responses(
        (status = 201, description = "The allergy", body = Allergy),
        (status = 422, description = "Invalid fields", body = shared::http::ErrorBody),
    )
)]
pub async fn create_allergy(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<AllergyInput>,
) -> Result<(StatusCode, Json<Allergy>), ApiError> {
    let allergy = input.into_allergy(tracker::new_id())?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, ALLERGY_PREFIX, &allergy.id), &allergy)?;
    common::create_item(&ctx, &bearer, item, vec![]).await?;
    common::audit(&ctx, Kind::Allergy, Change::Created, user, &origin);
    Ok((StatusCode::CREATED, Json(allergy)))
}

/// The user's allergies.
#[utoipa::path(
    get, path = "/allergies", tag = "tracker", security(("bearer" = [])),
    responses((status = 200, description = "The allergies", body = [Allergy]))
)]
pub async fn list_allergies(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<Vec<Allergy>>, ApiError> {
    Ok(Json(
        common::read_prefix(&ctx, &bearer, ALLERGY_PREFIX).await?,
    ))
}

/// Replace an allergy.
#[utoipa::path(
    put, path = "/allergies/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Allergy id")),
    request_body = AllergyInput,
    responses(
        (status = 200, description = "The allergy as replaced", body = Allergy),
        (status = 404, description = "No such allergy of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn replace_allergy(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AllergyInput>,
) -> Result<Json<Allergy>, ApiError> {
    let id = common::passport_id(&id)?.to_owned();
    let allergy = input.into_allergy(id)?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, ALLERGY_PREFIX, &allergy.id), &allergy)?;
    common::replace_item(&ctx, &bearer, item, vec![]).await?;
    common::audit(&ctx, Kind::Allergy, Change::Updated, user, &origin);
    Ok(Json(allergy))
}

/// Delete an allergy.
#[utoipa::path(
    delete, path = "/allergies/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Allergy id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such allergy of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_allergy(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = common::passport_id(&id)?;
    common::delete_item(&ctx, &bearer, key(bearer.user_id(), ALLERGY_PREFIX, id)).await?;
    common::audit(
        &ctx,
        Kind::Allergy,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Add a doctor.
#[utoipa::path(
    post, path = "/doctors", tag = "tracker", security(("bearer" = [])),
    request_body = DoctorInput,
    responses(
        (status = 201, description = "The doctor", body = Doctor),
        (status = 422, description = "Invalid fields", body = shared::http::ErrorBody),
    )
)]
pub async fn create_doctor(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<DoctorInput>,
) -> Result<(StatusCode, Json<Doctor>), ApiError> {
    let doctor = input.into_doctor(tracker::new_id())?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, DOCTOR_PREFIX, &doctor.id), &doctor)?;
    common::create_item(&ctx, &bearer, item, vec![]).await?;
    common::audit(&ctx, Kind::Doctor, Change::Created, user, &origin);
    Ok((StatusCode::CREATED, Json(doctor)))
}

/// The user's doctors.
#[utoipa::path(
    get, path = "/doctors", tag = "tracker", security(("bearer" = [])),
    responses((status = 200, description = "The doctors", body = [Doctor]))
)]
pub async fn list_doctors(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<Vec<Doctor>>, ApiError> {
    Ok(Json(
        common::read_prefix(&ctx, &bearer, DOCTOR_PREFIX).await?,
    ))
}

/// One doctor.
#[utoipa::path(
    get, path = "/doctors/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "The doctor", body = Doctor),
        (status = 404, description = "No such doctor of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn read_doctor(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Doctor>, ApiError> {
    let id = common::passport_id(&id)?;
    Ok(Json(
        common::read_one(&ctx, &bearer, key(bearer.user_id(), DOCTOR_PREFIX, id)).await?,
    ))
}

/// Replace a doctor.
#[utoipa::path(
    put, path = "/doctors/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Doctor id")),
    request_body = DoctorInput,
    responses(
        (status = 200, description = "The doctor as replaced", body = Doctor),
        (status = 404, description = "No such doctor of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn replace_doctor(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<DoctorInput>,
) -> Result<Json<Doctor>, ApiError> {
    let id = common::passport_id(&id)?.to_owned();
    let doctor = input.into_doctor(id)?;
    let user = bearer.user_id();
    let item = Item::from_entity(&key(user, DOCTOR_PREFIX, &doctor.id), &doctor)?;
    common::replace_item(&ctx, &bearer, item, vec![]).await?;
    common::audit(&ctx, Kind::Doctor, Change::Updated, user, &origin);
    Ok(Json(doctor))
}

/// Delete a doctor. Conditions that named them keep the id; the passport leaves it out.
#[utoipa::path(
    delete, path = "/doctors/{id}", tag = "tracker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Doctor id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such doctor of yours", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_doctor(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = common::passport_id(&id)?;
    common::delete_item(&ctx, &bearer, key(bearer.user_id(), DOCTOR_PREFIX, id)).await?;
    common::audit(
        &ctx,
        Kind::Doctor,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Set the emergency contact.
#[utoipa::path(
    put, path = "/emergency-contact", tag = "tracker", security(("bearer" = [])),
    request_body = EmergencyContactInput,
    responses(
        (status = 200, description = "The emergency contact", body = EmergencyContact),
        (status = 422, description = "Invalid fields", body = shared::http::ErrorBody),
    )
)]
pub async fn put_contact(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<EmergencyContactInput>,
) -> Result<Json<EmergencyContact>, ApiError> {
    let contact = input.validate()?;
    let item = Item::from_entity(&tracker::contact_key(bearer.user_id()), &contact)?;
    bearer
        .transact(
            &ctx,
            vec![shared::store::Write::Put {
                item,
                condition: None,
            }],
        )
        .await?;
    common::audit(
        &ctx,
        Kind::EmergencyContact,
        Change::Recorded,
        bearer.user_id(),
        &origin,
    );
    Ok(Json(contact))
}

/// The emergency contact.
#[utoipa::path(
    get, path = "/emergency-contact", tag = "tracker", security(("bearer" = [])),
    responses(
        (status = 200, description = "The emergency contact", body = EmergencyContact),
        (status = 404, description = "None set", body = shared::http::ErrorBody),
    )
)]
pub async fn read_contact(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<EmergencyContact>, ApiError> {
    Ok(Json(
        common::read_one(&ctx, &bearer, tracker::contact_key(bearer.user_id())).await?,
    ))
}

/// Remove the emergency contact.
#[utoipa::path(
    delete, path = "/emergency-contact", tag = "tracker", security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "None set", body = shared::http::ErrorBody),
    )
)]
pub async fn delete_contact(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
) -> Result<StatusCode, ApiError> {
    common::delete_item(&ctx, &bearer, tracker::contact_key(bearer.user_id())).await?;
    common::audit(
        &ctx,
        Kind::EmergencyContact,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Who the passport belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassportHolder {
    pub name: String,
    pub email: String,
    pub timezone: String,
}

/// The condition passport.
#[derive(Debug, Serialize, ToSchema)]
pub struct Passport {
    pub holder: PassportHolder,
    /// Active conditions.
    pub conditions: Vec<MedicalCondition>,
    /// Medications current today (started, not ended, not archived).
    pub medications: Vec<Medication>,
    pub allergies: Vec<Allergy>,
    pub doctors: Vec<Doctor>,
    pub emergency_contact: Option<EmergencyContact>,
    /// RFC 3339.
    pub generated_at: String,
}

fn utc_today(ctx: &AppContext) -> jiff::civil::Date {
    ctx.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// The whole passport, as one document.
#[utoipa::path(
    get, path = "/passport", tag = "tracker", security(("bearer" = [])),
    responses((status = 200, description = "The passport", body = Passport))
)]
pub async fn passport(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<Passport>, ApiError> {
    let user = bearer.user_id();
    let all_of_it = Query::table(tracker::partition(user))
        .prefix(PASSPORT_PREFIX)
        .limit(shared::store::MAX_PAGE_SIZE);
    let (items, holder) = common::read_with_profile(&ctx, &bearer, all_of_it).await?;
    let today = common::today_of(&ctx, &holder);
    let doctors: Vec<Doctor> = tracker::under(&items, DOCTOR_PREFIX)?;
    let mut conditions: Vec<MedicalCondition> = tracker::under(&items, CONDITION_PREFIX)?;
    conditions.retain(|c| c.status == ConditionStatus::Active);
    // A deleted doctor stays named by its conditions, but the passport shows only real ones.
    for condition in &mut conditions {
        condition
            .doctor_ids
            .retain(|id| doctors.iter().any(|d| d.id == *id));
    }
    let mut medications: Vec<Medication> = tracker::under(&items, MEDICATION_PREFIX)?;
    medications.retain(|m| m.active_on(today));
    let contact = items
        .iter()
        .find(|i| i.sk() == Some(tracker::CONTACT_SK))
        .map(Item::to_entity)
        .transpose()?;
    Ok(Json(Passport {
        holder: PassportHolder {
            name: holder.name,
            email: holder.email,
            timezone: holder.timezone,
        },
        conditions,
        medications,
        allergies: tracker::under(&items, ALLERGY_PREFIX)?,
        doctors,
        emergency_contact: contact,
        generated_at: ctx.clock.now().to_string(),
    }))
}
