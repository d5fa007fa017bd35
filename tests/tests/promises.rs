//! The security checks this product has always promised, as one journey any API can be put
//! through: a failed sign-in says nothing about whether the account exists; repeated failures
//! lock the account; too many requests answer 429 with `Retry-After`; an invalid OAuth state and
//! an invalid MFA code are refused; log lines carry `request_id` and `event_type`; no secret
//! reaches them. It runs in process on both backends, over HTTP on loopback, and against the API
//! `API_BASE_URL` names (`API_BASE_URL=http://127.0.0.1:9000 make security` with `make run`).
//!
//! The checks share the API's per-address limits (by default 20 sign-ins per 10 minutes), so
//! their order matters: the rate-limit check, which spends what is left, comes last.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use api_tests::Gateway;
use api_tests::client::{PASSWORD, with_bearer};
use api_tests::target::{Logs, Target};
use serde_json::{Value, json};
use shared::testkit::{
    TestResponse, TestStore, captured_logs, context, json_request, request, totp_code,
};

shared::on_both_backends!(the_promises_hold_in_process);

async fn the_promises_hold_in_process(t: TestStore) {
    captured_logs();
    // Deployed limits and lockouts (no test overrides), and a real OpenID Provider as `local`.
    let (ctx, _) = context(&t, &api_tests::oauth::settings());
    let target = Target::in_process(Gateway::new(&ctx), ctx.clock.clone());
    Journey::new(&target, Some("local")).run().await;
}

/// Over HTTP: the API `API_BASE_URL` names (its OAuth provider in `API_OAUTH_PROVIDER`, its log
/// file in `API_LOG_FILE`), or else this test's own server on a loopback port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promises_hold_over_http() {
    if let Some(target) = Target::from_env() {
        let provider = std::env::var("API_OAUTH_PROVIDER").ok();
        Journey::new(&target, provider.as_deref()).run().await;
        return;
    }
    captured_logs();
    let store = TestStore::embedded();
    let (ctx, _) = context(&store, &api_tests::oauth::settings());
    let base_url = api_tests::server::spawn(Gateway::new(&ctx)).await;
    let target = Target::http(&base_url, Some(ctx.clock.clone()), Logs::Captured);
    Journey::new(&target, Some("local")).run().await;
}

/// One run of the checks against one API: what it sent, to look for in the logs afterwards.
struct Journey<'a> {
    target: &'a Target,
    oauth_provider: Option<&'a str>,
    /// A tag unique to this run, in every email and request id.
    run: String,
    /// Refused requests, each with the security event it must leave.
    refused: Vec<(String, &'static str)>,
    /// Requests of which one must leave an `auth.lockout.trigger` event.
    lockout_attempts: Vec<String>,
    /// Everything secret the run sent or received.
    secrets: Vec<String>,
    held: Vec<&'static str>,
}

impl<'a> Journey<'a> {
    fn new(target: &'a Target, oauth_provider: Option<&'a str>) -> Self {
        Self {
            target,
            oauth_provider,
            run: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            refused: Vec::new(),
            lockout_attempts: Vec::new(),
            secrets: vec![PASSWORD.to_owned()],
            held: Vec::new(),
        }
    }

    fn email(&self, who: &str) -> String {
        format!("promise-{who}-{}@example.com", self.run)
    }

    /// Sends `request` with a request id of this run; returns the id with the answer.
    async fn send(
        &self,
        step: &str,
        mut request: http::Request<axum::body::Body>,
    ) -> (String, TestResponse) {
        let id = format!(
            "promise-{}-{step}-{}",
            self.run,
            uuid::Uuid::new_v4().simple()
        );
        request
            .headers_mut()
            .insert("x-request-id", id.parse().unwrap());
        (id.clone(), self.target.send(request).await)
    }

    async fn login(&self, step: &str, email: &str, password: &str) -> (String, TestResponse) {
        let body = json!({"email": email, "password": password});
        self.send(step, json_request("POST", "/v1/auth/login", &body))
            .await
    }

