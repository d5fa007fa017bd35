//! `GET /v1/auth/mfa/status`: whether MFA is on and how many backup codes are left. One round
//! trip: the enrollment and a pending setup are read together with the session check.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::{Bearer, users};
use shared::http::ApiError;
use shared::mfa::{ENROLLMENT, Enrollment, Setup};
use shared::store::Query;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatus {
    pub enabled: bool,
    /// Unused backup codes of the current batch.
    pub backup_codes_remaining: u32,
    /// When MFA was turned on (RFC 3339).
    pub enabled_at: Option<String>,
    /// A setup waits for its first code (`POST /v1/auth/mfa/enable`).
    pub setup_pending: bool,
}

impl MfaStatus {
    pub fn off() -> Self {
        Self {
            enabled: false,
            backup_codes_remaining: 0,
            enabled_at: None,
            setup_pending: false,
        }
    }
}

/// Two-factor status of the caller.
#[utoipa::path(
    get,
    path = "/status",
    tag = "mfa",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's two-factor status", body = MfaStatus))
)]
pub async fn status(
    State(ctx): State<AppContext>,
    bearer: Bearer,
) -> Result<Json<MfaStatus>, ApiError> {
    // `MFA` and `MFA#SETUP`, created before the session check so both are one step.
    let items = ctx.store.query(
        Query::table(users::user_partition(bearer.user_id()))
            .prefix(ENROLLMENT)
            .limit(2),
    );
    let items = bearer
        .with_live_session(&ctx, async { Ok(items.await?.items) })
        .await?;
    let enrollment = Enrollment::in_partition(&items)?;
    let setup_pending = Setup::in_partition(&items)?.is_some();
    Ok(Json(match enrollment {
        Some(e) => MfaStatus {
            enabled: true,
            backup_codes_remaining: u32::try_from(e.backup_codes_remaining).unwrap_or(0),
            enabled_at: Some(e.enabled_at),
            setup_pending,
        },
        None => MfaStatus {
            setup_pending,
            ..MfaStatus::off()
        },
    }))
}
