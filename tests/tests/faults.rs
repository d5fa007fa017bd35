//! Faults along each multi-step flow: the store fails the N-th call for every N a flow makes,
//! with each kind of fault, on both backends:
//! - unreachable (`Fault::Unavailable`) and throttling (`Fault::Throttled`): the call never takes
//!   effect, so a request that fails on it must have changed nothing;
//! - timed out (`Fault::TimedOut`): the call takes effect but its answer is lost, as when the
//!   client's timeout fires after the store committed. The request fails as for an unreachable
//!   store, yet its write may be in: the data must then be whole.
//!
//! The answer must be a clean 503 envelope (or the flow's success, when the failed call was
//! housekeeping after the commit), and the data afterwards either untouched or whole: no
//! half-created account, no session without its refresh token, no token usable twice, no MFA
//! half on, a tracker write landing at most once; and a client's retry meets a consistent state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use api_tests::Gateway;
use api_tests::client::*;
use serde_json::json;
use shared::accounts::sessions::{self, REUSE_GRACE_SECS};
use shared::accounts::users::{self, Credential};
use shared::auth::Email;
use shared::auth::tokens::opaque_token_digest;
use shared::store::{Backend, Item, Key, Query};
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

const FAULT_KINDS: [Fault; 3] = [Fault::Unavailable, Fault::Throttled, Fault::TimedOut];

/// Whether a call that failed with `fault` may still have taken effect.
fn may_have_committed(fault: Fault) -> bool {
    fault == Fault::TimedOut
}

/// The faults one test injected, by kind, and how many of the failed requests had committed
/// (their answer lost).
#[derive(Default)]
struct Tally {
    injected: [u32; FAULT_KINDS.len()],
    committed: u32,
}

impl Tally {
    /// Counts one injected fault whose checks held (printed per test, summed by `make test`).
    fn injected(&mut self, fault: Fault) {
        let kind = FAULT_KINDS.iter().position(|f| *f == fault).unwrap();
        self.injected[kind] += 1;
        api_tests::figures::record("store faults injected", 1);
    }

    /// A request failed although its write committed: only a lost answer may do that.
    #[track_caller]
    fn committed(&mut self, fault: Fault, what: &str) {
        assert!(may_have_committed(fault), "{what}: a refused call wrote");
        self.committed += 1;
    }

