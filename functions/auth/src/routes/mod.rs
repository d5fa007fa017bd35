pub mod admin;
pub mod demo;
pub mod events;
pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;
pub mod reset;
pub mod sessions;
pub mod signup;

use serde::Serialize;
use shared::accounts::{TokenPair, User};
use utoipa::ToSchema;

/// A signed-in answer: the token pair and the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: User,
}

impl SignedIn {
    /// The answer, with the refresh token also set as an HttpOnly cookie.
    pub fn respond(
        self,
        ctx: &shared::AppContext,
        status: http::StatusCode,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let cookie = crate::cookies::set(ctx, &self.tokens.refresh_token);
        (
            status,
            [(http::header::SET_COOKIE, cookie)],
            axum::Json(self),
        )
            .into_response()
    }
}
