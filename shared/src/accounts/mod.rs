//! Accounts, sessions and the signed-in caller: what the auth, mfa and oauth functions write and
//! what every function reads to know who is calling.

pub mod cookies;
pub mod identities;
pub mod principal;
pub mod sessions;
pub mod users;

pub use principal::Bearer;
pub use sessions::{MfaRequired, Origin, SignedIn, TokenPair};
pub use users::User;
