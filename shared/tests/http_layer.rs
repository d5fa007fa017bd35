//! The shared HTTP layer, driven through a small router built exactly as every function builds
//! its own: request ids, security headers, CORS, body limits, the error envelope for every kind
//! of bad request, internal-error hygiene, access logs and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::AppContext;
use shared::http::{ApiError, ApiJson, ApiPath, ApiQuery};
use shared::store::{Key, StoreError};
use shared::testkit::{
    TestStore, captured_logs, context, json_request, logs_for_request, request, send,
};

#[derive(Deserialize, Serialize)]
struct Person {
    name: String,
    age: u8,
}

#[derive(Deserialize)]
struct Page {
    limit: u32,
}

async fn echo(ApiJson(person): ApiJson<Person>) -> axum::Json<Person> {
    axum::Json(person)
}

async fn page(ApiQuery(page): ApiQuery<Page>) -> axum::Json<Value> {
    axum::Json(json!({ "limit": page.limit }))
}

async fn item(ApiPath(id): ApiPath<u32>) -> axum::Json<Value> {
    axum::Json(json!({ "id": id }))
}

async fn boom() -> Result<(), ApiError> {
    Err(ApiError::internal(
        anyhow::anyhow!("table users-prod missing").context("loading the profile"),
    ))
}

async fn busy() -> Result<(), ApiError> {
    Err(StoreError::Throttled.into())
}

async fn touch_store(
    axum::extract::State(ctx): axum::extract::State<AppContext>,
) -> Result<axum::Json<Value>, ApiError> {
    let (first, second) = (Key::new("A", "1"), Key::new("A", "2"));
    let (a, b) = tokio::join!(ctx.store.get(&first), ctx.store.get(&second));
    a?;
    b?;
    ctx.store.get(&Key::new("A", "3")).await?;
    Ok(axum::Json(json!({"ok": true})))
}

fn app(overrides: &[(&str, &str)]) -> (Router, shared::telemetry::Sink, TestStore) {
    let store = TestStore::embedded();
    let (ctx, metrics) = context(&store, overrides);
    let routes = Router::new()
        .route("/ok", get(|| async { axum::Json(json!({"ok": true})) }))
        .route("/echo", post(echo))
        .route("/page", get(page))
        .route("/items/{id}", get(item))
        .route("/boom", get(boom))
        .route("/busy", get(busy))
        .route("/store", get(touch_store));
    (shared::http::app(routes, ctx), metrics, store)
}

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    ),
];

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (router, _, _store) = app(&[]);
    let responses = [
        send(&router, request("GET", "/ok")).await,
        send(&router, request("GET", "/missing")).await,
        send(&router, request("DELETE", "/ok")).await,
        send(&router, json_request("POST", "/echo", &json!({}))).await,
        send(&router, request("GET", "/boom")).await,
    ];
    for response in &responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                response.header(name),
                Some(value),
                "{name} on {}",
                response.status
            );
        }
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(
            response.header("strict-transport-security"),
            None,
            "no HSTS outside prod"
        );
    }
}

