//! The state the benchmark runs against, and each case's request.
//!
//! Two gateways share one store (behind the [`TimedBackend`]), one clock and one set of secrets:
//! `api` hashes passwords at the production cost and serves every timed request; `setup` hashes
//! at the cheapest cost and serves the untimed requests that prepare state (accounts, sessions,
//! tracker entries), so that preparing does not take longer than measuring. The clock stands in
//! 2099, as in the tracker tests, and moves only one TOTP step at a time, when a case needs a
//! fresh code. The OAuth cases have a pair of gateways of their own whose clock stands at the real
//! time: the provider fixture signs its ID tokens with the real time, which a clock in 2099 would
//! find long expired.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use api_tests::Gateway;
use api_tests::client::{PASSWORD, login, request_reset, reset_token, tokens, with_bearer};
use api_tests::oauth;
use api_tests::tracker::{
    self, User, allergy, condition, contact, context_at, doctor, dose, id, medication, symptom, url,
};
use axum::body::Body;
use serde_json::{Value, json};
use shared::AppContext;
use shared::auth::PasswordHasher;
use shared::config::PasswordSettings;
use shared::metrics::Metrics;
use shared::store::Store;
use shared::telemetry::Sink;
use shared::testkit::{TestResponse, TestStore, json_request, request, totp_code};

use crate::cases::Op;
use crate::meter::{Sample, TimedBackend, thread_cpu};

type Request = http::Request<Body>;

/// Where the clock stands (a Wednesday of 2099, as in the tracker tests).
pub const NOW: &str = "2099-04-15T10:00:00Z";

/// The second password of accounts whose password changes back and forth.
const OTHER_PASSWORD: &str = "tranquil orbit lantern 4821";

/// The day the reader's day view and feel-vs-yesterday look at.
const DAY: &str = "2099-03-10";

/// The reader's month of data.
const MONTH: &str = "from=2099-03-01&to=2099-03-31";

/// An account and its current access token.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub access: String,
}

impl From<User<'_>> for Account {
    fn from(user: User<'_>) -> Self {
        Self {
            id: user.id,
            email: user.email,
            access: user.access,
        }
    }
}

/// An account with MFA on, and its authenticator's secret.
struct Enrolled {
    account: Account,
    secret: String,
}

/// The reader's entries that cases read and replace.
struct ReaderEntries {
    doctor: String,
    condition: String,
    allergy: String,
    medication: String,
    dose: String,
    symptom: String,
}

pub struct Fixture {
    /// Production password cost; serves the timed requests.
    pub api: Gateway,
    /// Cheapest password cost; prepares state.
    setup: Gateway,
    /// `api` and `setup` on a clock at the real time, for the OAuth cases.
    oauth_api: Gateway,
    oauth_setup: Gateway,
    ctx: AppContext,
    pub meter: Arc<TimedBackend>,
    /// A month of tracker data, read and replaced (never grows).
    reader: Account,
    entries: ReaderEntries,
    /// Creates and deletes tracker entries.
    writer: Account,
    writer_medication: String,
    writer_doctor: String,
    admin: Account,
    catalog_entry: String,
    /// Whose roles the admin changes.
    role_target: Account,
    /// Signs in with the production password cost.
    password_owner: Account,
    /// Changes its password back and forth.
    password_changer: Account,
    /// Resets its password back and forth.
    resetter: Account,
    /// Signs in again for each case that ends or refreshes a session.
    session_owner: Account,
    /// Has MFA on: status and backup codes.
    mfa_user: Enrolled,
    /// Has MFA on: the second step of sign-ins.
    mfa_signer: Enrolled,
    /// Turns MFA on (untimed) and off (timed).
    mfa_toggler: Account,
    /// Sets MFA up without ever turning it on.
    mfa_starter: Account,
    /// Has a password and a linked identity.
    linked: Account,
    /// Is linked again (untimed) and unlinked (timed).
    unlinker: Account,
    /// The provider's account of an identity linked to an account of ours.
    provider_account: Value,
    /// Gets a few tracker entries, then erases them.
    eraser: Account,
    accounts_made: usize,
}

