//! The store round trips of every endpoint of the OpenAPI document, on the embedded store and on
//! DynamoDB Local: one request of each, its `store_calls` and `store_sequential_calls` read from
//! its access log line, held to an exact table (so that a count cannot grow unnoticed) and to the
//! targets: login ≤ 3 sequential, refresh ≤ 2, me ≤ 1, a tracker write, the day view and
//! feel-vs-yesterday exactly 1. A new endpoint without a row fails too. When a count changes on
//! purpose, the failure message prints the whole measured table, ready to paste into [`EXPECTED`].
//! `cargo run --profile bench-fast -p bench-requests` prints the same counts next to timings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use api_tests::Gateway;
use api_tests::client::{PASSWORD, login, reset_token, sequential_calls, tokens, with_bearer};
use api_tests::oauth;
use api_tests::tracker::{
    User, allergy, catalog_entry, condition, contact, context_at, doctor, dose, id, medication,
    sign_in, sign_up, symptom, url,
};
use axum::body::Body;
use serde_json::{Value, json};
use shared::AppContext;
use shared::store::Store;
use shared::testkit::{TestStore, captured_logs, json_request, request, totp_code};

shared::on_both_backends!(every_endpoint_keeps_its_store_round_trips);

/// Where the clock stands (a Wednesday of 2099, as in the tracker tests).
const NOW: &str = "2099-04-15T10:00:00Z";

/// Every endpoint → (store calls, sequential store calls) of the request this test sends, the
/// same on both backends. Export appears once per format.
const EXPECTED: &[(&str, (i64, i64))] = &[
    ("DELETE /v1/auth/me", (10, 7)),
    ("DELETE /v1/auth/oauth/identities/{provider}", (2, 2)),
    ("DELETE /v1/auth/sessions/{id}", (2, 2)),
    ("DELETE /v1/tracker/allergies/{id}", (1, 1)),
    ("DELETE /v1/tracker/catalog/medications/{id}", (2, 2)),
    ("DELETE /v1/tracker/conditions/{id}", (1, 1)),
    ("DELETE /v1/tracker/data", (4, 4)),
    ("DELETE /v1/tracker/doctors/{id}", (1, 1)),
    ("DELETE /v1/tracker/doses/{id}", (1, 1)),
    ("DELETE /v1/tracker/emergency-contact", (1, 1)),
    ("DELETE /v1/tracker/feelings/{date}", (1, 1)),
    ("DELETE /v1/tracker/medications/{id}", (1, 1)),
    ("DELETE /v1/tracker/symptoms/{id}", (1, 1)),
    ("GET /", (0, 0)),
    ("GET /docs", (0, 0)),
    ("GET /v1/admin/users", (2, 1)),
    ("GET /v1/auth/events", (2, 1)),
    ("GET /v1/auth/me", (2, 1)),
    ("GET /v1/auth/mfa/status", (2, 1)),
    ("GET /v1/auth/oauth/identities", (1, 1)),
    ("GET /v1/auth/oauth/{provider}/authorize", (2, 2)),
    ("GET /v1/auth/oauth/{provider}/callback", (6, 4)),
    ("GET /v1/auth/session", (1, 1)),
    ("GET /v1/auth/sessions", (1, 1)),
    ("GET /v1/health", (0, 0)),
    ("GET /v1/openapi.json", (0, 0)),
    ("GET /v1/ready", (1, 1)),
    ("GET /v1/tracker/adherence", (3, 1)),
    ("GET /v1/tracker/allergies", (2, 1)),
    ("GET /v1/tracker/catalog/medications", (2, 1)),
    ("GET /v1/tracker/conditions", (2, 1)),
    ("GET /v1/tracker/days/{date}", (3, 1)),
    ("GET /v1/tracker/doctors", (2, 1)),
    ("GET /v1/tracker/doctors/{id}", (2, 1)),
    ("GET /v1/tracker/doses", (2, 1)),
    ("GET /v1/tracker/emergency-contact", (2, 1)),
    ("GET /v1/tracker/export?format=fhir", (3, 1)),
    ("GET /v1/tracker/export?format=json", (3, 1)),
    ("GET /v1/tracker/feel-vs-yesterday", (2, 1)),
    ("GET /v1/tracker/feelings", (2, 1)),
    ("GET /v1/tracker/medications", (2, 1)),
    ("GET /v1/tracker/medications/{id}", (2, 1)),
    ("GET /v1/tracker/passport", (3, 1)),
    ("GET /v1/tracker/symptoms", (2, 1)),
    ("PATCH /v1/admin/users/{id}", (3, 2)),
    ("PATCH /v1/auth/me", (2, 2)),
    ("POST /v1/auth/demo", (3, 3)),
    ("POST /v1/auth/login", (7, 3)),
    ("POST /v1/auth/logout", (2, 2)),
    ("POST /v1/auth/logout-all", (3, 2)),
    ("POST /v1/auth/mfa/backup-codes/regenerate", (5, 3)),
    ("POST /v1/auth/mfa/disable", (5, 3)),
    ("POST /v1/auth/mfa/enable", (2, 2)),
    ("POST /v1/auth/mfa/setup", (2, 2)),
    ("POST /v1/auth/mfa/verify", (7, 3)),
    ("POST /v1/auth/oauth/link", (8, 4)),
    ("POST /v1/auth/password-reset/confirm", (4, 2)),
    ("POST /v1/auth/password-reset/request", (4, 2)),
    ("POST /v1/auth/password/change", (4, 3)),
    ("POST /v1/auth/refresh", (3, 2)),
    ("POST /v1/auth/signup", (2, 2)),
    ("POST /v1/tracker/allergies", (1, 1)),
    ("POST /v1/tracker/catalog/medications", (1, 1)),
    ("POST /v1/tracker/conditions", (1, 1)),
    ("POST /v1/tracker/doctors", (1, 1)),
    ("POST /v1/tracker/doses", (1, 1)),
    ("POST /v1/tracker/medications", (1, 1)),
    ("POST /v1/tracker/symptoms", (1, 1)),
    ("PUT /v1/tracker/allergies/{id}", (1, 1)),
    ("PUT /v1/tracker/catalog/medications/{id}", (1, 1)),
    ("PUT /v1/tracker/conditions/{id}", (1, 1)),
    ("PUT /v1/tracker/doctors/{id}", (1, 1)),
    ("PUT /v1/tracker/doses/{id}", (1, 1)),
    ("PUT /v1/tracker/emergency-contact", (1, 1)),
    ("PUT /v1/tracker/feelings/{date}", (1, 1)),
    ("PUT /v1/tracker/medications/{id}", (1, 1)),
    ("PUT /v1/tracker/symptoms/{id}", (1, 1)),
];

