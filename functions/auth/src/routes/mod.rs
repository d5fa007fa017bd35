pub mod admin;
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
