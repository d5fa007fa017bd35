//! The API as clients see it: every function's router behind the routing table, on the embedded
//! store and on DynamoDB Local.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use api_tests::{FUNCTIONS, Gateway, routing_table};
use serde_json::Value;
use shared::testkit::faults::{Fault, Plan};
use shared::testkit::{BackendKind, TestStore, context, request, workspace_root};

fn gateway(store: &TestStore, overrides: &[(&str, &str)]) -> Gateway {
    let (ctx, _metrics) = context(store, overrides);
    Gateway::new(&ctx)
}

#[test]
fn the_routing_table_and_the_functions_agree() {
    let table = routing_table();
    let known: Vec<&str> = FUNCTIONS.iter().map(|(name, _)| *name).collect();
    for function in table.values() {
        assert!(
            known.contains(&function.as_str()),
            "routing table names unknown function {function}"
        );
    }
    // Every function crate in the workspace is routed and has a router here.
    let crates = std::fs::read_dir(workspace_root().join("functions")).unwrap();
    for entry in crates {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            known.contains(&name.as_str()),
            "function {name} missing from api_tests::FUNCTIONS"
        );
        assert!(
            table.values().any(|f| f == &name),
            "function {name} missing from the routing table"
        );
    }
}

#[tokio::test]
async fn unknown_paths_reach_health_and_get_the_404_envelope() {
    let store = TestStore::embedded();
    let api = gateway(&store, &[]);
    assert_eq!(api.function_for("/v1/whatever/else"), Some("health"));
    assert_eq!(api.function_for("/"), Some("health"));
    for path in [
        "/v1/whatever",
        "/v2/health",
        "/v1/health/extra",
        "/%2e%2e/etc/passwd",
    ] {
        api.send(request("GET", path))
            .await
            .assert_error(404, "HTTP_ERROR");
    }
}

#[tokio::test]
async fn root_describes_the_api() {
    let store = TestStore::embedded();
    let body = gateway(&store, &[]).send(request("GET", "/")).await.json();
    assert_eq!(body["name"], "Medical Platform API");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["environment"], "dev");
    assert_eq!(body["docs"], "/docs");
    assert_eq!(body["openapi"], "/v1/openapi.json");
    let prod = gateway(&store, &[("ENV", "prod"), ("STORE", "dynamodb")]);
    let body = prod.send(request("GET", "/")).await.json();
    assert_eq!(body["environment"], "prod");
    assert_eq!(body["docs"], Value::Null);
}

#[tokio::test]
async fn liveness_answers_without_touching_the_store() {
    let (broken, faulty) = TestStore::embedded().with_faults();
    faulty.set_plan(Plan::Always(Fault::Unavailable));
    let response = gateway(&broken, &[])
        .send(request("GET", "/v1/health"))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
    assert_eq!(faulty.calls(), 0);
}