/// Sequential round trips an endpoint may make at most (the targets).
const AT_MOST: &[(&str, i64)] = &[
    ("POST /v1/auth/login", 3),
    ("POST /v1/auth/refresh", 2),
    ("GET /v1/auth/me", 1),
];

/// Sequential round trips an endpoint makes, exactly (the targets: the tracker's writes,
/// the day view and feel-vs-yesterday take one).
const EXACTLY: &[(&str, i64)] = &[
    ("POST /v1/tracker/doses", 1),
    ("POST /v1/tracker/symptoms", 1),
    ("PUT /v1/tracker/feelings/{date}", 1),
    ("GET /v1/tracker/days/{date}", 1),
    ("GET /v1/tracker/feel-vs-yesterday", 1),
];

type Request = http::Request<Body>;

/// The round trips measured so far.
struct Trips {
    tag: String,
    sent: usize,
    measured: BTreeMap<String, (i64, i64)>,
}

impl Trips {
    fn new() -> Self {
        Self {
            tag: uuid::Uuid::new_v4().simple().to_string(),
            sent: 0,
            measured: BTreeMap::new(),
        }
    }

    /// Sends `req` as `endpoint` (`METHOD /template`), which must answer `status`.
    async fn measure(&mut self, api: &Gateway, endpoint: &str, status: u16, req: Request) {
        self.sent += 1;
        let request_id = format!("round-trips-{}-{}", self.tag, self.sent);
        let (got, total, sequential) = sequential_calls(api, req, &request_id).await;
        assert_eq!(got, status, "{endpoint}: status");
        let earlier = self
            .measured
            .insert(endpoint.to_owned(), (total, sequential));
        assert!(earlier.is_none(), "{endpoint} measured twice");
    }
}