    /// A new account; its access token.
    async fn signup(&mut self, who: &str) -> String {
        let body =
            json!({"name": "Promise Keeper", "email": self.email(who), "password": PASSWORD});
        let (_, response) = self
            .send("signup", json_request("POST", "/v1/auth/signup", &body))
            .await;
        assert_eq!(
            response.status,
            201,
            "signup on {}: {}",
            self.target.describe(),
            response.text()
        );
        let body = response.json();
        for token in ["access_token", "refresh_token"] {
            self.secrets.push(body[token].as_str().unwrap().to_owned());
        }
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn refused(&mut self, id: String, expected_event: &'static str) {
        self.refused.push((id, expected_event));
    }

    async fn run(mut self) {
        self.signup("main").await;
        // A sign-in ends the account's other sessions: its token is the one to use.
        let account = self.the_sign_in_budget_is_unspent().await;
        self.a_failed_sign_in_does_not_tell_whether_the_account_exists()
            .await;
        self.an_invalid_mfa_code_is_refused(&account).await;
        self.an_invalid_oauth_state_is_refused().await;
        self.repeated_failures_lock_the_account().await;
        self.too_many_requests_answer_429_with_retry_after().await;
        self.log_lines_carry_request_id_and_event_type();
        self.no_secret_reaches_a_log_line();
        println!(
            "promises: {} checks held on {}: {}",
            self.held.len(),
            self.target.describe(),
            self.held.join("; ")
        );
        api_tests::figures::record("promised security checks held", self.held.len() as u64);
    }

    /// The journey spends this address's sign-in budget; a running API remembers it from an
    /// earlier run (10 minutes by default), which is no failure of the promises: say so.
    async fn the_sign_in_budget_is_unspent(&mut self) -> String {
        let (_, probe) = self.login("budget", &self.email("main"), PASSWORD).await;
        if probe.status == 429 {
            panic!(
                "{} already refuses sign-ins from this address (Retry-After: {} s), most likely \
                 after an earlier run of these checks: run them again once it has passed, or \
                 against a fresh API (`make clean-local` before `make run`)",
                self.target.describe(),
                probe.header("retry-after").unwrap_or("?")
            );
        }
        assert_eq!(probe.status, 200, "{}", probe.text());
        let body = probe.json();
        for token in ["access_token", "refresh_token"] {
            self.secrets.push(body[token].as_str().unwrap().to_owned());
        }
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn a_failed_sign_in_does_not_tell_whether_the_account_exists(&mut self) {
        let (unknown_id, unknown) = self.login("unknown", &self.email("nobody"), PASSWORD).await;
        let (wrong_id, wrong) = self
            .login("wrong", &self.email("main"), "not the password at all")
            .await;
        self.secrets.push("not the password at all".to_owned());
        let envelope = |r: &TestResponse| {
            let mut body = r.json();
            body["error"].as_object_mut().unwrap().remove("request_id");
            (r.status.as_u16(), body)
        };
        assert_eq!(envelope(&unknown), envelope(&wrong));
        unknown.assert_error(401, "INVALID_CREDENTIALS");
        self.refused(unknown_id, "auth.login.failure");
        self.refused(wrong_id, "auth.login.failure");
        self.held
            .push("a failed sign-in is the same for an unknown email and a wrong password");
    }

    async fn an_invalid_mfa_code_is_refused(&mut self, access: &str) {
        let (_, setup) = self
            .send(
                "mfa-setup",
                with_bearer(request("POST", "/v1/auth/mfa/setup"), access),
            )
            .await;
        assert_eq!(setup.status, 200, "{}", setup.text());
        let secret = setup.json()["secret"].as_str().unwrap().to_owned();
        self.secrets.push(secret.clone());
        let code = totp_code(&secret, self.target.now());
        let enable = with_bearer(
            json_request("POST", "/v1/auth/mfa/enable", &json!({"code": code})),
            access,
        );
        let (_, enabled) = self.send("mfa-enable", enable).await;
        assert_eq!(enabled.status, 200, "{}", enabled.text());
        for code in enabled.json()["backup_codes"].as_array().unwrap() {
            self.secrets.push(code.as_str().unwrap().to_owned());
        }
        let (_, signed_in) = self.login("mfa-login", &self.email("main"), PASSWORD).await;
        assert_eq!(
            signed_in.json()["mfa_required"],
            true,
            "{}",
            signed_in.text()
        );
        let mfa_token = signed_in.json()["mfa_token"].as_str().unwrap().to_owned();
        self.secrets.push(mfa_token.clone());
        // A code no clock skew makes right: not the code of this step or of those around it.
        let now = self.target.now();
        let valid: Vec<String> = (-2..=2)
            .map(|step| totp_code(&secret, now + step * 30))
            .collect();
        let wrong = ["000000", "111111", "222222"]
            .into_iter()
            .find(|c| !valid.iter().any(|v| v == c))
            .unwrap();
        let body = json!({"mfa_token": mfa_token, "code": wrong});
        let (id, refused) = self
            .send(
                "mfa-wrong",
                json_request("POST", "/v1/auth/mfa/verify", &body),
            )
            .await;
        refused.assert_error(401, "INVALID_MFA_CODE");
        assert!(refused.json().get("access_token").is_none());
        self.refused(id, "auth.mfa.verify.failure");
        self.held.push("an invalid MFA code is refused");
    }

    async fn an_invalid_oauth_state_is_refused(&mut self) {
        let Some(provider) = self.oauth_provider else {
            println!(
                "promises: OAuth state not checked on {}: set API_OAUTH_PROVIDER to a configured provider",
                self.target.describe()
            );
            return;
        };
        let callback = |state: &str| {
            let mut req = request(
                "GET",
                &format!("/v1/auth/oauth/{provider}/callback?state={state}&code=anything"),
            );
            req.headers_mut()
                .insert("accept", "application/json".parse().unwrap());
            req
        };
        // A state this API never issued.
        let (forged_id, forged) = self.send("oauth-forged", callback(&"A".repeat(43))).await;
        forged.assert_error(400, "INVALID_OAUTH_STATE");
        self.refused(forged_id, "auth.oauth.state.invalid");
        // A state it issued, altered.
        let (_, started) = self
            .send(
                "oauth-start",
                request("GET", &format!("/v1/auth/oauth/{provider}/authorize")),
            )
            .await;
        assert_eq!(started.status, 302, "{}", started.text());
        let location = started.header("location").unwrap();
        let state = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("state="))
            .unwrap();
        let altered = format!(
            "{}{}",
            &state[..state.len() - 1],
            if state.ends_with('A') { 'B' } else { 'A' }
        );
        let (altered_id, refused) = self.send("oauth-altered", callback(&altered)).await;
        refused.assert_error(400, "INVALID_OAUTH_STATE");
        self.refused(altered_id, "auth.oauth.state.invalid");
        self.held.push("an invalid OAuth state is refused");
    }

    async fn repeated_failures_lock_the_account(&mut self) {
        self.signup("locked").await;
        let email = self.email("locked");
        let mut failures = 0;
        let locked = loop {
            let (id, response) = self
                .login("lockout", &email, "a wrong password again")
                .await;
            if response.status == 429 {
                break (id, response);
            }
            response.assert_error(401, "INVALID_CREDENTIALS");
            self.lockout_attempts.push(id);
            failures += 1;
            assert!(failures <= 20, "no lockout after {failures} failures");
        };
        self.secrets.push("a wrong password again".to_owned());
        locked.1.assert_error(429, "ACCOUNT_LOCKED");
        assert_retry_after(&locked.1);
        self.refused(locked.0, "auth.login.locked");
        // Even the right password is refused while the lock lasts.
        let (_, right) = self.login("locked-right", &email, PASSWORD).await;
        right.assert_error(429, "ACCOUNT_LOCKED");
        assert!(right.json().get("access_token").is_none());
        self.held.push("repeated failures lock the account");
    }

    async fn too_many_requests_answer_429_with_retry_after(&mut self) {
        let email = self.email("main");
        for attempt in 1..=100 {
            let (id, response) = self.login("rate", &email, PASSWORD).await;
            if response.status == 429 {
                response.assert_error(429, "RATE_LIMITED");
                assert_retry_after(&response);
                self.refused(id, "auth.rate_limited");
                self.held
                    .push("too many requests answer 429 with Retry-After");
                return;
            }
            assert_eq!(
                response.status,
                200,
                "sign-in {attempt}: {}",
                response.text()
            );
            if let Some(token) = response.json()["mfa_token"].as_str() {
                self.secrets.push(token.to_owned());
            }
        }
        panic!(
            "100 sign-ins in a row and no 429 from {}",
            self.target.describe()
        );
    }

    fn log_lines_carry_request_id_and_event_type(&mut self) {
        let Some(lines) = self.target.log_lines() else {
            println!(
                "promises: log lines not checked on {}: set API_LOG_FILE to its log output",
                self.target.describe()
            );
            return;
        };
        for (id, expected) in &self.refused {
            let events: Vec<&Value> = lines
                .iter()
                .filter(|line| line["request_id"] == id.as_str() && line["event_type"].is_string())
                .collect();
            assert!(
                events.iter().any(|line| line["event_type"] == *expected),
                "request {id}: expected a {expected} event, got {events:?}"
            );
        }
        assert!(
            lines
                .iter()
                .any(|line| line["event_type"] == "auth.lockout.trigger"
                    && self
                        .lockout_attempts
                        .iter()
                        .any(|id| line["request_id"] == id.as_str())),
            "no auth.lockout.trigger event for the failures that locked the account"
        );
        self.held
            .push("security events carry request_id and event_type");
    }

    fn no_secret_reaches_a_log_line(&mut self) {
        let Some(lines) = self.target.log_lines() else {
            return;
        };
        for line in lines.iter().map(Value::to_string) {
            for secret in &self.secrets {
                assert!(
                    !line.contains(secret.as_str()),
                    "a secret reached a log line: {line}"
                );
            }
            assert!(
                !line.contains("eyJ"),
                "something JWT-like reached a log line: {line}"
            );
        }
        self.held
            .push("no password, token or TOTP secret reaches a log line");
    }
}

fn assert_retry_after(response: &TestResponse) {
    let seconds: u64 = response
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "429 without a Retry-After in seconds: {:?}",
                response.headers
            )
        });
    assert!(seconds > 0, "Retry-After: {seconds}");
}