impl Fixture {
    /// The whole API over `store`, with every account and entry the cases need.
    pub async fn new(store: &TestStore, production: PasswordSettings) -> Result<Self> {
        let settings = settings(production);
        let settings: Vec<(&str, &str)> = settings
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let (mut ctx, _) = context_at(store, NOW, &settings);
        let meter = Arc::new(TimedBackend::new(store.backend.clone()));
        ctx.store = Store::new(meter.clone(), ctx.clock.clone());
        // Metric lines are built as in production, then dropped (a memory sink would grow).
        ctx.metrics = Metrics::new("bench", Sink::Discard);
        let mut cheap = ctx.clone();
        cheap.passwords = PasswordHasher::new(&PasswordSettings::cheap_for_tests())?;
        let api = Gateway::new(&ctx);
        let setup = Gateway::new(&cheap);
        let at_real_time = |base: &AppContext| {
            let mut ctx = base.clone();
            ctx.clock = store.clock.clone();
            ctx.store = Store::new(meter.clone(), ctx.clock.clone());
            Gateway::new(&ctx)
        };
        let (oauth_api, oauth_setup) = (at_real_time(&ctx), at_real_time(&cheap));
        auth::seed::demo_accounts(&cheap)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;

        let reader = sign_up(&setup, "reader@example.com").await;
        let entries = fill_a_month(&setup, &reader).await?;
        let writer = sign_up(&setup, "writer@example.com").await;
        let writer_user = as_user(&setup, &writer);
        let writer_medication = writer_user.medication("Metformin", &["08:00"]).await;
        let writer_doctor = id(&writer_user.create("doctors", &doctor()).await);
        let admin: Account = api_tests::tracker::sign_in(&setup, "admin@example.com", "Admin123!")
            .await
            .into();
        let catalog_entry = id(&as_user(&setup, &admin)
            .create("catalog/medications", &catalog_entry(0))
            .await);
        let (provider_account, linked) = (
            oauth::account("oauth-user@example.com"),
            sign_up(&setup, "linked@example.com").await,
        );

        let mut fixture = Self {
            role_target: sign_up(&setup, "role-target@example.com").await,
            password_owner: sign_up(&api, "password-owner@example.com").await,
            password_changer: sign_up(&api, "password-changer@example.com").await,
            resetter: sign_up(&setup, "resetter@example.com").await,
            session_owner: sign_up(&setup, "session-owner@example.com").await,
            mfa_toggler: sign_up(&setup, "mfa-toggler@example.com").await,
            mfa_starter: sign_up(&setup, "mfa-starter@example.com").await,
            unlinker: sign_up(&setup, "unlinker@example.com").await,
            eraser: sign_up(&setup, "eraser@example.com").await,
            mfa_user: Enrolled {
                account: sign_up(&setup, "mfa-user@example.com").await,
                secret: String::new(),
            },
            mfa_signer: Enrolled {
                account: sign_up(&setup, "mfa-signer@example.com").await,
                secret: String::new(),
            },
            api,
            setup,
            oauth_api,
            oauth_setup,
            ctx,
            meter,
            reader,
            entries,
            writer,
            writer_medication,
            writer_doctor,
            admin,
            catalog_entry,
            linked,
            provider_account,
            accounts_made: 0,
        };
        fixture.mfa_user.secret = fixture.turn_mfa_on(&fixture.mfa_user.account).await?;
        fixture.mfa_signer.secret = fixture.turn_mfa_on(&fixture.mfa_signer.account).await?;
        fixture.linked.access = fixture.link(&fixture.linked).await?;
        // The first sign-in through the provider creates the account; the benchmark times the
        // usual one, of an identity already linked.
        let location =
            oauth::provider_answer(&fixture.oauth_setup, &fixture.provider_account).await;
        expect_status(
            &oauth::callback(&fixture.oauth_setup, &location).await,
            201,
            "first provider sign-in",
        )?;
        Ok(fixture)
    }

    /// The production gateway that serves `op`.
    pub fn gateway(&self, op: Op) -> &Gateway {
        match op {
            Op::ListIdentities | Op::UnlinkIdentity | Op::Link | Op::Authorize | Op::Callback => {
                &self.oauth_api
            }
            _ => &self.api,
        }
    }