fn bearer(req: Request, access: &str) -> Request {
    with_bearer(req, access)
}

fn get(path: &str, access: &str) -> Request {
    bearer(request("GET", &url(path)), access)
}

fn delete(path: &str, access: &str) -> Request {
    bearer(request("DELETE", &url(path)), access)
}

fn send(method: &str, path: &str, body: &Value, access: &str) -> Request {
    bearer(json_request(method, &url(path), body), access)
}

/// The code `secret`'s authenticator shows, after moving the clock one TOTP step on (so that the
/// code has not been used yet).
fn next_code(ctx: &AppContext, secret: &str) -> String {
    ctx.clock.advance(Duration::from_secs(30));
    totp_code(secret, ctx.clock.epoch_seconds())
}

/// Starts an MFA setup: the new secret.
async fn mfa_secret(api: &Gateway, access: &str) -> String {
    let started = api
        .send(bearer(request("POST", "/v1/auth/mfa/setup"), access))
        .await;
    assert_eq!(started.status, 200, "MFA setup: {}", started.text());
    started.json()["secret"].as_str().unwrap().to_owned()
}

/// Turns MFA on for a fresh session: the secret.
async fn mfa_on(api: &Gateway, ctx: &AppContext, access: &str) -> String {
    let secret = mfa_secret(api, access).await;
    let enabled = api
        .send(send(
            "POST",
            "/v1/auth/mfa/enable",
            &json!({ "code": next_code(ctx, &secret) }),
            access,
        ))
        .await;
    assert_eq!(enabled.status, 200, "MFA enable: {}", enabled.text());
    secret
}

/// A new session of `email`: its access and refresh tokens.
async fn session(api: &Gateway, email: &str) -> (String, String) {
    let response = login(api, email, PASSWORD).await;
    assert_eq!(response.status, 200, "sign-in: {}", response.text());
    tokens(&response)
}

