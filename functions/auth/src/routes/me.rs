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
