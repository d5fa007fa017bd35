//! `POST /v1/auth/signup`: a new account (role STUDENT) and its first session.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::{User, sessions, users};
use shared::auth::password::check_policy;
use shared::auth::{Email, Password, Role};
use shared::http::{ApiError, ApiJson, ErrorCode};
use shared::store::StoreError;
use utoipa::ToSchema;

use shared::accounts::SignedIn;
use shared::http::ClientOrigin;

/// Longest display name, in characters.
const MAX_NAME: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    pub name: String,
    pub email: Email,
    pub password: Password,
}

/// The name as stored: trimmed, 1–100 characters, no control characters.
pub fn valid_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "body.name",
            format!("must be 1 to {MAX_NAME} characters, without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = SignedIn),
        (status = 409, description = "`EMAIL_TAKEN`: an account with this email exists", body = shared::http::ErrorBody),
    )
)]
pub async fn signup(
    State(ctx): State<AppContext>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<axum::response::Response, ApiError> {
    let ip = Subject::ip(&origin);
    let limit =
        abuse::rate_limit(&ctx, "signup_ip", &ip, ctx.settings.rate_limits.signup_ip).await?;
    if let Some(retry_after) = limit.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        return Err(ApiError::rate_limited(retry_after));
    }
    let name = valid_name(&body.name)?;
    check_policy(
        &body.password,
        Some(&body.email),
        ctx.settings.passwords.min_length,
    )
    .map_err(|message| ApiError::invalid_field("body.password", message))?;
    let hash = ctx
        .passwords
        .hash(&body.password)
        .await
        .map_err(ApiError::internal)?;
    let user = User::new(
        shared::ids::random_uuid().to_string(),
        name,
        &body.email,
        vec![Role::Student],
        ctx.clock.now().to_string(),
    );
    let mut writes = users::create_writes(&user, &body.email, Some(hash))?;
    let (session_writes, tokens) =
        sessions::open(&ctx, &user, &origin).map_err(ApiError::internal)?;
    writes.extend(session_writes);
    writes.push(shared::audit::history_write(
        &ctx,
        "auth.register.success",
        &user.id,
        &origin,
    ));
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            return Err(ApiError::coded(
                ErrorCode::EmailTaken,
                StatusCode::CONFLICT,
                "an account with this email already exists",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    shared::audit::record(&ctx, "auth.register.success", Some(&user.id), &origin);
    Ok(SignedIn { tokens, user }.respond(&ctx, StatusCode::CREATED))
}