/// A link token for a new provider identity whose email is `email` (an account of ours).
async fn link_token(api: &Gateway, email: &str) -> String {
    let location = oauth::provider_answer(api, &oauth::account(email)).await;
    let answer = oauth::callback(api, &location).await;
    assert_eq!(answer.status, 409, "{}", answer.text());
    answer.json()["error"]["details"]["link_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn every_endpoint_keeps_its_store_round_trips(t: TestStore) {
    captured_logs();
    let mut overrides = vec![
        ("RL_RESET_IP_LIMIT", "100000"),
        ("RL_RESET_EMAIL_LIMIT", "100000"),
        ("RESET_MIN_RESPONSE_MS", "0"),
        ("SEED_DEMO_ACCOUNTS", "true"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1440"),
    ];
    overrides.extend(oauth::settings());
    let (ctx, _) = context_at(&t, NOW, &overrides);
    let api = Gateway::new(&ctx);
    // The provider fixture signs its ID tokens at the real time: the OAuth endpoints get a
    // gateway of their own (same store and secrets) whose clock stands there.
    let mut real_time = ctx.clone();
    real_time.clock = t.clock.clone();
    real_time.store = Store::new(t.backend.clone(), t.clock.clone());
    let oauth_api = Gateway::new(&real_time);
    auth::seed::demo_accounts(&ctx).await.unwrap();
    let mut trips = Trips::new();

    // Public
    for path in ["/", "/docs", "/v1/health", "/v1/openapi.json", "/v1/ready"] {
        trips
            .measure(&api, &format!("GET {path}"), 200, request("GET", path))
            .await;
    }

    // Accounts and sessions
    let body =
        json!({"name": "Ada Lovelace", "email": "newcomer@example.com", "password": PASSWORD});
    trips
        .measure(
            &api,
            "POST /v1/auth/signup",
            201,
            json_request("POST", "/v1/auth/signup", &body),
        )
        .await;
    let body = json!({"email": "newcomer@example.com", "password": PASSWORD});
    trips
        .measure(
            &api,
            "POST /v1/auth/login",
            200,
            json_request("POST", "/v1/auth/login", &body),
        )
        .await;
    let (_, refresh_token) = session(&api, "newcomer@example.com").await;
    let body = json!({ "refresh_token": refresh_token });
    trips
        .measure(
            &api,
            "POST /v1/auth/refresh",
            200,
            json_request("POST", "/v1/auth/refresh", &body),
        )
        .await;
    let (_, refresh_token) = session(&api, "newcomer@example.com").await;
    let body = json!({ "refresh_token": refresh_token });
    trips
        .measure(
            &api,
            "POST /v1/auth/logout",
            204,
            json_request("POST", "/v1/auth/logout", &body),
        )
        .await;
    let (access, _) = session(&api, "newcomer@example.com").await;
    trips
        .measure(
            &api,
            "POST /v1/auth/logout-all",
            204,
            bearer(request("POST", "/v1/auth/logout-all"), &access),
        )
        .await;
    let (access, _) = session(&api, "newcomer@example.com").await;
    let listed = api
        .send(bearer(request("GET", "/v1/auth/sessions"), &access))
        .await;
    let current = listed.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned();
    trips
        .measure(
            &api,
            "DELETE /v1/auth/sessions/{id}",
            204,
            bearer(
                request("DELETE", &format!("/v1/auth/sessions/{current}")),
                &access,
            ),
        )
        .await;

    let ada = sign_up(&api, "ada@example.com").await;
    ada.set_timezone("Europe/Berlin").await;
    let reads = [
        "/v1/auth/me",
        "/v1/auth/session",
        "/v1/auth/sessions",
        "/v1/auth/events",
    ];
    for path in reads {
        trips
            .measure(&api, &format!("GET {path}"), 200, get(path, &ada.access))
            .await;
    }
    trips
        .measure(
            &api,
            "PATCH /v1/auth/me",
            200,
            send(
                "PATCH",
                "/v1/auth/me",
                &json!({"name": "Ada King"}),
                &ada.access,
            ),
        )
        .await;
    let changer = sign_up(&api, "changer@example.com").await;
    let body = json!({"current_password": PASSWORD, "new_password": "tranquil orbit lantern 4821"});
    trips
        .measure(
            &api,
            "POST /v1/auth/password/change",
            204,
            send("POST", "/v1/auth/password/change", &body, &changer.access),
        )
        .await;
    let resetter = sign_up(&api, "resetter@example.com").await;
    // A reset link counts from the next whole second after the last password change.
    ctx.clock.advance(Duration::from_secs(1));
    let body = json!({ "email": resetter.email });
    trips
        .measure(
            &api,
            "POST /v1/auth/password-reset/request",
            202,
            json_request("POST", "/v1/auth/password-reset/request", &body),
        )
        .await;
    let body = json!({
        "token": reset_token(&ctx, &resetter.email),
        "new_password": "tranquil orbit lantern 4821",
    });
    trips
        .measure(
            &api,
            "POST /v1/auth/password-reset/confirm",
            204,
            json_request("POST", "/v1/auth/password-reset/confirm", &body),
        )
        .await;
    let leaver = sign_up(&api, "leaver@example.com").await;
    trips
        .measure(
            &api,
            "DELETE /v1/auth/me",
            204,
            send(
                "DELETE",
                "/v1/auth/me",
                &json!({ "password": PASSWORD }),
                &leaver.access,
            ),
        )
        .await;
    trips
        .measure(
            &api,
            "POST /v1/auth/demo",
            201,
            request("POST", "/v1/auth/demo"),
        )
        .await;
    let admin = sign_in(&api, "admin@example.com", "Admin123!").await;
    let target = sign_up(&api, "role-target@example.com").await;
    trips
        .measure(
            &api,
            "GET /v1/admin/users",
            200,
            get("/v1/admin/users", &admin.access),
        )
        .await;
    trips
        .measure(
            &api,
            "PATCH /v1/admin/users/{id}",
            200,
            send(
                "PATCH",
                &format!("/v1/admin/users/{}", target.id),
                &json!({"roles": ["STUDENT", "REVIEWER"]}),
                &admin.access,
            ),
        )
        .await;

    // MFA
    let starter = sign_up(&api, "mfa-starter@example.com").await;
    trips
        .measure(
            &api,
            "POST /v1/auth/mfa/setup",
            200,
            bearer(request("POST", "/v1/auth/mfa/setup"), &starter.access),
        )
        .await;
    let enroller = sign_up(&api, "mfa-user@example.com").await;
    let secret = mfa_secret(&api, &enroller.access).await;
    trips
        .measure(
            &api,
            "POST /v1/auth/mfa/enable",
            200,
            send(
                "POST",
                "/v1/auth/mfa/enable",
                &json!({ "code": next_code(&ctx, &secret) }),
                &enroller.access,
            ),
        )
        .await;
    trips
        .measure(
            &api,
            "GET /v1/auth/mfa/status",
            200,
            get("/v1/auth/mfa/status", &enroller.access),
        )
        .await;
    trips
        .measure(
            &api,
            "POST /v1/auth/mfa/backup-codes/regenerate",
            200,
            send(
                "POST",
                "/v1/auth/mfa/backup-codes/regenerate",
                &json!({ "code": next_code(&ctx, &secret) }),
                &enroller.access,
            ),
        )
        .await;
    let password_step = login(&api, &enroller.email, PASSWORD).await;
    assert_eq!(password_step.status, 200, "{}", password_step.text());
    let mfa_token = password_step.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"mfa_token": mfa_token, "code": next_code(&ctx, &secret)});
    trips
        .measure(
            &api,
            "POST /v1/auth/mfa/verify",
            200,
            json_request("POST", "/v1/auth/mfa/verify", &body),
        )
        .await;
    let toggler = sign_up(&api, "mfa-toggler@example.com").await;
    let secret = mfa_on(&api, &ctx, &toggler.access).await;
    trips
        .measure(
            &api,
            "POST /v1/auth/mfa/disable",
            200,
            send(
                "POST",
                "/v1/auth/mfa/disable",
                &json!({ "code": next_code(&ctx, &secret) }),
                &toggler.access,
            ),
        )
        .await;

    // Sign-in through a provider
    trips
        .measure(
            &oauth_api,
            "GET /v1/auth/oauth/{provider}/authorize",
            200,
            oauth::json_get("/v1/auth/oauth/local/authorize"),
        )
        .await;
    let person = oauth::account("oauth-user@example.com");
    let first = oauth::sign_in(&oauth_api, &person).await;
    assert_eq!(
        first.status,
        201,
        "first provider sign-in: {}",
        first.text()
    );
    let location = oauth::provider_answer(&oauth_api, &person).await;
    trips
        .measure(
            &oauth_api,
            "GET /v1/auth/oauth/{provider}/callback",
            200,
            oauth::json_get(&oauth::path_and_query(&location)),
        )
        .await;
    let linker = sign_up(&oauth_api, "linker@example.com").await;
    let body =
        json!({"link_token": link_token(&oauth_api, &linker.email).await, "password": PASSWORD});
    trips
        .measure(
            &oauth_api,
            "POST /v1/auth/oauth/link",
            200,
            json_request("POST", "/v1/auth/oauth/link", &body),
        )
        .await;
    let (access, _) = session(&oauth_api, &linker.email).await;
    trips
        .measure(
            &oauth_api,
            "GET /v1/auth/oauth/identities",
            200,
            get("/v1/auth/oauth/identities", &access),
        )
        .await;
    trips
        .measure(
            &oauth_api,
            "DELETE /v1/auth/oauth/identities/{provider}",
            204,
            delete("/v1/auth/oauth/identities/local", &access),
        )
        .await;

    // Tracker: a few days of data, read, replaced, added to and deleted.
    let filled = fill(&ada).await;
    let a = ada.access.as_str();
    for (endpoint, path) in [
        (
            "GET /v1/tracker/adherence",
            "adherence?from=2099-03-01&to=2099-03-31",
        ),
        ("GET /v1/tracker/allergies", "allergies"),
        (
            "GET /v1/tracker/catalog/medications",
            "catalog/medications?q=met",
        ),
        ("GET /v1/tracker/conditions", "conditions"),
        ("GET /v1/tracker/days/{date}", "days/2099-03-10"),
        ("GET /v1/tracker/doctors", "doctors"),
        (
            "GET /v1/tracker/doctors/{id}",
            &format!("doctors/{}", filled.doctor),
        ),
        (
            "GET /v1/tracker/doses",
            "doses?from=2099-03-01&to=2099-03-31",
        ),
        ("GET /v1/tracker/emergency-contact", "emergency-contact"),
        ("GET /v1/tracker/export?format=json", "export?format=json"),
        ("GET /v1/tracker/export?format=fhir", "export?format=fhir"),
        (
            "GET /v1/tracker/feel-vs-yesterday",
            "feel-vs-yesterday?date=2099-03-10",
        ),
        (
            "GET /v1/tracker/feelings",
            "feelings?from=2099-03-01&to=2099-03-31",
        ),
        ("GET /v1/tracker/medications", "medications"),
        (
            "GET /v1/tracker/medications/{id}",
            &format!("medications/{}", filled.medication),
        ),
        ("GET /v1/tracker/passport", "passport"),
        (
            "GET /v1/tracker/symptoms",
            "symptoms?from=2099-03-01&to=2099-03-31",
        ),
    ] {
        trips.measure(&api, endpoint, 200, get(path, a)).await;
    }
    let creations = [
        ("allergies", allergy()),
        ("conditions", condition(&filled.doctor)),
        ("doctors", doctor()),
        (
            "doses",
            dose(&filled.medication, "2099-03-11T08:05:00+01:00", "taken"),
        ),
        ("medications", medication("Aspirin", &[])),
        (
            "symptoms",
            symptom("Nausea", 3, "2099-03-11T13:00:00+01:00"),
        ),
    ];
    for (kind, body) in &creations {
        trips
            .measure(
                &api,
                &format!("POST /v1/tracker/{kind}"),
                201,
                send("POST", kind, body, a),
            )
            .await;
    }
    let replacements = [
        (
            "allergies/{id}",
            format!("allergies/{}", filled.allergy),
            allergy(),
        ),
        (
            "conditions/{id}",
            format!("conditions/{}", filled.condition),
            condition(&filled.doctor),
        ),
        (
            "doctors/{id}",
            format!("doctors/{}", filled.doctor),
            doctor(),
        ),
        (
            "doses/{id}",
            format!("doses/{}", filled.dose),
            dose(&filled.medication, "2099-03-10T08:10:00+01:00", "taken"),
        ),
        (
            "medications/{id}",
            format!("medications/{}", filled.medication),
            medication("Metformin", &["08:00", "20:00"]),
        ),
        (
            "symptoms/{id}",
            format!("symptoms/{}", filled.symptom),
            symptom("Headache", 6, "2099-03-10T13:00:00+01:00"),
        ),
        (
            "emergency-contact",
            "emergency-contact".to_owned(),
            contact(),
        ),
        (
            "feelings/{date}",
            "feelings/2099-03-10".to_owned(),
            json!({ "score": 7 }),
        ),
    ];
    for (template, path, body) in &replacements {
        trips
            .measure(
                &api,
                &format!("PUT /v1/tracker/{template}"),
                200,
                send("PUT", path, body, a),
            )
            .await;
    }
    // Deletions, each of an entry made for it (the emergency contact and a feeling are Ada's).
    for (kind, body) in &creations {
        let created = id(&ada.create(kind, body).await);
        trips
            .measure(
                &api,
                &format!("DELETE /v1/tracker/{kind}/{{id}}"),
                204,
                delete(&format!("{kind}/{created}"), a),
            )
            .await;
    }
    trips
        .measure(
            &api,
            "DELETE /v1/tracker/emergency-contact",
            204,
            delete("emergency-contact", a),
        )
        .await;
    trips
        .measure(
            &api,
            "DELETE /v1/tracker/feelings/{date}",
            204,
            delete("feelings/2099-03-11", a),
        )
        .await;

    // The catalogue (admins)
    let ad = admin.access.as_str();
    trips
        .measure(
            &api,
            "POST /v1/tracker/catalog/medications",
            201,
            send("POST", "catalog/medications", &catalog_entry("2.5 mg"), ad),
        )
        .await;
    let entry = id(&admin
        .create("catalog/medications", &catalog_entry("5 mg"))
        .await);
    let path = format!("catalog/medications/{entry}");
    trips
        .measure(
            &api,
            "PUT /v1/tracker/catalog/medications/{id}",
            200,
            send("PUT", &path, &catalog_entry("10 mg"), ad),
        )
        .await;
    trips
        .measure(
            &api,
            "DELETE /v1/tracker/catalog/medications/{id}",
            204,
            delete(&path, ad),
        )
        .await;

    // Erasure of a few entries of each kind
    let eraser = sign_up(&api, "eraser@example.com").await;
    fill(&eraser).await;
    trips
        .measure(
            &api,
            "DELETE /v1/tracker/data",
            204,
            delete("data", &eraser.access),
        )
        .await;

    check(t.backend.name(), &trips.measured);
    api_tests::figures::record(
        "store round-trip budgets held",
        u64::try_from(trips.measured.len()).unwrap(),
    );
}

