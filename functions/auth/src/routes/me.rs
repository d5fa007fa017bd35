//! `GET /v1/auth/me`: the signed-in account. One round trip: the profile and the session check
//! are read together.

use axum::Json;
use axum::extract::State;
use shared::AppContext;
use shared::accounts::{Bearer, User, users};
use shared::http::ApiError;

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The account", body = User))
)]
pub async fn me(State(ctx): State<AppContext>, bearer: Bearer) -> Result<Json<User>, ApiError> {
    let key = users::profile_key(bearer.user_id());
    // Created before the session check so the two reads are in flight together.
    let profile = ctx.store.get(&key);
    let user = bearer
        .with_live_session(&ctx, async { Ok(profile.await?) })
        .await?
        .ok_or_else(shared::accounts::principal::unauthorized)?
        .to_entity::<User>()?;
    if user.disabled {
        return Err(shared::accounts::principal::unauthorized());
    }
    Ok(Json(user))
}

/// What a user may change of their own profile.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// IANA time zone name, e.g. `Europe/Berlin`: the tracker's "today" and "yesterday".
    pub timezone: Option<String>,
}

/// Change the signed-in account's name or time zone. The change and the session check are one
/// transaction; the account as changed is then read back.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ProfileChange,
    responses(
        (status = 200, description = "The account as changed", body = User),
        (status = 422, description = "Invalid name or time zone", body = shared::http::ErrorBody),
    )
)]
pub async fn update_me(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    shared::http::ApiJson(change): shared::http::ApiJson<ProfileChange>,
) -> Result<Json<User>, ApiError> {
    use shared::http::FieldError;
    use shared::store::{Update, Write};
    let mut errors = Vec::new();
    let mut updates = Vec::new();
    if let Some(name) = &change.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "body.name",
                "must be 1 to 100 characters of text",
            ));
        }
        updates.push(Update::set("name", name));
    }
    if let Some(zone) = &change.timezone {
        match shared::tracker::dates::parse_time_zone("body.timezone", zone) {
            Ok(_) => updates.push(Update::set("timezone", zone.as_str())),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if updates.is_empty() {
        return Err(ApiError::invalid_field(
            "body",
            "give name, timezone or both",
        ));
    }
    let key = users::profile_key(bearer.user_id());
    let write = Write::Update {
        key: key.clone(),
        updates,
        condition: Some(shared::store::Condition::Exists.and(users::not_disabled())),
    };
    bearer.transact(&ctx, vec![write]).await?;
    let user = ctx
        .store
        .get(&key)
        .await?
        .ok_or_else(shared::accounts::principal::unauthorized)?
        .to_entity::<User>()?;
    Ok(Json(user))
}
