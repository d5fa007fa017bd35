//! `GET /v1/auth/events`: the caller's own recent security events (sign-ins, failures, password
//! changes, sessions ended …), newest first, kept 90 days.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiQuery};
use shared::store::{Cursor, Query};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecurityEvent {
    pub event_type: String,
    /// RFC 3339.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<SecurityEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The caller's security events, newest first.
#[utoipa::path(
    get,
    path = "/events",
    tag = "auth",
    security(("bearer" = [])),
    params(EventParams),
    responses((status = 200, description = "A page of events", body = EventPage))
)]
pub async fn events(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<EventPage>, ApiError> {
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "query.limit",
            "must be from 1 to 100",
        ));
    }
    let query = Query::table(shared::audit::history_partition(bearer.user_id()))
        .backward()
        .limit(limit)
        .after(params.cursor.map(Cursor::from_token));
    let pending = ctx.store.query(query);
    let page = bearer
        .with_live_session(&ctx, async { Ok(pending.await?) })
        .await?;
    Ok(Json(EventPage {
        events: page
            .items
            .iter()
            .map(|i| i.to_entity())
            .collect::<Result<_, _>>()?,
        next_cursor: page.cursor.map(|c| c.as_token().to_owned()),
    }))
}
