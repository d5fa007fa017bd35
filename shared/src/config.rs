//! Typed settings, read once at cold start from the environment.
//!
//! Names and defaults are the ones this product's clients and operators already use (see the
//! README's configuration table). Every problem is collected and reported together, each naming
//! its variable, so a wrong deployment fails at start with one clear message instead of on the
//! first request. Secrets are loaded separately ([`crate::secrets`]) and are never part of these
//! settings.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// The process environment as a map, so settings can be built from any map in tests.
#[derive(Clone, Debug, Default)]
pub struct EnvMap(HashMap<String, String>);

impl EnvMap {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    /// Names of the variables that are set.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// The value, with an empty or blank value counting as unset (as SAM passes unset parameters).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// One or more invalid settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn single(variable: &str, message: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                variable: variable.to_owned(),
                message: message.into(),
            }],
        }
    }

    /// Whether a problem names `variable`.
    pub fn mentions(&self, variable: &str) -> bool {
        self.problems.iter().any(|p| p.variable == variable)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for problem in &self.problems {
            write!(f, " {}: {};", problem.variable, problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }

    pub fn is_dev(self) -> bool {
        self == Self::Dev
    }

    /// Staging and prod run in AWS with real secrets and DynamoDB.
    pub fn is_deployed(self) -> bool {
        !self.is_dev()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    HS384,
    HS512,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No cross-origin access (no `CORS_ORIGINS`).
    None,
    /// `*`: any origin, without credentials.
    Any,
    /// Exactly these origins, with credentials (the refresh cookie).
    List(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    DynamoDb,
}

#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub kind: StoreKind,
    pub table_name: String,
    /// DynamoDB Local (development and tests only).
    pub dynamodb_endpoint: Option<String>,
    /// The SQLite file of the embedded store.
    pub embedded_path: PathBuf,
}

#[derive(Clone, Debug)]
pub enum SecretsSource {
    /// `JWT_SECRET`, `TOKEN_PEPPER`, `MFA_ENCRYPTION_KEY` from the environment.
    Environment,
    /// One JSON secret in AWS Secrets Manager (`APP_SECRETS_ARN`), fetched once per container.
    SecretsManager {
        arn: String,
        endpoint: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSettings {
    pub jwt_alg: JwtAlgorithm,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub password_reset_ttl: Duration,
}

/// Password policy and Argon2id cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordSettings {
    pub min_length: usize,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordSettings {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Self = Self {
        min_length: 8,
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest valid parameters, for tests that are not about hashing.
    pub fn cheap_for_tests() -> Self {
        Self {
            min_length: 8,
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// Outgoing mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// The SES sender; unset in development means the local outbox.
    pub from: Option<String>,
    /// Where the reset link points; the token is appended as `?token=…`.
    pub reset_url: String,
    /// SES v2 emulator (development and tests only).
    pub ses_endpoint: Option<String>,
    /// A reset request always takes at least this long, so the work done for an existing account
    /// (storing a token, sending mail) cannot be timed.
    pub reset_min_response: Duration,
}

/// At most `limit` requests per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub login_ip: RateLimit,
    pub login_email: RateLimit,
    pub signup_ip: RateLimit,
    pub reset_ip: RateLimit,
    pub reset_email: RateLimit,
    pub refresh_user: RateLimit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutSettings {
    pub email_threshold: u32,
    pub ip_threshold: u32,
    pub email_lock_ttl: Duration,
    pub ip_lock_ttl: Duration,
    pub ip_lock_escalation: bool,
    pub ip_lock_max_ttl: Duration,
}

/// How a provider's ID tokens name their issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerCheck {
    /// The token's `iss` is the configured issuer, exactly.
    Exact,
    /// Microsoft's multi-tenant endpoints (`common`, `organizations`, `consumers`): the
    /// discovery document names `https://login.microsoftonline.com/{tenantid}/v2.0` and each
    /// token's `iss` must be that template filled with the token's own `tid`.
    MicrosoftTenant,
}

/// One OpenID Provider users can sign in with.
#[derive(Clone, Debug)]
pub struct OAuthProviderSettings {
    /// In paths: `/v1/auth/oauth/{name}/…` (`google`, `microsoft`, or a generic provider's).
    pub name: String,
    /// Where discovery starts: `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub issuer_check: IssuerCheck,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The redirect URI registered with the provider (where it sends the browser back).
    pub redirect_uri: String,
}

#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// Configured providers by name: `google`, `microsoft`, and those `OAUTH_PROVIDERS` lists.
    pub providers: std::collections::BTreeMap<String, OAuthProviderSettings>,
    pub state_ttl: Duration,
    pub nonce_ttl: Duration,
    pub link_ttl: Duration,
    pub allowed_redirect_uris: Vec<String>,
    pub jwks_cache_ttl: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaSettings {
    pub totp_issuer: String,
    pub totp_period: u32,
    pub totp_digits: u32,
    pub backup_codes_count: u32,
    pub token_ttl: Duration,
}

/// Everything configurable, except secrets.
#[derive(Clone, Debug)]
pub struct Settings {
    pub env: Environment,
    /// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`), else the binary's.
    pub function_name: String,
    pub api_prefix: String,
    pub log_level: LogLevel,
    pub cors_origins: CorsOrigins,
    pub max_body_bytes: usize,
    pub seed_demo_accounts: bool,
    /// `SESSION_POLICY=single` (default): a login ends the user's other sessions.
    pub single_session: bool,
    /// How long a demo account and its session live (`DEMO_TTL_MINUTES`).
    pub demo_ttl: Duration,
    pub tokens: TokenSettings,
    pub passwords: PasswordSettings,
    pub rate_limits: RateLimits,
    pub lockout: LockoutSettings,
    pub oauth: OAuthSettings,
    pub mfa: MfaSettings,
    pub mail: MailSettings,
    pub store: StoreSettings,
    pub secrets_source: SecretsSource,
    /// Folder for local state in development: the embedded store and generated dev secrets.
    pub local_data_dir: PathBuf,
    pub aws_region: Option<String>,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

impl Settings {
    /// Reads and checks every setting; `function` names the binary when not running in Lambda.
    pub fn from_env(env: &EnvMap, function: &str) -> Result<Self, ConfigError> {
        let mut r = Reader {
            env,
            problems: Vec::new(),
        };

        let environment = r.choice("ENV", Environment::Dev, "dev, staging or prod", |v| match v
            .to_ascii_lowercase()
            .as_str()
        {
            "dev" | "development" | "local" => Some(Environment::Dev),
            "staging" => Some(Environment::Staging),
            "prod" | "production" => Some(Environment::Prod),
            _ => None,
        });
        let api_prefix = r.text("API_PREFIX", "/v1");
        if !api_prefix.starts_with('/')
            || api_prefix.ends_with('/')
            || api_prefix.contains(char::is_whitespace)
        {
            r.problem(
                "API_PREFIX",
                format!("must look like /v1 (got {api_prefix:?})"),
            );
        }
        let log_level = r.choice(
            "LOG_LEVEL",
            LogLevel::Info,
            "DEBUG, INFO, WARNING or ERROR",
            |v| match v.to_ascii_uppercase().as_str() {
                "TRACE" => Some(LogLevel::Trace),
                "DEBUG" => Some(LogLevel::Debug),
                "INFO" => Some(LogLevel::Info),
                "WARN" | "WARNING" => Some(LogLevel::Warn),
                "ERROR" | "CRITICAL" => Some(LogLevel::Error),
                _ => None,
            },
        );
        let cors_origins = r.cors_origins(environment);
        let max_body_bytes = r.number("MAX_BODY_BYTES", 1024 * 1024, 1024, 6 * 1024 * 1024);

        let tokens = TokenSettings {
            jwt_alg: r.choice(
                "JWT_ALG",
                JwtAlgorithm::HS256,
                "HS256, HS384 or HS512",
                |v| match v.to_ascii_uppercase().as_str() {
                    "HS256" => Some(JwtAlgorithm::HS256),
                    "HS384" => Some(JwtAlgorithm::HS384),
                    "HS512" => Some(JwtAlgorithm::HS512),
                    _ => None,
                },
            ),
            issuer: r.text("JWT_ISSUER", "medical-platform"),
            audience: r.text("JWT_AUDIENCE", "medical-platform-api"),
            access_ttl: r.duration("ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 24 * 60, MINUTE),
            refresh_ttl: r.duration("REFRESH_TOKEN_EXPIRE_DAYS", 14, 1, 365, DAY),
            password_reset_ttl: r.duration("PASSWORD_RESET_EXPIRE_MINUTES", 30, 5, 24 * 60, MINUTE),
        };
        let seed_demo_accounts = r.flag("SEED_DEMO_ACCOUNTS", false);
        let demo_ttl = r.duration("DEMO_TTL_MINUTES", 60, 5, 24 * 60, MINUTE);
        let single_session = r.choice("SESSION_POLICY", true, "single or multi", |v| {
            match v.to_ascii_lowercase().as_str() {
                "single" => Some(true),
                "multi" => Some(false),
                _ => None,
            }
        });

        let owasp = PasswordSettings::OWASP;
        let passwords = PasswordSettings {
            min_length: r.number("PASSWORD_MIN_LENGTH", owasp.min_length, 8, 64),
            memory_kib: r.number("PASSWORD_HASH_MEMORY_KIB", owasp.memory_kib, 8, 1024 * 1024),
            iterations: r.number("PASSWORD_HASH_ITERATIONS", owasp.iterations, 1, 20),
            parallelism: r.number("PASSWORD_HASH_PARALLELISM", owasp.parallelism, 1, 16),
        };
        // OWASP's equivalent settings trade memory for iterations (46 MiB x 1 … 7 MiB x 5).
        let cost = u64::from(passwords.memory_kib) * u64::from(passwords.iterations);
        if environment.is_deployed() && (passwords.memory_kib < 7 * 1024 || cost < 35 * 1024) {
            r.problem(
                "PASSWORD_HASH_MEMORY_KIB",
                "with PASSWORD_HASH_ITERATIONS is below OWASP's Argon2id minimum (e.g. 19456 KiB x 2)",
            );
        }

        let rate_limits = RateLimits {
            login_ip: r.rate_limit("RL_LOGIN_IP_LIMIT", 20, 10 * MINUTE),
            login_email: r.rate_limit("RL_LOGIN_EMAIL_LIMIT", 10, 10 * MINUTE),
            signup_ip: r.rate_limit("RL_SIGNUP_IP_LIMIT", 5, HOUR),
            reset_ip: r.rate_limit("RL_RESET_IP_LIMIT", 5, HOUR),
            reset_email: r.rate_limit("RL_RESET_EMAIL_LIMIT", 3, HOUR),
            refresh_user: r.rate_limit("RL_REFRESH_USER_LIMIT", 60, HOUR),
        };

        let lockout = LockoutSettings {
            email_threshold: r.number("LOGIN_FAIL_EMAIL_THRESHOLD", 8, 1, 1000),
            ip_threshold: r.number("LOGIN_FAIL_IP_THRESHOLD", 30, 1, 100_000),
            email_lock_ttl: r.duration("EMAIL_LOCK_TTL", 900, 1, 30 * DAY, 1),
            ip_lock_ttl: r.duration("IP_LOCK_TTL", 900, 1, 30 * DAY, 1),
            ip_lock_escalation: r.flag("IP_LOCK_ESCALATION", true),
            ip_lock_max_ttl: r.duration("IP_LOCK_MAX_TTL", DAY, 1, 365 * DAY, 1),
        };
        if lockout.ip_lock_max_ttl < lockout.ip_lock_ttl {
            r.problem("IP_LOCK_MAX_TTL", "must be at least IP_LOCK_TTL");
        }

        let oauth = OAuthSettings {
            providers: r.oauth_providers(environment),
            state_ttl: r.duration("OAUTH_STATE_TTL", 600, 30, HOUR, 1),
            nonce_ttl: r.duration("OAUTH_NONCE_TTL", 600, 30, HOUR, 1),
            link_ttl: r.duration("OAUTH_LINK_TTL", 600, 30, HOUR, 1),
            allowed_redirect_uris: r.list("OAUTH_ALLOWED_REDIRECT_URIS"),
            jwks_cache_ttl: r.duration("JWKS_CACHE_TTL_SECONDS", HOUR, 0, DAY, 1),
        };
        for uri in &oauth.allowed_redirect_uris {
            // The result is delivered in the fragment: a redirect URI has none of its own.
            if !is_http_url(uri) || uri.contains('#') {
                r.problem(
                    "OAUTH_ALLOWED_REDIRECT_URIS",
                    format!("{uri:?} is not an http(s) URL without a fragment"),
                );
            }
        }

        let mfa = MfaSettings {
            totp_issuer: r.text("MFA_TOTP_ISSUER", "ExamPrepSite"),
            totp_period: r.number("MFA_TOTP_PERIOD", 30, 15, 120),
            totp_digits: r.number("MFA_TOTP_DIGITS", 6, 6, 8),
            backup_codes_count: r.number("MFA_BACKUP_CODES_COUNT", 10, 1, 50),
            token_ttl: r.duration("MFA_TOKEN_EXPIRE_MINUTES", 5, 1, 60, MINUTE),
        };
        // Authenticator apps split `issuer:account` on the colon.
        if mfa.totp_issuer.contains(':') || mfa.totp_issuer.chars().count() > 64 {
            r.problem(
                "MFA_TOTP_ISSUER",
                "must be at most 64 characters, without ':'",
            );
        }

        let mail = MailSettings {
            from: r.optional("MAIL_FROM"),
            reset_url: r.text("PASSWORD_RESET_URL", "http://localhost:3000/reset-password"),
            ses_endpoint: r.local_endpoint("AWS_ENDPOINT_URL_SESV2", environment),
            reset_min_response: Duration::from_millis(r.number(
                "RESET_MIN_RESPONSE_MS",
                400,
                0,
                5000,
            )),
        };
        if let Some(from) = &mail.from
            && crate::auth::Email::parse(from).is_err()
        {
            r.problem("MAIL_FROM", format!("{from:?} is not an email address"));
        }
        if mail.from.is_none() && environment.is_deployed() {
            r.problem(
                "MAIL_FROM",
                format!(
                    "is required with ENV={} (the SES sender)",
                    environment.as_str()
                ),
            );
        }
        let https_only = environment.is_deployed() && !mail.reset_url.starts_with("https://");
        if !is_http_url(&mail.reset_url) || mail.reset_url.contains('?') || https_only {
            r.problem(
                "PASSWORD_RESET_URL",
                "must be an http(s) URL without a query (https when deployed); the token is appended",
            );
        }

        let local_data_dir = PathBuf::from(r.text("LOCAL_DATA_DIR", ".local"));
        let store = r.store(environment, &local_data_dir);
        let secrets_endpoint = r.local_endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", environment);
        let secrets_source = match r.optional("APP_SECRETS_ARN") {
            Some(arn) => SecretsSource::SecretsManager {
                arn,
                endpoint: secrets_endpoint,
            },
            None => SecretsSource::Environment,
        };
        if environment.is_deployed() {
            // The SDK honours these by itself: in AWS nothing may redirect a client elsewhere.
            let overrides: Vec<String> = env
                .names()
                .filter(|n| {
                    n.starts_with("AWS_ENDPOINT_URL") && *n != "AWS_ENDPOINT_URL_SECRETS_MANAGER"
                })
                .map(str::to_owned)
                .collect();
            for name in overrides {
                r.problem(
                    &name,
                    format!(
                        "endpoint overrides are not allowed with ENV={}",
                        environment.as_str()
                    ),
                );
            }
        }

        let function_name = r
            .optional("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| function.to_owned());
        let aws_region = r
            .optional("AWS_REGION")
            .or_else(|| r.optional("AWS_DEFAULT_REGION"));

        if !r.problems.is_empty() {
            return Err(ConfigError {
                problems: r.problems,
            });
        }
        Ok(Self {
            env: environment,
            function_name,
            api_prefix,
            log_level,
            cors_origins,
            max_body_bytes,
            seed_demo_accounts,
            single_session,
            demo_ttl,
            tokens,
            passwords,
            rate_limits,
            lockout,
            oauth,
            mfa,
            mail,
            store,
            secrets_source,
            local_data_dir,
            aws_region,
        })
    }

    /// The path of an API route under the configured prefix, e.g. `path("/health")`.
    pub fn path(&self, route: &str) -> String {
        format!("{}{}", self.api_prefix, route)
    }
}

/// Google's issuer (and where its discovery document is).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// A provider name as it appears in variable names: `my-idp` → `MY_IDP`.
fn env_name(provider: &str) -> String {
    provider.to_ascii_uppercase().replace('-', "_")
}

/// Whether `value` is an http(s) URL whose host is this machine (127.0.0.0/8, ::1, localhost).
fn is_loopback_url(value: &str) -> bool {
    let Ok(uri) = value.parse::<http::Uri>() else {
        return false;
    };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    scheme_ok && loopback
}

fn is_http_url(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace)
}

/// Reads variables and collects every problem.
struct Reader<'a> {
    env: &'a EnvMap,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, variable: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            variable: variable.to_owned(),
            message: message.into(),
        });
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.env.get(name).map(str::to_owned)
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    fn choice<T>(
        &mut self,
        name: &str,
        default: T,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        match self.env.get(name) {
            None => default,
            Some(raw) => parse(raw).unwrap_or_else(|| {
                self.problem(name, format!("expected {expected}, got {raw:?}"));
                default
            }),
        }
    }

    fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.env.get(name) else {
            return default;
        };
        match raw.parse::<T>() {
            Ok(value) if value >= min && value <= max => value,
            _ => {
                self.problem(
                    name,
                    format!("expected a whole number from {min} to {max}, got {raw:?}"),
                );
                default
            }
        }
    }

    /// A number of `unit` seconds.
    fn duration(&mut self, name: &str, default: u64, min: u64, max: u64, unit: u64) -> Duration {
        Duration::from_secs(self.number(name, default, min, max) * unit)
    }

    fn flag(&mut self, name: &str, default: bool) -> bool {
        self.choice(name, default, "true or false", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            }
        })
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.env
            .get(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An endpoint override for a local emulator: loopback only, and never when deployed.
    fn local_endpoint(&mut self, name: &str, environment: Environment) -> Option<String> {
        let endpoint = self.optional(name)?;
        if environment.is_deployed() {
            self.problem(
                name,
                format!(
                    "points a client at a local emulator; not allowed with ENV={}",
                    environment.as_str()
                ),
            );
        } else if !is_loopback_url(&endpoint) {
            self.problem(
                name,
                format!("{endpoint:?} must be an http(s) URL on this machine (127.0.0.1, ::1 or localhost)"),
            );
        }
        Some(endpoint)
    }

    fn rate_limit(&mut self, name: &str, default: u32, window_secs: u64) -> RateLimit {
        RateLimit {
            limit: self.number(name, default, 1, 1_000_000),
            window: Duration::from_secs(window_secs),
        }
    }

    fn cors_origins(&mut self, environment: Environment) -> CorsOrigins {
        let origins = self.list("CORS_ORIGINS");
        if origins.is_empty() {
            return CorsOrigins::None;
        }
        if origins.iter().any(|o| o == "*") {
            if environment == Environment::Prod {
                self.problem(
                    "CORS_ORIGINS",
                    "\"*\" is not allowed with ENV=prod: list the origins",
                );
            }
            return CorsOrigins::Any;
        }
        for origin in &origins {
            if !is_http_url(origin) || origin.ends_with('/') {
                self.problem(
                    "CORS_ORIGINS",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                );
            }
        }
        CorsOrigins::List(origins)
    }

    /// Google and Microsoft when their client id is set, and each generic provider
    /// `OAUTH_PROVIDERS` names (with its own `OAUTH_<NAME>_ISSUER`).
    fn oauth_providers(
        &mut self,
        environment: Environment,
    ) -> std::collections::BTreeMap<String, OAuthProviderSettings> {
        let mut providers = std::collections::BTreeMap::new();
        let google = self.oauth_provider("google", environment, |_| {
            Some((GOOGLE_ISSUER.to_owned(), IssuerCheck::Exact))
        });
        let microsoft = self.oauth_provider("microsoft", environment, |r| {
            let tenant = r.text("OAUTH_MICROSOFT_TENANT", "common");
            let valid = !tenant.is_empty()
                && tenant.len() <= 64
                && tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
            if !valid {
                r.problem(
                    "OAUTH_MICROSOFT_TENANT",
                    "expected common, organizations, consumers, a tenant id or a tenant domain",
                );
            }
            let check = if matches!(tenant.as_str(), "common" | "organizations" | "consumers") {
                IssuerCheck::MicrosoftTenant
            } else {
                IssuerCheck::Exact
            };
            Some((
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                check,
            ))
        });
        providers.extend(
            google
                .into_iter()
                .chain(microsoft)
                .map(|p| (p.name.clone(), p)),
        );
        for name in self.list("OAUTH_PROVIDERS") {
            let valid = !name.is_empty()
                && name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !matches!(
                    name.as_str(),
                    "google" | "microsoft" | "identities" | "link"
                );
            if !valid || providers.contains_key(&name) {
                self.problem(
                    "OAUTH_PROVIDERS",
                    format!(
                        "{name:?} is not a provider name: 1-32 of a-z, 0-9 and -, listed once, not google, microsoft, identities or link"
                    ),
                );
                continue;
            }
            let issuer_var = format!("OAUTH_{}_ISSUER", env_name(&name));
            let issuer = self.optional(&issuer_var);
            if issuer.is_none() {
                self.problem(
                    &issuer_var,
                    "is required for a provider OAUTH_PROVIDERS lists",
                );
            }
            let provider = self.oauth_provider(&name, environment, |_| {
                issuer.map(|issuer| (issuer, IssuerCheck::Exact))
            });
            let id_var = format!("OAUTH_{}_CLIENT_ID", env_name(&name));
            if self.optional(&id_var).is_none() {
                self.problem(&id_var, "is required for a provider OAUTH_PROVIDERS lists");
            }
            if let Some(provider) = provider {
                providers.insert(name, provider);
            }
        }
        providers
    }

    /// One provider from `OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET` and `_REDIRECT_URI`; `None`
    /// when its client id is unset. `issuer` gives its issuer (and reports its own problems).
    fn oauth_provider(
        &mut self,
        name: &str,
        environment: Environment,
        issuer: impl FnOnce(&mut Self) -> Option<(String, IssuerCheck)>,
    ) -> Option<OAuthProviderSettings> {
        let prefix = format!("OAUTH_{}", env_name(name));
        let id_var = format!("{prefix}_CLIENT_ID");
        let secret_var = format!("{prefix}_CLIENT_SECRET");
        let redirect_var = format!("{prefix}_REDIRECT_URI");
        let client_id = self.optional(&id_var)?;
        let client_secret = self.optional(&secret_var);
        let redirect_uri = self.optional(&redirect_var);
        if client_secret.is_none() {
            self.problem(&secret_var, format!("is required when {id_var} is set"));
        }
        match &redirect_uri {
            None => self.problem(&redirect_var, format!("is required when {id_var} is set")),
            Some(uri) if !is_http_url(uri) || uri.contains('#') => self.problem(
                &redirect_var,
                format!("{uri:?} is not an http(s) URL without a fragment"),
            ),
            Some(_) => {}
        }
        let (issuer, issuer_check) = issuer(self)?;
        // Plain http only for a provider on this machine (tests, a local Keycloak), never deployed.
        let secure = issuer.starts_with("https://")
            || (!environment.is_deployed() && is_loopback_url(&issuer));
        if !secure || !is_http_url(&issuer) || issuer.contains(['#', '?']) {
            self.problem(
                &format!("{prefix}_ISSUER"),
                format!(
                    "{issuer:?} must be an https URL without query or fragment (http only on this machine, outside staging and prod)"
                ),
            );
        }
        Some(OAuthProviderSettings {
            name: name.to_owned(),
            issuer,
            issuer_check,
            client_id,
            client_secret: SecretString::from(client_secret.unwrap_or_default()),
            redirect_uri: redirect_uri.unwrap_or_default(),
        })
    }

    fn store(
        &mut self,
        environment: Environment,
        local_data_dir: &std::path::Path,
    ) -> StoreSettings {
        let default_kind = if environment.is_dev() {
            StoreKind::Embedded
        } else {
            StoreKind::DynamoDb
        };
        let kind = self.choice("STORE", default_kind, "embedded or dynamodb", |v| {
            match v.to_ascii_lowercase().as_str() {
                "embedded" | "sqlite" => Some(StoreKind::Embedded),
                "dynamodb" | "dynamo" => Some(StoreKind::DynamoDb),
                _ => None,
            }
        });
        if kind == StoreKind::Embedded && environment.is_deployed() {
            self.problem(
                "STORE",
                format!(
                    "the embedded store is for local development; ENV={} needs STORE=dynamodb",
                    environment.as_str()
                ),
            );
        }
        let dynamodb_endpoint = self.local_endpoint("DYNAMODB_ENDPOINT", environment);
        let table_name = self.text("TABLE_NAME", "medical-platform");
        let valid_table = (3..=255).contains(&table_name.len())
            && table_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid_table {
            self.problem(
                "TABLE_NAME",
                format!("{table_name:?} is not a valid DynamoDB table name"),
            );
        }
        let embedded_path = self
            .optional("EMBEDDED_DB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| local_data_dir.join("store.sqlite3"));
        StoreSettings {
            kind,
            table_name,
            dynamodb_endpoint,
            embedded_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings from `pairs`, with a mail sender and an https reset URL unless given (deployed
    /// environments need them; the mail test checks that).
    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut env = EnvMap::from_pairs([
            ("MAIL_FROM", "noreply@example.com"),
            ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
        ]);
        for (name, value) in pairs {
            env.set(name, value);
        }
        Settings::from_env(&env, "health")
    }

    #[test]
    fn deployed_environments_need_a_mail_sender_and_an_https_reset_link() {
        let bare = Settings::from_env(&EnvMap::from_pairs([("ENV", "prod")]), "auth").unwrap_err();
        assert!(bare.mentions("MAIL_FROM") && bare.mentions("PASSWORD_RESET_URL"));
        let dev = Settings::from_env(&EnvMap::default(), "auth").unwrap();
        assert_eq!(dev.mail.from, None, "dev uses the outbox");
        assert_eq!(dev.mail.reset_url, "http://localhost:3000/reset-password");
        let err = settings(&[
            ("MAIL_FROM", "not an email"),
            ("PASSWORD_RESET_URL", "https://x.example/r?a=1"),
        ])
        .unwrap_err();
        assert!(err.mentions("MAIL_FROM") && err.mentions("PASSWORD_RESET_URL"));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.env, Environment::Dev);
        assert_eq!(s.api_prefix, "/v1");
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(s.cors_origins, CorsOrigins::None);
        assert_eq!(s.tokens.jwt_alg, JwtAlgorithm::HS256);
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(15 * 60));
        assert_eq!(s.tokens.refresh_ttl, Duration::from_secs(14 * DAY));
        assert_eq!(s.tokens.password_reset_ttl, Duration::from_secs(30 * 60));
        assert!(!s.seed_demo_accounts);
        assert_eq!(s.passwords, PasswordSettings::OWASP);
        assert_eq!(
            s.rate_limits.login_ip,
            RateLimit {
                limit: 20,
                window: Duration::from_secs(600)
            }
        );
        assert_eq!(s.rate_limits.login_email.limit, 10);
        assert_eq!(
            s.rate_limits.signup_ip,
            RateLimit {
                limit: 5,
                window: Duration::from_secs(HOUR)
            }
        );
        assert_eq!(s.rate_limits.reset_ip.limit, 5);
        assert_eq!(s.rate_limits.reset_email.limit, 3);
        assert_eq!(s.rate_limits.refresh_user.limit, 60);
        assert_eq!(s.lockout.email_threshold, 8);
        assert_eq!(s.lockout.ip_threshold, 30);
        assert_eq!(s.lockout.email_lock_ttl, Duration::from_secs(900));
        assert!(s.lockout.ip_lock_escalation);
        assert_eq!(s.lockout.ip_lock_max_ttl, Duration::from_secs(DAY));
        assert_eq!(s.oauth.state_ttl, Duration::from_secs(600));
        assert_eq!(s.oauth.jwks_cache_ttl, Duration::from_secs(HOUR));
        assert!(s.oauth.providers.is_empty());
        assert_eq!(s.mfa.totp_issuer, "ExamPrepSite");
        assert_eq!(
            (
                s.mfa.totp_period,
                s.mfa.totp_digits,
                s.mfa.backup_codes_count
            ),
            (30, 6, 10)
        );
        assert_eq!(s.mfa.token_ttl, Duration::from_secs(300));
        assert_eq!(s.store.kind, StoreKind::Embedded);
        assert_eq!(s.store.embedded_path, PathBuf::from(".local/store.sqlite3"));
        assert!(matches!(s.secrets_source, SecretsSource::Environment));
        assert_eq!(s.function_name, "health");
    }

    #[test]
    fn values_are_read_and_typed() {
        let s = settings(&[
            ("ENV", "staging"),
            ("LOG_LEVEL", "warning"),
            (
                "CORS_ORIGINS",
                "http://localhost:3000, https://app.example.com",
            ),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "5"),
            ("RL_LOGIN_IP_LIMIT", "3"),
            ("IP_LOCK_ESCALATION", "false"),
            ("STORE", "dynamodb"),
            ("TABLE_NAME", "prod-table"),
            (
                "APP_SECRETS_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:app",
            ),
            ("OAUTH_GOOGLE_CLIENT_ID", "id"),
            ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
            ("OAUTH_GOOGLE_REDIRECT_URI", "https://app.example.com/cb"),
            ("AWS_LAMBDA_FUNCTION_NAME", "prod-health"),
        ])
        .unwrap();
        assert_eq!(s.env, Environment::Staging);
        assert_eq!(s.log_level, LogLevel::Warn);
        assert_eq!(
            s.cors_origins,
            CorsOrigins::List(vec![
                "http://localhost:3000".into(),
                "https://app.example.com".into()
            ])
        );
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(300));
        assert_eq!(s.rate_limits.login_ip.limit, 3);
        assert!(!s.lockout.ip_lock_escalation);
        assert_eq!(s.store.kind, StoreKind::DynamoDb);
        assert_eq!(s.store.table_name, "prod-table");
        assert!(matches!(
            s.secrets_source,
            SecretsSource::SecretsManager { .. }
        ));
        assert_eq!(s.oauth.providers["google"].client_id, "id");
        assert_eq!(s.oauth.providers["google"].issuer, GOOGLE_ISSUER);
        assert_eq!(s.function_name, "prod-health");
    }

    #[test]
    fn every_bad_value_is_reported_by_name() {
        let err = settings(&[
            ("ENV", "production-ish"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "abc"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "0"),
            ("RL_LOGIN_IP_LIMIT", "-1"),
            ("SEED_DEMO_ACCOUNTS", "maybe"),
            ("LOG_LEVEL", "LOUD"),
            ("API_PREFIX", "v1/"),
            ("STORE", "postgres"),
            ("MFA_TOTP_DIGITS", "4"),
            ("MFA_TOTP_ISSUER", "Exam:Prep"),
            ("OAUTH_MICROSOFT_CLIENT_ID", "id"),
            ("IP_LOCK_TTL", "100"),
            ("IP_LOCK_MAX_TTL", "50"),
            ("CORS_ORIGINS", "not a url"),
        ])
        .unwrap_err();
        for variable in [
            "ENV",
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            "REFRESH_TOKEN_EXPIRE_DAYS",
            "RL_LOGIN_IP_LIMIT",
            "SEED_DEMO_ACCOUNTS",
            "LOG_LEVEL",
            "API_PREFIX",
            "STORE",
            "MFA_TOTP_DIGITS",
            "MFA_TOTP_ISSUER",
            "OAUTH_MICROSOFT_CLIENT_SECRET",
            "OAUTH_MICROSOFT_REDIRECT_URI",
            "IP_LOCK_MAX_TTL",
            "CORS_ORIGINS",
        ] {
            assert!(err.mentions(variable), "{variable} missing from: {err}");
        }
        assert!(
            err.to_string()
                .contains("ACCESS_TOKEN_EXPIRE_MINUTES: expected a whole number")
        );
    }

    #[test]
    fn deployed_environments_refuse_local_only_settings() {
        let err = settings(&[("ENV", "prod"), ("STORE", "embedded")]).unwrap_err();
        assert!(err.mentions("STORE"));
        let err = settings(&[
            ("ENV", "staging"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"),
        ])
        .unwrap_err();
        assert!(err.mentions("DYNAMODB_ENDPOINT"));
        let err = settings(&[("ENV", "prod"), ("CORS_ORIGINS", "*")]).unwrap_err();
        assert!(err.mentions("CORS_ORIGINS"));
        // Without STORE, deployed environments use DynamoDB.
        assert_eq!(
            settings(&[("ENV", "prod")]).unwrap().store.kind,
            StoreKind::DynamoDb
        );
    }

    #[test]
    fn endpoint_overrides_are_loopback_only_and_never_deployed() {
        assert!(settings(&[("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")]).is_ok());
        assert!(settings(&[("DYNAMODB_ENDPOINT", "http://localhost:8000")]).is_ok());
        assert!(settings(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://[::1]:5000")]).is_ok());
        for remote in [
            "http://169.254.169.254",
            "http://10.0.0.5:8000",
            "https://dynamodb.example.com",
            "ftp://127.0.0.1",
        ] {
            let err = settings(&[("DYNAMODB_ENDPOINT", remote)]).unwrap_err();
            assert!(err.mentions("DYNAMODB_ENDPOINT"), "{remote}");
        }
        let err = settings(&[
            ("ENV", "prod"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1"),
        ])
        .unwrap_err();
        assert!(err.mentions("AWS_ENDPOINT_URL_SECRETS_MANAGER"));
        let err = settings(&[
            ("ENV", "staging"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://evil.example"),
        ])
        .unwrap_err();
        assert!(err.mentions("AWS_ENDPOINT_URL_DYNAMODB"));
        let err =
            settings(&[("ENV", "prod"), ("AWS_ENDPOINT_URL", "http://evil.example")]).unwrap_err();
        assert!(err.mentions("AWS_ENDPOINT_URL"));
    }

    #[test]
    fn deployed_environments_refuse_cheap_password_hashing() {
        let cheap = [
            ("PASSWORD_HASH_MEMORY_KIB", "8"),
            ("PASSWORD_HASH_ITERATIONS", "1"),
        ];
        assert_eq!(settings(&cheap).unwrap().passwords.memory_kib, 8);
        let mut prod = vec![("ENV", "prod")];
        prod.extend(cheap);
        assert!(
            settings(&prod)
                .unwrap_err()
                .mentions("PASSWORD_HASH_MEMORY_KIB")
        );
        let equivalent = [
            ("ENV", "prod"),
            ("PASSWORD_HASH_MEMORY_KIB", "12288"),
            ("PASSWORD_HASH_ITERATIONS", "3"),
        ];
        assert!(settings(&equivalent).is_ok());
    }

    #[test]
    fn providers_are_google_microsoft_and_any_listed_by_issuer() {
        let s = settings(&[
            ("OAUTH_GOOGLE_CLIENT_ID", "g"),
            ("OAUTH_GOOGLE_CLIENT_SECRET", "gs"),
            (
                "OAUTH_GOOGLE_REDIRECT_URI",
                "https://api.example.com/v1/auth/oauth/google/callback",
            ),
            ("OAUTH_MICROSOFT_CLIENT_ID", "m"),
            ("OAUTH_MICROSOFT_CLIENT_SECRET", "ms"),
            (
                "OAUTH_MICROSOFT_REDIRECT_URI",
                "https://api.example.com/v1/auth/oauth/microsoft/callback",
            ),
            ("OAUTH_PROVIDERS", "okta, my-keycloak"),
            ("OAUTH_OKTA_ISSUER", "https://dev-1.okta.com/oauth2/default"),
            ("OAUTH_OKTA_CLIENT_ID", "o"),
            ("OAUTH_OKTA_CLIENT_SECRET", "os"),
            (
                "OAUTH_OKTA_REDIRECT_URI",
                "https://api.example.com/v1/auth/oauth/okta/callback",
            ),
            (
                "OAUTH_MY_KEYCLOAK_ISSUER",
                "http://127.0.0.1:8080/realms/dev",
            ),
            ("OAUTH_MY_KEYCLOAK_CLIENT_ID", "k"),
            ("OAUTH_MY_KEYCLOAK_CLIENT_SECRET", "ks"),
            (
                "OAUTH_MY_KEYCLOAK_REDIRECT_URI",
                "http://127.0.0.1:9000/v1/auth/oauth/my-keycloak/callback",
            ),
        ])
        .unwrap();
        let providers = &s.oauth.providers;
        assert_eq!(
            providers.keys().collect::<Vec<_>>(),
            ["google", "microsoft", "my-keycloak", "okta"]
        );
        assert_eq!(providers["google"].issuer, GOOGLE_ISSUER);
        assert_eq!(
            providers["microsoft"].issuer,
            "https://login.microsoftonline.com/common/v2.0"
        );
        assert_eq!(
            providers["microsoft"].issuer_check,
            IssuerCheck::MicrosoftTenant
        );
        assert_eq!(
            providers["okta"].issuer,
            "https://dev-1.okta.com/oauth2/default"
        );
        assert_eq!(providers["okta"].issuer_check, IssuerCheck::Exact);
        assert_eq!(providers["my-keycloak"].client_id, "k");

        // One tenant: its issuer is exact.
        let s = settings(&[
            ("OAUTH_MICROSOFT_CLIENT_ID", "m"),
            ("OAUTH_MICROSOFT_CLIENT_SECRET", "ms"),
            ("OAUTH_MICROSOFT_REDIRECT_URI", "https://api.example.com/cb"),
            ("OAUTH_MICROSOFT_TENANT", "contoso.onmicrosoft.com"),
        ])
        .unwrap();
        let microsoft = &s.oauth.providers["microsoft"];
        assert_eq!(microsoft.issuer_check, IssuerCheck::Exact);
        assert!(microsoft.issuer.contains("/contoso.onmicrosoft.com/"));
    }

    #[test]
    fn bad_provider_settings_are_reported_by_name() {
        let err = settings(&[
            ("OAUTH_PROVIDERS", "okta,Bad Name,google,okta,nothing"),
            ("OAUTH_OKTA_ISSUER", "http://okta.example.com"),
            ("OAUTH_OKTA_CLIENT_ID", "o"),
            ("OAUTH_OKTA_CLIENT_SECRET", "os"),
            ("OAUTH_OKTA_REDIRECT_URI", "https://api.example.com/cb"),
            ("OAUTH_MICROSOFT_CLIENT_ID", "m"),
            ("OAUTH_MICROSOFT_CLIENT_SECRET", "ms"),
            ("OAUTH_MICROSOFT_REDIRECT_URI", "https://api.example.com/cb"),
            ("OAUTH_MICROSOFT_TENANT", "../evil"),
        ])
        .unwrap_err();
        // Plain http only on this machine; a name that is not one; a duplicate; a provider
        // without its issuer or client; a tenant that is not one.
        for variable in [
            "OAUTH_OKTA_ISSUER",
            "OAUTH_NOTHING_ISSUER",
            "OAUTH_NOTHING_CLIENT_ID",
            "OAUTH_MICROSOFT_TENANT",
        ] {
            assert!(err.mentions(variable), "{variable}: {err}");
        }
        let refused = err
            .problems
            .iter()
            .filter(|p| p.variable == "OAUTH_PROVIDERS")
            .count();
        assert_eq!(refused, 3, "Bad Name, google and the second okta: {err}");

        // A loopback provider is for development: never in prod.
        let err = settings(&[
            ("ENV", "prod"),
            ("OAUTH_PROVIDERS", "local"),
            ("OAUTH_LOCAL_ISSUER", "http://127.0.0.1:8080"),
            ("OAUTH_LOCAL_CLIENT_ID", "l"),
            ("OAUTH_LOCAL_CLIENT_SECRET", "ls"),
            ("OAUTH_LOCAL_REDIRECT_URI", "https://api.example.com/cb"),
        ])
        .unwrap_err();
        assert!(err.mentions("OAUTH_LOCAL_ISSUER"), "{err}");
    }

    #[test]
    fn blank_values_count_as_unset() {
        let s = settings(&[
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "  "),
            ("OAUTH_GOOGLE_CLIENT_ID", ""),
        ])
        .unwrap();
        assert_eq!(s.tokens.access_ttl, Duration::from_secs(900));
        assert!(s.oauth.providers.is_empty());
    }
}
