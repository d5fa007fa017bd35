//! The mfa function through the whole API, on the embedded store and on DynamoDB Local: the
//! journey from setup to a two-step sign-in, backup codes, regeneration, turning it off, the
//! brute-force limits, password resets with MFA on, the races, logs and round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use api_tests::Gateway;
use api_tests::client::*;
use serde_json::{Value, json};
use shared::testkit::{
    TestResponse, TestStore, captured_logs, context, json_request, logs_for_request, request,
    totp_code,
};

shared::on_both_backends!(
    the_whole_journey_from_setup_to_a_two_step_sign_in,
    a_backup_code_works_once_in_any_spelling,
    regenerating_kills_every_old_backup_code,
    regenerating_the_largest_batch_removes_every_old_code,
    mfa_turns_off_with_the_password_or_a_code,
    five_wrong_codes_kill_the_mfa_token,
    parallel_guesses_never_exceed_five_per_mfa_token,
    wrong_codes_feed_the_sign_in_lockout,
    an_mfa_pending_token_is_no_bearer_token_anywhere,
    only_an_mfa_pending_token_completes_a_sign_in,
    setup_and_enable_refuse_what_does_not_fit,
    turning_mfa_on_ends_the_other_sessions,
    a_password_reset_needs_the_second_factor,
    exactly_one_of_20_parallel_sign_ins_with_one_totp_code_wins,
    exactly_one_of_20_parallel_uses_of_one_backup_code_wins,
    exactly_one_of_20_parallel_regenerations_with_one_code_wins,
    no_secret_or_code_reaches_a_log_line,
    attempts_are_counted_and_audited,
    round_trips_stay_within_their_budget,
    parallel_guesses_never_overshoot_the_lockout,
    a_pending_sign_in_dies_when_mfa_is_turned_off_and_on,
    an_older_session_confirms_with_the_password_to_turn_mfa_on,
);

/// Far from every threshold, except where a test sets its own.
const NO_LOCKOUT: &[(&str, &str)] = &[("LOGIN_FAIL_EMAIL_THRESHOLD", "1000")];

struct Enrolled {
    user_id: String,
    access: String,
    secret: String,
    backup_codes: Vec<String>,
}

fn bearer_post(path: &str, access: &str, body: &Value) -> http::Request<axum::body::Body> {
    with_bearer(json_request("POST", path, body), access)
}

/// The code the authenticator shows now.
fn code_now(ctx: &shared::AppContext, secret: &str) -> String {
    totp_code(secret, ctx.clock.epoch_seconds())
}

/// Moves to the next TOTP step: the code of the last one is spent.
fn next_step(ctx: &shared::AppContext) {
    ctx.clock.advance(Duration::from_secs(30));
}

async fn setup(api: &Gateway, access: &str) -> TestResponse {
    api.send(with_bearer(request("POST", "/v1/auth/mfa/setup"), access))
        .await
}

