//! The auth function through the whole API, on the embedded store and on DynamoDB Local:
//! signup, login, refresh, logout, logout-all and me, their error paths, the races, and the
//! store round trips each makes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use api_tests::Gateway;
use api_tests::client::*;
use serde_json::{Value, json};
use shared::testkit::{TestStore, captured_logs, json_request, logs_for_request, request};

shared::on_both_backends!(
    signup_creates_an_account_and_signs_it_in,
    signup_refuses_bad_input_field_by_field,
    one_account_per_email_even_with_other_spellings,
    exactly_one_of_20_parallel_signups_of_one_email_wins,
    login_answers_the_same_for_unknown_email_and_wrong_password,
    a_login_ends_the_other_sessions_by_default,
    refresh_rotates_and_the_old_token_dies,
    reuse_of_a_rotated_refresh_token_revokes_the_session,
    exactly_one_of_50_parallel_refreshes_wins,
    logout_ends_the_session_and_its_access_token,
    logout_all_ends_every_session,
    protected_endpoints_refuse_missing_and_wrong_tokens,
    round_trips_stay_within_their_budget,
    exactly_the_limit_of_20_parallel_logins_pass,
    repeated_failures_lock_an_email_with_or_without_an_account,
    ip_locks_double_on_each_repeat_up_to_the_maximum,
    signups_and_refreshes_are_rate_limited,
    session_status_tells_validity_and_expiry,
    users_list_and_end_their_own_sessions_only,
    a_password_change_ends_the_other_sessions,
    demo_accounts_are_seeded_in_dev_only_once,
    admin_endpoints_need_the_admin_role,
    admins_list_accounts_by_email_page_by_page,
    disabling_an_account_ends_its_sessions_and_sign_ins,
    a_role_change_applies_at_once,
    browsers_can_keep_the_refresh_token_in_a_cookie,
    a_null_body_counts_as_none_where_the_document_allows_it,
    a_demo_session_expires_by_itself,
    users_read_their_own_security_history,
    a_login_rehashes_when_the_parameters_changed,
    mfa_accounts_get_a_pending_token_that_is_no_access_token,
    an_admin_can_edit_their_own_account,
    no_session_survives_a_reset_or_a_single_device_login_however_many,
    guessing_the_current_password_locks_like_a_login,
    a_password_change_kills_older_reset_links,
    forged_refresh_tokens_cannot_spend_someone_elses_quota,
    a_password_reset_works_once_and_ends_every_session,
    a_reset_request_answers_the_same_for_unknown_emails,
    exactly_one_of_20_parallel_reset_confirmations_wins,
);

async fn signup_creates_an_account_and_signs_it_in(t: TestStore) {
    let api = api(&t, &[]);
    let response = signup(&api, "  Ada@Example.com ").await;
    assert_eq!(response.status, 201, "{}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["roles"], json!(["STUDENT"]));
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["timezone"], "UTC");
    assert!(user.get("password_hash").is_none() && user.get("disabled").is_none());
    let (access, _) = tokens(&response);
    let me = me(&api, &access).await;
    assert_eq!(me.status, 200);
    assert_eq!(&me.json(), user);
}

async fn signup_refuses_bad_input_field_by_field(t: TestStore) {
    let api = api(&t, &[]);
    let cases = [
        (
            json!({"name": "A", "email": "not-an-email", "password": PASSWORD}),
            "body.email",
        ),
        (
            json!({"name": "A", "email": "\u{430}da@example.com", "password": PASSWORD}),
            "body.email",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "short"}),
            "body.password",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "password1"}),
            "body.password",
        ),
        (
            json!({"name": "A", "email": "lovelace@example.com", "password": "i-am-lovelace-99"}),
            "body.password",
        ),
        (
            json!({"name": "   ", "email": "a@example.com", "password": PASSWORD}),
            "body.name",
        ),
        (
            json!({"name": "x".repeat(101), "email": "a@example.com", "password": PASSWORD}),
            "body.name",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "body.name",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": 12345678}),
            "body.password",
        ),
    ];
    for (body, field) in cases {
        let response = api
            .send(json_request("POST", "/v1/auth/signup", &body))
            .await;
        let error = response.assert_error(422, "VALIDATION_ERROR");
        assert_eq!(error["details"]["errors"][0]["field"], field, "{body}");
    }
    // Nothing was created: the email is still free.
    assert_eq!(signup(&api, "a@example.com").await.status, 201);
}

async fn one_account_per_email_even_with_other_spellings(t: TestStore) {
    let api = api(&t, &[]);
    assert_eq!(signup(&api, "grace@example.com").await.status, 201);
    for other in [
        "grace@example.com",
        "GRACE@example.com",
        " grace@EXAMPLE.com",
        "ｇｒａｃｅ@example.com",
    ] {
        signup(&api, other).await.assert_error(409, "EMAIL_TAKEN");
    }
}

async fn exactly_one_of_20_parallel_signups_of_one_email_wins(t: TestStore) {
    let api = Arc::new(api(&t, &[]));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { signup(&api, "race@example.com").await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(login(&api, "race@example.com", PASSWORD).await.status, 200);
    api_tests::figures::race(20);
}

async fn login_answers_the_same_for_unknown_email_and_wrong_password(t: TestStore) {
    let api = api(&t, &[]);
    signup(&api, "known@example.com").await;
    let ok = login(&api, "Known@Example.com", PASSWORD).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["user"]["email"], "known@example.com");
    let wrong = login(&api, "known@example.com", "not the password at all").await;
    let unknown = login(&api, "nobody@example.com", PASSWORD).await;
    let wrong_error = wrong.assert_error(401, "INVALID_CREDENTIALS");
    let unknown_error = unknown.assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(wrong_error["message"], unknown_error["message"]);
    assert_eq!(wrong_error["details"], unknown_error["details"]);
}

