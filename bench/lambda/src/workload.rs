//! The request mix each function serves in the memory run: what its clients call most, plus the
//! expensive calls (Argon2id logins and signups, the OpenAPI document, QR codes, exports), in a
//! fixed cycle so every run is the same.
//!
//! Calls that need a signed-in user use the bench user, signed up once before the memory runs;
//! `auth` also signs up users of its own and logs them in, right and wrong.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::events::{Reply, Request};

/// Password of every user the benchmark signs up (passes the password policy).
pub const PASSWORD: &str = "correct horse battery staple";

/// A function's request mix: the `n`th request, given what the earlier ones answered.
pub trait Workload {
    fn request(&mut self, n: u32) -> Request;

    /// Sees the answer to a request, to reuse what it returned (tokens, ids).
    fn observe(&mut self, _request: &Request, _reply: &Reply) {}
}

/// The signup of the user the other functions' mixes act as.
pub fn bench_user_signup() -> Request {
    Request::send(
        "signup (bench user)",
        "POST",
        "/v1/auth/signup",
        json!({ "name": "Bench User", "email": "bench-user@example.com", "password": PASSWORD }),
    )
}

/// The mix of `function` (`empty` gets the health check, which it answers with an empty 200).
pub fn for_function(function: &str, bench_token: &str) -> Box<dyn Workload> {
    let token = bench_token.to_owned();
    match function {
        "auth" => Box::new(Auth {
            token,
            user: 0,
            refresh_token: None,
        }),
        "mfa" => Box::new(Mfa { token }),
        "oauth" => Box::new(OAuth { token }),
        "tracker" => Box::new(Tracker {
            token,
            medication_id: None,
            started: Utc::now(),
        }),
        _ => Box::new(Health),
    }
}

/// Mostly liveness probes, some readiness checks (a store round trip), the merged OpenAPI
/// document and the docs page (the largest answers), and unknown paths.
struct Health;

impl Workload for Health {
    fn request(&mut self, n: u32) -> Request {
        match n % 10 {
            2 | 7 => Request::get("ready", "/v1/ready"),
            4 => Request::get("openapi.json", "/v1/openapi.json"),
            6 => Request::get("docs", "/docs"),
            9 => Request::get("unknown path", "/v1/no-such-thing"),
            _ => Request::get("health", "/v1/health"),
        }
    }
}

/// In every 20 requests: 1 signup and 3 logins (2 right, 1 wrong), all hashing with Argon2id;
/// 2 refreshes; and reads of the account and its sessions, signed in or not.
struct Auth {
    token: String,
    /// Number of the user the current cycle signs up and logs in.
    user: u32,
    /// The latest refresh token of this cycle's user (each refresh rotates it).
    refresh_token: Option<String>,
}

impl Auth {
    fn email(&self) -> String {
        format!("bench-{}@example.com", self.user)
    }

    fn login(&self, kind: &'static str, password: &str) -> Request {
        Request::send(
            kind,
            "POST",
            "/v1/auth/login",
            json!({ "email": self.email(), "password": password }),
        )
    }
}

impl Workload for Auth {
    fn request(&mut self, n: u32) -> Request {
        let signed_in = Some(self.token.as_str());
        match n % 20 {
            0 => {
                self.user = n / 20;
                Request::send(
                    "signup",
                    "POST",
                    "/v1/auth/signup",
                    json!({ "name": "Bench Signup", "email": self.email(), "password": PASSWORD }),
                )
            }
            1 | 15 => self.login("login", PASSWORD),
            8 => self.login("login (wrong password)", "not the password at all"),
            4 | 11 => Request::send(
                "refresh",
                "POST",
                "/v1/auth/refresh",
                json!({ "refresh_token": self.refresh_token }),
            ),
            6 | 19 => Request::get("sessions", "/v1/auth/sessions").bearer(signed_in),
            13 => Request::get("session", "/v1/auth/session").bearer(signed_in),
            7 | 17 => Request::get("me (anonymous)", "/v1/auth/me"),
            _ => Request::get("me", "/v1/auth/me").bearer(signed_in),
        }
    }

    fn observe(&mut self, _request: &Request, reply: &Reply) {
        if let Some(refresh_token) = reply.text("refresh_token") {
            self.refresh_token = Some(refresh_token);
        }
    }
}

/// Status checks, new authenticator setups (a secret, sealed, and its QR code) and failed second
/// steps of a sign-in.
struct Mfa {
    token: String,
}

