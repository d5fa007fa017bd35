//! Calls tests of the tracker function make again and again: a signed-in user with short
//! request methods, a gateway whose clock stands at a chosen instant, valid bodies of each kind,
//! the fields of a validation error, and the independent FHIR validator.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use shared::AppContext;
use shared::clock::Clock;
use shared::telemetry::Sink;
use shared::testkit::{TestResponse, TestStore, context, json_request, request, workspace_root};

use crate::Gateway;
use crate::client::{GENEROUS, login, tokens, with_bearer};

/// `path` as given when it starts with `/`, else under `/v1/tracker/`.
pub fn url(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/v1/tracker/{path}")
    }
}

/// A context over `store` (settings [`GENEROUS`] plus `overrides`) whose clock stands at
/// `instant` (RFC 3339) until advanced, and its metrics.
pub fn context_at(
    store: &TestStore,
    instant: &str,
    overrides: &[(&str, &str)],
) -> (AppContext, Sink) {
    let mut settings: Vec<(&str, &str)> = GENEROUS.to_vec();
    settings.extend_from_slice(overrides);
    let (mut ctx, metrics) = context(store, &settings);
    ctx.clock = Clock::manual(instant.parse().expect("an RFC 3339 instant"));
    ctx.store = shared::store::Store::new(store.backend.clone(), ctx.clock.clone());
    (ctx, metrics)
}

/// The whole API over `store`, its clock standing at `instant` (RFC 3339) until advanced.
pub fn api_at(
    store: &TestStore,
    instant: &str,
    overrides: &[(&str, &str)],
) -> (Gateway, AppContext) {
    let (ctx, _) = context_at(store, instant, overrides);
    (Gateway::new(&ctx), ctx)
}

/// A signed-in user.
pub struct User<'a> {
    pub api: &'a Gateway,
    pub id: String,
    pub email: String,
    pub access: String,
}

/// Signs `email` up (password [`crate::client::PASSWORD`]).
pub async fn sign_up<'a>(api: &'a Gateway, email: &str) -> User<'a> {
    let response = crate::client::signup(api, email).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let (access, _) = tokens(&response);
    User {
        api,
        id: response.json()["user"]["id"].as_str().unwrap().to_owned(),
        email: email.to_owned(),
        access,
    }
}

/// Signs in with a password (after a role change, say).
pub async fn sign_in<'a>(api: &'a Gateway, email: &str, password: &str) -> User<'a> {
    let response = login(api, email, password).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (access, _) = tokens(&response);
    User {
        api,
        id: response.json()["user"]["id"].as_str().unwrap().to_owned(),
        email: email.to_owned(),
        access,
    }
}

