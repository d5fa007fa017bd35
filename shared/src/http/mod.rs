//! The HTTP layer every function shares: the same tower layers around every router, so that
//! Lambda and the tests run exactly the same stack.

pub mod error;
pub mod extract;
pub mod origin;
pub mod request_id;
pub mod routes;

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, header};
use lambda_http::RequestExt;
use serde_json::Value;
use tower::layer::util::Identity;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

pub use error::{ApiError, ErrorBody, ErrorCode, FieldError};
pub use extract::{ApiJson, ApiJsonOrDefault, ApiPath, ApiQuery};
pub use origin::ClientOrigin;
pub use request_id::RequestId;

use crate::app::AppContext;
use crate::config::{CorsOrigins, Environment};
use crate::metrics::{Metric, Unit};
use crate::store::count_calls;

/// Wraps a function's routes in the shared layers, outermost first:
/// request id → access log, metrics and store-call counting → security headers → error
/// envelope for bare error responses → CORS → body size limit → routes (404 fallback).
/// In Lambda the body is already in memory (API Gateway caps it at 10 MB); the limit stops us
/// from parsing more than `MAX_BODY_BYTES` of it.
///
/// The layers wrap the router once, not each route (`Router::layer` builds the whole stack for
/// every route: a third of the tracker's router start). Each route carries only
/// [`note_route`], which tells the access log which route matched.
pub fn app(routes: Router<AppContext>, ctx: AppContext) -> Router {
    app_with(routes, ctx, Identity::new())
}

/// [`app`], with a function's own `layer` (an `Extension`, a middleware) around its routes,
/// inside the shared layers. Like them it wraps the routes once: `Router::layer` on the
/// routes would build it for each route, at every cold start.
pub fn app_with<L>(routes: Router<AppContext>, ctx: AppContext, layer: L) -> Router
where
    L: Layer<Router>,
    L::Service:
        Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    let max_body = ctx.settings.max_body_bytes;
    let routed = routes
        .route_layer(middleware::from_fn(note_route))
        .fallback(not_found)
        .with_state(ctx.clone());
    let layered = ServiceBuilder::new()
        .layer(middleware::from_fn(request_id::middleware))
        .layer(middleware::from_fn_with_state(ctx.clone(), observe))
        .layer(middleware::from_fn_with_state(
            ctx.clone(),
            security_headers,
        ))
        .layer(middleware::from_fn(error_envelope))
        .option_layer(cors(&ctx.settings.cors_origins))
        // Every body is read through an extractor, which enforces this limit with a 413.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(layer)
        .service(routed);
    Router::new().fallback_service(layered)
}

/// Where the route a request matched is noted, for the access log written outside the router.
#[derive(Clone, Default)]
struct MatchedRoute(Arc<OnceLock<MatchedPath>>);

async fn note_route(request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    if let (Some(slot), Some(path)) = (
        extensions.get::<MatchedRoute>(),
        extensions.get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(path.clone());
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// One span per request (every log line inside carries its fields), one access-log line and
/// one EMF line per request, and the store calls the request made.
async fn observe(State(ctx): State<AppContext>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let matched = MatchedRoute::default();
    request.extensions_mut().insert(matched.clone());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        lambda_request_id = tracing::field::Empty,
    );
    if let Some(context) = request.lambda_context_ref() {
        span.record("lambda_request_id", context.request_id.as_str());
    }
    let (response, calls) = count_calls(next.run(request))
        .instrument(span.clone())
        .await;
    // Microsecond precision is plenty, and keeps log and metric lines short.
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let status = response.status();
    span.in_scope(|| {
        tracing::info!(
            status_code = status.as_u16(),
            latency_ms,
            route = matched.0.get().map_or("unmatched", MatchedPath::as_str),
            store_calls = calls.total,
            store_sequential_calls = calls.sequential,
            "request completed"
        );
    });
    let status_class = match status.as_u16() {
        500.. => "5xx",
        400..500 => "4xx",
        _ => "2xx",
    };
    ctx.metrics.emit(
        &[("status_class", status_class)],
        &[
            Metric::count("http_requests_total"),
            Metric::value("http_request_duration_ms", Unit::Milliseconds, latency_ms),
            Metric::value(
                "store_calls_per_request",
                Unit::Count,
                f64::from(calls.total),
            ),
        ],
        &[("request_id", Value::from(request_id))],
    );
    response
}

static PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

async fn security_headers(State(ctx): State<AppContext>, request: Request, next: Next) -> Response {
    let over_https = request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
        || request.uri().scheme_str() == Some("https");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        PERMISSIONS_POLICY.clone(),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    // API responses (tokens, health data) must not be cached; a page that may be sets its own.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    if ctx.settings.env == Environment::Prod && over_https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Error responses that did not come from an [`ApiError`] (405 from the router, 413 from the body
/// limit …) get the envelope too; every header but the body's own is kept (`Allow`, CORS …).
async fn error_envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let mut envelope = ApiError::from_status(status).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            envelope.headers_mut().insert(name.clone(), value.clone());
        }
    }
    envelope
}

fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(request_id::HEADER),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600));
    match origins {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(base.allow_origin(AllowOrigin::any())),
        CorsOrigins::List(list) => Some(
            base.allow_origin(
                list.iter()
                    .filter_map(|origin| HeaderValue::from_str(origin).ok())
                    .collect::<Vec<_>>(),
            )
            .allow_credentials(true),
        ),
    }
}
