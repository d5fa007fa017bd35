//! `/v1/tracker/feelings`: one score a day. `PUT /feelings/{date}` is idempotent: the day's
//! score is whatever was put last.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery, ClientOrigin};
use shared::store::{Item, Query, Write};
use shared::tracker::{self, Feeling, FeelingInput, Kind, dates};
use utoipa::IntoParams;

use super::common::{self, Change};

fn date_from_path(raw: &str) -> Result<jiff::civil::Date, ApiError> {
    dates::parse_date("path.date", raw).map_err(|e| ApiError::validation(vec![e]))
}

/// Record how the user felt on a day (replaces that day's score).
#[utoipa::path(
    operation_id = "put_feeling",
    put,
    path = "/feelings/{date}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD")),
    request_body = FeelingInput,
    responses(
        (status = 200, description = "The day's feeling", body = Feeling),
        (status = 422, description = "Invalid date or fields", body = shared::http::ErrorBody),
    )
)]
pub async fn put(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(date): ApiPath<String>,
    ApiJson(input): ApiJson<FeelingInput>,
) -> Result<Json<Feeling>, ApiError> {
    let day = date_from_path(&date)?;
    let feeling = input.validate(day, ctx.clock.now())?;
    let item = tracker::entry_item(bearer.user_id(), Kind::Feeling, day, "", &feeling)?;
    bearer
        .transact(
            &ctx,
            vec![Write::Put {
                item,
                condition: None,
            }],
        )
        .await?;
    common::audit(
        &ctx,
        Kind::Feeling,
        Change::Recorded,
        bearer.user_id(),
        &origin,
    );
    Ok(Json(feeling))
}

/// Remove a day's score.
#[utoipa::path(
    operation_id = "delete_feeling",
    delete,
    path = "/feelings/{date}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No score that day", body = shared::http::ErrorBody),
    )
)]
pub async fn delete(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(date): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let day = date_from_path(&date)?;
    common::delete_item(&ctx, &bearer, tracker::feeling_key(bearer.user_id(), day)).await?;
    common::audit(
        &ctx,
        Kind::Feeling,
        Change::Deleted,
        bearer.user_id(),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: String,
    /// Last day (included); a range covers at most 366 days, both ends included.
    #[param(format = Date)]
    pub to: String,
}

/// Scores between two days (at most one a day), oldest first.
#[utoipa::path(
    operation_id = "list_feelings",
    get,
    path = "/feelings",
    tag = "tracker",
    security(("bearer" = [])),
    params(Range),
    responses((status = 200, description = "The scores", body = [Feeling]))
)]
pub async fn list(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<Vec<Feeling>>, ApiError> {
    let (from, to) = dates::parse_range(&range.from, &range.to).map_err(ApiError::validation)?;
    let query = Query::gsi1(tracker::kind_index(bearer.user_id(), Kind::Feeling))
        .between(from.to_string(), to.to_string());
    let items = common::read_items(&ctx, &bearer, query).await?;
    Ok(Json(
        items
            .iter()
            .map(Item::to_entity)
            .collect::<Result<_, _>>()?,
    ))
}