    fn print(&self, rig: &Rig, flow: &str) {
        let [unavailable, throttled, timed_out] = self.injected;
        println!(
            "faults: {flow} on {}: {} store faults injected ({unavailable} unavailable, \
             {throttled} throttled, {timed_out} timed out; {} failed after committing)",
            rig.faulty.name(),
            unavailable + throttled + timed_out,
            self.committed,
        );
    }
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

/// How many store calls `flow` makes when nothing fails.
async fn calls_of(rig: &Rig, flow: impl std::future::Future<Output = TestResponse>) -> u32 {
    rig.faulty.set_plan(Plan::Healthy);
    let response = flow.await;
    assert!(response.status.is_success(), "{}", response.text());
    rig.faulty.calls()
}

/// A failed call answers the envelope with 503 (unreachable, throttled, timed out): never a
/// partial 2xx body, never another 5xx.
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

// What the store holds, read directly (with the plan healthy), to tell "untouched" from "whole".

/// Every item of the user's partition.
async fn partition(rig: &Rig, user_id: &str) -> Vec<Item> {
    rig.ctx
        .store
        .query_all(Query::table(users::user_partition(user_id)))
        .await
        .unwrap()
}

/// The refresh record a presented refresh token is stored as: (session id, rotated), if any.
async fn refresh_record(rig: &Rig, token: &str) -> Option<(String, bool)> {
    let digest = opaque_token_digest(rig.ctx.secrets.token_pepper_key(), token);
    let item = rig
        .ctx
        .store
        .get(&Key::new(format!("REFRESH#{digest}"), "REFRESH"))
        .await
        .unwrap()?;
    Some((
        item.get_str("session_id").unwrap().to_owned(),
        item.get("rotated") == Some(&json!(true)),
    ))
}

/// The account's sessions, each checked whole: its refresh record exists, names it and is
/// live (not rotated). A session a client could never renew would be half-made.
async fn whole_sessions(rig: &Rig, user_id: &str, what: &str) -> Vec<String> {
    let sessions = sessions::sessions_in(&partition(rig, user_id).await).unwrap();
    for session in &sessions {
        let record = rig
            .ctx
            .store
            .get(&Key::new(
                format!("REFRESH#{}", session.refresh_digest),
                "REFRESH",
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: session {} without its refresh token", session.id));
        assert_eq!(
            record.get_str("session_id"),
            Some(session.id.as_str()),
            "{what}"
        );
        assert_ne!(record.get("rotated"), Some(&json!(true)), "{what}");
    }
    sessions.into_iter().map(|s| s.id).collect()
}

/// The account of `email` as the store holds it: none at all, or whole — one profile with this
/// email, a credential naming it, its sessions whole. Its id, when there is one.
async fn account_of(rig: &Rig, email: &str, what: &str) -> Option<String> {
    let parsed = Email::parse(email).unwrap();
    let credential: Option<Credential> = rig
        .ctx
        .store
        .get(&users::credential_key(&parsed))
        .await
        .unwrap()
        .map(|item| item.to_entity().unwrap());
    let profiles: Vec<Item> = rig
        .ctx
        .store
        .query_all(Query::gsi1(users::USERS_INDEX).prefix(email))
        .await
        .unwrap()
        .into_iter()
        .filter(|item| item.get_str("email") == Some(email))
        .collect();
    let Some(credential) = credential else {
        assert!(
            profiles.is_empty(),
            "{what}: a profile without its credential"
        );
        return None;
    };
    assert_eq!(profiles.len(), 1, "{what}: one profile per email");
    let profile = users::profile_in(&partition(rig, &credential.user_id).await)
        .unwrap()
        .unwrap_or_else(|| panic!("{what}: a credential without its profile"));
    assert_eq!(profile.email, email, "{what}");
    whole_sessions(rig, &credential.user_id, what).await;
    Some(credential.user_id)
}

async fn signup_is_whole_or_absent(t: TestStore) {
    let rig = rig(t);
    let calls = calls_of(&rig, signup(&rig.api, "probe@example.com")).await;
    assert!(calls >= 2);
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("signup, call {n}, {fault:?}");
            let email = format!("signup-{n}-{fault:?}@example.com").to_lowercase();
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = signup(&rig.api, &email).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let account = account_of(&rig, &email, &what).await;
            let login = login(&rig.api, &email, PASSWORD).await;
            match (failed, account) {
                (true, None) => {
                    // Absent: the email is free and a retry creates the account.
                    assert_eq!(login.status, 401, "{what}: {}", login.text());
                    assert_eq!(signup(&rig.api, &email).await.status, 201, "{what}");
                }
                (true, Some(_)) => {
                    // Created whole, the answer lost: the retry is the documented 409, and the
                    // password signs in.
                    tally.committed(fault, &what);
                    assert_eq!(login.status, 200, "{what}: {}", login.text());
                    let retried = signup(&rig.api, &email).await;
                    assert_eq!(retried.status, 409, "{what}: {}", retried.text());
                    assert_eq!(retried.json()["error"]["code"], "EMAIL_TAKEN", "{what}");
                }
                (false, account) => {
                    assert_eq!(account.as_deref(), response.json()["user"]["id"].as_str());
                    assert_eq!(login.status, 200, "{what}");
                }
            }
            tally.injected(fault);
        }
    }
    tally.print(&rig, "signup");
}

async fn login_opens_a_whole_session_or_none(t: TestStore) {
    let rig = rig(t);
    let user_id = user_id_of(&signup(&rig.api, "login@example.com").await);
    let calls = calls_of(&rig, login(&rig.api, "login@example.com", PASSWORD)).await;
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("login, call {n}, {fault:?}");
            let (access, _) = tokens(&login(&rig.api, "login@example.com", PASSWORD).await);
            let before = sessions(&rig, &access).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = login(&rig.api, "login@example.com", PASSWORD).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let after = sessions(&rig, &access).await;
            assert_eq!(whole_sessions(&rig, &user_id, &what).await.len(), after);
            if failed {
                // No session, or (its answer lost) one whole session nobody holds the tokens
                // of: it ends when its refresh token expires, or from the session list.
                match after - before {
                    0 => {}
                    1 => tally.committed(fault, &what),
                    opened => panic!("{what}: {opened} sessions opened"),
                }
                // The client's retry signs in.
                let retried = login(&rig.api, "login@example.com", PASSWORD).await;
                assert_eq!(retried.status, 200, "{what}: {}", retried.text());
                assert_eq!(sessions(&rig, &access).await, after + 1, "{what}");
            } else {
                assert_eq!(after, before + 1, "{what}");
                let (_, refresh_token) = tokens(&response);
                assert_eq!(refresh(&rig.api, &refresh_token).await.status, 200);
            }
            tally.injected(fault);
        }
    }
    tally.print(&rig, "login");
}