async fn a_login_ends_the_other_sessions_by_default(t: TestStore) {
    let api = api(&t, &[]);
    let (first_access, first_refresh) = tokens(&signup(&api, "one@example.com").await);
    let (second_access, _) = tokens(&login(&api, "one@example.com", PASSWORD).await);
    me(&api, &first_access)
        .await
        .assert_error(401, "UNAUTHORIZED");
    refresh(&api, &first_refresh)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(me(&api, &second_access).await.status, 200);

    // SESSION_POLICY=multi keeps them.
    let multi = shared::testkit::TestStore::embedded();
    let api = self::api(&multi, &[("SESSION_POLICY", "multi")]);
    let (first_access, _) = tokens(&signup(&api, "two@example.com").await);
    login(&api, "two@example.com", PASSWORD).await;
    assert_eq!(me(&api, &first_access).await.status, 200);
}

async fn refresh_rotates_and_the_old_token_dies(t: TestStore) {
    let api = api(&t, &[]);
    let (_, first) = tokens(&signup(&api, "rot@example.com").await);
    let rotated = refresh(&api, &first).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    assert_eq!(rotated.json()["user"]["email"], "rot@example.com");
    let (access, second) = tokens(&rotated);
    assert_ne!(first, second);
    assert_eq!(me(&api, &access).await.status, 200);
    let again = refresh(&api, &second).await;
    assert_eq!(again.status, 200);
    for garbage in ["", "nonsense", "00000000-0000-0000-0000-000000000000.AAAA"] {
        refresh(&api, garbage)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
}

async fn reuse_of_a_rotated_refresh_token_revokes_the_session(t: TestStore) {
    captured_logs();
    let api = api(&t, &[]);
    let (_, stolen) = tokens(&signup(&api, "victim@example.com").await);
    let (access, current) = tokens(&refresh(&api, &stolen).await);
    // Right after the rotation, the old token is refused without more (a client's duplicate).
    refresh(&api, &stolen)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(me(&api, &access).await.status, 200);
    // Later, the old token comes back: reuse.
    t.clock.advance(std::time::Duration::from_secs(60));
    let request_id = format!("reuse-{}", uuid::Uuid::new_v4().simple());
    let mut replay = json_request(
        "POST",
        "/v1/auth/refresh",
        &json!({"refresh_token": stolen}),
    );
    replay
        .headers_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    api.send(replay).await.assert_error(401, "UNAUTHORIZED");
    // The whole session is gone: its access token and its current refresh token too.
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &current)
        .await
        .assert_error(401, "UNAUTHORIZED");
    let events: Vec<Value> = logs_for_request(&request_id)
        .into_iter()
        .filter(|l| l["event_type"] == "auth.refresh.reuse_detected")
        .collect();
    assert_eq!(events.len(), 1, "a security event is recorded");
    assert_eq!(events[0]["level"], "WARNING");
}