    /// Sends `request` of `op` through its production gateway and measures it.
    pub async fn timed(&self, op: Op, request: Request) -> (TestResponse, Sample) {
        let gateway = self.gateway(op);
        let store_before = self.meter.total();
        let cpu_before = thread_cpu();
        let started = std::time::Instant::now();
        let response = gateway.send(request).await;
        let wall = started.elapsed();
        let cpu = thread_cpu().saturating_sub(cpu_before);
        let store = self.meter.total() - store_before;
        let sample = Sample {
            wall,
            store: store.wall,
            client_cpu: store.cpu,
            own_cpu: cpu.saturating_sub(store.cpu),
        };
        (response, sample)
    }

    /// The `i`-th request of `op`, after preparing whatever state it needs (untimed).
    pub async fn request(&mut self, op: Op, i: usize) -> Result<Request> {
        let (reader, writer, admin) = (&self.reader, &self.writer, &self.admin);
        let entries = &self.entries;
        Ok(match op {
            Op::Info => request("GET", "/"),
            Op::Docs => request("GET", "/docs"),
            Op::Liveness => request("GET", "/v1/health"),
            Op::OpenApi => request("GET", "/v1/openapi.json"),
            Op::Readiness => request("GET", "/v1/ready"),
            Op::ListUsers => get("/v1/admin/users", admin),
            Op::UpdateUser => {
                let roles = if i.is_multiple_of(2) {
                    json!(["STUDENT", "REVIEWER"])
                } else {
                    json!(["STUDENT"])
                };
                let path = format!("/v1/admin/users/{}", self.role_target.id);
                send("PATCH", &path, &json!({ "roles": roles }), admin)
            }
            Op::Demo => request("POST", "/v1/auth/demo"),
            Op::Events => get("/v1/auth/events", reader),
            Op::Login => json_request(
                "POST",
                "/v1/auth/login",
                &json!({"email": self.password_owner.email, "password": PASSWORD}),
            ),
            Op::Logout => {
                let (_, refresh) = self.new_session(&self.session_owner).await?;
                json_request(
                    "POST",
                    "/v1/auth/logout",
                    &json!({ "refresh_token": refresh }),
                )
            }
            Op::LogoutAll => {
                let (access, _) = self.new_session(&self.session_owner).await?;
                with_bearer(request("POST", "/v1/auth/logout-all"), &access)
            }
            Op::DeleteMe => {
                let email = self.new_email("leaver");
                let leaver = sign_up(&self.api, &email).await;
                send(
                    "DELETE",
                    "/v1/auth/me",
                    &json!({ "password": PASSWORD }),
                    &leaver,
                )
            }
            Op::Me => get("/v1/auth/me", reader),
            Op::UpdateMe => {
                let name = if i.is_multiple_of(2) {
                    "Ada King"
                } else {
                    "Ada Lovelace"
                };
                send("PATCH", "/v1/auth/me", &json!({ "name": name }), reader)
            }
            Op::RegenerateBackupCodes => {
                self.next_totp_step();
                let code = self.code(&self.mfa_user.secret);
                send(
                    "POST",
                    "/v1/auth/mfa/backup-codes/regenerate",
                    &json!({ "code": code }),
                    &self.mfa_user.account,
                )
            }
            Op::DisableMfa => {
                let secret = self.turn_mfa_on(&self.mfa_toggler).await?;
                send(
                    "POST",
                    "/v1/auth/mfa/disable",
                    &json!({ "code": self.code(&secret) }),
                    &self.mfa_toggler,
                )
            }
            Op::EnableMfa => {
                let email = self.new_email("mfa-new");
                let newcomer = sign_up(&self.setup, &email).await;
                let secret = self.start_mfa_setup(&newcomer).await?;
                send(
                    "POST",
                    "/v1/auth/mfa/enable",
                    &json!({ "code": self.code(&secret) }),
                    &newcomer,
                )
            }
            Op::SetupMfa => bearer(request("POST", "/v1/auth/mfa/setup"), &self.mfa_starter),
            Op::MfaStatus => get("/v1/auth/mfa/status", &self.mfa_user.account),
            Op::VerifyMfa => {
                let signed_in = login(&self.setup, &self.mfa_signer.account.email, PASSWORD).await;
                expect_status(&signed_in, 200, "password step")?;
                let mfa_token = text(&signed_in.json(), "/mfa_token")?;
                self.next_totp_step();
                json_request(
                    "POST",
                    "/v1/auth/mfa/verify",
                    &json!({"mfa_token": mfa_token, "code": self.code(&self.mfa_signer.secret)}),
                )
            }
            Op::ListIdentities => get("/v1/auth/oauth/identities", &self.linked),
            Op::UnlinkIdentity => {
                self.unlinker.access = self.link(&self.unlinker).await?;
                bearer(
                    request("DELETE", "/v1/auth/oauth/identities/local"),
                    &self.unlinker,
                )
            }
            Op::Link => {
                let email = self.new_email("linker");
                sign_up(&self.api, &email).await;
                let link_token = self.link_token(&email).await?;
                json_request(
                    "POST",
                    "/v1/auth/oauth/link",
                    &json!({"link_token": link_token, "password": PASSWORD}),
                )
            }
            Op::Authorize => oauth::json_get("/v1/auth/oauth/local/authorize"),
            Op::Callback => {
                let location =
                    oauth::provider_answer(&self.oauth_setup, &self.provider_account).await;
                oauth::json_get(&oauth::path_and_query(&location))
            }
            Op::ConfirmReset => {
                // A link must be issued after the last change (the previous iteration's), and
                // the clock counts whole seconds.
                self.ctx.clock.advance(Duration::from_secs(1));
                let email = &self.resetter.email;
                expect_status(
                    &request_reset(&self.setup, email).await,
                    202,
                    "reset request",
                )?;
                let token = reset_token(&self.ctx, email);
                json_request(
                    "POST",
                    "/v1/auth/password-reset/confirm",
                    &json!({"token": token, "new_password": alternating_password(i)}),
                )
            }
            Op::RequestReset => json_request(
                "POST",
                "/v1/auth/password-reset/request",
                &json!({ "email": reader.email }),
            ),
            Op::ChangePassword => send(
                "POST",
                "/v1/auth/password/change",
                &json!({
                    "current_password": alternating_password(i),
                    "new_password": alternating_password(i + 1),
                }),
                &self.password_changer,
            ),
            Op::Refresh => {
                let (_, refresh) = self.new_session(&self.session_owner).await?;
                json_request(
                    "POST",
                    "/v1/auth/refresh",
                    &json!({ "refresh_token": refresh }),
                )
            }
            Op::SessionStatus => get("/v1/auth/session", reader),
            Op::ListSessions => get("/v1/auth/sessions", reader),
            Op::RevokeSession => {
                let (access, _) = self.new_session(&self.session_owner).await?;
                let listed = self
                    .setup
                    .send(with_bearer(request("GET", "/v1/auth/sessions"), &access))
                    .await;
                expect_status(&listed, 200, "session list")?;
                let current = listed.json()["sessions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["current"] == true)
                    .and_then(|s| s["id"].as_str())
                    .map(str::to_owned)
                    .context("no current session in the list")?;
                with_bearer(
                    request("DELETE", &format!("/v1/auth/sessions/{current}")),
                    &access,
                )
            }
            Op::Signup | Op::SignupShortPassword => {
                let email = self.new_email("newcomer");
                let password = if op == Op::Signup {
                    PASSWORD
                } else {
                    "Kx7!mQ2#vR9p"
                };
                json_request(
                    "POST",
                    "/v1/auth/signup",
                    &json!({"name": "Ada Lovelace", "email": email, "password": password}),
                )
            }
            Op::Adherence => get(&url(&format!("adherence?{MONTH}")), reader),
            Op::ListAllergies => get(&url("allergies"), reader),
            Op::CreateAllergy => send("POST", &url("allergies"), &allergy(), writer),
            Op::DeleteAllergy => {
                let created = self.prepare(writer).create("allergies", &allergy()).await;
                delete(&url(&format!("allergies/{}", id(&created))), writer)
            }
            Op::ReplaceAllergy => send(
                "PUT",
                &url(&format!("allergies/{}", entries.allergy)),
                &allergy(),
                reader,
            ),
            Op::SearchCatalog => get(&url("catalog/medications?q=met"), reader),
            Op::AddCatalogEntry => send(
                "POST",
                &url("catalog/medications"),
                &catalog_entry(i),
                admin,
            ),
            Op::RetireCatalogEntry => {
                let created = self
                    .prepare(admin)
                    .create("catalog/medications", &catalog_entry(i))
                    .await;
                delete(
                    &url(&format!("catalog/medications/{}", id(&created))),
                    admin,
                )
            }
            Op::EditCatalogEntry => send(
                "PUT",
                &url(&format!("catalog/medications/{}", self.catalog_entry)),
                &catalog_entry(i),
                admin,
            ),
            Op::ListConditions => get(&url("conditions"), reader),
            Op::CreateCondition => send(
                "POST",
                &url("conditions"),
                &condition(&self.writer_doctor),
                writer,
            ),
            Op::DeleteCondition => {
                let created = self
                    .prepare(writer)
                    .create("conditions", &condition(&self.writer_doctor))
                    .await;
                delete(&url(&format!("conditions/{}", id(&created))), writer)
            }
            Op::ReplaceCondition => send(
                "PUT",
                &url(&format!("conditions/{}", entries.condition)),
                &condition(&entries.doctor),
                reader,
            ),
            Op::EraseTrackerData => {
                let eraser = self.prepare(&self.eraser);
                let medication = eraser.medication("Metformin", &["08:00"]).await;
                eraser
                    .dose(&medication, "2099-03-10T08:05:00+01:00", "taken")
                    .await;
                eraser
                    .symptom("Headache", 6, "2099-03-10T13:00:00+01:00")
                    .await;
                eraser.feel(DAY, 6).await;
                delete(&url("data"), &self.eraser)
            }
            Op::DayView => get(&url(&format!("days/{DAY}")), reader),
            Op::ListDoctors => get(&url("doctors"), reader),
            Op::CreateDoctor => send("POST", &url("doctors"), &doctor(), writer),
            Op::DeleteDoctor => {
                let created = self.prepare(writer).create("doctors", &doctor()).await;
                delete(&url(&format!("doctors/{}", id(&created))), writer)
            }
            Op::ReadDoctor => get(&url(&format!("doctors/{}", entries.doctor)), reader),
            Op::ReplaceDoctor => send(
                "PUT",
                &url(&format!("doctors/{}", entries.doctor)),
                &doctor(),
                reader,
            ),
            Op::ListDoses => get(&url(&format!("doses?{MONTH}")), reader),
            Op::LogDose => send(
                "POST",
                &url("doses"),
                &dose(
                    &self.writer_medication,
                    &format!("{}T08:05:00+01:00", spread_day(i)),
                    "taken",
                ),
                writer,
            ),
            Op::DeleteDose => {
                let taken_at = format!("{}T08:05:00+01:00", spread_day(i));
                let created = self
                    .prepare(writer)
                    .dose(&self.writer_medication, &taken_at, "taken")
                    .await;
                delete(&url(&format!("doses/{created}")), writer)
            }
            Op::ReplaceDose => send(
                "PUT",
                &url(&format!("doses/{}", entries.dose)),
                &dose(&entries.medication, "2099-03-10T08:05:00+01:00", "taken"),
                reader,
            ),
            Op::DeleteContact => {
                self.prepare(writer)
                    .replace("emergency-contact", &contact())
                    .await;
                delete(&url("emergency-contact"), writer)
            }
            Op::ReadContact => get(&url("emergency-contact"), reader),
            Op::PutContact => send("PUT", &url("emergency-contact"), &contact(), reader),
            Op::ExportJson => get(&url("export?format=json"), reader),
            Op::ExportFhir => get(&url("export?format=fhir"), reader),
            Op::FeelVsYesterday => get(&url(&format!("feel-vs-yesterday?date={DAY}")), reader),
            Op::ListFeelings => get(&url(&format!("feelings?{MONTH}")), reader),
            Op::DeleteFeeling => {
                let day = spread_day(i);
                self.prepare(writer).feel(&day, 5).await;
                delete(&url(&format!("feelings/{day}")), writer)
            }
            Op::PutFeeling => send(
                "PUT",
                &url(&format!("feelings/{DAY}")),
                &json!({ "score": 6 + i % 2 }),
                reader,
            ),
            Op::ListMedications => get(&url("medications"), reader),
            Op::CreateMedication => send(
                "POST",
                &url("medications"),
                &medication("Metformin", &["08:00"]),
                writer,
            ),
            Op::ArchiveMedication => {
                let created = self.prepare(writer).medication("Aspirin", &[]).await;
                delete(&url(&format!("medications/{created}")), writer)
            }
            Op::ReadMedication => get(&url(&format!("medications/{}", entries.medication)), reader),
            Op::ReplaceMedication => send(
                "PUT",
                &url(&format!("medications/{}", entries.medication)),
                &medication("Metformin", &["08:00", "20:00"]),
                reader,
            ),
            Op::Passport => get(&url("passport"), reader),
            Op::ListSymptoms => get(&url(&format!("symptoms?{MONTH}")), reader),
            Op::LogSymptom => send(
                "POST",
                &url("symptoms"),
                &symptom("Headache", 4, &format!("{}T13:00:00+01:00", spread_day(i))),
                writer,
            ),
            Op::DeleteSymptom => {
                let occurred_at = format!("{}T13:00:00+01:00", spread_day(i));
                let created = self
                    .prepare(writer)
                    .symptom("Nausea", 3, &occurred_at)
                    .await;
                delete(&url(&format!("symptoms/{created}")), writer)
            }
            Op::ReplaceSymptom => send(
                "PUT",
                &url(&format!("symptoms/{}", entries.symptom)),
                &symptom("Headache", 6, "2099-03-10T13:00:00+01:00"),
                reader,
            ),
        })
    }

    /// `account` on the preparing gateway, with the tracker tests' request helpers.
    fn prepare<'a>(&'a self, account: &Account) -> User<'a> {
        as_user(&self.setup, account)
    }

    fn new_email(&mut self, prefix: &str) -> String {
        self.accounts_made += 1;
        format!("{prefix}-{}@example.com", self.accounts_made)
    }

    /// A new session of `account` (which then has no other): its access and refresh tokens.
    async fn new_session(&self, account: &Account) -> Result<(String, String)> {
        let response = login(&self.setup, &account.email, PASSWORD).await;
        expect_status(&response, 200, "sign-in")?;
        Ok(tokens(&response))
    }

    /// The code `secret`'s authenticator shows now.
    fn code(&self, secret: &str) -> String {
        totp_code(secret, self.ctx.clock.epoch_seconds())
    }

    /// Moves the clock one TOTP step on, so that the next code has not been used yet.
    fn next_totp_step(&self) {
        let period = u64::from(self.ctx.settings.mfa.totp_period);
        self.ctx.clock.advance(Duration::from_secs(period));
    }

    /// Starts an MFA setup for `account`: the new secret.
    async fn start_mfa_setup(&self, account: &Account) -> Result<String> {
        let started = self
            .setup
            .send(bearer(request("POST", "/v1/auth/mfa/setup"), account))
            .await;
        expect_status(&started, 200, "MFA setup")?;
        text(&started.json(), "/secret")
    }

    /// Turns MFA on for `account` (its session stays): the secret. The clock is then one step on.
    async fn turn_mfa_on(&self, account: &Account) -> Result<String> {
        let secret = self.start_mfa_setup(account).await?;
        // The password too: the session may be older than the 10 minutes that spare it.
        let body = json!({"code": self.code(&secret), "password": PASSWORD});
        let enabled = self
            .setup
            .send(send("POST", "/v1/auth/mfa/enable", &body, account))
            .await;
        expect_status(&enabled, 200, "MFA enable")?;
        self.next_totp_step();
        Ok(secret)
    }

    /// A link token for a new identity at the provider whose email is `email`.
    async fn link_token(&self, email: &str) -> Result<String> {
        let location = oauth::provider_answer(&self.oauth_setup, &oauth::account(email)).await;
        let answer = oauth::callback(&self.oauth_setup, &location).await;
        expect_status(&answer, 409, "provider sign-in of an existing email")?;
        text(&answer.json(), "/error/details/link_token")
    }

    /// Links a new identity at the provider to `account` (signing it in): the new access token.
    async fn link(&self, account: &Account) -> Result<String> {
        let link_token = self.link_token(&account.email).await?;
        let linked = self
            .oauth_setup
            .send(json_request(
                "POST",
                "/v1/auth/oauth/link",
                &json!({"link_token": link_token, "password": PASSWORD}),
            ))
            .await;
        expect_status(&linked, 200, "link")?;
        Ok(tokens(&linked).0)
    }
}

