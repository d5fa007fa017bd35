//! `POST /v1/auth/password/change`: a new password for the signed-in caller; every other session
//! ends.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{Subject, lockout};
use shared::accounts::Bearer;
use shared::accounts::principal::unauthorized;
use shared::accounts::sessions;
use shared::accounts::users::{self, Credential};
use shared::auth::{Password, Verification};
use shared::http::{ApiError, ApiJson};
use utoipa::ToSchema;

use shared::http::ClientOrigin;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: Password,
    pub new_password: Password,
}

/// Change the caller's password.
#[utoipa::path(
    post,
    path = "/password/change",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; the caller's other sessions are ended"),
        (status = 422, description = "`current_password` is wrong, or `new_password` fails the policy", body = shared::http::ErrorBody),
    )
)]
pub async fn change_password(
    State(ctx): State<AppContext>,
    bearer: Bearer,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let account = bearer.account(&ctx).await?;
    let user = &account.user;
    let email = users::stored_email(&user.email)?;
    let credential_key = users::credential_key(&email);
    // The current password is a credential check like a login: the same lockout guards it.
    let subject = Subject::email(&ctx, &email);
    let (credential, lock) = tokio::join!(
        ctx.store.get(&credential_key),
        lockout::check(&ctx, "login", &subject)
    );
    if let Some(retry_after) = lock?.retry_after() {
        return Err(ApiError::locked(retry_after));
    }
    let credential: Credential = credential?.ok_or_else(unauthorized)?.to_entity()?;
    let verified = ctx
        .passwords
        .verify(&body.current_password, credential.password_hash.as_deref())
        .await
        .map_err(ApiError::internal)?;
    if !matches!(verified, Verification::Match { .. }) {
        shared::audit::security(
            &ctx,
            "auth.password.change_failed",
            Some(bearer.user_id()),
            &origin,
        );
        let ip = Subject::ip(&origin);
        lockout::record_sign_in_failure(
            &ctx,
            "auth.password.change_failed",
            &subject,
            None,
            &ip,
            Some(bearer.user_id()),
            &origin,
        )
        .await?;
        return Err(ApiError::invalid_field(
            "body.current_password",
            "is not the current password",
        ));
    }
    let mut writes = vec![
        super::new_password_write(&ctx, &email, &body.new_password).await?,
        super::password_changed_write(&ctx, bearer.user_id()),
        shared::audit::history_write(&ctx, "auth.password.changed", bearer.user_id(), &origin),
    ];
    let others = account.other_sessions(bearer.session_id())?;
    // Room for the session guard Bearer::transact adds.
    let fit = sessions::closable_in(writes.len(), 1).min(others.len());
    for other in &others[..fit] {
        writes.extend(sessions::close(other));
    }
    bearer.transact(&ctx, writes).await?;
    sessions::close_all(&ctx, &others[fit..]).await?;
    shared::audit::record(
        &ctx,
        "auth.password.changed",
        Some(bearer.user_id()),
        &origin,
    );
    Ok(StatusCode::NO_CONTENT)
}
