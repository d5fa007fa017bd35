//! Faults along each multi-step flow: the store fails the N-th call (unreachable, then
//! throttling) for every N a flow makes, on both backends. The answer must be a clean envelope
//! (or the flow's success, when the failed call was housekeeping after the commit), and the data
//! afterwards consistent: no half-created account, no session without its refresh token, no
//! token usable twice, no MFA half on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use api_tests::Gateway;
use api_tests::client::*;
use serde_json::json;
use shared::testkit::faults::{Fault, FaultyBackend, Plan};
use shared::testkit::{TestResponse, TestStore, context, json_request, request, totp_code};

shared::on_both_backends!(
    signup_is_whole_or_absent,
    login_opens_a_whole_session_or_none,
    refresh_rotates_once_or_not_at_all,
    mfa_is_on_with_its_codes_or_off,
    a_second_step_completes_once_or_not_at_all,
    a_reset_changes_the_password_once_or_not_at_all,
    a_provider_sign_in_creates_a_whole_account_or_nothing,
    a_tracker_write_lands_once_or_not_at_all,
    an_interrupted_erasure_finishes_on_retry,
);

static FAULTS: AtomicUsize = AtomicUsize::new(0);

/// Counts one injected fault (printed per test, summed by `make test`).
fn injected() {
    FAULTS.fetch_add(1, Ordering::SeqCst);
    api_tests::figures::record("store faults injected", 1);
}

struct Rig {
    api: Gateway,
    ctx: shared::AppContext,
    faulty: Arc<FaultyBackend>,
    _store: TestStore,
}

fn rig(t: TestStore) -> Rig {
    let (t, faulty) = t.with_faults();
    let mut settings = GENEROUS.to_vec();
    settings.extend(api_tests::oauth::settings());
    settings.extend([
        ("SESSION_POLICY", "multi"),
        ("LOGIN_FAIL_EMAIL_THRESHOLD", "1000"),
        ("RESET_MIN_RESPONSE_MS", "0"),
        ("RL_RESET_EMAIL_LIMIT", "100000"),
        ("RL_RESET_IP_LIMIT", "100000"),
    ]);
    let (ctx, _) = context(&t, &settings);
    let api = Gateway::new(&ctx);
    Rig {
        api,
        ctx,
        faulty,
        _store: t,
    }
}

const FAULT_KINDS: [Fault; 2] = [Fault::Unavailable, Fault::Throttled];

/// How many store calls `flow` makes when nothing fails.
async fn calls_of(rig: &Rig, flow: impl std::future::Future<Output = TestResponse>) -> u32 {
    rig.faulty.set_plan(Plan::Healthy);
    let response = flow.await;
    assert!(response.status.is_success(), "{}", response.text());
    rig.faulty.calls()
}

/// A failed call answers the envelope with 503 (unreachable, throttled): never a partial 2xx
/// body, never another 5xx.
fn clean_failure(response: &TestResponse, what: &str) -> bool {
    if response.status.is_success() {
        return false;
    }
    let body = response.json();
    assert_eq!(response.status, 503, "{what}: {}", response.text());
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{what}");
    assert!(response.header("retry-after").is_some(), "{what}");
    true
}

async fn signup_is_whole_or_absent(t: TestStore) {
    let rig = rig(t);
    let calls = calls_of(&rig, signup(&rig.api, "probe@example.com")).await;
    assert!(calls >= 2);
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let email = format!("signup-{n}-{fault:?}@example.com").to_lowercase();
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = signup(&rig.api, &email).await;
            injected();
            let failed = clean_failure(&response, &format!("signup, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            let login = login(&rig.api, &email, PASSWORD).await;
            if failed {
                // Absent: the email is free and a retry creates the account.
                assert_eq!(login.status, 401, "signup call {n}: {}", login.text());
                assert_eq!(signup(&rig.api, &email).await.status, 201);
            } else {
                assert_eq!(login.status, 200, "signup call {n}");
            }
        }
    }
}

async fn login_opens_a_whole_session_or_none(t: TestStore) {
    let rig = rig(t);
    signup(&rig.api, "login@example.com").await;
    let calls = calls_of(&rig, login(&rig.api, "login@example.com", PASSWORD)).await;
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let (access, _) = tokens(&login(&rig.api, "login@example.com", PASSWORD).await);
            let before = sessions(&rig, &access).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = login(&rig.api, "login@example.com", PASSWORD).await;
            injected();
            let failed = clean_failure(&response, &format!("login, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            let after = sessions(&rig, &access).await;
            if failed {
                assert_eq!(
                    after, before,
                    "login call {n}: no session without its answer"
                );
            } else {
                assert_eq!(after, before + 1, "login call {n}");
                let (_, refresh_token) = tokens(&response);
                assert_eq!(refresh(&rig.api, &refresh_token).await.status, 200);
            }
        }
    }
}