#[tokio::test]
async fn hsts_only_in_prod_over_https() {
    let (router, _, _store) = app(&[("ENV", "prod"), ("STORE", "dynamodb")]);
    let mut over_https = request("GET", "/ok");
    over_https
        .headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let response = send(&router, over_https).await;
    assert_eq!(
        response.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    let plain = send(&router, request("GET", "/ok")).await;
    assert_eq!(plain.header("strict-transport-security"), None);
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let (router, _, _store) = app(&[]);
    let mut with_id = request("GET", "/ok");
    with_id
        .headers_mut()
        .insert("x-request-id", "client-abc-1".parse().unwrap());
    assert_eq!(
        send(&router, with_id).await.header("x-request-id"),
        Some("client-abc-1")
    );

    let generated = send(&router, request("GET", "/ok")).await;
    assert!(uuid::Uuid::parse_str(generated.header("x-request-id").unwrap()).is_ok());

    let mut hostile = request("GET", "/missing");
    hostile
        .headers_mut()
        .insert("x-request-id", "evil\"}{ injection".parse().unwrap());
    let response = send(&router, hostile).await;
    let error = response.assert_error(404, "HTTP_ERROR");
    assert!(uuid::Uuid::parse_str(error["request_id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let (router, _, _store) = app(&[]);
    send(&router, request("GET", "/nope"))
        .await
        .assert_error(404, "HTTP_ERROR");
    send(&router, request("GET", "/../../etc/passwd"))
        .await
        .assert_error(404, "HTTP_ERROR");
    let wrong_method = send(&router, request("PUT", "/echo")).await;
    wrong_method.assert_error(405, "HTTP_ERROR");
    assert_eq!(wrong_method.header("allow"), Some("POST"));
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_at_fault() {
    let (router, _, _store) = app(&[("MAX_BODY_BYTES", "1024")]);
    let ok = send(
        &router,
        json_request("POST", "/echo", &json!({"name": "Ada", "age": 36})),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json(), json!({"name": "Ada", "age": 36}));

    let plain = http::Request::builder()
        .method("POST")
        .uri("/echo")
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(r#"{"name":"Ada","age":36}"#))
        .unwrap();
    send(&router, plain).await.assert_error(415, "HTTP_ERROR");
    send(&router, request("POST", "/echo"))
        .await
        .assert_error(415, "HTTP_ERROR");

    let malformed = http::Request::builder()
        .method("POST")
        .uri("/echo")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"name\": \"Ada\", "))
        .unwrap();
    let error = send(&router, malformed)
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["errors"][0]["field"], "body");

    let invalid_utf8 = http::Request::builder()
        .method("POST")
        .uri("/echo")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(vec![b'"', 0xff, 0xfe, b'"']))
        .unwrap();
    send(&router, invalid_utf8)
        .await
        .assert_error(422, "VALIDATION_ERROR");

    let error = send(
        &router,
        json_request("POST", "/echo", &json!({"name": "Ada", "age": -1})),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["errors"][0]["field"], "body.age");

    let error = send(&router, json_request("POST", "/echo", &json!({"age": 3})))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["errors"][0]["field"], "body.name");

    let huge = json!({"name": "x".repeat(2000), "age": 1});
    send(&router, json_request("POST", "/echo", &huge))
        .await
        .assert_error(413, "HTTP_ERROR");
}

#[tokio::test]
async fn bad_query_strings_and_path_segments_are_validation_errors() {
    let (router, _, _store) = app(&[]);
    assert_eq!(
        send(&router, request("GET", "/page?limit=5")).await.json(),
        json!({"limit": 5})
    );
    let error = send(&router, request("GET", "/page?limit=-5"))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert!(
        error["details"]["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("query")
    );
    let error = send(&router, request("GET", "/page"))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["errors"][0]["field"], "query.limit");
    assert_eq!(
        send(&router, request("GET", "/items/7")).await.json(),
        json!({"id": 7})
    );
    send(&router, request("GET", "/items/..%2F..%2Fsecret"))
        .await
        .assert_error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn internal_errors_hide_their_cause_from_clients_and_log_it() {
    captured_logs();
    let (router, _, _store) = app(&[]);
    let response = send(&router, request("GET", "/boom")).await;
    let error = response.assert_error(500, "INTERNAL_ERROR");
    assert_eq!(error["message"], "internal server error");
    assert!(!response.text().contains("users-prod"));
    let request_id = error["request_id"].as_str().unwrap();
    let lines = logs_for_request(request_id);
    let failure = lines
        .iter()
        .find(|l| l["message"] == "request failed")
        .expect("a log line for the failure");
    assert_eq!(failure["level"], "ERROR");
    assert_eq!(failure["request_id"], request_id);
    assert_eq!(
        failure["error"],
        "loading the profile: table users-prod missing"
    );
}

#[tokio::test]
async fn transient_store_failures_are_503_with_retry_after() {
    let (router, _, _store) = app(&[]);
    let response = send(&router, request("GET", "/busy")).await;
    response.assert_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(response.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn every_request_is_logged_once_and_counted_in_metrics() {
    captured_logs();
    let (router, metrics, _store) = app(&[]);
    let mut req = request("GET", "/store");
    req.headers_mut()
        .insert("x-request-id", "trace-me".parse().unwrap());
    assert_eq!(send(&router, req).await.status, 200);

    let lines = logs_for_request("trace-me");
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .collect();
    assert_eq!(access.len(), 1);
    let line = access[0];
    assert_eq!(line["request_id"], "trace-me");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/store");
    assert_eq!(line["route"], "/store");
    assert_eq!(line["status_code"], 200);
    assert!(line["latency_ms"].as_f64().unwrap() >= 0.0);
    // Two concurrent reads, then one more: three calls, two sequential steps.
    assert_eq!(line["store_calls"], 3);
    assert_eq!(line["store_sequential_calls"], 2);
    for field in ["timestamp", "level", "logger", "module", "function"] {
        assert!(line.get(field).is_some(), "{field} missing from {line}");
    }

    let emf: Vec<Value> = metrics
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(emf.len(), 1);
    assert_eq!(emf[0]["status_class"], "2xx");
    assert_eq!(emf[0]["http_requests_total"], 1.0);
    assert_eq!(emf[0]["store_calls_per_request"], 3.0);
    assert_eq!(emf[0]["request_id"], "trace-me");
}

fn preflight(origin: &str) -> http::Request<axum::body::Body> {
    http::Request::builder()
        .method("OPTIONS")
        .uri("/echo")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_follows_cors_origins() {
    let (router, _, _store) = app(&[(
        "CORS_ORIGINS",
        "http://localhost:3000,https://app.example.com",
    )]);
    let allowed = send(&router, preflight("https://app.example.com")).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        allowed
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let refused = send(&router, preflight("https://evil.example")).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let mut simple = request("GET", "/ok");
    simple
        .headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    let response = send(&router, simple).await;
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(
        response
            .header("access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );

    let (any, _, _store) = app(&[("CORS_ORIGINS", "*")]);
    let response = send(&any, preflight("https://anywhere.example")).await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(response.header("access-control-allow-credentials"), None);

    let (none, _, _store) = app(&[]);
    let response = send(&none, preflight("https://app.example.com")).await;
    assert_eq!(response.header("access-control-allow-origin"), None);

    // An error rewritten into the envelope keeps its CORS headers, so browsers can read it.
    let mut wrong_method = request("DELETE", "/ok");
    wrong_method
        .headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    let response = send(&router, wrong_method).await;
    response.assert_error(405, "HTTP_ERROR");
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
}