async fn status(api: &Gateway, access: &str) -> Value {
    let response = api
        .send(with_bearer(request("GET", "/v1/auth/mfa/status"), access))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// The secret of a new setup.
async fn new_secret(api: &Gateway, access: &str) -> String {
    let started = setup(api, access).await;
    assert_eq!(started.status, 200, "{}", started.text());
    started.json()["secret"].as_str().unwrap().to_owned()
}

/// Sets up an authenticator and enables MFA with its current code: the secret and the answer.
async fn turn_on(api: &Gateway, ctx: &shared::AppContext, access: &str) -> (String, TestResponse) {
    let secret = new_secret(api, access).await;
    let enabled = api
        .send(bearer_post(
            "/v1/auth/mfa/enable",
            access,
            &json!({"code": code_now(ctx, &secret)}),
        ))
        .await;
    (secret, enabled)
}

/// Signs `email` up and turns MFA on; the clock is then one step further.
async fn enroll(api: &Gateway, ctx: &shared::AppContext, email: &str) -> Enrolled {
    let signed_up = signup(api, email).await;
    let user_id = signed_up.json()["user"]["id"].as_str().unwrap().to_owned();
    let (access, _) = tokens(&signed_up);
    let (secret, enabled) = turn_on(api, ctx, &access).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    let backup_codes = enabled.json()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    next_step(ctx);
    Enrolled {
        user_id,
        access,
        secret,
        backup_codes,
    }
}

/// The `mfa_token` of a password sign-in.
async fn mfa_token(api: &Gateway, email: &str) -> String {
    let response = login(api, email, PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["mfa_required"], true, "{body}");
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn verify(api: &Gateway, token: &str, field: &str, code: &str) -> TestResponse {
    api.send(json_request(
        "POST",
        "/v1/auth/mfa/verify",
        &json!({"mfa_token": token, field: code}),
    ))
    .await
}

async fn the_whole_journey_from_setup_to_a_two_step_sign_in(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let (access, _) = tokens(&signup(&api, "journey@example.com").await);
    assert_eq!(status(&api, &access).await["enabled"], false);

    let started = setup(&api, &access).await;
    assert_eq!(started.status, 200, "{}", started.text());
    let body = started.json();
    let secret = body["secret"].as_str().unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/ExamPrepSite:journey%40example.com?"));
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=ExamPrepSite"));
    assert!(uri.contains("period=30"));
    // The QR code, drawn and scanned, is the URI.
    assert_eq!(scan_qr_code(body["qr_code"].as_str().unwrap()), uri);
    assert_eq!(
        (body["digits"].as_u64(), body["period"].as_u64()),
        (Some(6), Some(30))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(status(&api, &access).await["setup_pending"], true);

    let enabled = api
        .send(bearer_post(
            "/v1/auth/mfa/enable",
            &access,
            &json!({"code": code_now(&ctx, secret)}),
        ))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    let codes = enabled.json()["backup_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    let now = status(&api, &access).await;
    assert_eq!(
        (
            &now["enabled"],
            &now["backup_codes_remaining"],
            &now["setup_pending"]
        ),
        (&json!(true), &json!(10), &json!(false))
    );
    assert_eq!(me(&api, &access).await.json()["mfa_enabled"], true);

    api.send(with_bearer(request("POST", "/v1/auth/logout"), &access))
        .await;
    let token = mfa_token(&api, "journey@example.com").await;
    // The code that enabled MFA is spent: its step is recorded.
    verify(&api, &token, "code", &code_now(&ctx, secret))
        .await
        .assert_error(401, "INVALID_MFA_CODE");
    next_step(&ctx);
    let code = code_now(&ctx, secret);
    let signed_in = verify(&api, &token, "code", &code).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let (access, refresh_token) = tokens(&signed_in);
    assert_eq!(me(&api, &access).await.status, 200);
    assert!(
        signed_in
            .header("set-cookie")
            .unwrap()
            .starts_with("refresh_token=")
    );
    assert_eq!(refresh(&api, &refresh_token).await.status, 200);
    // The token is spent, and the same code is refused with a fresh token too.
    verify(&api, &token, "code", &code)
        .await
        .assert_error(401, "UNAUTHORIZED");
    let again = mfa_token(&api, "journey@example.com").await;
    verify(&api, &again, "code", &code)
        .await
        .assert_error(401, "INVALID_MFA_CODE");
    // One step of skew either way is accepted; two are not.
    ctx.clock.advance(Duration::from_secs(60));
    let late = totp_code(secret, ctx.clock.epoch_seconds() - 30);
    assert_eq!(verify(&api, &again, "code", &late).await.status, 200);
    ctx.clock.advance(Duration::from_secs(60));
    let stale = totp_code(secret, ctx.clock.epoch_seconds() - 60);
    let third = mfa_token(&api, "journey@example.com").await;
    verify(&api, &third, "code", &stale)
        .await
        .assert_error(401, "INVALID_MFA_CODE");
    let early = totp_code(secret, ctx.clock.epoch_seconds() + 30);
    assert_eq!(verify(&api, &third, "code", &early).await.status, 200);
}

async fn a_backup_code_works_once_in_any_spelling(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "backup@example.com").await;
    let code = &enrolled.backup_codes[3];
    let token = mfa_token(&api, "backup@example.com").await;
    let spelled = code.to_uppercase().replace('-', " ");
    let signed_in = verify(&api, &token, "backup_code", &spelled).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let (access, _) = tokens(&signed_in);
    assert_eq!(status(&api, &access).await["backup_codes_remaining"], 9);
    let token = mfa_token(&api, "backup@example.com").await;
    verify(&api, &token, "backup_code", code)
        .await
        .assert_error(401, "INVALID_MFA_CODE");
    // A TOTP code in the backup field, and nonsense, are wrong codes too.
    for wrong in [code_now(&ctx, &enrolled.secret), "not-a-code".to_owned()] {
        verify(&api, &token, "backup_code", &wrong)
            .await
            .assert_error(401, "INVALID_MFA_CODE");
    }
    let other = verify(&api, &token, "backup_code", &enrolled.backup_codes[4]).await;
    assert_eq!(other.status, 200, "{}", other.text());
}

async fn regenerating_kills_every_old_backup_code(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "regen@example.com").await;
    let regenerate = |code: String| {
        bearer_post(
            "/v1/auth/mfa/backup-codes/regenerate",
            &enrolled.access,
            &json!({"code": code}),
        )
    };
    // A backup code cannot mint new backup codes.
    let refused = api.send(regenerate(enrolled.backup_codes[0].clone())).await;
    assert_eq!(
        refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.code"
    );
    let fresh = api.send(regenerate(code_now(&ctx, &enrolled.secret))).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    let new_codes: Vec<String> = fresh.json()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !enrolled.backup_codes.contains(c)));
    assert_eq!(
        status(&api, &enrolled.access).await["backup_codes_remaining"],
        10
    );
    // The same TOTP code cannot regenerate twice.
    api.send(regenerate(code_now(&ctx, &enrolled.secret)))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    for old in &enrolled.backup_codes {
        let token = mfa_token(&api, "regen@example.com").await;
        verify(&api, &token, "backup_code", old)
            .await
            .assert_error(401, "INVALID_MFA_CODE");
    }
    let token = mfa_token(&api, "regen@example.com").await;
    assert_eq!(
        verify(&api, &token, "backup_code", &new_codes[0])
            .await
            .status,
        200
    );
    // The old codes' items are gone, not only unusable.
    assert_eq!(stored_backup_codes(&t, &enrolled.user_id).await, 9);
}