async fn sessions(rig: &Rig, access: &str) -> usize {
    let listed = rig
        .api
        .send(with_bearer(request("GET", "/v1/auth/sessions"), access))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    listed.json()["sessions"].as_array().unwrap().len()
}

async fn refresh_rotates_once_or_not_at_all(t: TestStore) {
    let rig = rig(t);
    let (_, first) = tokens(&signup(&rig.api, "refresh@example.com").await);
    let calls = calls_of(&rig, refresh(&rig.api, &first)).await;
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let (_, token) = tokens(&login(&rig.api, "refresh@example.com", PASSWORD).await);
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = refresh(&rig.api, &token).await;
            injected();
            let failed = clean_failure(&response, &format!("refresh, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            if failed {
                // Not rotated: the token still works, exactly once.
                let retried = refresh(&rig.api, &token).await;
                assert_eq!(retried.status, 200, "refresh call {n}: {}", retried.text());
                assert_eq!(refresh(&rig.api, &token).await.status, 401);
            } else {
                let (_, next) = tokens(&response);
                assert_eq!(
                    refresh(&rig.api, &token).await.status,
                    401,
                    "old token dead"
                );
                assert_eq!(refresh(&rig.api, &next).await.status, 200);
            }
        }
    }
}

async fn mfa_is_on_with_its_codes_or_off(t: TestStore) {
    let rig = rig(t);
    let mut n = 1;
    let mut calls = u32::MAX;
    let mut fault_index = 0;
    while n <= calls {
        let fault = FAULT_KINDS[fault_index % 2];
        let email = format!("mfa-{}@example.com", uuid::Uuid::new_v4().simple());
        let (access, secret) = signed_up_with_setup(&rig, &email).await;
        let enable = || {
            with_bearer(
                json_request(
                    "POST",
                    "/v1/auth/mfa/enable",
                    &json!({"code": totp_code(&secret, rig.ctx.clock.epoch_seconds())}),
                ),
                &access,
            )
        };
        if calls == u32::MAX {
            calls = calls_of(&rig, rig.api.send(enable())).await;
            continue;
        }
        rig.faulty.set_plan(Plan::Nth(n, fault));
        let response = rig.api.send(enable()).await;
        injected();
        let failed = clean_failure(&response, &format!("mfa enable, call {n}"));
        rig.faulty.set_plan(Plan::Healthy);
        let status = rig
            .api
            .send(with_bearer(request("GET", "/v1/auth/mfa/status"), &access))
            .await
            .json();
        let me = me(&rig.api, &access).await.json();
        if failed {
            // Off, setup still pending: the same code enables it on a retry.
            assert_eq!(status["enabled"], false, "enable call {n}");
            assert_eq!(me["mfa_enabled"], false, "enable call {n}");
            assert_eq!(
                rig.api.send(enable()).await.status,
                200,
                "retry after call {n}"
            );
        } else {
            assert_eq!(status["enabled"], true, "enable call {n}");
            assert_eq!(status["backup_codes_remaining"], 10);
            assert_eq!(me["mfa_enabled"], true);
        }
        fault_index += 1;
        if fault_index % 2 == 0 {
            n += 1;
        }
    }
    println!(
        "faults: {} store faults injected along signup, login, refresh, MFA enable, MFA verify, reset, OAuth, tracker writes and erasure so far",
        FAULTS.load(Ordering::SeqCst)
    );
}

/// Signs a new account up and starts an MFA setup: its access token and TOTP secret.
async fn signed_up_with_setup(rig: &Rig, email: &str) -> (String, String) {
    let (access, _) = tokens(&signup(&rig.api, email).await);
    let secret = rig
        .api
        .send(with_bearer(request("POST", "/v1/auth/mfa/setup"), &access))
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (access, secret)
}

/// Signs `email` up and turns MFA on; returns the TOTP secret.
async fn enrolled(rig: &Rig, email: &str) -> String {
    let (access, secret) = signed_up_with_setup(rig, email).await;
    let code = totp_code(&secret, rig.ctx.clock.epoch_seconds());
    let enabled = rig
        .api
        .send(with_bearer(
            json_request("POST", "/v1/auth/mfa/enable", &json!({"code": code})),
            &access,
        ))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    secret
}