/// [`api_tests::client::GENEROUS`] (added by `context_at`) and what else keeps limits, floors
/// and expiry out of the figures; passwords at the production cost; the provider fixture.
fn settings(production: PasswordSettings) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        (
            "PASSWORD_HASH_MEMORY_KIB",
            production.memory_kib.to_string(),
        ),
        (
            "PASSWORD_HASH_ITERATIONS",
            production.iterations.to_string(),
        ),
        (
            "PASSWORD_HASH_PARALLELISM",
            production.parallelism.to_string(),
        ),
        ("RL_RESET_IP_LIMIT", "100000".to_owned()),
        ("RL_RESET_EMAIL_LIMIT", "100000".to_owned()),
        // The floor is a deliberate sleep, not work.
        ("RESET_MIN_RESPONSE_MS", "0".to_owned()),
        // The clock moves a TOTP step per MFA iteration: hours in all.
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1440".to_owned()),
        ("SEED_DEMO_ACCOUNTS", "true".to_owned()),
    ];
    settings.extend(
        oauth::settings()
            .into_iter()
            .map(|(name, value)| (name, value.to_owned())),
    );
    settings
}

fn as_user<'a>(api: &'a Gateway, account: &Account) -> User<'a> {
    User {
        api,
        id: account.id.clone(),
        email: account.email.clone(),
        access: account.access.clone(),
    }
}