/// How many backup-code items the store holds for `user_id`, of any batch.
async fn stored_backup_codes(t: &TestStore, user_id: &str) -> usize {
    t.store
        .query(shared::store::Query::table(format!("USER#{user_id}")).prefix("BACKUP#"))
        .await
        .unwrap()
        .items
        .len()
}

/// With the largest batch allowed, the old codes do not all fit in the regeneration's own
/// transaction: those that fit go with it, the rest right after, and no old item is left.
async fn regenerating_the_largest_batch_removes_every_old_code(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("MFA_BACKUP_CODES_COUNT", "50"), NO_LOCKOUT[0]]);
    let enrolled = enroll(&api, &ctx, "regen50@example.com").await;
    assert_eq!(enrolled.backup_codes.len(), 50);
    let fresh = api
        .send(bearer_post(
            "/v1/auth/mfa/backup-codes/regenerate",
            &enrolled.access,
            &json!({"code": code_now(&ctx, &enrolled.secret)}),
        ))
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(fresh.json()["backup_codes"].as_array().unwrap().len(), 50);
    assert_eq!(
        stored_backup_codes(&t, &enrolled.user_id).await,
        50,
        "only the new batch is stored"
    );
    let token = mfa_token(&api, "regen50@example.com").await;
    verify(&api, &token, "backup_code", &enrolled.backup_codes[49])
        .await
        .assert_error(401, "INVALID_MFA_CODE");
}

async fn mfa_turns_off_with_the_password_or_a_code(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("SESSION_POLICY", "multi"), NO_LOCKOUT[0]]);
    let enrolled = enroll(&api, &ctx, "off@example.com").await;
    let disable = |body: Value, access: &str| bearer_post("/v1/auth/mfa/disable", access, &body);
    // A second device, signed in with both factors.
    let token = mfa_token(&api, "off@example.com").await;
    let (other_device, _) =
        tokens(&verify(&api, &token, "code", &code_now(&ctx, &enrolled.secret)).await);
    next_step(&ctx);

    for (body, field) in [
        (json!({}), "body"),
        (json!({"password": PASSWORD, "code": "123456"}), "body"),
        (json!({"password": "not the password"}), "body.password"),
        (json!({"code": "000000"}), "body.code"),
        (json!({"code": ""}), "body.code"),
    ] {
        let refused = api.send(disable(body.clone(), &enrolled.access)).await;
        assert_eq!(
            refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
            field,
            "{body}"
        );
    }
    assert_eq!(status(&api, &enrolled.access).await["enabled"], true);

    let off = api
        .send(disable(json!({"password": PASSWORD}), &enrolled.access))
        .await;
    assert_eq!(off.status, 200, "{}", off.text());
    assert_eq!(off.json()["enabled"], false);
    me(&api, &other_device)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        me(&api, &enrolled.access).await.json()["mfa_enabled"],
        false
    );
    let plain = login(&api, "off@example.com", PASSWORD).await;
    assert!(
        plain.json().get("access_token").is_some(),
        "{}",
        plain.text()
    );
    // Nothing of the second factor is left: no secret, no backup code.
    let left = t
        .store
        .query(shared::store::Query::table(format!(
            "USER#{}",
            enrolled.user_id
        )))
        .await
        .unwrap()
        .items;
    assert!(
        left.iter().all(|i| !i.key().unwrap().sk.starts_with("MFA")
            && !i.key().unwrap().sk.starts_with("BACKUP#"))
    );
    api.send(disable(json!({"password": PASSWORD}), &enrolled.access))
        .await
        .assert_error(409, "HTTP_ERROR");

    // On again, then off with a TOTP code; on again, then off with a backup code.
    let (access, _) = tokens(&plain);
    for kind in ["totp", "backup"] {
        let (secret, enabled) = turn_on(&api, &ctx, &access).await;
        assert_eq!(enabled.status, 200);
        next_step(&ctx);
        let code = match kind {
            "totp" => code_now(&ctx, &secret),
            _ => enabled.json()["backup_codes"][0]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        let off = api.send(disable(json!({"code": code}), &access)).await;
        assert_eq!(off.status, 200, "{kind}: {}", off.text());
        assert_eq!(status(&api, &access).await["enabled"], false, "{kind}");
    }
}