async fn exactly_one_of_50_parallel_refreshes_wins(t: TestStore) {
    let api = Arc::new(api(&t, &[]));
    let (_, token) = tokens(&signup(&api, "many@example.com").await);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (api, token) = (api.clone(), token.clone());
            tokio::spawn(async move { refresh(&api, &token).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        match response.status.as_u16() {
            200 => winners.push(tokens(&response)),
            401 => {}
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(winners.len(), 1);
    // The winner's new pair works.
    assert_eq!(me(&api, &winners[0].0).await.status, 200);
    api_tests::figures::race(50);
}

async fn logout_ends_the_session_and_its_access_token(t: TestStore) {
    let api = api(&t, &[]);
    let (access, refresh_token) = tokens(&signup(&api, "bye@example.com").await);
    let body = json!({"refresh_token": refresh_token});
    let response = api
        .send(json_request("POST", "/v1/auth/logout", &body))
        .await;
    assert_eq!(response.status, 204);
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
    // Logging out again, or with nonsense, changes nothing and reveals nothing.
    assert_eq!(
        api.send(json_request("POST", "/v1/auth/logout", &body))
            .await
            .status,
        204
    );
    let nonsense = json!({"refresh_token": "whatever"});
    assert_eq!(
        api.send(json_request("POST", "/v1/auth/logout", &nonsense))
            .await
            .status,
        204
    );
}

async fn logout_all_ends_every_session(t: TestStore) {
    let api = api(&t, &[("SESSION_POLICY", "multi")]);
    let (a1, r1) = tokens(&signup(&api, "all@example.com").await);
    let (a2, r2) = tokens(&login(&api, "all@example.com", PASSWORD).await);
    let (other_access, _) = tokens(&signup(&api, "bystander@example.com").await);
    let response = api
        .send(with_bearer(request("POST", "/v1/auth/logout-all"), &a2))
        .await;
    assert_eq!(response.status, 204, "{}", response.text());
    for access in [&a1, &a2] {
        me(&api, access).await.assert_error(401, "UNAUTHORIZED");
    }
    for refresh_token in [&r1, &r2] {
        refresh(&api, refresh_token)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    assert_eq!(
        me(&api, &other_access).await.status,
        200,
        "other users keep their sessions"
    );
    // With the session gone, logout-all itself is refused.
    api.send(with_bearer(request("POST", "/v1/auth/logout-all"), &a2))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn protected_endpoints_refuse_missing_and_wrong_tokens(t: TestStore) {
    let api = api(&t, &[]);
    let response = api.send(request("GET", "/v1/auth/me")).await;
    response.assert_error(401, "UNAUTHORIZED");
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let (access, refresh_token) = tokens(&signup(&api, "tok@example.com").await);
    let mut lowercase = request("GET", "/v1/auth/me");
    lowercase
        .headers_mut()
        .insert("authorization", format!("bearer {access}").parse().unwrap());
    assert_eq!(api.send(lowercase).await.status, 200);
    for wrong in [
        "Basic dXNlcjpwYXNz".to_owned(),
        "Bearer".to_owned(),
        "Bearer not.a.jwt".to_owned(),
        format!("Bearer {refresh_token}"),
        format!("Bearer {access}x"),
    ] {
        let mut req = request("GET", "/v1/auth/me");
        req.headers_mut()
            .insert("authorization", wrong.parse().unwrap());
        api.send(req).await.assert_error(401, "UNAUTHORIZED");
    }
}

async fn round_trips_stay_within_their_budget(t: TestStore) {
    captured_logs();
    let api = api(&t, &[]);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({"name": "Budget", "email": "budget@example.com", "password": PASSWORD});
    let (status, _, sequential) = sequential_calls(
        &api,
        json_request("POST", "/v1/auth/signup", &body),
        &format!("signup-{tag}"),
    )
    .await;
    assert_eq!(
        (status, sequential),
        (201, 2),
        "signup: its rate limit, then one transaction"
    );
    let body = json!({"email": "budget@example.com", "password": PASSWORD});
    let login_request = json_request("POST", "/v1/auth/login", &body);
    let (status, _, sequential) =
        sequential_calls(&api, login_request, &format!("login-{tag}")).await;
    assert_eq!(status, 200);
    assert!(
        sequential <= 3,
        "login made {sequential} sequential store calls"
    );
    let (access, refresh_token) = tokens(&login(&api, "budget@example.com", PASSWORD).await);
    let refresh_request = json_request(
        "POST",
        "/v1/auth/refresh",
        &json!({"refresh_token": refresh_token}),
    );
    let (status, _, sequential) =
        sequential_calls(&api, refresh_request, &format!("refresh-{tag}")).await;
    assert_eq!(status, 200);
    assert!(
        sequential <= 2,
        "refresh made {sequential} sequential store calls"
    );
    let _ = access;
    let (access, _) = tokens(&login(&api, "budget@example.com", PASSWORD).await);
    let me_request = with_bearer(request("GET", "/v1/auth/me"), &access);
    let (status, total, sequential) =
        sequential_calls(&api, me_request, &format!("me-{tag}")).await;
    assert_eq!(
        (status, sequential, total),
        (200, 1, 2),
        "me reads profile and session together"
    );
}

async fn exactly_the_limit_of_20_parallel_logins_pass(t: TestStore) {
    let api = Arc::new(api(&t, &[("RL_LOGIN_IP_LIMIT", "3")]));
    signup(&api, "limit@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { login(&api, "limit@example.com", PASSWORD).await })
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == 429 {
            response.assert_error(429, "RATE_LIMITED");
            let retry_after: u64 = response.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=600).contains(&retry_after));
        } else {
            assert_eq!(response.status, 200, "{}", response.text());
            passed += 1;
        }
    }
    assert_eq!(passed, 3);
    api_tests::figures::race(20);
}

async fn repeated_failures_lock_an_email_with_or_without_an_account(t: TestStore) {
    let api = api(
        &t,
        &[
            ("LOGIN_FAIL_EMAIL_THRESHOLD", "3"),
            ("EMAIL_LOCK_TTL", "120"),
        ],
    );
    signup(&api, "locked@example.com").await;
    for email in ["locked@example.com", "ghost@example.com"] {
        for _ in 0..3 {
            login(&api, email, "wrong password here")
                .await
                .assert_error(401, "INVALID_CREDENTIALS");
        }
        // Locked now, even with the right password, and the same for an email without account.
        let locked = login(&api, email, PASSWORD).await;
        let error = locked.assert_error(429, "ACCOUNT_LOCKED");
        assert_eq!(error["message"], "too many failed sign-ins; retry later");
        assert!(
            locked
                .header("retry-after")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                <= 120
        );
    }
    t.clock.advance(std::time::Duration::from_secs(121));
    assert_eq!(
        login(&api, "locked@example.com", PASSWORD).await.status,
        200
    );
    // A success forgets earlier failures.
    for _ in 0..2 {
        login(&api, "locked@example.com", "wrong password here").await;
    }
    assert_eq!(
        login(&api, "locked@example.com", PASSWORD).await.status,
        200
    );
    login(&api, "locked@example.com", "wrong password here")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
}

async fn ip_locks_double_on_each_repeat_up_to_the_maximum(t: TestStore) {
    let api = api(
        &t,
        &[
            ("LOGIN_FAIL_IP_THRESHOLD", "2"),
            ("IP_LOCK_TTL", "60"),
            ("IP_LOCK_MAX_TTL", "200"),
            ("LOGIN_FAIL_EMAIL_THRESHOLD", "1000"),
        ],
    );
    for expected in [60, 120, 200, 200] {
        for i in 0..2 {
            login(&api, &format!("user{i}@example.com"), "wrong password here").await;
        }
        let locked = login(&api, "anyone@example.com", PASSWORD).await;
        locked.assert_error(429, "ACCOUNT_LOCKED");
        assert_eq!(
            locked.header("retry-after"),
            Some(expected.to_string().as_str())
        );
        t.clock
            .advance(std::time::Duration::from_secs(expected + 1));
    }
}

async fn signups_and_refreshes_are_rate_limited(t: TestStore) {
    let api = api(
        &t,
        &[("RL_SIGNUP_IP_LIMIT", "2"), ("RL_REFRESH_USER_LIMIT", "2")],
    );
    let (_, mut token) = tokens(&signup(&api, "first@example.com").await);
    signup(&api, "first@example.com")
        .await
        .assert_error(409, "EMAIL_TAKEN");
    // The limit counts refused signups too, so taken emails cannot be swept.
    signup(&api, "first@example.com")
        .await
        .assert_error(429, "RATE_LIMITED");
    signup(&api, "fresh@example.com")
        .await
        .assert_error(429, "RATE_LIMITED");
    for _ in 0..2 {
        let response = refresh(&api, &token).await;
        assert_eq!(response.status, 200, "{}", response.text());
        token = tokens(&response).1;
    }
    refresh(&api, &token)
        .await
        .assert_error(429, "RATE_LIMITED");
}

async fn session_status_tells_validity_and_expiry(t: TestStore) {
    let api = api(&t, &[]);
    let status = api.send(request("GET", "/v1/auth/session")).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json(), json!({"valid": false}));
    let (access, refresh_token) = tokens(&signup(&api, "status@example.com").await);
    let body = api
        .send(with_bearer(request("GET", "/v1/auth/session"), &access))
        .await
        .json();
    assert_eq!(body["valid"], true);
    assert!(
        body["access_token_expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(
        body["session_expires_at"].as_str().unwrap()
            > body["access_token_expires_at"].as_str().unwrap()
    );
    api.send(json_request(
        "POST",
        "/v1/auth/logout",
        &json!({"refresh_token": refresh_token}),
    ))
    .await;
    let body = api
        .send(with_bearer(request("GET", "/v1/auth/session"), &access))
        .await
        .json();
    assert_eq!(body["valid"], false);
}

async fn users_list_and_end_their_own_sessions_only(t: TestStore) {
    let api = api(&t, &[("SESSION_POLICY", "multi")]);
    let (first, _) = tokens(&signup(&api, "owner@example.com").await);
    let mut second_login = json_request(
        "POST",
        "/v1/auth/login",
        &json!({"email": "owner@example.com", "password": PASSWORD}),
    );
    second_login
        .headers_mut()
        .insert("user-agent", "PhoneApp/2.1".parse().unwrap());
    let (second, _) = tokens(&api.send(second_login).await);
    let (stranger, _) = tokens(&signup(&api, "stranger@example.com").await);

    let list = api
        .send(with_bearer(request("GET", "/v1/auth/sessions"), &first))
        .await
        .json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "PhoneApp/2.1");
    let other_id = other["id"].as_str().unwrap().to_owned();

    // Someone else's session id is simply not found.
    let theirs = api
        .send(with_bearer(
            request("DELETE", &format!("/v1/auth/sessions/{other_id}")),
            &stranger,
        ))
        .await;
    theirs.assert_error(404, "HTTP_ERROR");
    assert_eq!(me(&api, &second).await.status, 200);
    api.send(with_bearer(
        request("DELETE", "/v1/auth/sessions/no-such-session"),
        &first,
    ))
    .await
    .assert_error(404, "HTTP_ERROR");

    let ended = api
        .send(with_bearer(
            request("DELETE", &format!("/v1/auth/sessions/{other_id}")),
            &first,
        ))
        .await;
    assert_eq!(ended.status, 204, "{}", ended.text());
    me(&api, &second).await.assert_error(401, "UNAUTHORIZED");
    assert_eq!(me(&api, &first).await.status, 200);
    let list = api
        .send(with_bearer(request("GET", "/v1/auth/sessions"), &first))
        .await
        .json();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

async fn a_password_change_ends_the_other_sessions(t: TestStore) {
    let api = api(&t, &[("SESSION_POLICY", "multi")]);
    let (current, _) = tokens(&signup(&api, "change@example.com").await);
    let (other, other_refresh) = tokens(&login(&api, "change@example.com", PASSWORD).await);
    let change = |current_password: &str, new_password: &str| {
        with_bearer(
            json_request(
                "POST",
                "/v1/auth/password/change",
                &json!({"current_password": current_password, "new_password": new_password}),
            ),
            &current,
        )
    };
    let wrong = api
        .send(change("not my password", "a brand new passphrase"))
        .await;
    assert_eq!(
        wrong.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.current_password"
    );
    let weak = api.send(change(PASSWORD, "password")).await;
    assert_eq!(
        weak.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.new_password"
    );
    assert_eq!(
        me(&api, &other).await.status,
        200,
        "failed changes change nothing"
    );

    let changed = api.send(change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(changed.status, 204, "{}", changed.text());
    me(&api, &other).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &other_refresh)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        me(&api, &current).await.status,
        200,
        "the session that changed it stays"
    );
    login(&api, "change@example.com", PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(
        login(&api, "change@example.com", "a brand new passphrase")
            .await
            .status,
        200
    );
}

async fn seeded_admin(t: &TestStore) -> (Gateway, String) {
    let (api, ctx) = api_and_context(
        t,
        &[("SEED_DEMO_ACCOUNTS", "true"), ("SESSION_POLICY", "multi")],
    );
    auth::seed::demo_accounts(&ctx).await.unwrap();
    let (admin, _) = tokens(&login(&api, "admin@example.com", "Admin123!").await);
    (api, admin)
}

async fn demo_accounts_are_seeded_in_dev_only_once(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[]);
    auth::seed::demo_accounts(&ctx).await.unwrap();
    login(&api, "admin@example.com", "Admin123!")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");

    let (api, ctx) = api_and_context(&t, &[("SEED_DEMO_ACCOUNTS", "true")]);
    auth::seed::demo_accounts(&ctx).await.unwrap();
    auth::seed::demo_accounts(&ctx).await.unwrap();
    let admin = login(&api, "admin@example.com", "Admin123!").await;
    assert_eq!(admin.json()["user"]["roles"], json!(["ADMIN"]));
    let student = login(&api, "student@example.com", "Student123!").await;
    assert_eq!(student.json()["user"]["roles"], json!(["STUDENT"]));
}

async fn admin_endpoints_need_the_admin_role(t: TestStore) {
    let (api, _admin) = seeded_admin(&t).await;
    api.send(request("GET", "/v1/admin/users"))
        .await
        .assert_error(401, "UNAUTHORIZED");
    let (student, _) = tokens(&login(&api, "student@example.com", "Student123!").await);
    api.send(with_bearer(request("GET", "/v1/admin/users"), &student))
        .await
        .assert_error(403, "FORBIDDEN");
    let patch = json_request("PATCH", "/v1/admin/users/x", &json!({"disabled": true}));
    api.send(with_bearer(patch, &student))
        .await
        .assert_error(403, "FORBIDDEN");
}

async fn admins_list_accounts_by_email_page_by_page(t: TestStore) {
    let (api, admin) = seeded_admin(&t).await;
    for name in ["carol", "alice", "bob"] {
        signup(&api, &format!("{name}@corp.example.com")).await;
    }
    let page = api
        .send(with_bearer(
            request("GET", "/v1/admin/users?email=A"),
            &admin,
        ))
        .await
        .json();
    let emails: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["admin@example.com", "alice@corp.example.com"]);
    assert!(page.get("next_cursor").is_none());

    let mut seen = Vec::new();
    let mut uri = "/v1/admin/users?limit=2".to_owned();
    loop {
        let page = api
            .send(with_bearer(request("GET", &uri), &admin))
            .await
            .json();
        seen.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/admin/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 5);
    for bad in [
        "/v1/admin/users?limit=0",
        "/v1/admin/users?limit=101",
        "/v1/admin/users?cursor=forged",
    ] {
        api.send(with_bearer(request("GET", bad), &admin))
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
}

async fn disabling_an_account_ends_its_sessions_and_sign_ins(t: TestStore) {
    let (api, admin) = seeded_admin(&t).await;
    let signed_up = signup(&api, "disable-me@example.com").await;
    let (access, refresh_token) = tokens(&signed_up);
    let id = signed_up.json()["user"]["id"].as_str().unwrap().to_owned();
    let patch = |body: Value| {
        with_bearer(
            json_request("PATCH", &format!("/v1/admin/users/{id}"), &body),
            &admin,
        )
    };

    let response = api.send(patch(json!({"disabled": true}))).await;
    assert_eq!(response.status, 200, "{}", response.text());
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
    login(&api, "disable-me@example.com", PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");

    assert_eq!(
        api.send(patch(json!({"disabled": false}))).await.status,
        200
    );
    assert_eq!(
        login(&api, "disable-me@example.com", PASSWORD).await.status,
        200
    );

    for (body, status) in [
        (json!({}), 422),
        (json!({"roles": []}), 422),
        (json!({"superuser": true}), 422),
    ] {
        assert_eq!(
            api.send(patch(body.clone())).await.status.as_u16(),
            status,
            "{body}"
        );
    }
    let missing = json_request(
        "PATCH",
        &format!("/v1/admin/users/{}", uuid::Uuid::new_v4()),
        &json!({"disabled": true}),
    );
    api.send(with_bearer(missing, &admin))
        .await
        .assert_error(404, "HTTP_ERROR");
    let own_id = api
        .send(with_bearer(request("GET", "/v1/auth/me"), &admin))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = json_request(
        "PATCH",
        &format!("/v1/admin/users/{own_id}"),
        &json!({"disabled": true}),
    );
    api.send(with_bearer(own, &admin))
        .await
        .assert_error(409, "HTTP_ERROR");
}

async fn a_role_change_applies_at_once(t: TestStore) {
    let (api, admin) = seeded_admin(&t).await;
    let signed_up = signup(&api, "promote@example.com").await;
    let (access, _) = tokens(&signed_up);
    let id = signed_up.json()["user"]["id"].as_str().unwrap().to_owned();
    let body = json!({"roles": ["REVIEWER", "STUDENT"]});
    let changed = api
        .send(with_bearer(
            json_request("PATCH", &format!("/v1/admin/users/{id}"), &body),
            &admin,
        ))
        .await;
    assert_eq!(changed.json()["roles"], json!(["STUDENT", "REVIEWER"]));
    // The token with the old roles is dead; a new sign-in carries the new ones.
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    let again = login(&api, "promote@example.com", PASSWORD).await;
    assert_eq!(
        again.json()["user"]["roles"],
        json!(["STUDENT", "REVIEWER"])
    );
}

async fn a_password_reset_works_once_and_ends_every_session(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("RESET_MIN_RESPONSE_MS", "0")]);
    let (access, refresh_token) = tokens(&signup(&api, "forgot@example.com").await);
    assert_eq!(request_reset(&api, "Forgot@Example.com").await.status, 202);
    let token = reset_token(&ctx, "forgot@example.com");
    let message = shared::testkit::outbox(&ctx).pop().unwrap();
    assert!(
        message
            .text
            .contains("http://localhost:3000/reset-password?token=")
    );

    // A weak password is refused and the token stays usable.
    let weak = confirm_reset(&api, &token, "12345678").await;
    assert_eq!(
        weak.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.new_password"
    );
    assert_eq!(
        confirm_reset(&api, &token, "a fresh start 2026")
            .await
            .status,
        204
    );
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        login(&api, "forgot@example.com", "a fresh start 2026")
            .await
            .status,
        200
    );
    confirm_reset(&api, &token, "another fresh start")
        .await
        .assert_error(400, "HTTP_ERROR");

    // Tokens expire after PASSWORD_RESET_EXPIRE_MINUTES.
    request_reset(&api, "forgot@example.com").await;
    let late = reset_token(&ctx, "forgot@example.com");
    t.clock.advance(std::time::Duration::from_secs(30 * 60 + 1));
    confirm_reset(&api, &late, "too late for this")
        .await
        .assert_error(400, "HTTP_ERROR");
    for forged in ["", "nonsense", &format!("{}.AAAA", uuid::Uuid::new_v4())] {
        confirm_reset(&api, forged, "whatever it is 1")
            .await
            .assert_error(400, "HTTP_ERROR");
    }
}

