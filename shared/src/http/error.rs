//! One error type for every function, rendered as the JSON envelope clients already parse:
//!
//! ```json
//! {"error": {"code": "VALIDATION_ERROR", "message": "…", "details": {}, "request_id": "…"}}
//! ```
//!
//! Each [`ErrorCode`] has one stable code string and one status. 5xx bodies never carry internal
//! detail: the cause chain goes to the log line instead.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::request_id;
use crate::store::StoreError;

/// The stable codes clients branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// 422: the request's content is invalid; `details.errors` lists the fields.
    ValidationError,
    /// A plain HTTP error: 400, 401, 403, 404, 405, 409, 413, 415 …
    HttpError,
    /// 401: no valid access token (or session) for a protected endpoint.
    Unauthorized,
    /// 401: wrong email or password (never says which).
    InvalidCredentials,
    /// 401: the second step of a sign-in got a wrong or already used code.
    InvalidMfaCode,
    /// 403: signed in, but without a role the endpoint requires.
    Forbidden,
    /// 409: an account with this email exists.
    EmailTaken,
    /// 400: an OAuth callback whose `state` is unknown, expired, already used or not this
    /// browser's: start the sign-in again.
    InvalidOAuthState,
    /// 401: the provider refused the code, or its ID token failed a check (signature, issuer,
    /// audience, nonce, expiry).
    OAuthFailed,
    /// 403: the provider does not vouch for the account's email address.
    EmailNotVerified,
    /// 409: the provider's email belongs to an account: link with `POST /v1/auth/oauth/link`
    /// and `details.link_token`.
    LinkRequired,
    /// 429: too many requests; retry after `Retry-After` seconds.
    RateLimited,
    /// 429: too many failed sign-ins for this email or address; retry after `Retry-After`.
    AccountLocked,
    /// 503: a dependency is unavailable or throttling; retry after `Retry-After` seconds.
    ServiceUnavailable,
    /// 500: an unexpected failure; the log has the cause, the client only the request id.
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::HttpError => "HTTP_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidMfaCode => "INVALID_MFA_CODE",
            Self::Forbidden => "FORBIDDEN",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidOAuthState => "INVALID_OAUTH_STATE",
            Self::OAuthFailed => "OAUTH_FAILED",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::LinkRequired => "LINK_REQUIRED",
            Self::RateLimited => "RATE_LIMITED",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where in the request: `body`, `body.email`, `query.limit`, `path.id` …
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `VALIDATION_ERROR`, `HTTP_ERROR`, `INTERNAL_ERROR`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Machine-readable specifics; `{"errors": [{"field", "message"}]}` for validation errors.
    #[schema(value_type = Object)]
    pub details: Value,
    /// The request's id, also in the `X-Request-ID` response header and in every log line.
    pub request_id: String,
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    status: StatusCode,
    message: Cow<'static, str>,
    details: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Logged, never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    fn new(code: ErrorCode, status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            details: json!({}),
            headers: Vec::new(),
            source: None,
        }
    }

    /// An error with its own code (`UNAUTHORIZED`, `EMAIL_TAKEN` …).
    pub fn coded(
        code: ErrorCode,
        status: StatusCode,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(code, status, message)
    }

    /// 429 `RATE_LIMITED` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            ErrorCode::RateLimited,
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; retry later",
        )
        .with_retry_after(retry_after)
    }

    /// 429 `ACCOUNT_LOCKED` with `Retry-After`: the same for every email, with or without account.
    pub fn locked(retry_after: u64) -> Self {
        Self::new(
            ErrorCode::AccountLocked,
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; retry later",
        )
        .with_retry_after(retry_after)
    }

    fn with_retry_after(self, seconds: u64) -> Self {
        let value = HeaderValue::from_str(&seconds.max(1).to_string())
            .unwrap_or(HeaderValue::from_static("1"));
        self.with_header(header::RETRY_AFTER, value)
    }

    /// 422 `VALIDATION_ERROR` listing the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(
            ErrorCode::ValidationError,
            StatusCode::UNPROCESSABLE_ENTITY,
            "request validation failed",
        )
        .with_details(json!({ "errors": errors }))
    }

    /// 422 `VALIDATION_ERROR` for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// `HTTP_ERROR` with the given 4xx status.
    pub fn http(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::HttpError, status, message)
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::http(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> Self {
        Self::http(StatusCode::NOT_FOUND, "not found")
    }

    /// The envelope for a bare status (404 and 405 fallbacks, 413 from the body limit …).
    pub fn from_status(status: StatusCode) -> Self {
        let message = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                Self::new(ErrorCode::ServiceUnavailable, status, message)
            }
            s if s.is_server_error() => Self::new(
                ErrorCode::InternalError,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
            ),
            s => Self::http(s, message),
        }
    }

    /// 503 `SERVICE_UNAVAILABLE`: a dependency failed in a way retrying may fix.
    pub fn unavailable(source: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(
            ErrorCode::ServiceUnavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is temporarily unavailable; retry shortly",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"));
        error.source = Some(source.into());
        error
    }

    /// 500 `INTERNAL_ERROR`; `source` is logged, not sent.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(
            ErrorCode::InternalError,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error",
        );
        error.source = Some(source.into());
        error
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The message clients see (never internal detail).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code.as_str(),
            self.message
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        // A cursor comes from the client: a bad one is the client's error.
        if matches!(err, StoreError::InvalidCursor) {
            return Self::invalid_field("query.cursor", "this cursor does not belong to this list");
        }
        if err.is_transient() {
            Self::unavailable(err)
        } else {
            Self::internal(err)
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            // `{:#}` prints the whole cause chain on one line.
            if self.status.is_server_error() {
                tracing::error!(error_code = self.code.as_str(), status_code = self.status.as_u16(), error = %format!("{source:#}"), "request failed");
            }
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.into_owned(),
                details: self.details,
                request_id: request_id::current().unwrap_or_default(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_its_status() {
        assert_eq!(
            ApiError::validation(vec![]).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(ApiError::not_found().code(), ErrorCode::HttpError);
        assert_eq!(
            ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            ApiError::from_status(StatusCode::BAD_GATEWAY).code(),
            ErrorCode::InternalError
        );
        assert_eq!(
            ApiError::from(StoreError::Throttled).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(StoreError::Invalid("x".into())).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn a_bad_cursor_is_the_clients_error() {
        let err = ApiError::from(StoreError::InvalidCursor);
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code(), ErrorCode::ValidationError);
    }

    #[tokio::test]
    async fn internal_errors_never_reach_the_body() {
        let response =
            ApiError::internal(anyhow::anyhow!("table secret-table missing")).into_response();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("secret-table"));
        assert!(text.contains("INTERNAL_ERROR"));
    }
}