async fn readiness_is_ok_with_one_store_round_trip(kind: BackendKind) {
    let (counted, faulty) = TestStore::new(kind).await.with_faults();
    let response = gateway(&counted, &[])
        .send(request("GET", "/v1/ready"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["status"], "ok");
    let check = &body["checks"]["store"];
    assert_eq!(check["status"], "ok");
    assert_eq!(check["critical"], true);
    assert_eq!(
        check["backend"],
        if kind == BackendKind::Embedded {
            "embedded"
        } else {
            "dynamodb"
        }
    );
    assert!(check["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        faulty.calls(),
        1,
        "readiness makes exactly one store round trip"
    );
}

#[tokio::test]
async fn readiness_is_ok_on_the_embedded_store() {
    readiness_is_ok_with_one_store_round_trip(BackendKind::Embedded).await;
}

#[tokio::test]
async fn readiness_is_ok_on_dynamodb_local() {
    readiness_is_ok_with_one_store_round_trip(BackendKind::DynamoDb).await;
}

#[tokio::test]
async fn readiness_reports_down_degraded_and_recovers_by_itself() {
    let (store, faulty) = TestStore::embedded().with_faults();
    let api = gateway(&store, &[]);

    for (fault, category) in [
        (Fault::Unavailable, "unavailable"),
        (Fault::Throttled, "throttled"),
    ] {
        faulty.set_plan(Plan::Always(fault));
        let response = api.send(request("GET", "/v1/ready")).await;
        assert_eq!(response.status, 503);
        let body = response.json();
        assert_eq!(body["status"], "down");
        assert_eq!(body["checks"]["store"]["status"], "down");
        assert_eq!(body["checks"]["store"]["error"], category);
    }

    faulty.set_plan(Plan::Always(Fault::Slow(Duration::from_millis(1200))));
    let body = api.send(request("GET", "/v1/ready")).await.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["store"]["status"], "slow");

    faulty.set_plan(Plan::Always(Fault::Slow(Duration::from_secs(5))));
    let response = api.send(request("GET", "/v1/ready")).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["checks"]["store"]["error"], "timeout");

    // The store comes back: so does readiness, with no restart.
    faulty.set_plan(Plan::Healthy);
    let response = api.send(request("GET", "/v1/ready")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_the_error_envelope() {
    let store = TestStore::embedded();
    let response = gateway(&store, &[])
        .send(request("GET", "/v1/openapi.json"))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc = response.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/", "/docs", "/v1/health", "/v1/ready", "/v1/openapi.json"] {
        assert!(paths.contains_key(path), "{path} missing from the document");
    }
    // Every documented operation answers (it is a real route), and documents the envelope.
    let api = gateway(&store, &[]);
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let response = api.send(request(&method.to_uppercase(), path)).await;
            // A 404 of the route itself (an unconfigured provider, say) is not the fallback's.
            let fallback =
                response.status == 404 && response.json()["error"]["message"] == "not found";
            assert!(!fallback, "{method} {path} is documented but not routed");
            assert_ne!(
                response.status, 405,
                "{method} {path} is documented but not routed"
            );
            for range in ["4XX", "5XX"] {
                let schema =
                    &operation["responses"][range]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {range}"
                );
            }
        }
    }
    let envelope = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
    for field in ["code", "message", "details", "request_id"] {
        assert!(envelope.get(field).is_some(), "ErrorDetail lacks {field}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn the_document_is_generated_from_the_routers() {
    // What the document describes is what the functions' routers declare, nothing hand-written.
    let generated = api_tests::openapi::generate("/v1");
    let mut route_paths: Vec<String> = health::api("/v1")
        .into_openapi()
        .paths
        .paths
        .into_keys()
        .collect();
    route_paths.extend(auth::api("/v1").into_openapi().paths.paths.into_keys());
    route_paths.extend(mfa::api("/v1").into_openapi().paths.paths.into_keys());
    route_paths.extend(oauth::api("/v1").into_openapi().paths.paths.into_keys());
    route_paths.extend(tracker::api("/v1").into_openapi().paths.paths.into_keys());
    route_paths.sort();
    let generated_paths: Vec<String> = generated["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(generated_paths, route_paths);
}

#[tokio::test]
async fn lambda_serves_every_documented_operation_at_its_route() {
    // Lambda serves each function's `lambda_routes`, the document comes from its `api`: one
    // declaration makes both, and each documented operation must reach its own route (the
    // access log names the route matched), never the fallback or a 405.
    shared::testkit::captured_logs();
    let store = TestStore::embedded();
    let api = gateway(&store, &[]);
    let doc = api_tests::openapi::generate("/v1");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete: Vec<&str> = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "0190a8c4-1f2e-7a3b-9c4d-5e6f7a8b9c0d"
                    } else {
                        segment
                    }
                })
                .collect();
            let request_id = format!("route-check-{checked}");
            let mut req = request(&method.to_uppercase(), &concrete.join("/"));
            req.headers_mut()
                .insert("x-request-id", request_id.parse().unwrap());
            let response = api.send(req).await;
            assert_ne!(response.status, 405, "{method} {path}: {}", response.text());
            let logs = shared::testkit::logs_for_request(&request_id);
            let completed = logs
                .iter()
                .find(|line| line["message"] == "request completed")
                .unwrap_or_else(|| panic!("{method} {path}: no access log line"));
            assert_eq!(completed["route"], path.as_str(), "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} operations documented");
}

#[tokio::test]
async fn health_serves_the_generated_document() {
    // health links no other function, so it serves a committed copy; a route changed without
    // `make openapi` fails here, naming the fix.
    let committed = std::fs::read_to_string(api_tests::openapi::committed_path()).unwrap();
    assert!(
        committed == api_tests::openapi::generate_committed_text(),
        "functions/health/openapi.json is not what the routers declare: run `make openapi` and commit it"
    );
    let store = TestStore::embedded();
    let response = gateway(&store, &[])
        .send(request("GET", "/v1/openapi.json"))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), api_tests::openapi::generate("/v1"));
}