/// The account id of a signed-in answer.
fn user_id_of(response: &TestResponse) -> String {
    assert!(response.status.is_success(), "{}", response.text());
    response.json()["user"]["id"].as_str().unwrap().to_owned()
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
    let signed_up = signup(&rig.api, "refresh@example.com").await;
    let user_id = user_id_of(&signed_up);
    let (_, first) = tokens(&signed_up);
    let calls = calls_of(&rig, refresh(&rig.api, &first)).await;
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("refresh, call {n}, {fault:?}");
            let (_, token) = tokens(&login(&rig.api, "refresh@example.com", PASSWORD).await);
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = refresh(&rig.api, &token).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let (session, rotated) = refresh_record(&rig, &token).await.unwrap();
            assert!(
                whole_sessions(&rig, &user_id, &what)
                    .await
                    .contains(&session)
            );
            match (failed, rotated) {
                (true, false) => {
                    // Not rotated: the token still works, exactly once.
                    let retried = refresh(&rig.api, &token).await;
                    assert_eq!(retried.status, 200, "{what}: {}", retried.text());
                    assert_eq!(refresh(&rig.api, &token).await.status, 401, "{what}");
                }
                (true, true) => {
                    // Rotated, and the new token lost with the answer. The client's retry (within
                    // the reuse grace) is refused as a duplicate, not taken for a replay: the
                    // session stays, whole, with a token nobody holds.
                    tally.committed(fault, &what);
                    let retried = refresh(&rig.api, &token).await;
                    assert_eq!(retried.status, 401, "{what}: {}", retried.text());
                    assert!(
                        whole_sessions(&rig, &user_id, &what)
                            .await
                            .contains(&session)
                    );
                    // Presented again after the grace, it is reuse: the session (the family of
                    // the lost token) ends, and the client signs in again.
                    rig.ctx
                        .clock
                        .advance(Duration::from_secs(REUSE_GRACE_SECS.unsigned_abs()));
                    assert_eq!(refresh(&rig.api, &token).await.status, 401, "{what}");
                    let left = whole_sessions(&rig, &user_id, &what).await;
                    assert!(!left.contains(&session), "{what}: reuse ends the session");
                }
                (false, rotated) => {
                    assert!(rotated, "{what}");
                    let (_, next) = tokens(&response);
                    assert_eq!(
                        refresh(&rig.api, &token).await.status,
                        401,
                        "old token dead"
                    );
                    assert_eq!(refresh(&rig.api, &next).await.status, 200);
                }
            }
            tally.injected(fault);
        }
    }
    tally.print(&rig, "refresh");
}

