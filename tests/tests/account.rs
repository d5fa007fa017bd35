//! `DELETE /v1/auth/me`: an account deletes itself with everything it holds — its tracker data,
//! its security history, its sessions and tokens — proven by its password and second factor;
//! a failed proof changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use api_tests::Gateway;
use api_tests::client::*;
use serde_json::{Value, json};
use shared::store::Query;
use shared::testkit::{TestResponse, TestStore, json_request, request, totp_code};

shared::on_both_backends!(
    deletion_removes_the_account_and_all_its_data,
    a_wrong_password_deletes_nothing,
    parallel_wrong_passwords_never_overshoot_the_lockout,
    an_account_with_mfa_needs_its_code,
);

async fn delete_me(api: &Gateway, access: &str, body: &Value) -> TestResponse {
    api.send(with_bearer(
        json_request("DELETE", "/v1/auth/me", body),
        access,
    ))
    .await
}

async fn with_tracker_data(api: &Gateway, access: &str) {
    let medication = json!({"name": "Metformin", "dose": 500, "unit": "mg",
        "schedule": {"times": ["08:00"]}, "start_date": "2025-01-01"});
    let created = api
        .send(with_bearer(
            json_request("POST", "/v1/tracker/medications", &medication),
            access,
        ))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let feeling = api
        .send(with_bearer(
            json_request(
                "PUT",
                "/v1/tracker/feelings/2025-06-01",
                &json!({"score": 6}),
            ),
            access,
        ))
        .await;
    assert_eq!(feeling.status, 200, "{}", feeling.text());
}

/// How many live items the store holds in `partition`.
async fn items_in(ctx: &shared::AppContext, partition: &str) -> usize {
    ctx.store
        .query(Query::table(partition).limit(1000))
        .await
        .unwrap()
        .items
        .len()
}

async fn deletion_removes_the_account_and_all_its_data(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[("SESSION_POLICY", "multi")]);
    let email = "leaving@example.com";
    let (access, refresh_token) = tokens(&signup(&api, email).await);
    let (second_access, _) = tokens(&login(&api, email, PASSWORD).await);
    with_tracker_data(&api, &access).await;
    let user_id = me(&api, &access).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(items_in(&ctx, &format!("TRACK#{user_id}")).await >= 2);
    assert!(items_in(&ctx, &format!("USER#{user_id}")).await >= 3);

    let deleted = delete_me(&api, &access, &json!({"password": PASSWORD})).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());

    // Nothing of it is left, in any partition.
    for partition in ["TRACK", "USER", "EVENTS"] {
        assert_eq!(
            items_in(&ctx, &format!("{partition}#{user_id}")).await,
            0,
            "{partition}"
        );
    }
    assert_eq!(items_in(&ctx, &format!("EMAIL#{email}")).await, 0);
    // No way back in: the password, both sessions' tokens and the refresh token are dead.
    login(&api, email, PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    for token in [&access, &second_access] {
        me(&api, token).await.assert_error(401, "UNAUTHORIZED");
        api.send(with_bearer(request("GET", "/v1/tracker/passport"), token))
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    assert_eq!(refresh(&api, &refresh_token).await.status, 401);
    // The email is free again, for a new and empty account.
    let (fresh, _) = tokens(&signup(&api, email).await);
    let medications = api
        .send(with_bearer(
            request("GET", "/v1/tracker/medications"),
            &fresh,
        ))
        .await;
    assert_eq!(medications.json(), json!([]));
}

async fn a_wrong_password_deletes_nothing(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[]);
    let (access, _) = tokens(&signup(&api, "staying@example.com").await);
    with_tracker_data(&api, &access).await;
    let user_id = me(&api, &access).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = items_in(&ctx, &format!("TRACK#{user_id}")).await;
    delete_me(
        &api,
        &access,
        &json!({"password": "not the password at all"}),
    )
    .await
    .assert_error(401, "INVALID_CREDENTIALS");
    delete_me(&api, &access, &json!({}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    delete_me(&api, "not-a-token", &json!({"password": PASSWORD}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(items_in(&ctx, &format!("TRACK#{user_id}")).await, before);
    assert_eq!(me(&api, &access).await.status, 200);
    assert_eq!(
        login(&api, "staying@example.com", PASSWORD).await.status,
        200
    );
}

/// The password that confirms a deletion is checked under the sign-in lockout, its stored hash
/// read in the same step as the lockout: of 10 parallel wrong passwords with 3 failures
/// allowed, at most 3 are checked (401) and the rest refused as locked (429), and the account
/// is still there.
async fn parallel_wrong_passwords_never_overshoot_the_lockout(t: TestStore) {
    let (api, _ctx) = api_and_context(&t, &[("LOGIN_FAIL_EMAIL_THRESHOLD", "3")]);
    let (access, _) = tokens(&signup(&api, "guessed@example.com").await);
    let api = std::sync::Arc::new(api);
    let guesses: Vec<_> = (0..10)
        .map(|i| {
            let (api, access) = (api.clone(), access.clone());
            let body = json!({"password": format!("wrong guess {i}")});
            tokio::spawn(async move { delete_me(&api, &access, &body).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert!((1..=3).contains(&checked), "{statuses:?}");
    assert_eq!(checked + locked, 10, "{statuses:?}");
    assert_eq!(me(&api, &access).await.status, 200);
}

async fn an_account_with_mfa_needs_its_code(t: TestStore) {
    let (api, ctx) = api_and_context(&t, &[]);
    let (access, _) = tokens(&signup(&api, "guarded@example.com").await);
    let secret = api
        .send(with_bearer(request("POST", "/v1/auth/mfa/setup"), &access))
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = totp_code(&secret, ctx.clock.epoch_seconds());
    let enabled = api
        .send(with_bearer(
            json_request("POST", "/v1/auth/mfa/enable", &json!({"code": code})),
            &access,
        ))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    ctx.clock.advance(Duration::from_secs(30));

    delete_me(&api, &access, &json!({"password": PASSWORD}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    delete_me(
        &api,
        &access,
        &json!({"password": PASSWORD, "code": "000000"}),
    )
    .await
    .assert_error(401, "INVALID_MFA_CODE");
    assert_eq!(me(&api, &access).await.status, 200, "still there");

    let code = totp_code(&secret, ctx.clock.epoch_seconds());
    let deleted = delete_me(&api, &access, &json!({"password": PASSWORD, "code": code})).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    login(&api, "guarded@example.com", PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
}