async fn five_wrong_codes_kill_the_mfa_token(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "guess@example.com").await;
    let token = mfa_token(&api, "guess@example.com").await;
    for wrong in ["000000", "111111", "222222", "333333", "444444"] {
        verify(&api, &token, "code", wrong)
            .await
            .assert_error(401, "INVALID_MFA_CODE");
    }
    let right = code_now(&ctx, &enrolled.secret);
    let dead = verify(&api, &token, "code", &right).await;
    assert_eq!(
        dead.assert_error(401, "UNAUTHORIZED")["message"],
        "invalid, expired or used-up mfa_token: sign in again"
    );
    // A new sign-in starts again; the code was not spent by the dead token.
    let token = mfa_token(&api, "guess@example.com").await;
    assert_eq!(verify(&api, &token, "code", &right).await.status, 200);
}

async fn parallel_guesses_never_exceed_five_per_mfa_token(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    enroll(&api, &ctx, "swarm@example.com").await;
    let api = Arc::new(api);
    let token = mfa_token(&api, "swarm@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (api, token) = (api.clone(), token.clone());
            tokio::spawn(async move {
                verify(&api, &token, "code", &format!("{:06}", 100_000 + i))
                    .await
                    .json()["error"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut checked = 0;
    for task in tasks {
        match task.await.unwrap().as_str() {
            "INVALID_MFA_CODE" => checked += 1,
            "UNAUTHORIZED" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 5, "exactly five guesses were checked");
    api_tests::figures::race(20);
}

async fn wrong_codes_feed_the_sign_in_lockout(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("LOGIN_FAIL_EMAIL_THRESHOLD", "3")]);
    let enrolled = enroll(&api, &ctx, "locked@example.com").await;
    let token = mfa_token(&api, "locked@example.com").await;
    for wrong in ["000000", "111111", "222222"] {
        verify(&api, &token, "code", wrong)
            .await
            .assert_error(401, "INVALID_MFA_CODE");
    }
    // The same lock as three wrong passwords: the right code, and the right password, wait.
    let locked = verify(&api, &token, "code", &code_now(&ctx, &enrolled.secret)).await;
    assert!(locked.header("retry-after").is_some());
    locked.assert_error(429, "ACCOUNT_LOCKED");
    login(&api, "locked@example.com", PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");
    api.send(bearer_post(
        "/v1/auth/mfa/backup-codes/regenerate",
        &enrolled.access,
        &json!({"code": code_now(&ctx, &enrolled.secret)}),
    ))
    .await
    .assert_error(429, "ACCOUNT_LOCKED");
    // The lock ends by itself.
    ctx.clock.advance(Duration::from_secs(16 * 60));
    let token = mfa_token(&api, "locked@example.com").await;
    assert_eq!(
        verify(&api, &token, "code", &code_now(&ctx, &enrolled.secret))
            .await
            .status,
        200
    );
}

async fn an_mfa_pending_token_is_no_bearer_token_anywhere(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    enroll(&api, &ctx, "pending@example.com").await;
    let token = mfa_token(&api, "pending@example.com").await;
    let operations = bearer_operations();
    assert!(operations.len() >= 13, "{operations:?}");
    for path in ["/v1/auth/mfa/setup", "/v1/auth/mfa/status", "/v1/auth/me"] {
        assert!(
            operations.iter().any(|(_, p)| p == path),
            "{path} is listed"
        );
    }
    for (method, path) in &operations {
        let response = api
            .send(with_bearer(json_request(method, path, &json!({})), &token))
            .await;
        assert_eq!(response.status, 401, "{method} {path}: {}", response.text());
        assert_eq!(
            response.json()["error"]["code"],
            "UNAUTHORIZED",
            "{method} {path}"
        );
    }
    // It still completes its own sign-in: nothing above spent it.
    let status = api
        .send(json_request(
            "POST",
            "/v1/auth/mfa/verify",
            &json!({"mfa_token": token, "backup_code": "zzzz-zzzz-zzzz"}),
        ))
        .await;
    status.assert_error(401, "INVALID_MFA_CODE");
}

async fn only_an_mfa_pending_token_completes_a_sign_in(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "tokens@example.com").await;
    let code = code_now(&ctx, &enrolled.secret);
    let refresh_token = tokens(&signup(&api, "plain@example.com").await).1;
    let forged = format!("{}x", mfa_token(&api, "tokens@example.com").await);
    for wrong in [
        enrolled.access.as_str(),
        refresh_token.as_str(),
        "",
        "not.a.jwt",
        &forged,
    ] {
        verify(&api, wrong, "code", &code)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    let token = mfa_token(&api, "tokens@example.com").await;
    for body in [
        json!({"mfa_token": token}),
        json!({"mfa_token": token, "code": code, "backup_code": enrolled.backup_codes[0]}),
        json!({"mfa_token": token, "code": "1".repeat(65)}),
        json!({"mfa_token": token, "code": 123456}),
        json!({"code": code}),
    ] {
        let response = api
            .send(json_request("POST", "/v1/auth/mfa/verify", &body))
            .await;
        response.assert_error(422, "VALIDATION_ERROR");
    }
    // Expired after MFA_TOKEN_EXPIRE_MINUTES.
    ctx.clock.advance(Duration::from_secs(5 * 60));
    let late = code_now(&ctx, &enrolled.secret);
    verify(&api, &token, "code", &late)
        .await
        .assert_error(401, "UNAUTHORIZED");
    // A password change since the password step, or MFA turned off, ends a pending sign-in.
    let token = mfa_token(&api, "tokens@example.com").await;
    ctx.clock.advance(Duration::from_secs(1));
    let changed = api
        .send(bearer_post(
            "/v1/auth/password/change",
            &enrolled.access,
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        ))
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text());
    verify(&api, &token, "code", &late)
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn setup_and_enable_refuse_what_does_not_fit(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let (access, _) = tokens(&signup(&api, "setup@example.com").await);
    let enable = |code: String| bearer_post("/v1/auth/mfa/enable", &access, &json!({"code": code}));
    for path in [
        "/v1/auth/mfa/setup",
        "/v1/auth/mfa/enable",
        "/v1/auth/mfa/disable",
        "/v1/auth/mfa/backup-codes/regenerate",
    ] {
        api.send(json_request("POST", path, &json!({"code": "123456"})))
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    api.send(request("GET", "/v1/auth/mfa/status"))
        .await
        .assert_error(401, "UNAUTHORIZED");
    // Enable before any setup; regenerate and disable while off.
    api.send(enable("123456".into()))
        .await
        .assert_error(409, "HTTP_ERROR");
    api.send(bearer_post(
        "/v1/auth/mfa/backup-codes/regenerate",
        &access,
        &json!({"code": "123456"}),
    ))
    .await
    .assert_error(409, "HTTP_ERROR");
    // A new setup replaces the pending one: only the newest secret confirms.
    let first = new_secret(&api, &access).await;
    let second = new_secret(&api, &access).await;
    assert_ne!(first, second);
    let refused = api.send(enable(code_now(&ctx, &first))).await;
    assert_eq!(
        refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.code"
    );
    api.send(enable("12345".into()))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    api.send(bearer_post("/v1/auth/mfa/enable", &access, &json!({})))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    // A pending setup expires after ten minutes.
    ctx.clock.advance(Duration::from_secs(10 * 60 + 1));
    api.send(enable(code_now(&ctx, &second)))
        .await
        .assert_error(409, "HTTP_ERROR");
    assert_eq!(status(&api, &access).await["setup_pending"], false);
    let third = new_secret(&api, &access).await;
    // (The session is more than ten minutes old by now: the password confirms it.)
    let with_password = json!({"code": code_now(&ctx, &third), "password": PASSWORD});
    let enabled = api
        .send(bearer_post("/v1/auth/mfa/enable", &access, &with_password))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    setup(&api, &access).await.assert_error(409, "HTTP_ERROR");
    api.send(enable(code_now(&ctx, &third)))
        .await
        .assert_error(409, "HTTP_ERROR");
}

async fn turning_mfa_on_ends_the_other_sessions(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("SESSION_POLICY", "multi")]);
    let (first, _) = tokens(&signup(&api, "devices@example.com").await);
    let (second, _) = tokens(&login(&api, "devices@example.com", PASSWORD).await);
    let (_, enabled) = turn_on(&api, &ctx, &first).await;
    assert_eq!(enabled.status, 200);
    assert_eq!(me(&api, &first).await.status, 200);
    me(&api, &second).await.assert_error(401, "UNAUTHORIZED");
}

async fn a_password_reset_needs_the_second_factor(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("RESET_MIN_RESPONSE_MS", "0"), NO_LOCKOUT[0]]);
    let enrolled = enroll(&api, &ctx, "recover@example.com").await;
    request_reset(&api, "recover@example.com").await;
    let token = reset_token(&ctx, "recover@example.com");
    let confirm = |code: Option<&str>| {
        let mut body = json!({"token": token, "new_password": "the new reset passphrase"});
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        json_request("POST", "/v1/auth/password-reset/confirm", &body)
    };
    for code in [None, Some("000000"), Some("aaaa-bbbb-cccc")] {
        let refused = api.send(confirm(code)).await;
        assert_eq!(
            refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
            "body.code",
            "{code:?}"
        );
    }
    let backup = enrolled.backup_codes[0].as_str();
    let reset = api.send(confirm(Some(backup))).await;
    assert_eq!(reset.status, 204, "{}", reset.text());
    // The backup code is spent, the password changed, MFA still on. (A sign-in from the second
    // of the change would be dead: it might have used the old password.)
    ctx.clock.advance(Duration::from_secs(1));
    let response = login(&api, "recover@example.com", "the new reset passphrase").await;
    let pending = response.json()["mfa_token"].as_str().unwrap().to_owned();
    verify(&api, &pending, "backup_code", backup)
        .await
        .assert_error(401, "INVALID_MFA_CODE");
    // With a TOTP code too.
    // (A link from the same second as the last password change would be dead.)
    ctx.clock.advance(Duration::from_secs(1));
    request_reset(&api, "recover@example.com").await;
    let token = reset_token(&ctx, "recover@example.com");
    let body = json!({"token": token, "new_password": "yet another passphrase", "code": code_now(&ctx, &enrolled.secret)});
    let done = api
        .send(json_request(
            "POST",
            "/v1/auth/password-reset/confirm",
            &body,
        ))
        .await;
    assert_eq!(done.status, 204, "{}", done.text());

    // A link allows five codes; after that even the right one needs a new link.
    ctx.clock.advance(Duration::from_secs(31));
    request_reset(&api, "recover@example.com").await;
    let token = reset_token(&ctx, "recover@example.com");
    let attempt = |code: String| {
        let body = json!({"token": token, "new_password": "a fourth passphrase", "code": code});
        json_request("POST", "/v1/auth/password-reset/confirm", &body)
    };
    for _ in 0..5 {
        api.send(attempt("000000".into()))
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
    api.send(attempt(code_now(&ctx, &enrolled.secret)))
        .await
        .assert_error(400, "HTTP_ERROR");
}

async fn parallel_guesses_never_overshoot_the_lockout(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("LOGIN_FAIL_EMAIL_THRESHOLD", "3")]);
    enroll(&api, &ctx, "overshoot@example.com").await;
    let tokens = pending_tokens(&api, "overshoot@example.com", 10).await;
    let requests = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| verify_request(t, "code", &format!("{:06}", 200_000 + i)))
        .collect();
    let (_, statuses) = successes(&Arc::new(api), requests).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    // Never more checks than the threshold. (Fewer can happen: a check that sees the lock a
    // faster one just placed gives its failure back and refuses too — stricter, never looser.)
    assert!((1..=3).contains(&checked), "{statuses:?}");
    assert_eq!(checked + refused, 10, "{statuses:?}");
    api_tests::figures::race(10);
}