async fn mfa_is_on_with_its_codes_or_off(t: TestStore) {
    let rig = rig(t);
    let enable = |access: &str, secret: &str| {
        with_bearer(
            json_request(
                "POST",
                "/v1/auth/mfa/enable",
                &json!({"code": totp_code(secret, rig.ctx.clock.epoch_seconds())}),
            ),
            access,
        )
    };
    let (access, secret) = signed_up_with_setup(&rig, "mfa-probe@example.com").await;
    let calls = calls_of(&rig, rig.api.send(enable(&access, &secret))).await;
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("mfa enable, call {n}, {fault:?}");
            let email = format!("mfa-{n}-{fault:?}@example.com").to_lowercase();
            let (access, secret) = signed_up_with_setup(&rig, &email).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = rig.api.send(enable(&access, &secret)).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let status = rig
                .api
                .send(with_bearer(request("GET", "/v1/auth/mfa/status"), &access))
                .await
                .json();
            let me = me(&rig.api, &access).await.json();
            // Never half on: the enrollment and the profile's flag agree.
            assert_eq!(status["enabled"], me["mfa_enabled"], "{what}");
            match (failed, status["enabled"] == true) {
                (true, false) => {
                    // Off, setup still pending: the same code enables it on a retry.
                    assert_eq!(status["setup_pending"], true, "{what}");
                    let retried = rig.api.send(enable(&access, &secret)).await;
                    assert_eq!(retried.status, 200, "{what}: {}", retried.text());
                }
                (true, true) => {
                    // On whole, its backup codes lost with the answer: the retry is the
                    // documented 409 (already on), and the authenticator is the way in.
                    tally.committed(fault, &what);
                    assert_eq!(status["backup_codes_remaining"], 10, "{what}");
                    assert_eq!(status["setup_pending"], false, "{what}");
                    let retried = rig.api.send(enable(&access, &secret)).await;
                    assert_eq!(retried.status, 409, "{what}: {}", retried.text());
                }
                (false, enabled) => {
                    assert!(enabled, "{what}");
                    assert_eq!(status["backup_codes_remaining"], 10);
                }
            }
            tally.injected(fault);
        }
    }
    tally.print(&rig, "mfa enable");
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
    let user_id = account_of(&rig, "second@example.com", "enrolled")
        .await
        .unwrap();
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
    rig.ctx.clock.advance(Duration::from_secs(30));
    let probe = pending().await;
    let calls = calls_of(&rig, rig.api.send(verify(&probe))).await;
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("mfa verify, call {n}, {fault:?}");
            // Each attempt uses a code of its own step.
            rig.ctx.clock.advance(Duration::from_secs(30));
            let token = pending().await;
            let before = whole_sessions(&rig, &user_id, &what).await.len();
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = rig.api.send(verify(&token)).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let after = whole_sessions(&rig, &user_id, &what).await.len();
            if failed && after == before {
                // Neither the token nor the code was spent: the same pair completes it, once.
                let retried = rig.api.send(verify(&token)).await;
                assert_eq!(retried.status, 200, "{what}: {}", retried.text());
            } else if failed {
                // Completed whole (token and code spent with the session), the answer lost:
                // the retry is refused like any spent token, and the client signs in again.
                tally.committed(fault, &what);
                assert_eq!(after, before + 1, "{what}");
                let retried = rig.api.send(verify(&token)).await;
                assert_eq!(retried.status, 401, "{what}: {}", retried.text());
            } else {
                assert_eq!(after, before + 1, "{what}");
                let (access, _) = tokens(&response);
                assert_eq!(me(&rig.api, &access).await.status, 200);
            }
            assert_eq!(
                rig.api.send(verify(&token)).await.status,
                401,
                "{what}: spent once"
            );
            tally.injected(fault);
        }
    }
    tally.print(&rig, "mfa verify");
}