async fn a_second_step_completes_once_or_not_at_all(t: TestStore) {
    let rig = rig(t);
    let secret = enrolled(&rig, "second@example.com").await;
    let verify = |token: &str| {
        json_request(
            "POST",
            "/v1/auth/mfa/verify",
            &json!({"mfa_token": token, "code": totp_code(&secret, rig.ctx.clock.epoch_seconds())}),
        )
    };
    let pending = || async {
        login(&rig.api, "second@example.com", PASSWORD).await.json()["mfa_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    rig.ctx.clock.advance(std::time::Duration::from_secs(30));
    let probe = pending().await;
    let calls = calls_of(&rig, rig.api.send(verify(&probe))).await;
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            // Each attempt uses a code of its own step.
            rig.ctx.clock.advance(std::time::Duration::from_secs(30));
            let token = pending().await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = rig.api.send(verify(&token)).await;
            injected();
            let failed = clean_failure(&response, &format!("mfa verify, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            if failed {
                // Neither the token nor the code was spent: the same pair completes it, once.
                let retried = rig.api.send(verify(&token)).await;
                assert_eq!(retried.status, 200, "verify call {n}: {}", retried.text());
            } else {
                let (access, _) = tokens(&response);
                assert_eq!(me(&rig.api, &access).await.status, 200);
            }
            assert_eq!(rig.api.send(verify(&token)).await.status, 401, "spent once");
        }
    }
}

async fn a_reset_changes_the_password_once_or_not_at_all(t: TestStore) {
    let rig = rig(t);
    signup(&rig.api, "reset@example.org").await;
    let fresh_link = || async {
        rig.ctx.clock.advance(std::time::Duration::from_secs(1));
        request_reset(&rig.api, "reset@example.org").await;
        reset_token(&rig.ctx, "reset@example.org")
    };
    let probe = fresh_link().await;
    let calls = calls_of(
        &rig,
        confirm_reset(&rig.api, &probe, "probe passphrase 000"),
    )
    .await;
    let mut current = "probe passphrase 000".to_owned();
    for n in 1..=calls {
        for (i, fault) in FAULT_KINDS.into_iter().enumerate() {
            let token = fresh_link().await;
            let new = format!("passphrase number {n} {i}");
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = confirm_reset(&rig.api, &token, &new).await;
            injected();
            let failed = clean_failure(&response, &format!("reset confirm, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            if failed {
                // Unchanged: the old password signs in and the link still works, once.
                assert_eq!(
                    login(&rig.api, "reset@example.org", &current).await.status,
                    200
                );
                let retried = confirm_reset(&rig.api, &token, &new).await;
                assert_eq!(retried.status, 204, "reset call {n}: {}", retried.text());
            }
            current = new.clone();
            assert_eq!(
                login(&rig.api, "reset@example.org", &current).await.status,
                200
            );
            assert_eq!(
                confirm_reset(&rig.api, &token, "yet another one 99")
                    .await
                    .status,
                400
            );
        }
    }
}

async fn a_provider_sign_in_creates_a_whole_account_or_nothing(t: TestStore) {
    use api_tests::oauth::{account, callback, provider_answer, sign_in};
    let rig = rig(t);
    let probe = provider_answer(&rig.api, &account("oauth-probe@example.com")).await;
    let calls = calls_of(&rig, callback(&rig.api, &probe)).await;
    assert!(calls >= 3);
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let person = account(&format!("oauth-{n}-{fault:?}@example.com").to_lowercase());
            let answer = provider_answer(&rig.api, &person).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = callback(&rig.api, &answer).await;
            injected();
            let failed = clean_failure(&response, &format!("oauth callback, call {n}"));
            rig.faulty.set_plan(Plan::Healthy);
            // The same answer again: refused once the state is spent; after a failure before
            // the state was taken, it may finish the sign-in (once).
            let replay = callback(&rig.api, &answer).await;
            let replay_created = match (failed, replay.status.as_u16()) {
                (_, 400) => false,
                (true, 201) => true,
                (_, status) => panic!("oauth call {n}: replay answered {status}"),
            };
            let again = sign_in(&rig.api, &person).await;
            if failed && !replay_created {
                // Nothing half-made: no account, no identity, no email taken; a new sign-in
                // creates the account whole.
                assert_eq!(again.status, 201, "oauth call {n}: {}", again.text());
            } else {
                assert_eq!(again.status, 200, "oauth call {n}: {}", again.text());
                let first = if failed { &replay } else { &response };
                assert_eq!(
                    again.json()["user"]["id"],
                    first.json()["user"]["id"],
                    "oauth call {n}: the same account"
                );
            }
            let (access, _) = tokens(&again);
            assert_eq!(me(&rig.api, &access).await.status, 200);
        }
    }
}

