//! The request id: the client's `X-Request-ID` when it is sane, else API Gateway's request id,
//! else a new UUID. Echoed in the `X-Request-ID` response header, put in every log line of the
//! request and in every error body.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

pub const HEADER: &str = "x-request-id";

/// Longest client-supplied id we accept.
const MAX_LEN: usize = 128;

/// The id of the request being served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// Accepts ids made of characters that are safe in headers and log lines.
fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

fn from_api_gateway(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub fn choose(request: &Request) -> RequestId {
    let from_client = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| is_acceptable(id))
        .map(str::to_owned);
    RequestId(
        from_client
            .or_else(|| from_api_gateway(request).filter(|id| is_acceptable(id)))
            .unwrap_or_else(|| crate::ids::random_uuid().to_string()),
    )
}

/// Middleware: picks the id, makes it current for the request and echoes it in the response.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = choose(&request);
    request.extensions_mut().insert(id.clone());
    let header = HeaderValue::from_str(&id.0).ok();
    let mut response = CURRENT.scope(id, next.run(request)).await;
    if let Some(header) = header {
        response.headers_mut().insert(HEADER, header);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(header: Option<&str>) -> Request {
        let mut builder = http::Request::builder().uri("/");
        if let Some(value) = header {
            builder = builder.header(HEADER, value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        assert_eq!(choose(&request(Some("abc-123"))).0, "abc-123");
    }

    #[test]
    fn odd_client_ids_are_replaced_with_a_uuid() {
        let long = "a".repeat(MAX_LEN + 1);
        // (Values `http` itself refuses, such as line breaks, never reach us.)
        for bad in [
            "",
            "has space",
            "quote\"d",
            "<script>",
            "semi;colon",
            long.as_str(),
        ] {
            let id = choose(&request(Some(bad))).0;
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} gave {id}");
        }
        assert!(uuid::Uuid::parse_str(&choose(&request(None)).0).is_ok());
    }

    #[test]
    fn api_gateway_id_is_used_when_the_client_sends_none() {
        let mut req = request(None);
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.request_id = Some("apigw-req-1".into());
        req.extensions_mut()
            .insert(RequestContext::ApiGatewayV2(ctx));
        assert_eq!(choose(&req).0, "apigw-req-1");
    }
}