async fn a_reset_request_answers_the_same_for_unknown_emails(t: TestStore) {
    captured_logs();
    let (api, ctx) = api_and_context(
        &t,
        &[
            ("RESET_MIN_RESPONSE_MS", "150"),
            ("RL_RESET_EMAIL_LIMIT", "2"),
        ],
    );
    signup(&api, "exists@example.com").await;
    let mut bodies = Vec::new();
    for email in ["exists@example.com", "missing@example.com"] {
        let started = std::time::Instant::now();
        let response = request_reset(&api, email).await;
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(150),
            "{email} answered early"
        );
        assert_eq!(response.status, 202);
        bodies.push(response.json());
    }
    assert_eq!(bodies[0], bodies[1]);
    let sent = shared::testkit::outbox(&ctx);
    assert_eq!(sent.len(), 1, "only the existing account gets mail");
    // The token never reaches a log line.
    let token = reset_token(&ctx, "exists@example.com");
    assert!(!captured_logs().lines().iter().any(|l| l.contains(&token)));
    // Per-email limit, the same for both.
    for email in ["exists@example.com", "missing@example.com"] {
        request_reset(&api, email).await;
        request_reset(&api, email)
            .await
            .assert_error(429, "RATE_LIMITED");
    }
}

async fn exactly_one_of_20_parallel_reset_confirmations_wins(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("RESET_MIN_RESPONSE_MS", "0")]);
    signup(&api, "race-reset@example.com").await;
    request_reset(&api, "race-reset@example.com").await;
    let token = reset_token(&ctx, "race-reset@example.com");
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (api, token) = (api.clone(), token.clone());
            tokio::spawn(async move {
                confirm_reset(&api, &token, &format!("parallel password {i}"))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
    api_tests::figures::race(20);
}

fn cookie_request(method: &str, uri: &str, cookie: &str) -> http::Request<axum::body::Body> {
    let mut req = request(method, uri);
    req.headers_mut().insert(
        "cookie",
        format!("theme=dark; refresh_token={cookie}")
            .parse()
            .unwrap(),
    );
    req
}

async fn browsers_can_keep_the_refresh_token_in_a_cookie(t: TestStore) {
    let api = api(&t, &[]);
    let signed_up = signup(&api, "browser@example.com").await;
    let cookie = signed_up.header("set-cookie").unwrap().to_owned();
    let (_, token) = tokens(&signed_up);
    assert!(cookie.starts_with(&format!("refresh_token={token};")));
    for attribute in [
        "HttpOnly",
        "Path=/v1/auth",
        "SameSite=Lax",
        "Max-Age=1209600",
    ] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP development keeps working"
    );

    // No body at all: the cookie is used, and a new one set.
    let rotated = api
        .send(cookie_request("POST", "/v1/auth/refresh", &token))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let (access, next) = tokens(&rotated);
    assert!(
        rotated
            .header("set-cookie")
            .unwrap()
            .starts_with(&format!("refresh_token={next};"))
    );
    api.send(request("POST", "/v1/auth/refresh"))
        .await
        .assert_error(422, "VALIDATION_ERROR");

    let logout = api
        .send(cookie_request("POST", "/v1/auth/logout", &next))
        .await;
    assert_eq!(logout.status, 204);
    assert!(logout.header("set-cookie").unwrap().contains("Max-Age=0"));
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");

    let prod = TestStore::embedded();
    let prod_api = self::api(&prod, &[("ENV", "prod"), ("STORE", "dynamodb")]);
    let cookie = signup(&prod_api, "secure@example.com")
        .await
        .header("set-cookie")
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("; Secure") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

/// Found by contract fuzzing: refresh and logout document their body as optional (`null` or an
/// object), yet a `null` body was refused with 422. It now counts as no body (the cookie is
/// used), and anything else that is not the object gets a 4xx envelope and changes nothing; an
/// array (`[]`) used to pass as the empty object and rotate the cookie's token.
async fn a_null_body_counts_as_none_where_the_document_allows_it(t: TestStore) {
    let api = api(&t, &[]);
    let (access, token) = tokens(&signup(&api, "null-body@example.com").await);
    let with_body = |uri: &str, cookie: &str, body: &str| {
        let mut req = cookie_request("POST", uri, cookie);
        req.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        *req.body_mut() = axum::body::Body::from(body.to_owned());
        req
    };
    for bad in ["[]", "\"token\"", "1", "{\"refresh_token\": 1}", "nul"] {
        for uri in ["/v1/auth/refresh", "/v1/auth/logout"] {
            api.send(with_body(uri, &token, bad))
                .await
                .assert_error(422, "VALIDATION_ERROR");
        }
    }
    // The bad bodies changed nothing: the session and its refresh token are alive.
    assert_eq!(me(&api, &access).await.status, 200);
    // Nor does an array fill a body's fields in order (serde would allow it).
    let fields = json!(["Ada Lovelace", "array@example.com", PASSWORD]);
    api.send(json_request("POST", "/v1/auth/signup", &fields))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    let fields = json!(["array@example.com", PASSWORD]);
    api.send(json_request("POST", "/v1/auth/login", &fields))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    login(&api, "array@example.com", PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");

    let rotated = api
        .send(with_body("/v1/auth/refresh", &token, "null"))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let (access, next) = tokens(&rotated);
    api.send(json_request("POST", "/v1/auth/refresh", &Value::Null))
        .await
        .assert_error(422, "VALIDATION_ERROR");

    let logout = api
        .send(with_body("/v1/auth/logout", &next, " null "))
        .await;
    assert_eq!(logout.status, 204);
    me(&api, &access).await.assert_error(401, "UNAUTHORIZED");
    refresh(&api, &next).await.assert_error(401, "UNAUTHORIZED");
}

async fn a_demo_session_expires_by_itself(t: TestStore) {
    let api = api(&t, &[("DEMO_TTL_MINUTES", "30")]);
    let demo = api.send(request("POST", "/v1/auth/demo")).await;
    assert_eq!(demo.status, 201, "{}", demo.text());
    let body = demo.json();
    assert!(
        body["user"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@demo.invalid")
    );
    assert_eq!(body["user"]["roles"], json!(["STUDENT"]));
    assert!(body["demo_expires_at"].as_str().unwrap().ends_with('Z'));
    let (access, refresh_token) = tokens(&demo);
    assert_eq!(me(&api, &access).await.status, 200);
    // No password: nobody signs in to it.
    let email = body["user"]["email"].as_str().unwrap();
    login(&api, email, "any password at all")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    // After its TTL, everything is gone (access tokens live 15 minutes; refresh is refused).
    t.clock.advance(std::time::Duration::from_secs(31 * 60));
    refresh(&api, &refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
    let session = api
        .send(with_bearer(request("GET", "/v1/auth/session"), &access))
        .await
        .json();
    assert_eq!(session["valid"], false);
}

async fn users_read_their_own_security_history(t: TestStore) {
    let api = api(&t, &[("SESSION_POLICY", "multi")]);
    // Events are ordered by time; the test clock only moves when told.
    let tick = || t.clock.advance(std::time::Duration::from_secs(1));
    signup(&api, "history@example.com").await;
    tick();
    login(&api, "history@example.com", "not the right one").await;
    tick();
    let mut with_agent = json_request(
        "POST",
        "/v1/auth/login",
        &json!({"email": "history@example.com", "password": PASSWORD}),
    );
    with_agent
        .headers_mut()
        .insert("user-agent", "HistoryTest/1.0".parse().unwrap());
    let (access, _) = tokens(&api.send(with_agent).await);
    tick();
    let change = json!({"current_password": PASSWORD, "new_password": "the newer passphrase"});
    let changed = api
        .send(with_bearer(
            json_request("POST", "/v1/auth/password/change", &change),
            &access,
        ))
        .await;
    assert_eq!(changed.status, 204);
    let (stranger, _) = tokens(&signup(&api, "nosy@example.com").await);

    let page = api
        .send(with_bearer(request("GET", "/v1/auth/events"), &access))
        .await
        .json();
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "auth.password.changed",
            "auth.login.success",
            "auth.login.failure",
            "auth.register.success"
        ],
        "newest first"
    );
    assert_eq!(page["events"][1]["user_agent"], "HistoryTest/1.0");
    assert!(page["events"][0]["at"].as_str().unwrap().ends_with('Z'));

    // Pages, and only one's own events.
    let first = api
        .send(with_bearer(
            request("GET", "/v1/auth/events?limit=3"),
            &access,
        ))
        .await
        .json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = api
        .send(with_bearer(
            request("GET", &format!("/v1/auth/events?limit=3&cursor={cursor}")),
            &access,
        ))
        .await
        .json();
    assert_eq!(second["events"].as_array().unwrap().len(), 1);
    let theirs = api
        .send(with_bearer(request("GET", "/v1/auth/events"), &stranger))
        .await
        .json();
    assert_eq!(theirs["events"].as_array().unwrap().len(), 1);
    api.send(with_bearer(
        request("GET", &format!("/v1/auth/events?cursor={cursor}")),
        &stranger,
    ))
    .await
    .assert_error(422, "VALIDATION_ERROR");
    api.send(with_bearer(
        request("GET", "/v1/auth/events?limit=500"),
        &access,
    ))
    .await
    .assert_error(422, "VALIDATION_ERROR");
}

async fn stored_hash(t: &TestStore, email: &str) -> String {
    let key = shared::accounts::users::credential_key(&shared::auth::Email::parse(email).unwrap());
    t.store
        .get(&key)
        .await
        .unwrap()
        .unwrap()
        .get_str("password_hash")
        .unwrap()
        .to_owned()
}

async fn a_login_rehashes_when_the_parameters_changed(t: TestStore) {
    let cheap = api(&t, &[]);
    signup(&cheap, "rehash@example.com").await;
    let before = stored_hash(&t, "rehash@example.com").await;
    assert!(before.contains("m=8,t=1,p=1"), "{before}");
    // The same store, now with other parameters: the next login upgrades the hash.
    let upgraded = api(
        &t,
        &[
            ("PASSWORD_HASH_MEMORY_KIB", "64"),
            ("PASSWORD_HASH_ITERATIONS", "2"),
        ],
    );
    assert_eq!(
        login(&upgraded, "rehash@example.com", PASSWORD)
            .await
            .status,
        200
    );
    let after = stored_hash(&t, "rehash@example.com").await;
    assert!(after.contains("m=64,t=2,p=1"), "{after}");
    assert_eq!(
        login(&upgraded, "rehash@example.com", PASSWORD)
            .await
            .status,
        200
    );
}

async fn mfa_accounts_get_a_pending_token_that_is_no_access_token(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("RESET_MIN_RESPONSE_MS", "0")]);
    let id = signup(&api, "mfa@example.com").await.json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.store
        .update(
            &shared::accounts::users::profile_key(&id),
            vec![shared::store::Update::set("mfa_enabled", true)],
            Some(shared::store::Condition::Exists),
        )
        .await
        .unwrap();
    let response = login(&api, "mfa@example.com", PASSWORD).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let pending = body["mfa_token"].as_str().unwrap();
    me(&api, pending).await.assert_error(401, "UNAUTHORIZED");
    let status = api
        .send(with_bearer(request("GET", "/v1/auth/session"), pending))
        .await
        .json();
    assert_eq!(status["valid"], false);
    // A reset cannot bypass the second factor either.
    request_reset(&api, "mfa@example.com").await;
    let token = reset_token(&ctx, "mfa@example.com");
    let refused = confirm_reset(&api, &token, "a new passphrase for this account").await;
    assert_eq!(
        refused.assert_error(422, "VALIDATION_ERROR")["details"]["errors"][0]["field"],
        "body.code"
    );
    assert_eq!(
        login(&api, "mfa@example.com", PASSWORD).await.json()["mfa_required"],
        true,
        "password unchanged"
    );
}