#[tokio::test]
async fn docs_page_is_served_outside_prod_only() {
    let store = TestStore::embedded();
    let response = gateway(&store, &[]).send(request("GET", "/docs")).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        response
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let page = response.text();
    for path in ["/v1/health", "/v1/ready", "/v1/openapi.json"] {
        assert!(
            page.contains(&format!("<code>{path}</code>")),
            "{path} missing from /docs"
        );
    }
    let prod = gateway(&store, &[("ENV", "prod"), ("STORE", "dynamodb")]);
    prod.send(request("GET", "/docs"))
        .await
        .assert_error(404, "HTTP_ERROR");
}

#[tokio::test]
async fn the_api_prefix_moves_every_versioned_route() {
    let store = TestStore::embedded();
    let (ctx, _) = context(&store, &[("API_PREFIX", "/v2")]);
    let router = health::router(ctx);
    let response = shared::testkit::send(&router, request("GET", "/v2/health")).await;
    assert_eq!(response.status, 200);
    shared::testkit::send(&router, request("GET", "/v1/health"))
        .await
        .assert_error(404, "HTTP_ERROR");
    // The served document moves with it; unversioned paths stay where they are.
    let moved = health::openapi("/v2");
    let generated = api_tests::openapi::generate("/v2");
    assert_eq!(moved["paths"], generated["paths"]);
    assert!(moved["paths"].get("/v2/ready").is_some());
    assert!(moved["paths"].get("/docs").is_some());
}

/// Each sample event in `events/` (what `cargo lambda invoke --data-file` sends) and the status it
/// must produce.
const EVENTS: &[(&str, u16)] = &[
    ("auth-signup.json", 201),
    ("auth-login-invalid.json", 401),
    ("auth-me-unauthorized.json", 401),
    ("auth-demo.json", 201),
    ("mfa-status-unauthorized.json", 401),
    ("mfa-verify-invalid.json", 401),
    ("oauth-authorize-unknown-provider.json", 404),
    ("oauth-identities-unauthorized.json", 401),
    ("tracker-day-unauthorized.json", 401),
    ("tracker-catalog-unauthorized.json", 401),
    ("health-root.json", 200),
    ("health-liveness.json", 200),
    ("health-readiness.json", 200),
    ("health-openapi.json", 200),
    ("health-docs.json", 200),
    ("health-not-found.json", 404),
    ("health-method-not-allowed.json", 405),
];

#[tokio::test]
async fn every_sample_event_is_a_valid_api_gateway_request() {
    let dir = workspace_root().join("events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut expected: Vec<String> = EVENTS.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(files, expected, "every event file has an expectation here");

    let store = TestStore::embedded();
    let api = gateway(&store, &[]);
    for (file, status) in EVENTS {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        // Parsed the way the Lambda runtime parses it.
        let lambda_request: lambda_http::request::LambdaRequest =
            serde_json::from_str(&text).unwrap();
        let request: http::Request<lambda_http::Body> = lambda_request.into();
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        let response = api.send(request).await;
        assert_eq!(
            response.status.as_u16(),
            *status,
            "{file}: {}",
            response.text()
        );
        // With no X-Request-ID, the API Gateway request id is the request id.
        assert_eq!(
            response.header("x-request-id"),
            event["requestContext"]["requestId"].as_str(),
            "{file}"
        );
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let logs = shared::testkit::captured_logs();
    let store = TestStore::embedded();
    let (ctx, metrics) = context(&store, &[]);
    let api = Gateway::new(&ctx);
    for path in [
        "/",
        "/v1/health",
        "/v1/ready",
        "/v1/openapi.json",
        "/docs",
        "/v1/missing",
    ] {
        api.send(request("GET", path)).await;
        api.send(request("POST", path)).await;
    }
    let lines = logs.lines();
    assert!(
        lines.iter().any(|l| l.contains("request completed")),
        "logs were captured"
    );
    let mut everything = lines.join("\n");
    everything.push_str(&metrics.lines().join("\n"));
    for secret in ctx.secrets.expose_all_for_leak_checks() {
        assert!(
            !everything.contains(&secret),
            "a secret value reached the logs"
        );
    }
}

#[tokio::test]
async fn every_operation_has_its_own_operation_id() {
    // Generated clients and contract fuzzers name operations by their id.
    let doc = api_tests::openapi::generate("/v1");
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
                panic!("{id} names both {other} and {method} {path}");
            }
        }
    }
}