async fn a_pending_sign_in_dies_when_mfa_is_turned_off_and_on(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("SESSION_POLICY", "multi"), NO_LOCKOUT[0]]);
    let enrolled = enroll(&api, &ctx, "cycle@example.com").await;
    let token = mfa_token(&api, "cycle@example.com").await;
    let off = api
        .send(bearer_post(
            "/v1/auth/mfa/disable",
            &enrolled.access,
            &json!({"password": PASSWORD}),
        ))
        .await;
    assert_eq!(off.status, 200);
    verify(&api, &token, "code", &code_now(&ctx, &enrolled.secret))
        .await
        .assert_error(401, "UNAUTHORIZED");
    ctx.clock.advance(Duration::from_secs(1));
    let (secret, on) = turn_on(&api, &ctx, &enrolled.access).await;
    assert_eq!(on.status, 200);
    next_step(&ctx);
    verify(&api, &token, "code", &code_now(&ctx, &secret))
        .await
        .assert_error(401, "UNAUTHORIZED");
    let fresh = mfa_token(&api, "cycle@example.com").await;
    assert_eq!(
        verify(&api, &fresh, "code", &code_now(&ctx, &secret))
            .await
            .status,
        200
    );
}

/// `count` fresh `mfa_token`s of `email`'s account, signed as login signs them.
async fn pending_tokens(api: &Gateway, email: &str, count: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..count {
        tokens.push(mfa_token(api, email).await);
    }
    tokens
}

