//! `POST /v1/auth/mfa/backup-codes/regenerate`: a new batch of backup codes, confirmed with a
//! TOTP code (a backup code cannot mint more backup codes). The batch is part of every code's
//! stored HMAC, so the moment the new batch is current, every older code stops working.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::AppContext;
use shared::accounts::Bearer;
use shared::accounts::principal::Outcome;
use shared::http::{ApiError, ApiJson, ClientOrigin};
use shared::mfa::{self, Code, Guard, Method, MfaError, Proof, backup};
use shared::store::Update;
use utoipa::ToSchema;

use super::{BackupCodes, enrolled};

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegenerateRequest {
    /// The authenticator's current code.
    pub code: Code,
}

/// Replace the backup codes.
#[utoipa::path(
    post,
    path = "/backup-codes/regenerate",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = RegenerateRequest,
    responses(
        (status = 200, description = "The new backup codes, shown this once; the old ones no longer work", body = BackupCodes),
        (status = 409, description = "Two-factor authentication is off", body = shared::http::ErrorBody),
        (status = 422, description = "`code` is wrong or already used", body = shared::http::ErrorBody),
        (status = 429, description = "`ACCOUNT_LOCKED` after repeated failures", body = shared::http::ErrorBody),
    )
)]
pub async fn regenerate(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<RegenerateRequest>,
) -> Result<Json<BackupCodes>, ApiError> {
    let account = bearer.account(&ctx).await?;
    let user_id = bearer.user_id();
    let enrollment = enrolled(&account)?;
    let guard = Guard::begin(&ctx, &account.user.email, &origin).await?;
    let proof = Proof::Totp(body.code.expose().to_owned());
    let accepted = match enrollment.check(&ctx, user_id, &account.items, &proof) {
        Ok(accepted) => accepted,
        Err(MfaError::InvalidCode) => {
            guard
                .code_failed(&ctx, user_id, &origin, Method::Totp)
                .await?;
            return Err(MfaError::InvalidCode.into());
        }
        Err(err) => return Err(err.into()),
    };
    let count = ctx.settings.mfa.backup_codes_count;
    let codes = backup::generate(count);
    let batch = shared::ids::random_uuid().to_string();
    let mut writes = accepted.writes(
        user_id,
        vec![
            Update::set("backup_batch", batch.clone()),
            Update::set("backup_codes_remaining", i64::from(count)),
        ],
    );
    writes.extend(mfa::backup_batch_writes(
        &ctx,
        user_id,
        &batch,
        &codes,
        account.expires_at(),
    ));
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.mfa.backup_codes.regenerated",
        user_id,
        &origin,
    ));
    writes.push(guard.success_write());
    // The old codes can no longer be found once the new batch is current; removing their items
    // is housekeeping, in the same transaction as far as they fit (room kept for the session
    // guard), the rest right after it.
    let old_codes = mfa::delete_codes_within(&account.items, &mut writes, 1);
    if let Outcome::Conflict { .. } = bearer.transact_checked(&ctx, writes).await? {
        // The code was used by a parallel request first.
        guard
            .code_failed(&ctx, user_id, &origin, Method::Totp)
            .await?;
        return Err(MfaError::InvalidCode.into());
    }
    mfa::delete_codes_after_commit(&ctx, &old_codes).await;
    shared::audit::record(
        &ctx,
        "auth.mfa.backup_codes.regenerated",
        Some(user_id),
        &origin,
    );
    mfa::count_attempt(&ctx, "success", Method::Totp);
    Ok(Json(BackupCodes {
        backup_codes: codes,
    }))
}
