//! Where a request comes from: API Gateway's source IP (never a header the client sets) and the
//! user agent, for session lists and audit events.

use crate::accounts::Origin;
use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::request::RequestContext;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

pub struct ClientOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
            _ => None,
        };
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect()
            });
        Ok(Self(Origin { user_agent, ip }))
    }
}