/// Runs one request per token in parallel; returns how many answered 200.
async fn successes(
    api: &Arc<Gateway>,
    requests: Vec<http::Request<axum::body::Body>>,
) -> (usize, Vec<u16>) {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let api = api.clone();
            tokio::spawn(async move { api.send(request).await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    (statuses.iter().filter(|s| **s == 200).count(), statuses)
}

fn verify_request(token: &str, field: &str, code: &str) -> http::Request<axum::body::Body> {
    json_request(
        "POST",
        "/v1/auth/mfa/verify",
        &json!({"mfa_token": token, field: code}),
    )
}

async fn exactly_one_of_20_parallel_sign_ins_with_one_totp_code_wins(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "race-totp@example.com").await;
    let tokens = pending_tokens(&api, "race-totp@example.com", 20).await;
    let code = code_now(&ctx, &enrolled.secret);
    let requests = tokens
        .iter()
        .map(|t| verify_request(t, "code", &code))
        .collect();
    let (won, statuses) = successes(&Arc::new(api), requests).await;
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    api_tests::figures::race(20);
}

async fn exactly_one_of_20_parallel_uses_of_one_backup_code_wins(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "race-backup@example.com").await;
    let tokens = pending_tokens(&api, "race-backup@example.com", 20).await;
    let code = &enrolled.backup_codes[0];
    let requests = tokens
        .iter()
        .map(|t| verify_request(t, "backup_code", code))
        .collect();
    let api = Arc::new(api);
    let (won, statuses) = successes(&api, requests).await;
    assert_eq!(won, 1, "{statuses:?}");
    let token = mfa_token(&api, "race-backup@example.com").await;
    let (access, _) =
        tokens_of(&verify(&api, &token, "backup_code", &enrolled.backup_codes[1]).await);
    assert_eq!(status(&api, &access).await["backup_codes_remaining"], 8);
    api_tests::figures::race(20);
}

