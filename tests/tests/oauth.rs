//! The oauth function through the whole API against a real OpenID Provider (the certified
//! `oidc-provider` from npm, on 127.0.0.1), on the embedded store and on DynamoDB Local:
//! sign-up and sign-in, the browser flow, linking, MFA, unlinking, and every rejection the
//! issue lists (replayed and expired state, wrong nonce, other audience, unknown key, a
//! redirect URI not on the list), with the races on one-time things.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use api_tests::Gateway;
use api_tests::client::*;
use api_tests::oauth::{
    self, APP_PAGE, account, callback, fragment, json_get, path_and_query, sign_in,
};
use serde_json::{Value, json};
use shared::testkit::{
    TestStore, captured_logs, json_request, logs_for_request, request, totp_code,
};

shared::on_both_backends!(
    a_first_sign_in_creates_an_account_and_the_next_reuses_it,
    the_browser_lands_on_the_redirect_uri_with_tokens_only_in_the_fragment,
    a_state_from_another_browser_is_refused,
    a_replayed_state_is_refused,
    an_expired_state_is_refused,
    a_wrong_nonce_is_refused,
    a_token_for_another_audience_is_refused,
    a_token_signed_by_an_unknown_key_is_refused,
    a_token_from_another_issuer_or_expired_is_refused,
    a_redirect_uri_not_on_the_list_is_refused,
    an_unconfigured_provider_is_not_found,
    an_existing_email_is_never_linked_silently,
    linking_an_mfa_account_needs_its_second_factor,
    an_mfa_account_gets_mfa_required,
    an_unverified_email_creates_nothing,
    unlinking_keeps_a_way_in,
    exactly_one_of_20_parallel_callbacks_with_one_state_wins,
    exactly_one_of_20_parallel_links_with_one_token_wins,
    wrong_link_passwords_feed_the_lockout,
    no_token_or_code_reaches_a_log_line,
    round_trips_stay_within_their_budget,
);

fn api(store: &TestStore, extra: &[(&str, &str)]) -> (Gateway, shared::AppContext) {
    let mut settings = oauth::settings();
    settings.extend_from_slice(extra);
    api_and_context(store, &settings)
}

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// An account whose next ID token the provider corrupts (`mode`, see the fixture).
async fn tampered(email: &str, mode: &str) -> Value {
    let person = account(email);
    oauth::provider()
        .tamper_for(person["sub"].as_str().unwrap(), mode)
        .await;
    person
}

async fn identities(api: &Gateway, access: &str) -> Vec<Value> {
    let response = api
        .send(with_bearer(
            request("GET", "/v1/auth/oauth/identities"),
            access,
        ))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["identities"].as_array().unwrap().clone()
}

async fn a_first_sign_in_creates_an_account_and_the_next_reuses_it(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let email = unique("grace");
    let person = account(&email);
    let first = sign_in(&api, &person).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let body = first.json();
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["name"], "Grace Hopper");
    assert!(
        first
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("refresh_token="))
    );
    let (access, refresh_token) = tokens(&first);
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(me(&api, &access).await.json()["id"], user_id);
    assert_eq!(refresh(&api, &refresh_token).await.status, 200);
    let linked = identities(&api, &access).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "local");
    assert_eq!(linked[0]["issuer"], oauth::provider().issuer);
    assert_eq!(linked[0]["subject"], person["sub"]);

    // The same subject again: the same account, not a new one.
    let second = sign_in(&api, &person).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json()["user"]["id"], user_id);
    // The account has no password: a password sign-in with any password fails.
    login(&api, &email, PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    // Identities are keyed by subject, never by email: another subject with the same email
    // is a new identity, which must be linked.
    let other =
        json!({"sub": uuid::Uuid::new_v4().to_string(), "email": email, "email_verified": true});
    sign_in(&api, &other)
        .await
        .assert_error(409, "LINK_REQUIRED");
}

