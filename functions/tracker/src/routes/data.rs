//! `DELETE /v1/tracker/data`: erasure of everything the tracker holds about the caller. The
//! account stays. Safe to repeat: a call that fails part-way leaves less, never more, and the
//! next one finishes it.

use axum::extract::State;
use http::StatusCode;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ClientOrigin};

/// Erase all of the caller's tracker data.
#[utoipa::path(
    operation_id = "erase_tracker_data",
    delete, path = "/data", tag = "tracker", security(("bearer" = [])),
    responses((status = 204, description = "Everything is gone"))
)]
pub async fn erase(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
) -> Result<StatusCode, ApiError> {
    // The session must be live before anything is deleted.
    bearer.with_live_session(&ctx, async { Ok(()) }).await?;
    let deleted = shared::tracker::erase(&ctx.store, bearer.user_id()).await?;
    tracing::info!(items = deleted, "tracker data erased");
    shared::audit::record(&ctx, "tracker.erase", Some(bearer.user_id()), &origin);
    Ok(StatusCode::NO_CONTENT)
}