fn tokens_of(response: &TestResponse) -> (String, String) {
    assert_eq!(response.status, 200, "{}", response.text());
    tokens(response)
}

async fn exactly_one_of_20_parallel_regenerations_with_one_code_wins(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "race-regen@example.com").await;
    let code = code_now(&ctx, &enrolled.secret);
    let requests = (0..20)
        .map(|_| {
            bearer_post(
                "/v1/auth/mfa/backup-codes/regenerate",
                &enrolled.access,
                &json!({"code": code}),
            )
        })
        .collect();
    let api = Arc::new(api);
    let (won, statuses) = successes(&api, requests).await;
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 422),
        "{statuses:?}"
    );
    assert_eq!(
        status(&api, &enrolled.access).await["backup_codes_remaining"],
        10
    );
    api_tests::figures::race(20);
}

async fn no_secret_or_code_reaches_a_log_line(t: TestStore) {
    let logs = captured_logs();
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "quiet@example.com").await;
    let token = mfa_token(&api, "quiet@example.com").await;
    let code = code_now(&ctx, &enrolled.secret);
    verify(&api, &token, "code", "000000").await;
    verify(&api, &token, "backup_code", "wxyz-wxyz-wxyz").await;
    assert_eq!(verify(&api, &token, "code", &code).await.status, 200);
    let token = mfa_token(&api, "quiet@example.com").await;
    assert_eq!(
        verify(&api, &token, "backup_code", &enrolled.backup_codes[0])
            .await
            .status,
        200
    );
    let lines = logs.lines().join("\n");
    assert!(
        lines.contains("auth.mfa.verify.success"),
        "the journey was logged"
    );
    let mut forbidden = vec![
        enrolled.secret.clone(),
        token.clone(),
        "wxyz-wxyz-wxyz".to_owned(),
        format!("\"{code}\""),
        "\"000000\"".to_owned(),
    ];
    forbidden.extend(enrolled.backup_codes.iter().cloned());
    forbidden.extend(ctx.secrets.expose_all_for_leak_checks());
    for secret in forbidden {
        assert!(!lines.contains(&secret), "{secret} reached the logs");
    }
}