async fn a_reset_changes_the_password_once_or_not_at_all(t: TestStore) {
    let rig = rig(t);
    let user_id = user_id_of(&signup(&rig.api, "reset@example.org").await);
    let fresh_link = || async {
        rig.ctx.clock.advance(Duration::from_secs(1));
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
    let mut tally = Tally::default();
    for n in 1..=calls {
        for (i, fault) in FAULT_KINDS.into_iter().enumerate() {
            let what = format!("reset confirm, call {n}, {fault:?}");
            let token = fresh_link().await;
            let new = format!("passphrase number {n} {i}");
            // A session to end.
            assert_eq!(
                login(&rig.api, "reset@example.org", &current).await.status,
                200
            );
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = confirm_reset(&rig.api, &token, &new).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let sessions_left = whole_sessions(&rig, &user_id, &what).await.len();
            if failed && sessions_left > 0 {
                // Unchanged: the old password signs in and the link still works, once.
                assert_eq!(
                    login(&rig.api, "reset@example.org", &current).await.status,
                    200,
                    "{what}"
                );
                let retried = confirm_reset(&rig.api, &token, &new).await;
                assert_eq!(retried.status, 204, "{what}: {}", retried.text());
            } else if failed {
                // Changed whole (password, link spent, every session ended), the answer lost:
                // the old password is dead and the retry is refused like any used link.
                tally.committed(fault, &what);
                assert_eq!(
                    login(&rig.api, "reset@example.org", &current).await.status,
                    401,
                    "{what}"
                );
                let retried = confirm_reset(&rig.api, &token, &new).await;
                assert_eq!(retried.status, 400, "{what}: {}", retried.text());
            } else {
                assert_eq!(sessions_left, 0, "{what}: every session ended");
            }
            current = new.clone();
            assert_eq!(
                login(&rig.api, "reset@example.org", &current).await.status,
                200,
                "{what}"
            );
            assert_eq!(
                confirm_reset(&rig.api, &token, "yet another one 99")
                    .await
                    .status,
                400,
                "{what}"
            );
            tally.injected(fault);
        }
    }
    tally.print(&rig, "reset confirm");
}

async fn a_provider_sign_in_creates_a_whole_account_or_nothing(t: TestStore) {
    use api_tests::oauth::{account, callback, provider_answer, sign_in};
    let rig = rig(t);
    let probe = provider_answer(&rig.api, &account("oauth-probe@example.com")).await;
    let calls = calls_of(&rig, callback(&rig.api, &probe)).await;
    assert!(calls >= 3);
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("oauth callback, call {n}, {fault:?}");
            let email = format!("oauth-{n}-{fault:?}@example.com").to_lowercase();
            let person = account(&email);
            let answer = provider_answer(&rig.api, &person).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = callback(&rig.api, &answer).await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let made = account_of(&rig, &email, &what).await;
            if failed && made.is_some() {
                tally.committed(fault, &what);
            }
            // The same answer again: refused once the state is spent; after a failure before
            // the state was taken, it may finish the sign-in (once).
            let replay = callback(&rig.api, &answer).await;
            let replay_created = match (failed, replay.status.as_u16()) {
                (_, 400) => false,
                (true, 201) => {
                    assert!(made.is_none(), "{what}: a second account");
                    true
                }
                (_, status) => panic!("{what}: replay answered {status}"),
            };
            let again = sign_in(&rig.api, &person).await;
            // The account the next sign-in must reach, and whether that sign-in creates it.
            let (first, created) = match (failed, replay_created, &made) {
                (false, _, _) => (response.json()["user"]["id"].clone(), false),
                (true, true, _) => (replay.json()["user"]["id"].clone(), false),
                // Created whole (account, identity, session), the answer lost.
                (true, false, Some(id)) => (json!(id), false),
                // Nothing half-made: no account, no identity, no email taken; a new sign-in
                // creates the account whole.
                (true, false, None) => (again.json()["user"]["id"].clone(), true),
            };
            let status = if created { 201 } else { 200 };
            assert_eq!(again.status, status, "{what}: {}", again.text());
            assert_eq!(
                again.json()["user"]["id"],
                first,
                "{what}: the same account"
            );
            let id = account_of(&rig, &email, &what).await.unwrap();
            assert_eq!(first, json!(id), "{what}");
            let identities = partition(&rig, &id)
                .await
                .iter()
                .filter(|i| {
                    i.key().is_some_and(|k| {
                        k.sk.starts_with(shared::accounts::identities::IDENTITY_PREFIX)
                    })
                })
                .count();
            assert_eq!(identities, 1, "{what}: linked once");
            let (access, _) = tokens(&again);
            assert_eq!(me(&rig.api, &access).await.status, 200);
            tally.injected(fault);
        }
    }
    tally.print(&rig, "oauth callback");
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
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("dose log, call {n}, {fault:?}");
            let before = doses_of(&rig, &access).await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = log().await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            let landed = doses_of(&rig, &access).await - before;
            match (failed, landed) {
                (false, landed) => assert_eq!(landed, 1, "{what}"),
                (true, 0) => {}
                // Landed without its answer. (A client retrying the POST would log a second
                // dose, as a POST without an idempotency key does.)
                (true, 1) => tally.committed(fault, &what),
                (true, landed) => panic!("{what}: landed {landed} times"),
            }
            tally.injected(fault);
        }
    }
    tally.print(&rig, "dose log");
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
    let mut tally = Tally::default();
    for n in 1..=calls {
        for fault in FAULT_KINDS {
            let what = format!("erasure, call {n}, {fault:?}");
            fill().await;
            rig.faulty.set_plan(Plan::Nth(n, fault));
            let response = erase().await;
            let failed = clean_failure(&response, &what);
            rig.faulty.set_plan(Plan::Healthy);
            if failed {
                assert_eq!(erase().await.status, 204, "{what}: the retry finishes it");
            }
            assert_eq!(doses_of(&rig, &access).await, 0, "{what}");
            let medications = rig
                .api
                .send(with_bearer(
                    request("GET", "/v1/tracker/medications?include_archived=true"),
                    &access,
                ))
                .await;
            assert_eq!(medications.json(), json!([]), "{what}");
            tally.injected(fault);
        }
    }
    tally.print(&rig, "erasure");
}