async fn sign_up(api: &Gateway, email: &str) -> Account {
    api_tests::tracker::sign_up(api, email).await.into()
}

/// A month (March 2099) of what a tracker user records: a passport, two medications, two doses
/// a day, a symptom every third day and a feeling every day.
async fn fill_a_month(setup: &Gateway, account: &Account) -> Result<ReaderEntries> {
    let user = as_user(setup, account);
    user.set_timezone("Europe/Berlin").await;
    let doctor = id(&user.create("doctors", &doctor()).await);
    let condition = id(&user.create("conditions", &condition(&doctor)).await);
    let allergy = id(&user.create("allergies", &allergy()).await);
    user.replace("emergency-contact", &contact()).await;
    let medication = user.medication("Metformin", &["08:00", "20:00"]).await;
    user.medication("Ibuprofen", &[]).await;
    let mut first = None;
    for day in 1..=31 {
        let date = format!("2099-03-{day:02}");
        let morning = user
            .dose(&medication, &format!("{date}T08:05:00+01:00"), "taken")
            .await;
        let evening = if day % 7 == 0 { "skipped" } else { "taken" };
        user.dose(&medication, &format!("{date}T20:10:00+01:00"), evening)
            .await;
        if day % 3 == 1 {
            user.symptom("Headache", 3 + day % 5, &format!("{date}T13:00:00+01:00"))
                .await;
        }
        user.feel(&date, 4 + day % 5).await;
        if date == DAY {
            first = Some(morning);
        }
    }
    let symptom = user
        .symptom("Headache", 6, "2099-03-10T13:00:00+01:00")
        .await;
    Ok(ReaderEntries {
        doctor,
        condition,
        allergy,
        medication,
        dose: first.context("no dose on the day")?,
        symptom,
    })
}