async fn the_browser_lands_on_the_redirect_uri_with_tokens_only_in_the_fragment(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let started = api
        .send(request(
            "GET",
            &format!(
                "/v1/auth/oauth/local/authorize?redirect_uri={}",
                urlencode(APP_PAGE)
            ),
        ))
        .await;
    assert_eq!(started.status, 302, "{}", started.text());
    let to_provider = started.header("location").unwrap().to_owned();
    assert!(to_provider.starts_with(&oauth::provider().issuer));
    for param in [
        "state=",
        "nonce=",
        "code_challenge_method=S256",
        "code_challenge=",
    ] {
        assert!(to_provider.contains(param), "{param} in {to_provider}");
    }
    let cookie = started.header("set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("oauth_flow=") && cookie.contains("HttpOnly"));
    let binding = cookie.split(';').next().unwrap().to_owned();

    let back = oauth::provider()
        .authorize(&to_provider, &account(&unique("ada")))
        .await;
    let mut req = request("GET", &path_and_query(&back));
    req.headers_mut().insert("cookie", binding.parse().unwrap());
    let landed = api.send(req).await;
    assert_eq!(landed.status, 303, "{}", landed.text());
    let location = landed.header("location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{APP_PAGE}#")), "{location}");
    assert!(!location[..location.find('#').unwrap()].contains('?'));
    let result = fragment(&location);
    assert_eq!(result["new_account"], "true");
    assert_eq!(result["token_type"], "bearer");
    let cookies: Vec<_> = landed.headers.get_all("set-cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("refresh_token=")),
        "the refresh token comes as a cookie"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("oauth_flow=;")),
        "the binding cookie is cleared"
    );
    assert_eq!(me(&api, &result["access_token"]).await.status, 200);
    assert_eq!(landed.header("cache-control"), Some("no-store"));
}

async fn a_state_from_another_browser_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let started = api
        .send(request("GET", "/v1/auth/oauth/local/authorize"))
        .await;
    assert_eq!(started.status, 302);
    let back = oauth::provider()
        .authorize(
            started.header("location").unwrap(),
            &account(&unique("eve")),
        )
        .await;
    // The victim's browser, without the attacker's binding cookie.
    let mut req = request("GET", &path_and_query(&back));
    req.headers_mut()
        .insert("cookie", "oauth_flow=someone-elses".parse().unwrap());
    api.send(req).await.assert_error(400, "INVALID_OAUTH_STATE");
}

async fn a_replayed_state_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let location = oauth::provider_answer(&api, &account(&unique("replay"))).await;
    assert_eq!(callback(&api, &location).await.status, 201);
    callback(&api, &location)
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
    // And a state nobody issued.
    let forged = location.replace("state=", "state=x");
    callback(&api, &forged)
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
    api.send(json_get("/v1/auth/oauth/local/callback?code=abc"))
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
}

async fn an_expired_state_is_refused(store: TestStore) {
    let (api, ctx) = api(&store, &[]);
    let location = oauth::provider_answer(&api, &account(&unique("late"))).await;
    ctx.clock.advance(Duration::from_secs(601));
    callback(&api, &location)
        .await
        .assert_error(400, "INVALID_OAUTH_STATE");
}

async fn a_wrong_nonce_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    // The provider signs a token for another nonce (an ID token replayed from another sign-in).
    let email = unique("nonce");
    sign_in(&api, &tampered(&email, "nonce").await)
        .await
        .assert_error(401, "OAUTH_FAILED");
    assert_eq!(
        signup(&api, &email).await.status,
        201,
        "no account was made"
    );
}

async fn a_token_for_another_audience_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let email = unique("aud");
    sign_in(&api, &tampered(&email, "audience").await)
        .await
        .assert_error(401, "OAUTH_FAILED");
    assert_eq!(
        signup(&api, &email).await.status,
        201,
        "no account was made"
    );
}

async fn a_token_signed_by_an_unknown_key_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let email = unique("key");
    sign_in(&api, &tampered(&email, "unknown_key").await)
        .await
        .assert_error(401, "OAUTH_FAILED");
    assert_eq!(
        signup(&api, &email).await.status,
        201,
        "no account was made"
    );
}

