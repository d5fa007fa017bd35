//! The refresh token as a cookie, for browser clients: HttpOnly, scoped to the auth paths,
//! `Secure` and `SameSite=Strict` in prod (`Lax` otherwise, so plain-HTTP local development
//! works). Refresh and logout read it when the body carries no token.

use crate::AppContext;
use crate::config::Environment;
use http::{HeaderMap, HeaderValue, header};

pub const NAME: &str = "refresh_token";

fn attributes(ctx: &AppContext) -> String {
    let path = ctx.settings.path("/auth");
    if ctx.settings.env == Environment::Prod {
        format!("Path={path}; HttpOnly; Secure; SameSite=Strict")
    } else {
        format!("Path={path}; HttpOnly; SameSite=Lax")
    }
}

/// `Set-Cookie` carrying `token` for as long as refresh tokens live.
pub fn set(ctx: &AppContext, token: &str) -> HeaderValue {
    let max_age = ctx.settings.tokens.refresh_ttl.as_secs();
    HeaderValue::from_str(&format!(
        "{NAME}={token}; Max-Age={max_age}; {}",
        attributes(ctx)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes it.
pub fn clear(ctx: &AppContext) -> HeaderValue {
    HeaderValue::from_str(&format!("{NAME}=; Max-Age=0; {}", attributes(ctx)))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The refresh token from the request's cookies, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    value(headers, NAME)
}

/// The value of the cookie `name` in the request, if it is there and not empty.
pub fn value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}