impl Workload for Mfa {
    fn request(&mut self, n: u32) -> Request {
        let signed_in = Some(self.token.as_str());
        match n % 10 {
            2 | 8 => Request::get("setup", "/v1/auth/mfa/setup")
                .bearer(signed_in)
                .with_method("POST"),
            4 => Request::send(
                "verify (invalid token)",
                "POST",
                "/v1/auth/mfa/verify",
                json!({ "mfa_token": "not-a-token", "code": "123456" }),
            ),
            6 => Request::get("status (anonymous)", "/v1/auth/mfa/status"),
            _ => Request::get("status", "/v1/auth/mfa/status").bearer(signed_in),
        }
    }
}

/// Linked identities, and sign-ins with a provider this deployment does not have (no provider is
/// configured: starting a real one needs its discovery document, over the network).
struct OAuth {
    token: String,
}

impl Workload for OAuth {
    fn request(&mut self, n: u32) -> Request {
        match n % 10 {
            2 | 7 => Request::get(
                "authorize (unknown provider)",
                "/v1/auth/oauth/okta/authorize",
            )
            .query("redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fdone"),
            4 => Request::get("identities (anonymous)", "/v1/auth/oauth/identities"),
            _ => Request::get("identities", "/v1/auth/oauth/identities")
                .bearer(Some(self.token.as_str())),
        }
    }
}

/// A day of tracking, again and again: one medication, then doses, symptoms and feelings logged,
/// the day view, lists, the catalogue, adherence, the passport, and an export every 100
/// requests (its size grows with the data logged).
struct Tracker {
    token: String,
    medication_id: Option<String>,
    /// Doses and symptoms are logged one second apart, back from here.
    started: DateTime<Utc>,
}

impl Tracker {
    /// The `from`/`to` query of the lists: the seven days up to `today`.
    fn last_week(&self, today: &str) -> String {
        let from = (self.started - Duration::days(6)).format("%Y-%m-%d");
        format!("from={from}&to={today}")
    }
}

impl Workload for Tracker {
    fn request(&mut self, n: u32) -> Request {
        let today = self.started.format("%Y-%m-%d").to_string();
        let instant = (self.started - Duration::seconds(i64::from(n)))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let request = match (n, n % 20) {
            (0, _) => Request::send(
                "medication",
                "POST",
                "/v1/tracker/medications",
                json!({
                    "name": "Metformin", "dose": 500, "unit": "mg",
                    "schedule": { "times": ["08:00", "20:00"] }, "start_date": today,
                }),
            ),
            (_, 0) => Request::get("catalog", "/v1/tracker/catalog/medications").query("q=asp"),
            (_, 8) => Request::get("catalog", "/v1/tracker/catalog/medications").query("q=met"),
            (_, 2 | 14) => Request::send(
                "dose",
                "POST",
                "/v1/tracker/doses",
                json!({
                    "medication_id": self.medication_id, "taken_at": instant,
                    "dose": 500, "status": "taken",
                }),
            ),
            (_, 4) => Request::get("doses", "/v1/tracker/doses").query(self.last_week(&today)),
            (_, 5) => Request::send(
                "symptom",
                "POST",
                "/v1/tracker/symptoms",
                json!({ "name": "headache", "severity": 3, "occurred_at": instant }),
            ),
            (_, 6) => Request::send(
                "feeling",
                "PUT",
                format!("/v1/tracker/feelings/{today}"),
                json!({ "score": 3 }),
            ),
            (_, 7) => Request::get("passport", "/v1/tracker/passport"),
            (_, 10) => Request::get("feel-vs-yesterday", "/v1/tracker/feel-vs-yesterday"),
            (_, 11) => {
                let from = (self.started - Duration::days(29)).format("%Y-%m-%d");
                Request::get("adherence", "/v1/tracker/adherence")
                    .query(format!("from={from}&to={today}"))
            }
            (_, 12) => {
                Request::get("symptoms", "/v1/tracker/symptoms").query(self.last_week(&today))
            }
            (_, 15) => Request::get("medications", "/v1/tracker/medications"),
            (_, 17) => {
                return Request::get("catalog (anonymous)", "/v1/tracker/catalog/medications")
                    .query("q=asp");
            }
            (_, 18) => Request::get("conditions", "/v1/tracker/conditions"),
            (_, 19) if n % 100 == 99 => Request::get("export", "/v1/tracker/export"),
            _ => Request::get("day", format!("/v1/tracker/days/{today}")),
        };
        request.bearer(Some(self.token.as_str()))
    }

    fn observe(&mut self, request: &Request, reply: &Reply) {
        if request.kind == "medication" {
            self.medication_id = reply.text("id");
        }
    }
}