async fn a_token_from_another_issuer_or_expired_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    for mode in ["issuer", "expired"] {
        let email = unique(mode);
        sign_in(&api, &tampered(&email, mode).await)
            .await
            .assert_error(401, "OAUTH_FAILED");
        assert_eq!(
            signup(&api, &email).await.status,
            201,
            "no account was made"
        );
    }
    // A callback that names another issuer (RFC 9207 mix-up) never gets to the exchange.
    let location = oauth::provider_answer(&api, &account(&unique("mixup"))).await;
    let mixed = location.replace("iss=", "iss=http%3A%2F%2Fevil.example%2F&was=");
    callback(&api, &mixed)
        .await
        .assert_error(401, "OAUTH_FAILED");
}

async fn a_redirect_uri_not_on_the_list_is_refused(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let start = |uri: &str| {
        api.send(json_get(&format!(
            "/v1/auth/oauth/local/authorize?redirect_uri={}",
            urlencode(uri)
        )))
    };
    for uri in [
        "https://evil.example/oauth/done",
        "https://app.example.com/oauth/done/",
        "https://app.example.com/oauth/done?x=1",
        "https://app.example.com.evil.example/oauth/done",
        "HTTPS://APP.EXAMPLE.COM/oauth/done",
    ] {
        let error = start(uri).await.assert_error(400, "HTTP_ERROR");
        assert_eq!(error["details"]["field"], "query.redirect_uri", "{uri}");
    }
    // The allowed page and the provider's own redirect URI are fine.
    for uri in [APP_PAGE, oauth::CALLBACK] {
        let response = start(uri).await;
        assert_eq!(response.status, 200, "{uri}: {}", response.text());
    }
}

async fn an_unconfigured_provider_is_not_found(store: TestStore) {
    let (api, _) = api(&store, &[]);
    for path in [
        "/v1/auth/oauth/google/authorize",
        "/v1/auth/oauth/okta/callback?code=a&state=b",
        "/v1/auth/oauth/..%2Flocal/authorize",
    ] {
        api.send(json_get(path))
            .await
            .assert_error(404, "HTTP_ERROR");
    }
}

/// A password account, and a provider identity with its email.
async fn password_account_and_identity(api: &Gateway) -> (String, Value, String) {
    let email = unique("linda");
    assert_eq!(signup(api, &email).await.status, 201);
    let person = account(&email);
    let refused = sign_in(api, &person).await;
    let error = refused.assert_error(409, "LINK_REQUIRED");
    assert_eq!(error["details"]["email"], email);
    assert_eq!(error["details"]["provider"], "local");
    let link_token = error["details"]["link_token"].as_str().unwrap().to_owned();
    (email, person, link_token)
}

async fn link(api: &Gateway, body: Value) -> shared::testkit::TestResponse {
    api.send(json_request("POST", "/v1/auth/oauth/link", &body))
        .await
}

async fn an_existing_email_is_never_linked_silently(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let (email, person, link_token) = password_account_and_identity(&api).await;
    // Until linked, signing in with the provider again is refused again.
    sign_in(&api, &person)
        .await
        .assert_error(409, "LINK_REQUIRED");
    link(
        &api,
        json!({"link_token": link_token, "password": "not the password"}),
    )
    .await
    .assert_error(401, "INVALID_CREDENTIALS");
    let linked = link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(linked.status, 200, "{}", linked.text());
    assert_eq!(linked.json()["user"]["email"], email);
    let (access, _) = tokens(&linked);
    assert_eq!(identities(&api, &access).await.len(), 1);
    // The token worked once.
    link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD}),
    )
    .await
    .assert_error(401, "UNAUTHORIZED");
    // Now the provider signs in to the same account; the password still works too.
    let again = sign_in(&api, &person).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["user"]["id"], linked.json()["user"]["id"]);
    assert_eq!(login(&api, &email, PASSWORD).await.status, 200);
}

