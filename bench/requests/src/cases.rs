//! The benchmark's cases: one per operation of the OpenAPI document (two for the export's two
//! formats), each with the answer it must get every time and how many iterations it is worth.
//! [`crate::fixture::Fixture::request`] builds each case's request.

use std::collections::BTreeSet;

/// How much an iteration costs, which decides how many are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// The full count.
    Light,
    /// Each iteration first prepares state with several requests (a new session, MFA turned on
    /// again, a provider sign-in …): a third of the count.
    Stateful,
    /// The timed request hashes a password at the production cost: a fixed, small count.
    Argon2,
}

/// One benchmarked request.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub op: Op,
    pub method: &'static str,
    /// The path as the OpenAPI document spells it.
    pub template: &'static str,
    /// What the request is, when more than the path says.
    pub note: &'static str,
    /// The answer every iteration must get.
    pub status: u16,
    pub weight: Weight,
    /// Argon2id hashes or verifications the request makes (on the blocking pool).
    pub argon2: u8,
}

impl Case {
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// Every operation benchmarked; the fixture knows how to build each one's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Info,
    Docs,
    Liveness,
    OpenApi,
    Readiness,
    ListUsers,
    UpdateUser,
    Demo,
    Events,
    Login,
    Logout,
    LogoutAll,
    DeleteMe,
    Me,
    UpdateMe,
    RegenerateBackupCodes,
    DisableMfa,
    EnableMfa,
    SetupMfa,
    MfaStatus,
    VerifyMfa,
    ListIdentities,
    UnlinkIdentity,
    Link,
    Authorize,
    Callback,
    ConfirmReset,
    RequestReset,
    ChangePassword,
    Refresh,
    SessionStatus,
    ListSessions,
    RevokeSession,
    Signup,
    /// Signup with a password as short as most people's: the common-password check runs on it.
    SignupShortPassword,
    Adherence,
    ListAllergies,
    CreateAllergy,
    DeleteAllergy,
    ReplaceAllergy,
    SearchCatalog,
    AddCatalogEntry,
    RetireCatalogEntry,
    EditCatalogEntry,
    ListConditions,
    CreateCondition,
    DeleteCondition,
    ReplaceCondition,
    EraseTrackerData,
    DayView,
    ListDoctors,
    CreateDoctor,
    DeleteDoctor,
    ReadDoctor,
    ReplaceDoctor,
    ListDoses,
    LogDose,
    DeleteDose,
    ReplaceDose,
    DeleteContact,
    ReadContact,
    PutContact,
    ExportJson,
    ExportFhir,
    FeelVsYesterday,
    ListFeelings,
    DeleteFeeling,
    PutFeeling,
    ListMedications,
    CreateMedication,
    ArchiveMedication,
    ReadMedication,
    ReplaceMedication,
    Passport,
    ListSymptoms,
    LogSymptom,
    DeleteSymptom,
    ReplaceSymptom,
}

const fn case(
    op: Op,
    method: &'static str,
    template: &'static str,
    status: u16,
    weight: Weight,
) -> Case {
    Case {
        op,
        method,
        template,
        note: "",
        status,
        weight,
        argon2: 0,
    }
}

impl Case {
    const fn note(self, note: &'static str) -> Self {
        Self { note, ..self }
    }

    const fn argon2(self, argon2: u8) -> Self {
        Self { argon2, ..self }
    }
}

use Weight::{Argon2, Light, Stateful};

