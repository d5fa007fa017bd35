//! `GET /v1/admin/users` and `PATCH /v1/admin/users/{id}`: account administration (ADMIN only).
//! Admins manage accounts; they never see anyone's health data.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::accounts::principal::{AdminOnly, RequireRoles};
use shared::accounts::sessions::{self, sessions_in};
use shared::accounts::{User, users};
use shared::auth::Role;
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorCode};
use shared::store::{Condition, Cursor, Query, StoreError, Update, Write};
use utoipa::{IntoParams, ToSchema};

use shared::http::ClientOrigin;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only emails starting with this (case-insensitive).
    pub email: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Accounts, by email, paginated.
#[utoipa::path(
    get,
    path = "/users",
    tag = "admin",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "A page of accounts", body = UserPage))
)]
pub async fn list_users(
    State(ctx): State<AppContext>,
    admin: RequireRoles<AdminOnly>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "query.limit",
            "must be from 1 to 100",
        ));
    }
    let prefix = params
        .email
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    if prefix.len() > 254 {
        return Err(ApiError::invalid_field(
            "query.email",
            "must be at most 254 characters",
        ));
    }
    let query = Query::gsi1(users::USERS_INDEX)
        .prefix(prefix)
        .limit(limit)
        .after(params.cursor.map(Cursor::from_token));
    let pending = ctx.store.query(query);
    let page = admin
        .bearer
        .with_live_session(&ctx, async { Ok(pending.await?) })
        .await?;
    Ok(Json(UserPage {
        users: page
            .items
            .iter()
            .map(|i| i.to_entity())
            .collect::<Result<_, _>>()?,
        next_cursor: page.cursor.map(|c| c.as_token().to_owned()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// The complete new set of roles (at least one).
    pub roles: Option<Vec<Role>>,
    /// A disabled account cannot sign in and its sessions end at once.
    pub disabled: Option<bool>,
}

/// Change an account's roles or disable it. Either ends the account's sessions, so the change
/// applies at once.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The account as changed", body = User),
        (status = 404, description = "No such account", body = shared::http::ErrorBody),
    )
)]
pub async fn update_user(
    State(ctx): State<AppContext>,
    admin: RequireRoles<AdminOnly>,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<User>, ApiError> {
    if change.roles.is_none() && change.disabled.is_none() {
        return Err(ApiError::invalid_field(
            "body",
            "give roles, disabled or both",
        ));
    }
    if change.roles.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::invalid_field(
            "body.roles",
            "an account needs at least one role",
        ));
    }
    let is_self = id == admin.bearer.user_id();
    let demotes_self = change
        .roles
        .as_ref()
        .is_some_and(|r| !r.contains(&Role::Admin));
    if is_self && (change.disabled == Some(true) || demotes_self) {
        return Err(ApiError::coded(
            ErrorCode::HttpError,
            StatusCode::CONFLICT,
            "you cannot disable your own account or remove your own ADMIN role",
        ));
    }
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found());
    }
    let query = ctx
        .store
        .query(Query::table(users::user_partition(&id)).limit(1000));
    let partition = admin
        .bearer
        .with_live_session(&ctx, async { Ok(query.await?) })
        .await?;
    let mut user = users::profile_in(&partition.items)?.ok_or_else(ApiError::not_found)?;
    let mut profile_updates = Vec::new();
    if let Some(mut roles) = change.roles {
        roles.sort();
        roles.dedup();
        profile_updates.push(Update::set(
            "roles",
            serde_json::to_value(&roles).map_err(ApiError::internal)?,
        ));
        user.roles = roles;
    }
    let mut writes = Vec::new();
    if let Some(disabled) = change.disabled {
        profile_updates.push(Update::set("disabled", disabled));
        user.disabled = disabled;
        let email = users::stored_email(&user.email)?;
        writes.push(Write::Update {
            key: users::credential_key(&email),
            updates: vec![Update::set("disabled", disabled)],
            condition: Some(Condition::Exists),
        });
    }
    writes.push(Write::Update {
        key: users::profile_key(&id),
        updates: profile_updates,
        condition: Some(Condition::Exists),
    });
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.admin.user_updated",
        &id,
        &origin,
    ));
    // Editing one's own account ends one's own sessions too; the guard would touch that item twice.
    if !is_self {
        writes.push(admin.bearer.session_guard());
    }
    let sessions = sessions_in(&partition.items)?;
    let fit = sessions::closable_in(writes.len(), 0).min(sessions.len());
    for session in &sessions[..fit] {
        writes.extend(sessions::close(session));
    }
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(ApiError::not_found()),
        Err(err) => return Err(err.into()),
    }
    sessions::close_all(&ctx, &sessions[fit..]).await?;
    shared::audit::security(&ctx, "auth.admin.user_updated", Some(&id), &origin);
    Ok(Json(user))
}