/// Turns MFA on for the account of `access`; returns the secret.
async fn enable_mfa(api: &Gateway, ctx: &shared::AppContext, access: &str) -> String {
    let setup = api
        .send(with_bearer(request("POST", "/v1/auth/mfa/setup"), access))
        .await;
    let secret = setup.json()["secret"].as_str().unwrap().to_owned();
    let code = totp_code(&secret, ctx.clock.epoch_seconds());
    let enabled = api
        .send(with_bearer(
            json_request("POST", "/v1/auth/mfa/enable", &json!({"code": code})),
            access,
        ))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    secret
}

async fn linking_an_mfa_account_needs_its_second_factor(store: TestStore) {
    let (api, ctx) = api(&store, &[]);
    let email = unique("mfa-link");
    let (access, _) = tokens(&signup(&api, &email).await);
    let secret = enable_mfa(&api, &ctx, &access).await;
    ctx.clock.advance(Duration::from_secs(30));
    let refused = sign_in(&api, &account(&email)).await;
    let link_token = refused.assert_error(409, "LINK_REQUIRED")["details"]["link_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let error = link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["errors"][0]["field"], "body.code");
    link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD, "code": "000000"}),
    )
    .await
    .assert_error(401, "INVALID_MFA_CODE");
    let code = totp_code(&secret, ctx.clock.epoch_seconds());
    let linked = link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(linked.status, 200, "{}", linked.text());
}

async fn an_mfa_account_gets_mfa_required(store: TestStore) {
    let (api, ctx) = api(&store, &[]);
    let person = account(&unique("mfa"));
    let (access, _) = tokens(&sign_in(&api, &person).await);
    // A fresh sign-in may turn MFA on with the code alone.
    let secret = enable_mfa(&api, &ctx, &access).await;
    ctx.clock.advance(Duration::from_secs(30));
    let answer = sign_in(&api, &person).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap();
    // The mfa_token is no bearer token.
    assert_eq!(me(&api, mfa_token).await.status, 401);
    let code = totp_code(&secret, ctx.clock.epoch_seconds());
    let verified = api
        .send(json_request(
            "POST",
            "/v1/auth/mfa/verify",
            &json!({"mfa_token": mfa_token, "code": code}),
        ))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text());
    assert_eq!(verified.json()["user"]["email"], person["email"]);
}

async fn an_unverified_email_creates_nothing(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let email = unique("unverified");
    let mut person = account(&email);
    person["email_verified"] = json!(false);
    sign_in(&api, &person)
        .await
        .assert_error(403, "EMAIL_NOT_VERIFIED");
    // Not even for an email with an account: no link offer, no hint that it exists.
    assert_eq!(signup(&api, &email).await.status, 201);
    sign_in(&api, &person)
        .await
        .assert_error(403, "EMAIL_NOT_VERIFIED");
    // No account was created by the provider sign-in: signing up again says the email is taken
    // only because of our own signup above, and a verified sign-in now needs a link.
    let mut verified = person.clone();
    verified["email_verified"] = json!(true);
    sign_in(&api, &verified)
        .await
        .assert_error(409, "LINK_REQUIRED");
}

async fn unlinking_keeps_a_way_in(store: TestStore) {
    let (api, _) = api(&store, &[]);
    // A provider-only account: its one identity cannot go.
    let person = account(&unique("only"));
    let (access, _) = tokens(&sign_in(&api, &person).await);
    let unlink = |access: String| {
        let api = &api;
        async move {
            api.send(with_bearer(
                request("DELETE", "/v1/auth/oauth/identities/local"),
                &access,
            ))
            .await
        }
    };
    unlink(access.clone()).await.assert_error(409, "HTTP_ERROR");
    assert_eq!(identities(&api, &access).await.len(), 1);
    api.send(with_bearer(
        request("DELETE", "/v1/auth/oauth/identities/google"),
        &access,
    ))
    .await
    .assert_error(404, "HTTP_ERROR");

    // With a password, it can: then the provider's sign-in is a new identity again.
    let (email, person, link_token) = password_account_and_identity(&api).await;
    let (access, _) = tokens(
        &link(
            &api,
            json!({"link_token": link_token, "password": PASSWORD}),
        )
        .await,
    );
    let gone = unlink(access.clone()).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert!(identities(&api, &access).await.is_empty());
    sign_in(&api, &person)
        .await
        .assert_error(409, "LINK_REQUIRED");
    assert_eq!(login(&api, &email, PASSWORD).await.status, 200);
    unlink(access).await.assert_error(401, "UNAUTHORIZED");
}

