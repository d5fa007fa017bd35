//! Calls a test makes again and again: sign up, sign in, refresh, with a bearer token, reset a
//! password, and the store round trips a request made.

use serde_json::json;
use shared::testkit::{TestResponse, TestStore, context, json_request, logs_for_request, request};

use crate::Gateway;

pub const PASSWORD: &str = "correct horse battery staple";

/// Limits and lock thresholds out of the way, except where a test sets its own.
pub const GENEROUS: &[(&str, &str)] = &[
    ("RL_LOGIN_IP_LIMIT", "100000"),
    ("RL_LOGIN_EMAIL_LIMIT", "100000"),
    ("RL_SIGNUP_IP_LIMIT", "100000"),
    ("RL_REFRESH_USER_LIMIT", "100000"),
    ("LOGIN_FAIL_IP_THRESHOLD", "100000"),
];

pub fn api(store: &TestStore, overrides: &[(&str, &str)]) -> Gateway {
    api_and_context(store, overrides).0
}

pub fn api_and_context(
    store: &TestStore,
    overrides: &[(&str, &str)],
) -> (Gateway, shared::AppContext) {
    let mut settings: Vec<(&str, &str)> = GENEROUS.to_vec();
    settings.extend_from_slice(overrides);
    let (ctx, _) = context(store, &settings);
    (Gateway::new(&ctx), ctx)
}

pub async fn signup(api: &Gateway, email: &str) -> TestResponse {
    let body = json!({"name": "Ada Lovelace", "email": email, "password": PASSWORD});
    api.send(json_request("POST", "/v1/auth/signup", &body))
        .await
}

pub async fn login(api: &Gateway, email: &str, password: &str) -> TestResponse {
    api.send(json_request(
        "POST",
        "/v1/auth/login",
        &json!({"email": email, "password": password}),
    ))
    .await
}

pub async fn refresh(api: &Gateway, token: &str) -> TestResponse {
    api.send(json_request(
        "POST",
        "/v1/auth/refresh",
        &json!({"refresh_token": token}),
    ))
    .await
}

pub fn with_bearer(
    mut req: http::Request<axum::body::Body>,
    token: &str,
) -> http::Request<axum::body::Body> {
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

pub async fn me(api: &Gateway, access: &str) -> TestResponse {
    api.send(with_bearer(request("GET", "/v1/auth/me"), access))
        .await
}

pub fn tokens(response: &TestResponse) -> (String, String) {
    let body = response.json();
    (
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    )
}

pub async fn sequential_calls(
    api: &Gateway,
    mut req: http::Request<axum::body::Body>,
    id: &str,
) -> (u16, i64, i64) {
    req.headers_mut()
        .insert("x-request-id", id.parse().unwrap());
    let status = api.send(req).await.status.as_u16();
    let line = logs_for_request(id)
        .into_iter()
        .find(|l| l["message"] == "request completed")
        .expect("access log line");
    (
        status,
        line["store_calls"].as_i64().unwrap(),
        line["store_sequential_calls"].as_i64().unwrap(),
    )
}

/// Runs `n` requests at once (each on its own task) and returns their statuses.
pub async fn statuses_in_parallel<F, Fut>(n: usize, request: F) -> Vec<u16>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = TestResponse> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let response = request();
            tokio::spawn(async move { response.await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::with_capacity(n);
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

pub fn reset_token(ctx: &shared::AppContext, email: &str) -> String {
    let messages = shared::testkit::outbox(ctx);
    let message = messages
        .iter()
        .rev()
        .find(|m| m.to == email)
        .expect("a reset message");
    let start = message.text.find("?token=").expect("a reset link") + "?token=".len();
    message.text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

pub async fn request_reset(api: &Gateway, email: &str) -> TestResponse {
    api.send(json_request(
        "POST",
        "/v1/auth/password-reset/request",
        &json!({"email": email}),
    ))
    .await
}

pub async fn confirm_reset(api: &Gateway, token: &str, password: &str) -> TestResponse {
    let body = json!({"token": token, "new_password": password});
    api.send(json_request(
        "POST",
        "/v1/auth/password-reset/confirm",
        &body,
    ))
    .await
}

/// Every operation of the served OpenAPI document that needs a bearer token, as requests.
pub fn bearer_operations() -> Vec<(String, String)> {
    let doc = crate::openapi::generate("/v1");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let needs_bearer = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if needs_bearer {
                let concrete = path
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') {
                            uuid::Uuid::new_v4().to_string()
                        } else {
                            segment.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                operations.push((method.to_uppercase(), concrete));
            }
        }
    }
    operations
}