/// The entries of [`fill`] that requests read and replace.
struct Filled {
    doctor: String,
    condition: String,
    allergy: String,
    medication: String,
    dose: String,
    symptom: String,
}

/// Three days (9–11 March 2099) of what a tracker user records, and a passport.
async fn fill(user: &User<'_>) -> Filled {
    let doctor = id(&user.create("doctors", &doctor()).await);
    let condition = id(&user.create("conditions", &condition(&doctor)).await);
    let allergy = id(&user.create("allergies", &allergy()).await);
    user.replace("emergency-contact", &contact()).await;
    let medication = user.medication("Metformin", &["08:00", "20:00"]).await;
    let mut dose = String::new();
    for day in 9..=11 {
        let date = format!("2099-03-{day:02}");
        let morning = user
            .dose(&medication, &format!("{date}T08:05:00+01:00"), "taken")
            .await;
        if day == 10 {
            dose = morning;
        }
        user.dose(&medication, &format!("{date}T20:10:00+01:00"), "taken")
            .await;
        user.feel(&date, 4 + day % 5).await;
    }
    let symptom = user
        .symptom("Headache", 6, "2099-03-10T13:00:00+01:00")
        .await;
    Filled {
        doctor,
        condition,
        allergy,
        medication,
        dose,
        symptom,
    }
}