async fn exactly_one_of_20_parallel_callbacks_with_one_state_wins(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let location = oauth::provider_answer(&api, &account(&unique("race"))).await;
    let api = std::sync::Arc::new(api);
    let statuses = statuses_in_parallel(20, || {
        let (api, location) = (api.clone(), location.clone());
        async move { callback(&api, &location).await }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
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

async fn exactly_one_of_20_parallel_links_with_one_token_wins(store: TestStore) {
    let (api, _) = api(&store, &[]);
    let (_, _, link_token) = password_account_and_identity(&api).await;
    let api = std::sync::Arc::new(api);
    let statuses = statuses_in_parallel(20, || {
        let api = api.clone();
        let body = json!({"link_token": link_token, "password": PASSWORD});
        async move { link(&api, body).await }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    // The others: the token is spent (401), the identity is linked (409), or the lockout had
    // no failure left to reserve for so many checks in flight at once (429).
    assert!(
        statuses.iter().all(|s| [200, 401, 409, 429].contains(s)),
        "{statuses:?}"
    );
    api_tests::figures::race(20);
}

async fn wrong_link_passwords_feed_the_lockout(store: TestStore) {
    let (api, _) = api(&store, &[("LOGIN_FAIL_EMAIL_THRESHOLD", "3")]);
    let (email, _, link_token) = password_account_and_identity(&api).await;
    for _ in 0..3 {
        link(
            &api,
            json!({"link_token": link_token, "password": "wrong password"}),
        )
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    }
    link(
        &api,
        json!({"link_token": link_token, "password": PASSWORD}),
    )
    .await
    .assert_error(429, "ACCOUNT_LOCKED");
    login(&api, &email, PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");
}

async fn no_token_or_code_reaches_a_log_line(store: TestStore) {
    captured_logs();
    let (api, _) = api(&store, &[]);
    let location = oauth::provider_answer(&api, &account(&unique("quiet"))).await;
    let mut req = json_get(&path_and_query(&location));
    let request_id = format!("oauth-quiet-{}", uuid::Uuid::new_v4().simple());
    req.headers_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    let response = api.send(req).await;
    assert_eq!(response.status, 201);
    let (access, refresh_token) = tokens(&response);
    let query: std::collections::BTreeMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let logs = logs_for_request(&request_id);
    assert!(
        logs.iter()
            .any(|l| l["event_type"] == "auth.oauth.login.success")
    );
    assert!(logs.iter().any(|l| l["message"] == "request completed"));
    let text = serde_json::to_string(&logs).unwrap();
    for secret in [&query["code"], &query["state"], &access, &refresh_token] {
        assert!(!text.contains(secret.as_str()), "a secret reached the logs");
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Sequential store calls: authorize 2 (rate limit, state); a callback that creates the account
/// 3 (state and rate limit; identity and email; one transaction); one that signs in to a linked
/// account 4 (the account's partition in between). The provider's own round trips come on top.
async fn round_trips_stay_within_their_budget(store: TestStore) {
    captured_logs();
    let (api, _) = api(&store, &[]);
    let id = |what: &str| format!("oauth-rt-{what}-{}", uuid::Uuid::new_v4().simple());
    let (status, _, sequential) = sequential_calls(
        &api,
        json_get("/v1/auth/oauth/local/authorize"),
        &id("start"),
    )
    .await;
    assert_eq!((status, sequential), (200, 2));
    let person = account(&unique("rt"));
    for (expected_status, budget) in [(201, 3), (200, 4)] {
        let answer = oauth::provider_answer(&api, &person).await;
        let req = json_get(&path_and_query(&answer));
        let (status, total, sequential) = sequential_calls(&api, req, &id("back")).await;
        assert_eq!(status, expected_status);
        assert!(
            sequential <= budget,
            "{sequential} sequential ({total} in all)"
        );
    }
}
