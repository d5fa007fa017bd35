//! Two promises checked over whole journeys: a failed login takes as long for an unknown email as
//! for a wrong password (at the real Argon2id cost), and no password, token or secret ever reaches
//! a log line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use api_tests::Gateway;
use serde_json::json;
use shared::testkit::{TestStore, captured_logs, context, json_request, request};

const PASSWORD: &str = "correct horse battery staple";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_take_the_same_time() {
    let store = TestStore::embedded();
    // The production cost (OWASP: 19 MiB, 2 iterations), not the cheap test default.
    let (ctx, _) = context(
        &store,
        &[
            ("PASSWORD_HASH_MEMORY_KIB", "19456"),
            ("PASSWORD_HASH_ITERATIONS", "2"),
            ("RL_LOGIN_IP_LIMIT", "100000"),
            ("RL_LOGIN_EMAIL_LIMIT", "100000"),
            ("LOGIN_FAIL_EMAIL_THRESHOLD", "1000"),
            ("LOGIN_FAIL_IP_THRESHOLD", "100000"),
        ],
    );
    let api = Gateway::new(&ctx);
    let body = json!({"name": "Timing", "email": "timing@example.com", "password": PASSWORD});
    assert_eq!(
        api.send(json_request("POST", "/v1/auth/signup", &body))
            .await
            .status,
        201
    );

    let attempt = |email: &'static str| {
        let api = &api;
        async move {
            let body = json!({"email": email, "password": "definitely not it"});
            let started = Instant::now();
            let response = api
                .send(json_request("POST", "/v1/auth/login", &body))
                .await;
            assert_eq!(response.status, 401);
            started.elapsed()
        }
    };
    // Warm up both paths (the dummy hash is computed once per container).
    attempt("nobody@example.com").await;
    attempt("timing@example.com").await;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        unknown.push(attempt("nobody@example.com").await);
        wrong.push(attempt("timing@example.com").await);
    }
    let (unknown, wrong) = (median(unknown), median(wrong));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    println!(
        "login failure median: unknown email {unknown:?}, wrong password {wrong:?}, ratio {ratio:.3}"
    );
    assert!(
        wrong > Duration::from_millis(5),
        "the real Argon2 cost is in play ({wrong:?})"
    );
    // Without the dummy hash an unknown email answers ~40x faster (ratio ~0.03); the band is
    // wide so a busy machine's noise cannot fail it, and narrow enough to catch that.
    assert!(
        (0.67..1.5).contains(&ratio),
        "timing differs: unknown {unknown:?} vs wrong {wrong:?}"
    );
}

#[tokio::test]
async fn a_whole_auth_journey_leaves_no_secret_in_the_logs() {
    let logs = captured_logs();
    let store = TestStore::embedded();
    let (ctx, metrics) = context(&store, &[("RESET_MIN_RESPONSE_MS", "0")]);
    let api = Gateway::new(&ctx);
    let send = |req| api.send(req);
    let signup = send(json_request(
        "POST",
        "/v1/auth/signup",
        &json!({"name": "Leak Check", "email": "leak@example.com", "password": PASSWORD}),
    ))
    .await
    .json();
    let login = send(json_request(
        "POST",
        "/v1/auth/login",
        &json!({"email": "leak@example.com", "password": PASSWORD}),
    ))
    .await
    .json();
    send(json_request(
        "POST",
        "/v1/auth/login",
        &json!({"email": "leak@example.com", "password": "wrong-password-123"}),
    ))
    .await;
    let refreshed = send(json_request(
        "POST",
        "/v1/auth/refresh",
        &json!({"refresh_token": login["refresh_token"]}),
    ))
    .await
    .json();
    let mut me = request("GET", "/v1/auth/me");
    let bearer = format!("Bearer {}", refreshed["access_token"].as_str().unwrap());
    me.headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    send(me).await;
    send(json_request(
        "POST",
        "/v1/auth/password-reset/request",
        &json!({"email": "leak@example.com"}),
    ))
    .await;
    let message = shared::testkit::outbox(&ctx).pop().unwrap();
    let reset_token = message
        .text
        .split("?token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    send(json_request(
        "POST",
        "/v1/auth/password-reset/confirm",
        &json!({"token": reset_token, "new_password": "a brand new secret phrase"}),
    ))
    .await;
    send(json_request(
        "POST",
        "/v1/auth/logout",
        &json!({"refresh_token": refreshed["refresh_token"]}),
    ))
    .await;

    let mut secrets: Vec<String> = vec![
        PASSWORD.to_owned(),
        "wrong-password-123".to_owned(),
        "a brand new secret phrase".to_owned(),
        reset_token,
    ];
    for pair in [&signup, &login, &refreshed] {
        secrets.push(pair["access_token"].as_str().unwrap().to_owned());
        secrets.push(pair["refresh_token"].as_str().unwrap().to_owned());
    }
    secrets.extend(ctx.secrets.expose_all_for_leak_checks());
    let lines = logs.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("auth.password_reset.completed")),
        "the journey was logged"
    );
    let everything = format!("{}\n{}", lines.join("\n"), metrics.lines().join("\n"));
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret reached the logs"
        );
    }
}