async fn tracker_user(rig: &Rig, email: &str) -> (String, String) {
    rig.faulty.set_plan(Plan::Healthy);
    let access = tokens(&signup(&rig.api, email).await).0;
    let medication = json!({"name": "Metformin", "dose": 500, "unit": "mg",
        "schedule": {"times": ["08:00"]}, "start_date": "2025-01-01"});
    let created = rig
        .api
        .send(with_bearer(
            json_request("POST", "/v1/tracker/medications", &medication),
            &access,
        ))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    (access, created.json()["id"].as_str().unwrap().to_owned())
}

async fn doses_of(rig: &Rig, access: &str) -> usize {
    let listed = rig
        .api
        .send(with_bearer(
            request(
                "GET",
                "/v1/tracker/doses?from=2025-06-01&to=2025-06-30&limit=100",
            ),
            access,
        ))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    listed.json()["items"].as_array().unwrap().len()
}

async fn a_tracker_write_lands_once_or_not_at_all(t: TestStore) {
    let rig = rig(t);
    let (access, medication_id) = tracker_user(&rig, "tracker-faults@example.com").await;
    let dose = json!({"medication_id": medication_id, "taken_at": "2025-06-02T08:00:00+02:00",
        "dose": 500, "status": "taken"});
    let log = || {
        rig.api.send(with_bearer(
            json_request("POST", "/v1/tracker/doses", &dose),
            &access,
        ))
    };
    let calls = calls_of(&rig, log()).await;
    assert_eq!(calls, 1, "a tracker write is one round trip");
    let mut acknowledged = 1;
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = log().await;
            injected();
            if !clean_failure(&response, &format!("dose log, call {n}")) {
                acknowledged += 1;
            }
            rig.faulty.set_plan(Plan::Healthy);
            assert_eq!(
                doses_of(&rig, &access).await,
                acknowledged,
                "call {n}, {fault:?}"
            );
        }
    }
}

async fn an_interrupted_erasure_finishes_on_retry(t: TestStore) {
    let rig = rig(t);
    let (access, _) = tracker_user(&rig, "erasure-faults@example.com").await;
    let erase = || {
        rig.api
            .send(with_bearer(request("DELETE", "/v1/tracker/data"), &access))
    };
    // A medication and enough doses for several transactions of deletes.
    let fill = || async {
        rig.faulty.set_plan(Plan::Healthy);
        let medication = json!({"name": "Metformin", "dose": 500, "unit": "mg",
            "schedule": {"times": ["08:00"]}, "start_date": "2025-01-01"});
        let created = rig
            .api
            .send(with_bearer(
                json_request("POST", "/v1/tracker/medications", &medication),
                &access,
            ))
            .await;
        let medication_id = created.json()["id"].as_str().unwrap().to_owned();
        for day in 1..=30 {
            for hour in [8, 20] {
                let dose = json!({"medication_id": medication_id,
                    "taken_at": format!("2025-06-{day:02}T{hour:02}:00:00+02:00"), "dose": 500, "status": "taken"});
                let logged = rig
                    .api
                    .send(with_bearer(
                        json_request("POST", "/v1/tracker/doses", &dose),
                        &access,
                    ))
                    .await;
                assert_eq!(logged.status, 201, "{}", logged.text());
            }
        }
    };
    erase().await;
    fill().await;
    let calls = calls_of(&rig, erase()).await;
    assert!(
        calls >= 3,
        "erasing 61 items takes several calls, made {calls}"
    );
    for n in 1..=calls {
        fill().await;
        rig.faulty.set_plan(Plan::Nth(n, Fault::Unavailable));
        let response = erase().await;
        injected();
        let failed = clean_failure(&response, &format!("erasure, call {n}"));
        rig.faulty.set_plan(Plan::Healthy);
        if failed {
            assert_eq!(erase().await.status, 204, "the retry finishes it");
        }
        assert_eq!(doses_of(&rig, &access).await, 0, "call {n}");
        let medications = rig
            .api
            .send(with_bearer(
                request("GET", "/v1/tracker/medications?include_archived=true"),
                &access,
            ))
            .await;
        assert_eq!(medications.json(), json!([]), "call {n}");
    }
}