async fn an_admin_can_edit_their_own_account(t: TestStore) {
    let (api, admin) = seeded_admin(&t).await;
    let own_id = me(&api, &admin).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"roles": ["ADMIN", "REVIEWER"]});
    let changed = api
        .send(with_bearer(
            json_request("PATCH", &format!("/v1/admin/users/{own_id}"), &body),
            &admin,
        ))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.json()["roles"], json!(["ADMIN", "REVIEWER"]));
    // The change applies at once, to oneself too.
    me(&api, &admin).await.assert_error(401, "UNAUTHORIZED");
    let again = login(&api, "admin@example.com", "Admin123!").await;
    assert_eq!(again.json()["user"]["roles"], json!(["ADMIN", "REVIEWER"]));
}

async fn no_session_survives_a_reset_or_a_single_device_login_however_many(t: TestStore) {
    let (multi, ctx) = api_and_context(
        &t,
        &[("SESSION_POLICY", "multi"), ("RESET_MIN_RESPONSE_MS", "0")],
    );
    signup(&multi, "many@example.com").await;
    let mut accesses = Vec::new();
    for _ in 0..60 {
        accesses.push(tokens(&login(&multi, "many@example.com", PASSWORD).await).0);
    }
    request_reset(&multi, "many@example.com").await;
    let token = reset_token(&ctx, "many@example.com");
    assert_eq!(
        confirm_reset(&multi, &token, "after the reset 2026")
            .await
            .status,
        204
    );
    for access in &accesses {
        me(&multi, access).await.assert_error(401, "UNAUTHORIZED");
    }
    // The same for a single-device login after sessions piled up under the multi policy.
    let mut piled = Vec::new();
    for _ in 0..60 {
        piled.push(tokens(&login(&multi, "many@example.com", "after the reset 2026").await).0);
    }
    let single = api(&t, &[]);
    let (last, _) = tokens(&login(&single, "many@example.com", "after the reset 2026").await);
    for access in &piled {
        me(&single, access).await.assert_error(401, "UNAUTHORIZED");
    }
    let list = single
        .send(with_bearer(request("GET", "/v1/auth/sessions"), &last))
        .await
        .json();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

async fn guessing_the_current_password_locks_like_a_login(t: TestStore) {
    let api = api(&t, &[("LOGIN_FAIL_EMAIL_THRESHOLD", "3")]);
    let (access, _) = tokens(&signup(&api, "guess@example.com").await);
    let change = |current: &str| {
        with_bearer(
            json_request(
                "POST",
                "/v1/auth/password/change",
                &json!({"current_password": current, "new_password": "a new one entirely"}),
            ),
            &access,
        )
    };
    for _ in 0..3 {
        api.send(change("a wrong guess"))
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
    api.send(change(PASSWORD))
        .await
        .assert_error(429, "ACCOUNT_LOCKED");
    login(&api, "guess@example.com", PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");
}

async fn a_password_change_kills_older_reset_links(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("RESET_MIN_RESPONSE_MS", "0")]);
    let (access, _) = tokens(&signup(&api, "stale@example.com").await);
    request_reset(&api, "stale@example.com").await;
    let old_link = reset_token(&ctx, "stale@example.com");
    t.clock.advance(std::time::Duration::from_secs(5));
    let change = json!({"current_password": PASSWORD, "new_password": "changed it myself"});
    let changed = api
        .send(with_bearer(
            json_request("POST", "/v1/auth/password/change", &change),
            &access,
        ))
        .await;
    assert_eq!(changed.status, 204);
    confirm_reset(&api, &old_link, "someone else's choice")
        .await
        .assert_error(400, "HTTP_ERROR");
    assert_eq!(
        login(&api, "stale@example.com", "changed it myself")
            .await
            .status,
        200
    );
    // A link asked for after the change works.
    t.clock.advance(std::time::Duration::from_secs(5));
    request_reset(&api, "stale@example.com").await;
    let fresh = reset_token(&ctx, "stale@example.com");
    assert_eq!(
        confirm_reset(&api, &fresh, "a fresh choice 2026")
            .await
            .status,
        204
    );
}

async fn forged_refresh_tokens_cannot_spend_someone_elses_quota(t: TestStore) {
    let api = api(&t, &[("RL_REFRESH_USER_LIMIT", "2")]);
    let signed_up = signup(&api, "victim-rl@example.com").await;
    let id = signed_up.json()["user"]["id"].as_str().unwrap().to_owned();
    let (_, mut token) = tokens(&signed_up);
    for _ in 0..10 {
        let forged = format!("{id}.{}", "A".repeat(43));
        refresh(&api, &forged)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    // The victim's own refreshes still have their whole quota.
    for _ in 0..2 {
        let response = refresh(&api, &token).await;
        assert_eq!(response.status, 200, "{}", response.text());
        token = tokens(&response).1;
    }
    refresh(&api, &token)
        .await
        .assert_error(429, "RATE_LIMITED");
}
