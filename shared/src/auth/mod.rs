//! Building blocks of authentication shared by the auth, mfa and oauth functions and by every
//! function that checks a bearer token: emails, passwords, roles and tokens.

pub mod email;
pub mod password;
pub mod roles;
pub mod tokens;

pub use email::Email;
pub use password::{Password, PasswordHasher, Verification};
pub use roles::Role;
pub use tokens::{Claims, TokenError, TokenKeys, TokenType};