impl User<'_> {
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(request("GET", &url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> TestResponse {
        self.send(json_request("POST", &url(path), body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> TestResponse {
        self.send(json_request("PUT", &url(path), body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> TestResponse {
        self.send(json_request("PATCH", &url(path), body)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(request("DELETE", &url(path))).await
    }

    /// Sends `req` with this user's token.
    pub async fn send(&self, req: http::Request<axum::body::Body>) -> TestResponse {
        self.api.send(with_bearer(req, &self.access)).await
    }

    /// `GET path`, which must answer 200: the body.
    pub async fn read(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        response.json()
    }

    /// `POST path`, which must answer 201: the body.
    pub async fn create(&self, path: &str, body: &Value) -> Value {
        let response = self.post(path, body).await;
        assert_eq!(response.status, 201, "POST {path}: {}", response.text());
        response.json()
    }

    /// `PUT path`, which must answer 200: the body.
    pub async fn replace(&self, path: &str, body: &Value) -> Value {
        let response = self.put(path, body).await;
        assert_eq!(response.status, 200, "PUT {path}: {}", response.text());
        response.json()
    }

    /// `DELETE path`, which must answer 204.
    pub async fn remove(&self, path: &str) {
        let response = self.delete(path).await;
        assert_eq!(response.status, 204, "DELETE {path}: {}", response.text());
    }

    /// Sets the profile's time zone (the tracker's "today").
    pub async fn set_timezone(&self, zone: &str) {
        let response = self
            .patch("/v1/auth/me", &json!({ "timezone": zone }))
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
    }

    /// A new medication (taken at `times`, or as needed when there are none): its id.
    pub async fn medication(&self, name: &str, times: &[&str]) -> String {
        id(&self.create("medications", &medication(name, times)).await)
    }

    /// A new dose: its id.
    pub async fn dose(&self, medication_id: &str, taken_at: &str, status: &str) -> String {
        id(&self
            .create("doses", &dose(medication_id, taken_at, status))
            .await)
    }

    /// A new symptom: its id.
    pub async fn symptom(&self, name: &str, severity: i64, occurred_at: &str) -> String {
        id(&self
            .create("symptoms", &symptom(name, severity, occurred_at))
            .await)
    }

    /// Puts the score of `date`.
    pub async fn feel(&self, date: &str, score: i64) {
        self.replace(&format!("feelings/{date}"), &json!({ "score": score }))
            .await;
    }
}

/// The `id` of a created item.
pub fn id(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_owned()
}

/// A valid medication started on 2099-01-01 (the year the tracker tests' clocks stand in): taken
/// at `times`, or as needed when there are none.
pub fn medication(name: &str, times: &[&str]) -> Value {
    let schedule = if times.is_empty() {
        json!({ "as_needed": true })
    } else {
        json!({ "times": times })
    };
    json!({
        "name": name,
        "dose": 1,
        "unit": "tablet",
        "schedule": schedule,
        "start_date": "2099-01-01",
    })
}

pub fn dose(medication_id: &str, taken_at: &str, status: &str) -> Value {
    json!({ "medication_id": medication_id, "taken_at": taken_at, "dose": 1, "status": status })
}

pub fn symptom(name: &str, severity: i64, occurred_at: &str) -> Value {
    json!({ "name": name, "severity": severity, "occurred_at": occurred_at })
}

/// A valid doctor of the medical passport.
pub fn doctor() -> Value {
    json!({"name": "Dr. Grace Hopper", "specialty": "Endocrinology", "phone": "+49 30 1234567",
           "email": "grace@example.com", "address": "Hauptstraße 1\n10115 Berlin"})
}

/// A valid condition, treated by the doctor `doctor_id`.
pub fn condition(doctor_id: &str) -> Value {
    json!({"name": "Type 2 diabetes mellitus", "icd10": "E11.9", "diagnosed_on": "2019-06-15",
           "status": "active", "doctor_ids": [doctor_id]})
}

pub fn allergy() -> Value {
    json!({"substance": "Penicillin", "reaction": "Hives", "severity": "severe"})
}

pub fn contact() -> Value {
    json!({"name": "Charles Babbage", "relationship": "partner", "phone": "+44 20 7946 0000"})
}

/// A valid medication catalogue entry of the given strength.
pub fn catalog_entry(strength: &str) -> Value {
    json!({"name": "Zolmitriptan", "form": "tablet", "strength": strength, "unit": "mg",
           "rxnorm": "313197"})
}

/// Asserts a 422 `VALIDATION_ERROR`; the fields it names, in order.
pub fn invalid_fields(response: &TestResponse) -> Vec<String> {
    let error = response.assert_error(422, "VALIDATION_ERROR");
    error["details"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.errors in {error}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// The Python of the FHIR validator's virtualenv (`scripts/install-tools.sh test` makes it).
pub fn fhir_python() -> PathBuf {
    let python = workspace_root().join(".tools/fhir/bin/python");
    assert!(
        python.is_file(),
        "the FHIR validator is not installed at {}: run `make deps` (scripts/install-tools.sh test)",
        python.display()
    );
    python
}

/// Runs `tests/fhir/validate.py` on `bundle`, written to `target/fhir-tests/<name>.json` (kept,
/// to look at when a test fails): whether it passed, stdout and stderr.
pub fn validate_fhir(name: &str, bundle: &Value) -> (bool, String, String) {
    let dir = workspace_root().join("target/fhir-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let out = Command::new(fhir_python())
        .arg(workspace_root().join("tests/fhir/validate.py"))
        .arg(&file)
        .current_dir(workspace_root())
        .output()
        .expect("the validator starts");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
