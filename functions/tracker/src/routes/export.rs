//! `GET /v1/tracker/export?format=fhir|json`: everything the tracker holds about the caller, as
//! an HL7 FHIR R4 Bundle or in our own shape. Audited (`tracker.export`, with the format only).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ApiQuery, ClientOrigin};
use shared::store::Query;
use shared::tracker::{self, export::Export};
use utoipa::{IntoParams, ToSchema};

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// An HL7 FHIR R4 Bundle (`application/fhir+json`).
    Fhir,
    /// Our own shape ([`Export`]).
    #[default]
    Json,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `fhir` or `json` (the default).
    #[serde(default)]
    #[param(inline)]
    pub format: Format,
}

/// Export all of the caller's tracker data.
#[utoipa::path(
    operation_id = "export_tracker_data",
    get, path = "/export", tag = "tracker", security(("bearer" = [])),
    params(ExportParams),
    responses(
        (status = 200, description = "The export: our JSON shape, or a FHIR R4 Bundle with format=fhir", content(
            (Export = "application/json"),
            (serde_json::Value = "application/fhir+json"),
        )),
        (status = 422, description = "Unknown format", body = shared::http::ErrorBody),
    )
)]
pub async fn export(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let user = bearer.user_id();
    let everything = Query::table(tracker::partition(user)).limit(shared::store::MAX_PAGE_SIZE);
    let (items, holder) = super::common::read_with_profile(&ctx, &bearer, everything).await?;
    let export = Export::from_items(&holder, items, ctx.clock.now().to_string())?;
    let (event, response) = match params.format {
        Format::Json => ("tracker.export.json", Json(export).into_response()),
        Format::Fhir => {
            let bundle = tracker::fhir::bundle(&export);
            // Cannot fail (every map key is a string); if it did, nothing was exported, and
            // the error returns before the audit record.
            let body = json_body(&bundle, FHIR_BYTES_PER_ENTRY * bundle.entries())?;
            let media_type = [(http::header::CONTENT_TYPE, tracker::fhir::MEDIA_TYPE)];
            ("tracker.export.fhir", (media_type, body).into_response())
        }
    };
    shared::audit::record(&ctx, event, Some(user), &origin);
    Ok(response)
}

/// A little more than one entry of a FHIR bundle takes in JSON on average (0.3–0.8 KB; a dose,
/// the most common, about 0.5).
const FHIR_BYTES_PER_ENTRY: usize = 640;

/// `value` as JSON, written into one buffer of about its size: an export runs to tens of KiB,
/// which axum's `Json` reaches by doubling from 128 bytes, through a slower writer.
fn json_body(value: &impl serde::Serialize, size_hint: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(size_hint);
    serde_json::to_writer(&mut body, value).map_err(ApiError::internal)?;
    Ok(body)
}