/// One of 84 days (January to March 2099, 28 a month), so that entries a case adds spread out.
fn spread_day(i: usize) -> String {
    format!("2099-{:02}-{:02}", 1 + (i / 28) % 3, 1 + i % 28)
}

fn alternating_password(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        PASSWORD
    } else {
        OTHER_PASSWORD
    }
}

/// Alternating strengths, so that entries differ.
fn catalog_entry(i: usize) -> Value {
    let strength = if i.is_multiple_of(2) {
        "2.5 mg"
    } else {
        "5 mg"
    };
    tracker::catalog_entry(strength)
}

fn bearer(req: Request, account: &Account) -> Request {
    with_bearer(req, &account.access)
}

fn get(path: &str, account: &Account) -> Request {
    bearer(request("GET", path), account)
}

fn delete(path: &str, account: &Account) -> Request {
    bearer(request("DELETE", path), account)
}

fn send(method: &str, path: &str, body: &Value, account: &Account) -> Request {
    bearer(json_request(method, path, body), account)
}

/// A string field of an answer (`pointer` as in RFC 6901).
fn text(body: &Value, pointer: &str) -> Result<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in the answer"))
}

/// Fails unless `response` has `status`; names the error code and message, never the body
/// (which may hold tokens).
pub fn expect_status(response: &TestResponse, status: u16, what: &str) -> Result<()> {
    let got = response.status.as_u16();
    if got == status {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let error = &body["error"];
    bail!(
        "{what}: expected {status}, got {got} ({} {})",
        error["code"].as_str().unwrap_or("-"),
        error["message"].as_str().unwrap_or("-"),
    )
}
