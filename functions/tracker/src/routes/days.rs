//! Views over days: one day (`/days/{date}`), today against yesterday (`/feel-vs-yesterday`)
//! and adherence over a range (`/adherence`). Each reads its days with one query, in parallel
//! with the medications and the session check: one sequential round trip.

use axum::Json;
use axum::extract::State;
use jiff::civil::Date;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiPath, ApiQuery};
use shared::store::{Item, Query, StoreError};
use shared::tracker::days::{self as views, Adherence, DayView, FeelVsYesterday};
use shared::tracker::{self, Kind, MEDICATION_PREFIX, Medication, dates};
use utoipa::IntoParams;

/// Every item of the days from `from` to `to`, as one query.
fn days_query(user_id: &str, from: Date, to: Date) -> Query {
    Query::table(tracker::partition(user_id))
        .between(
            tracker::day_prefix(from),
            format!("{}~", tracker::day_prefix(to)),
        )
        .limit(shared::store::MAX_PAGE_SIZE)
}

fn medications_query(user_id: &str) -> Query {
    Query::table(tracker::partition(user_id))
        .prefix(MEDICATION_PREFIX)
        .limit(shared::store::MAX_PAGE_SIZE)
}

fn medications_in(items: &[Item]) -> Result<Vec<Medication>, StoreError> {
    tracker::under(items, MEDICATION_PREFIX)
}

/// One day: its scheduled doses and what became of them, other doses, symptoms, the feeling.
#[utoipa::path(
    operation_id = "day_view",
    get,
    path = "/days/{date}",
    tag = "tracker",
    security(("bearer" = [])),
    params(("date" = String, Path, format = Date, description = "The day, YYYY-MM-DD")),
    responses(
        (status = 200, description = "The day", body = DayView),
        (status = 422, description = "Invalid date", body = shared::http::ErrorBody),
    )
)]
pub async fn day(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiPath(date): ApiPath<String>,
) -> Result<Json<DayView>, ApiError> {
    let day = dates::parse_date("path.date", &date).map_err(|e| ApiError::validation(vec![e]))?;
    let user = bearer.user_id();
    let entries = ctx.store.query_all(days_query(user, day, day));
    let medications = ctx.store.query_all(medications_query(user));
    let (entries, medications) = bearer
        .with_live_session(&ctx, async {
            let (e, m) = tokio::join!(entries, medications);
            Ok((e?, m?))
        })
        .await?;
    let feeling = tracker::entries(&entries, Kind::Feeling)?
        .into_iter()
        .next();
    Ok(Json(views::day_view(
        day,
        &medications_in(&medications)?,
        tracker::entries(&entries, Kind::Dose)?,
        tracker::entries(&entries, Kind::Symptom)?,
        feeling,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeelParams {
    /// "Today", YYYY-MM-DD; by default today in the time zone of the user's profile.
    #[param(format = Date)]
    pub date: Option<String>,
}

/// Today's and yesterday's scores, the trend, and how each symptom changed.
#[utoipa::path(
    get,
    path = "/feel-vs-yesterday",
    tag = "tracker",
    security(("bearer" = [])),
    params(FeelParams),
    responses(
        (status = 200, description = "Today against yesterday", body = FeelVsYesterday),
        (status = 422, description = "Invalid date", body = shared::http::ErrorBody),
    )
)]
pub async fn feel_vs_yesterday(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<FeelParams>,
) -> Result<Json<FeelVsYesterday>, ApiError> {
    let user = bearer.user_id();
    let (today, items) = match params.date {
        Some(raw) => {
            let today =
                dates::parse_date("query.date", &raw).map_err(|e| ApiError::validation(vec![e]))?;
            let items = ctx
                .store
                .query_all(days_query(user, dates::day_before(today), today));
            (
                today,
                bearer
                    .with_live_session(&ctx, async { Ok(items.await?) })
                    .await?,
            )
        }
        None => {
            // Today in the user's zone is the UTC date, the day before or the day after; read
            // that window and the profile together rather than one after the other.
            let utc_today = ctx.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            let from = dates::day_before(dates::day_before(utc_today));
            let window = days_query(user, from, dates::day_after(utc_today));
            let (items, profile) = super::common::read_with_profile(&ctx, &bearer, window).await?;
            (super::common::today_of(&ctx, &profile), items)
        }
    };
    let yesterday = dates::day_before(today);
    Ok(Json(views::feel_vs_yesterday(
        today,
        yesterday,
        &tracker::entries(&items, Kind::Feeling)?,
        &tracker::entries(&items, Kind::Symptom)?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdherenceParams {
    /// First day, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: String,
    /// Last day (included); a range covers at most 366 days, both ends included.
    #[param(format = Date)]
    pub to: String,
}

/// Per medication: doses scheduled against doses taken, as numbers and a percentage.
#[utoipa::path(
    operation_id = "adherence",
    get,
    path = "/adherence",
    tag = "tracker",
    security(("bearer" = [])),
    params(AdherenceParams),
    responses(
        (status = 200, description = "Adherence over the range", body = Adherence),
        (status = 422, description = "Invalid range", body = shared::http::ErrorBody),
    )
)]
pub async fn adherence(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ApiQuery(params): ApiQuery<AdherenceParams>,
) -> Result<Json<Adherence>, ApiError> {
    let (from, to) = dates::parse_range(&params.from, &params.to).map_err(ApiError::validation)?;
    let user = bearer.user_id();
    let doses = ctx.store.query_all(
        Query::gsi1(tracker::kind_index(user, Kind::Dose))
            .between(from.to_string(), format!("{to}#~"))
            .limit(shared::store::MAX_PAGE_SIZE),
    );
    let medications = ctx.store.query_all(medications_query(user));
    let (doses, medications) = bearer
        .with_live_session(&ctx, async {
            let (d, m) = tokio::join!(doses, medications);
            Ok((d?, m?))
        })
        .await?;
    let doses = doses
        .into_iter()
        .map(Item::into_entity)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(views::adherence(
        from,
        to,
        &medications_in(&medications)?,
        &doses,
    )))
}