/// Every case, in the OpenAPI document's order.
pub const CASES: &[Case] = &[
    case(Op::Info, "GET", "/", 200, Light),
    case(Op::Docs, "GET", "/docs", 200, Light),
    case(Op::ListUsers, "GET", "/v1/admin/users", 200, Light).note("admin"),
    case(Op::UpdateUser, "PATCH", "/v1/admin/users/{id}", 200, Light).note("admin changes roles"),
    case(Op::Demo, "POST", "/v1/auth/demo", 201, Stateful).note("2 weeks of demo data"),
    case(Op::Events, "GET", "/v1/auth/events", 200, Light),
    case(Op::Login, "POST", "/v1/auth/login", 200, Argon2).argon2(1),
    case(Op::Logout, "POST", "/v1/auth/logout", 204, Stateful).note("a new session each"),
    case(Op::LogoutAll, "POST", "/v1/auth/logout-all", 204, Stateful).note("a new session each"),
    case(Op::DeleteMe, "DELETE", "/v1/auth/me", 204, Argon2)
        .note("a new account each")
        .argon2(1),
    case(Op::Me, "GET", "/v1/auth/me", 200, Light),
    case(Op::UpdateMe, "PATCH", "/v1/auth/me", 200, Light).note("new name"),
    case(
        Op::RegenerateBackupCodes,
        "POST",
        "/v1/auth/mfa/backup-codes/regenerate",
        200,
        Light,
    )
    .note("TOTP code"),
    case(
        Op::DisableMfa,
        "POST",
        "/v1/auth/mfa/disable",
        200,
        Stateful,
    )
    .note("TOTP code; MFA on again each"),
    case(Op::EnableMfa, "POST", "/v1/auth/mfa/enable", 200, Stateful).note("a new account each"),
    case(Op::SetupMfa, "POST", "/v1/auth/mfa/setup", 200, Light).note("secret + QR code"),
    case(Op::MfaStatus, "GET", "/v1/auth/mfa/status", 200, Light),
    case(Op::VerifyMfa, "POST", "/v1/auth/mfa/verify", 200, Stateful)
        .note("TOTP code; a new sign-in each"),
    case(
        Op::ListIdentities,
        "GET",
        "/v1/auth/oauth/identities",
        200,
        Light,
    ),
    case(
        Op::UnlinkIdentity,
        "DELETE",
        "/v1/auth/oauth/identities/{provider}",
        204,
        Stateful,
    )
    .note("linked again each"),
    case(Op::Link, "POST", "/v1/auth/oauth/link", 200, Argon2)
        .note("a new account each")
        .argon2(1),
    case(
        Op::Authorize,
        "GET",
        "/v1/auth/oauth/{provider}/authorize",
        200,
        Light,
    )
    .note("JSON"),
    case(
        Op::Callback,
        "GET",
        "/v1/auth/oauth/{provider}/callback",
        200,
        Stateful,
    )
    .note("linked sign-in; provider on loopback"),
    case(
        Op::ConfirmReset,
        "POST",
        "/v1/auth/password-reset/confirm",
        204,
        Argon2,
    )
    .note("a new link each")
    .argon2(1),
    case(
        Op::RequestReset,
        "POST",
        "/v1/auth/password-reset/request",
        202,
        Light,
    )
    .note("known email; no 400 ms floor"),
    case(
        Op::ChangePassword,
        "POST",
        "/v1/auth/password/change",
        204,
        Argon2,
    )
    .argon2(2),
    case(Op::Refresh, "POST", "/v1/auth/refresh", 200, Stateful).note("a new session each"),
    case(Op::SessionStatus, "GET", "/v1/auth/session", 200, Light),
    case(Op::ListSessions, "GET", "/v1/auth/sessions", 200, Light),
    case(
        Op::RevokeSession,
        "DELETE",
        "/v1/auth/sessions/{id}",
        204,
        Stateful,
    )
    .note("a new session each"),
    case(Op::Signup, "POST", "/v1/auth/signup", 201, Argon2).argon2(1),
    case(
        Op::SignupShortPassword,
        "POST",
        "/v1/auth/signup",
        201,
        Argon2,
    )
    .note("12-character password")
    .argon2(1),
    case(Op::Liveness, "GET", "/v1/health", 200, Light),
    case(Op::OpenApi, "GET", "/v1/openapi.json", 200, Light),
    case(Op::Readiness, "GET", "/v1/ready", 200, Light),
    case(Op::Adherence, "GET", "/v1/tracker/adherence", 200, Light).note("a month"),
    case(
        Op::ListAllergies,
        "GET",
        "/v1/tracker/allergies",
        200,
        Light,
    ),
    case(
        Op::CreateAllergy,
        "POST",
        "/v1/tracker/allergies",
        201,
        Light,
    ),
    case(
        Op::DeleteAllergy,
        "DELETE",
        "/v1/tracker/allergies/{id}",
        204,
        Light,
    ),
    case(
        Op::ReplaceAllergy,
        "PUT",
        "/v1/tracker/allergies/{id}",
        200,
        Light,
    ),
    case(
        Op::SearchCatalog,
        "GET",
        "/v1/tracker/catalog/medications",
        200,
        Light,
    )
    .note("q=met"),
    case(
        Op::AddCatalogEntry,
        "POST",
        "/v1/tracker/catalog/medications",
        201,
        Light,
    )
    .note("admin"),
    case(
        Op::RetireCatalogEntry,
        "DELETE",
        "/v1/tracker/catalog/medications/{id}",
        204,
        Light,
    )
    .note("admin"),
    case(
        Op::EditCatalogEntry,
        "PUT",
        "/v1/tracker/catalog/medications/{id}",
        200,
        Light,
    )
    .note("admin"),
    case(
        Op::ListConditions,
        "GET",
        "/v1/tracker/conditions",
        200,
        Light,
    ),
    case(
        Op::CreateCondition,
        "POST",
        "/v1/tracker/conditions",
        201,
        Light,
    )
    .note("with a doctor"),
    case(
        Op::DeleteCondition,
        "DELETE",
        "/v1/tracker/conditions/{id}",
        204,
        Light,
    ),
    case(
        Op::ReplaceCondition,
        "PUT",
        "/v1/tracker/conditions/{id}",
        200,
        Light,
    ),
    case(
        Op::EraseTrackerData,
        "DELETE",
        "/v1/tracker/data",
        204,
        Stateful,
    )
    .note("4 entries each"),
    case(Op::DayView, "GET", "/v1/tracker/days/{date}", 200, Light),
    case(Op::ListDoctors, "GET", "/v1/tracker/doctors", 200, Light),
    case(Op::CreateDoctor, "POST", "/v1/tracker/doctors", 201, Light),
    case(
        Op::DeleteDoctor,
        "DELETE",
        "/v1/tracker/doctors/{id}",
        204,
        Light,
    ),
    case(
        Op::ReadDoctor,
        "GET",
        "/v1/tracker/doctors/{id}",
        200,
        Light,
    ),
    case(
        Op::ReplaceDoctor,
        "PUT",
        "/v1/tracker/doctors/{id}",
        200,
        Light,
    ),
    case(Op::ListDoses, "GET", "/v1/tracker/doses", 200, Light).note("a month"),
    case(Op::LogDose, "POST", "/v1/tracker/doses", 201, Light),
    case(
        Op::DeleteDose,
        "DELETE",
        "/v1/tracker/doses/{id}",
        204,
        Light,
    ),
    case(Op::ReplaceDose, "PUT", "/v1/tracker/doses/{id}", 200, Light),
    case(
        Op::DeleteContact,
        "DELETE",
        "/v1/tracker/emergency-contact",
        204,
        Light,
    ),
    case(
        Op::ReadContact,
        "GET",
        "/v1/tracker/emergency-contact",
        200,
        Light,
    ),
    case(
        Op::PutContact,
        "PUT",
        "/v1/tracker/emergency-contact",
        200,
        Light,
    ),
    case(Op::ExportJson, "GET", "/v1/tracker/export", 200, Light).note("format=json"),
    case(Op::ExportFhir, "GET", "/v1/tracker/export", 200, Light).note("format=fhir"),
    case(
        Op::FeelVsYesterday,
        "GET",
        "/v1/tracker/feel-vs-yesterday",
        200,
        Light,
    ),
    case(Op::ListFeelings, "GET", "/v1/tracker/feelings", 200, Light).note("a month"),
    case(
        Op::DeleteFeeling,
        "DELETE",
        "/v1/tracker/feelings/{date}",
        204,
        Light,
    ),
    case(
        Op::PutFeeling,
        "PUT",
        "/v1/tracker/feelings/{date}",
        200,
        Light,
    ),
    case(
        Op::ListMedications,
        "GET",
        "/v1/tracker/medications",
        200,
        Light,
    ),
    case(
        Op::CreateMedication,
        "POST",
        "/v1/tracker/medications",
        201,
        Light,
    ),
    case(
        Op::ArchiveMedication,
        "DELETE",
        "/v1/tracker/medications/{id}",
        204,
        Light,
    ),
    case(
        Op::ReadMedication,
        "GET",
        "/v1/tracker/medications/{id}",
        200,
        Light,
    ),
    case(
        Op::ReplaceMedication,
        "PUT",
        "/v1/tracker/medications/{id}",
        200,
        Light,
    ),
    case(Op::Passport, "GET", "/v1/tracker/passport", 200, Light),
    case(Op::ListSymptoms, "GET", "/v1/tracker/symptoms", 200, Light).note("a month"),
    case(Op::LogSymptom, "POST", "/v1/tracker/symptoms", 201, Light),
    case(
        Op::DeleteSymptom,
        "DELETE",
        "/v1/tracker/symptoms/{id}",
        204,
        Light,
    ),
    case(
        Op::ReplaceSymptom,
        "PUT",
        "/v1/tracker/symptoms/{id}",
        200,
        Light,
    ),
];

/// The operations of an OpenAPI document (`METHOD /path`) that no case covers, and the cases
/// that name an operation the document does not have.
pub fn coverage_gaps(doc: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(method, _)| METHODS.contains(&method.as_str()))
                .map(move |(method, _)| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let benchmarked: BTreeSet<String> = CASES.iter().map(Case::endpoint).collect();
    (
        documented.difference(&benchmarked).cloned().collect(),
        benchmarked.difference(&documented).cloned().collect(),
    )
}