/// Every operation of the served OpenAPI document, as `METHOD /template`.
fn documented() -> Vec<String> {
    let doc = api_tests::openapi::generate("/v1");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                operations.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

/// Holds `measured` to the targets, to [`EXPECTED`] and to the OpenAPI document.
fn check(backend: &str, measured: &BTreeMap<String, (i64, i64)>) {
    let expected: BTreeMap<String, (i64, i64)> = EXPECTED
        .iter()
        .map(|(endpoint, counts)| ((*endpoint).to_owned(), *counts))
        .collect();
    let mut problems = Vec::new();
    for (endpoint, limit) in AT_MOST {
        match measured.get(*endpoint) {
            Some((_, sequential)) if sequential <= limit => {}
            Some((_, sequential)) => problems.push(format!(
                "{endpoint}: {sequential} sequential round trips, the target is at most {limit}"
            )),
            None => problems.push(format!("{endpoint}: not measured")),
        }
    }
    for (endpoint, target) in EXACTLY {
        match measured.get(*endpoint) {
            Some((_, sequential)) if sequential == target => {}
            Some((_, sequential)) => problems.push(format!(
                "{endpoint}: {sequential} sequential round trips, the target is {target}"
            )),
            None => problems.push(format!("{endpoint}: not measured")),
        }
    }
    let endpoints: Vec<&str> = measured
        .keys()
        .map(|key| key.split('?').next().unwrap_or(key))
        .collect();
    for operation in documented() {
        if !endpoints.contains(&operation.as_str()) {
            problems.push(format!(
                "{operation}: in the OpenAPI document, not measured"
            ));
        }
    }
    for endpoint in expected.keys().chain(measured.keys()) {
        let (want, got) = (expected.get(endpoint), measured.get(endpoint));
        if want != got {
            let show = |counts: Option<&(i64, i64)>| {
                counts.map_or("none".to_owned(), |(total, sequential)| {
                    format!("{total} in all, {sequential} sequential")
                })
            };
            let problem = format!(
                "{endpoint}: expected {}, measured {}",
                show(want),
                show(got)
            );
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        return;
    }
    let mut table = String::new();
    for (endpoint, (total, sequential)) in measured {
        let _ = writeln!(table, "    ({endpoint:?}, ({total}, {sequential})),");
    }
    panic!(
        "store round trips on {backend}:\n  {}\n\nthe measured table (endpoint, (calls, \
         sequential)); if a change is intended, EXPECTED becomes:\n{table}",
        problems.join("\n  ")
    );
}
