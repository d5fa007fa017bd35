//! `POST /v1/auth/mfa/setup`: a new TOTP secret for the caller, pending until a first code
//! confirms it (`POST /v1/auth/mfa/enable`) within ten minutes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::http::{ApiError, ClientOrigin};
use shared::mfa::{Enrollment, SETUP_TTL, Setup, StoredSecret, totp};
use shared::store::Write;
use utoipa::ToSchema;

/// What an authenticator app needs. (No `Debug`: nothing should ever print the secret.)
#[derive(Serialize, ToSchema)]
pub struct SetupResponse {
    /// The secret in base32, for typing into an authenticator by hand.
    pub secret: String,
    /// `otpauth://totp/<issuer>:<email>?secret=…&issuer=…&period=…` (and `digits` when not 6).
    pub otpauth_uri: String,
    /// The URI as a QR code a phone can scan: an SVG image in a `data:image/svg+xml;base64,…`
    /// URI, ready for an `<img src>`.
    pub qr_code: String,
    pub issuer: String,
    pub digits: u32,
    /// Seconds each code lasts.
    pub period: u32,
    /// Seconds left to confirm it with `POST /v1/auth/mfa/enable`.
    pub expires_in: u64,
}

/// Start setting up an authenticator app.
#[utoipa::path(
    post,
    path = "/setup",
    tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new secret, pending until confirmed", body = SetupResponse),
        (status = 409, description = "Two-factor authentication is already on", body = shared::http::ErrorBody),
    )
)]
pub async fn setup(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
) -> Result<Json<SetupResponse>, ApiError> {
    let account = bearer.account(&ctx).await?;
    if Enrollment::in_partition(&account.items)?.is_some() {
        return Err(super::conflict(
            "two-factor authentication is already on; turn it off before setting up another authenticator",
        ));
    }
    let secret = totp::new_secret();
    let stored = StoredSecret::seal(&ctx, &secret)?;
    let shape = stored.shape();
    let issuer = ctx.settings.mfa.totp_issuer.clone();
    let (base32, otpauth_uri) = totp::provisioning(shape, &secret, &issuer, &account.user.email)?;
    let qr_code = totp::qr_code_data_uri(&otpauth_uri)?;
    let now = ctx.clock.epoch_seconds();
    let ttl = i64::try_from(SETUP_TTL.as_secs()).unwrap_or(600);
    let expires_at = account
        .expires_at()
        .map_or(now + ttl, |end| end.min(now + ttl));
    let setup = Setup {
        secret: stored,
        created_at: ctx.clock.now().to_string(),
    };
    // A new setup replaces one still pending.
    let writes = vec![
        Write::Put {
            item: setup.to_item(bearer.user_id(), expires_at)?,
            condition: None,
        },
        shared::audit::history_write(&ctx, "auth.mfa.setup", bearer.user_id(), &origin),
    ];
    bearer.transact(&ctx, writes).await?;
    shared::audit::record(&ctx, "auth.mfa.setup", Some(bearer.user_id()), &origin);
    Ok(Json(SetupResponse {
        secret: base32,
        otpauth_uri,
        qr_code,
        issuer,
        digits: shape.digits,
        period: shape.period,
        expires_in: u64::try_from(expires_at - now).unwrap_or(0),
    }))
}