async fn attempts_are_counted_and_audited(t: TestStore) {
    captured_logs();
    let mut settings = GENEROUS.to_vec();
    settings.extend_from_slice(NO_LOCKOUT);
    let (ctx, metrics) = context(&t, &settings);
    let api = Gateway::new(&ctx);
    let enrolled = enroll(&api, &ctx, "audit@example.com").await;
    let token = mfa_token(&api, "audit@example.com").await;
    let mut ids = Vec::new();
    let mut last = None;
    for (field, code) in [
        ("code", "000000".to_owned()),
        ("backup_code", enrolled.backup_codes[0].clone()),
    ] {
        let id = uuid::Uuid::new_v4().to_string();
        let mut req = verify_request(&token, field, &code);
        req.headers_mut()
            .insert("x-request-id", id.parse().unwrap());
        last = Some(api.send(req).await);
        ids.push(id);
    }
    let (access, _) = tokens_of(&last.unwrap());
    let events: Vec<String> = ids
        .iter()
        .flat_map(|id| logs_for_request(id))
        .filter_map(|line| line["event_type"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "auth.mfa.verify.failure",
        "auth.mfa.verify.success",
        "auth.mfa.backup_code.used",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    let metrics = metrics.lines().join("\n");
    for (result, method) in [
        ("success", "totp"),
        ("failure", "totp"),
        ("success", "backup_code"),
    ] {
        let emitted = metrics.lines().any(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            line["mfa_attempts_total"].as_f64() == Some(1.0)
                && line["result"] == result
                && line["method"] == method
        });
        assert!(emitted, "mfa_attempts_total{{{result}, {method}}}");
    }
    // The user's own history has them too.
    let history = api
        .send(with_bearer(request("GET", "/v1/auth/events"), &access))
        .await
        .json();
    let kept: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    for expected in [
        "auth.mfa.setup",
        "auth.mfa.enabled",
        "auth.mfa.verify.failure",
        "auth.mfa.verify.success",
        "auth.mfa.backup_code.used",
    ] {
        assert!(kept.contains(&expected), "{expected} in {kept:?}");
    }
}

async fn round_trips_stay_within_their_budget(t: TestStore) {
    captured_logs();
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let enrolled = enroll(&api, &ctx, "trips@example.com").await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (status, total, sequential) = sequential_calls(
        &api,
        with_bearer(request("GET", "/v1/auth/mfa/status"), &enrolled.access),
        &format!("status-{tag}"),
    )
    .await;
    assert_eq!((status, sequential, total), (200, 1, 2), "status: one step");
    let token = mfa_token(&api, "trips@example.com").await;
    let (status, _, sequential) = sequential_calls(
        &api,
        verify_request(&token, "code", &code_now(&ctx, &enrolled.secret)),
        &format!("verify-{tag}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        sequential <= 3,
        "verify made {sequential} sequential store calls"
    );
}

async fn an_older_session_confirms_with_the_password_to_turn_mfa_on(t: TestStore) {
    let (api, ctx) = api_and_context(&t, NO_LOCKOUT);
    let (access, _) = tokens(&signup(&api, "stale@example.com").await);
    // Eleven minutes after signing in (the access token still valid), the session is old.
    ctx.clock.advance(Duration::from_secs(11 * 60));
    let secret = new_secret(&api, &access).await;
    let enable = |body: Value| bearer_post("/v1/auth/mfa/enable", &access, &body);
    for body in [
        json!({"code": code_now(&ctx, &secret)}),
        json!({"code": code_now(&ctx, &secret), "password": "not the password"}),
    ] {
        let refused = api.send(enable(body)).await;
        assert_eq!(
            refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
            "body.password"
        );
    }
    assert_eq!(status(&api, &access).await["enabled"], false);
    let enabled = api
        .send(enable(
            json!({"code": code_now(&ctx, &secret), "password": PASSWORD}),
        ))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    // A fresh session needs no password: the journey test enables with the code alone.
}

/// What a phone reads from a `data:image/svg+xml;base64,` QR code: the SVG drawn to pixels
/// (resvg) and decoded (rqrr), both independent of the code that made it.
fn scan_qr_code(data_uri: &str) -> String {
    use base64::Engine;
    use resvg::{tiny_skia, usvg};

    let base64 = data_uri
        .strip_prefix("data:image/svg+xml;base64,")
        .expect("an SVG data URI");
    let svg = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap();
    let tree = usvg::Tree::from_data(&svg, &usvg::Options::default()).expect("a valid SVG");
    let size = tree.size().to_int_size();
    assert!(size.width() >= 240, "the image is {} px wide", size.width());
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let rgba = pixmap.data();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        rgba[(y * width + x) * 4]
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}
