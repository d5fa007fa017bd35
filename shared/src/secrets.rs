//! The three secrets: the JWT signing key, the token pepper and the MFA encryption key.
//!
//! In AWS they come from one Secrets Manager secret (`APP_SECRETS_ARN`, a JSON object with the
//! keys below), fetched once per container at cold start. Elsewhere they come from the
//! environment. With `ENV=dev` a missing secret is generated once and kept in
//! `LOCAL_DATA_DIR/dev-secrets.json`, so every local function process signs and verifies with the
//! same keys; staging and prod never generate and refuse anything that looks like a dev value.
//!
//! Values are [`SecretString`]s: they have no `Display`, and `Debug` prints `[REDACTED]`.

use std::collections::HashMap;
use std::path::Path;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, EnvMap, Environment, Problem, SecretsSource, Settings};

pub const JWT_SECRET: &str = "JWT_SECRET";
pub const TOKEN_PEPPER: &str = "TOKEN_PEPPER";
pub const MFA_ENCRYPTION_KEY: &str = "MFA_ENCRYPTION_KEY";
/// The JWT key before the last rotation: tokens it signed keep verifying until they expire.
pub const JWT_PREVIOUS_SECRET: &str = "JWT_PREVIOUS_SECRET";

/// Shortest accepted JWT key and pepper: 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

/// Prefix of generated development secrets, so a deployed environment can recognise one.
const DEV_PREFIX: &str = "dev-";
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replace-me",
    "replaceme",
    "placeholder",
];

/// Where the secrets came from (safe to log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretsOrigin {
    Environment,
    SecretsManager,
    /// Some or all were generated for local development.
    DevGenerated,
}

#[derive(Clone, Debug)]
pub struct Secrets {
    jwt_secret: SecretString,
    jwt_previous_secrets: Vec<SecretString>,
    token_pepper: SecretString,
    /// The pepper as a prepared HMAC key: preparing it costs two hash blocks, per digest before.
    token_pepper_key: hmac::Key,
    mfa_encryption_key: Option<SecretString>,
    origin: SecretsOrigin,
}

impl Secrets {
    /// Loads the secrets for `settings`: one Secrets Manager call, or none.
    pub async fn load(settings: &Settings, env: &EnvMap) -> Result<Self, ConfigError> {
        match &settings.secrets_source {
            SecretsSource::SecretsManager { arn, endpoint } => {
                let values = fetch_from_secrets_manager(settings, arn, endpoint.as_deref()).await?;
                Self::from_values(settings.env, values, SecretsOrigin::SecretsManager)
            }
            SecretsSource::Environment => {
                let mut values: HashMap<String, String> = [
                    JWT_SECRET,
                    TOKEN_PEPPER,
                    MFA_ENCRYPTION_KEY,
                    JWT_PREVIOUS_SECRET,
                ]
                .into_iter()
                .filter_map(|name| env.get(name).map(|v| (name.to_owned(), v.to_owned())))
                .collect();
                let mut origin = SecretsOrigin::Environment;
                if settings.env.is_dev()
                    && [JWT_SECRET, TOKEN_PEPPER, MFA_ENCRYPTION_KEY]
                        .iter()
                        .any(|n| !values.contains_key(*n))
                {
                    let generated = dev_secrets(&settings.local_data_dir)?;
                    for (name, value) in generated {
                        if let std::collections::hash_map::Entry::Vacant(slot) = values.entry(name)
                        {
                            slot.insert(value);
                            origin = SecretsOrigin::DevGenerated;
                        }
                    }
                }
                Self::from_values(settings.env, values, origin)
            }
        }
    }

    /// Checks and wraps raw values.
    pub fn from_values(
        env: Environment,
        mut values: HashMap<String, String>,
        origin: SecretsOrigin,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |variable: &str, message: String| {
            problems.push(Problem {
                variable: variable.to_owned(),
                message,
            })
        };
        for name in [JWT_SECRET, TOKEN_PEPPER] {
            match values.get(name) {
                None => problem(name, "is required".to_owned()),
                Some(v) if v.len() < MIN_SECRET_BYTES || !looks_random(v.as_bytes()) => problem(
                    name,
                    format!("must be at least {MIN_SECRET_BYTES} bytes of random data"),
                ),
                Some(v) if env.is_deployed() && looks_like_dev_value(v) => problem(
                    name,
                    format!(
                        "is a development or placeholder value; ENV={} needs a real secret",
                        env.as_str()
                    ),
                ),
                Some(_) => {}
            }
        }
        if let Some(previous) = values.get(JWT_PREVIOUS_SECRET)
            && (previous.len() < MIN_SECRET_BYTES || !looks_random(previous.as_bytes()))
        {
            problem(
                JWT_PREVIOUS_SECRET,
                format!("must be at least {MIN_SECRET_BYTES} bytes of random data"),
            );
        }
        if values.contains_key(JWT_SECRET) && values.get(JWT_SECRET) == values.get(TOKEN_PEPPER) {
            problem(TOKEN_PEPPER, "must differ from JWT_SECRET".to_owned());
        }
        match values.get(MFA_ENCRYPTION_KEY) {
            None if env == Environment::Prod => {
                problem(MFA_ENCRYPTION_KEY, "is required with ENV=prod".to_owned())
            }
            None => {}
            Some(key) if !fernet_bytes(key).is_some_and(|b| looks_random(&b)) => problem(
                MFA_ENCRYPTION_KEY,
                "must be a Fernet key: 32 bytes, URL-safe base64 (Fernet.generate_key())"
                    .to_owned(),
            ),
            Some(key) if env.is_deployed() && looks_like_dev_value(key) => {
                problem(MFA_ENCRYPTION_KEY, "is a placeholder value".to_owned())
            }
            Some(_) => {}
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut take = |name: &str| values.remove(name).map(SecretString::from);
        let token_pepper: SecretString = take(TOKEN_PEPPER).unwrap_or_default();
        Ok(Self {
            jwt_secret: take(JWT_SECRET).unwrap_or_default(),
            jwt_previous_secrets: take(JWT_PREVIOUS_SECRET).into_iter().collect(),
            token_pepper_key: pepper_key(&token_pepper),
            token_pepper,
            mfa_encryption_key: take(MFA_ENCRYPTION_KEY),
            origin,
        })
    }

    /// Fresh random secrets (tests and tools).
    pub fn generate() -> Self {
        let values = generate_values().into_iter().collect();
        // Generated values always pass the checks.
        Self::from_values(Environment::Dev, values, SecretsOrigin::DevGenerated).unwrap_or_else(
            |_| {
                let token_pepper = SecretString::from(random_token(32));
                Self {
                    jwt_secret: SecretString::from(random_token(32)),
                    jwt_previous_secrets: Vec::new(),
                    token_pepper_key: pepper_key(&token_pepper),
                    token_pepper,
                    mfa_encryption_key: None,
                    origin: SecretsOrigin::DevGenerated,
                }
            },
        )
    }

    pub fn jwt_secret(&self) -> &SecretString {
        &self.jwt_secret
    }

    /// Keys that signed tokens before the last rotation.
    pub fn jwt_previous_secrets(&self) -> &[SecretString] {
        &self.jwt_previous_secrets
    }

    /// The same secrets, still accepting tokens signed with `previous` (tests of key rotation).
    pub fn with_previous_jwt_secret(mut self, previous: SecretString) -> Self {
        self.jwt_previous_secrets.push(previous);
        self
    }

    /// The same secrets with another MFA key (tests of data written elsewhere).
    pub fn with_mfa_encryption_key_for_tests(mut self, key: &str) -> Self {
        self.mfa_encryption_key = Some(SecretString::from(key.to_owned()));
        self
    }

    pub fn token_pepper(&self) -> &SecretString {
        &self.token_pepper
    }

    /// The pepper, prepared for [`crate::auth::tokens::opaque_token_digest`].
    pub fn token_pepper_key(&self) -> &hmac::Key {
        &self.token_pepper_key
    }

    pub fn mfa_encryption_key(&self) -> Option<&SecretString> {
        self.mfa_encryption_key.as_ref()
    }

    pub fn origin(&self) -> SecretsOrigin {
        self.origin
    }

    /// Every secret value, for tests that scan logs and responses for leaks.
    pub fn expose_all_for_leak_checks(&self) -> Vec<String> {
        let mut all = vec![
            self.jwt_secret.expose_secret().to_owned(),
            self.token_pepper.expose_secret().to_owned(),
        ];
        all.extend(
            self.jwt_previous_secrets
                .iter()
                .map(|k| k.expose_secret().to_owned()),
        );
        all.extend(
            self.mfa_encryption_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
        );
        all
    }
}

fn pepper_key(pepper: &SecretString) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, pepper.expose_secret().as_bytes())
}

/// Refuses values with almost no variety (`aaaa…`, `abab…`): not proof of randomness, but it
/// catches keys typed by hand.
fn looks_random(bytes: &[u8]) -> bool {
    let distinct: std::collections::HashSet<&u8> = bytes.iter().collect();
    distinct.len() >= 8
}

fn looks_like_dev_value(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.starts_with(DEV_PREFIX) || PLACEHOLDERS.iter().any(|p| lower.contains(p))
}

/// A Fernet key is 32 bytes in URL-safe base64 (44 characters with padding).
pub fn is_fernet_key(key: &str) -> bool {
    fernet_bytes(key).is_some()
}

fn fernet_bytes(key: &str) -> Option<Vec<u8>> {
    URL_SAFE
        .decode(key)
        .or_else(|_| URL_SAFE_NO_PAD.decode(key))
        .ok()
        .filter(|bytes| bytes.len() == 32)
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn generate_values() -> Vec<(String, String)> {
    new_values(DEV_PREFIX)
}

/// Fresh values of the three secrets, each name's value starting with `prefix`.
fn new_values(prefix: &str) -> Vec<(String, String)> {
    let mut fernet = [0u8; 32];
    rand::rng().fill_bytes(&mut fernet);
    vec![
        (
            JWT_SECRET.to_owned(),
            format!("{prefix}{}", random_token(48)),
        ),
        (
            TOKEN_PEPPER.to_owned(),
            format!("{prefix}{}", random_token(48)),
        ),
        (MFA_ENCRYPTION_KEY.to_owned(), URL_SAFE.encode(fernet)),
    ]
}

/// The JSON object to store in the Secrets Manager secret of a deployment: fresh random values
/// that staging and prod accept (`cargo run -p shared --bin new-secrets`).
pub fn new_deployment_secret() -> String {
    let values: std::collections::BTreeMap<String, String> = new_values("").into_iter().collect();
    serde_json::to_string(&values).unwrap_or_default()
}

/// The development secrets shared by every local process: created once, atomically (the first
/// process to link its file wins; the others read it).
fn dev_secrets(dir: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let problem = |message: String| ConfigError::single("LOCAL_DATA_DIR", message);
    let path = dir.join("dev-secrets.json");
    if !path.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| problem(format!("cannot create {}: {e}", dir.display())))?;
        let values: HashMap<String, String> = generate_values().into_iter().collect();
        let json = serde_json::to_vec_pretty(&values).map_err(|e| problem(e.to_string()))?;
        let temp = dir.join(format!(
            ".dev-secrets-{}.tmp",
            crate::ids::random_uuid().simple()
        ));
        write_private(&temp, &json)
            .map_err(|e| problem(format!("cannot write {}: {e}", temp.display())))?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(problem(format!("cannot create {}: {e}", path.display()))),
        }
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|_| {
        problem(format!(
            "{} is not a JSON object of strings",
            path.display()
        ))
    })
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

async fn fetch_from_secrets_manager(
    settings: &Settings,
    arn: &str,
    endpoint: Option<&str>,
) -> Result<HashMap<String, String>, ConfigError> {
    let problem = |message: String| ConfigError::single("APP_SECRETS_ARN", message);
    let client = crate::aws::secrets_manager_client(settings.aws_region.as_deref(), endpoint).await;
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|err| {
            problem(format!(
                "could not read the secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&err)
            ))
        })?;
    let text = output.secret_string().ok_or_else(|| {
        problem("the secret has no SecretString (store it as JSON text)".to_owned())
    })?;
    serde_json::from_str(text).map_err(|_| {
        problem(format!(
            "the secret must be a JSON object of strings with {JWT_SECRET}, {TOKEN_PEPPER} and {MFA_ENCRYPTION_KEY}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong(tag: &str) -> String {
        format!("{tag}-Zx9Qw3Er7Ty1Ui5Op0As2Df4Gh6Jk8Lz")
    }

    fn values(pairs: &[(&str, String)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn debug_never_shows_a_value() {
        let secrets = Secrets::generate();
        let printed = format!("{secrets:?}");
        for value in secrets.expose_all_for_leak_checks() {
            assert!(!printed.contains(&value));
        }
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn weak_or_missing_values_are_refused_by_name() {
        let err = Secrets::from_values(
            Environment::Dev,
            values(&[(JWT_SECRET, "short".into())]),
            SecretsOrigin::Environment,
        )
        .unwrap_err();
        assert!(err.mentions(JWT_SECRET) && err.mentions(TOKEN_PEPPER));
        let same = strong("same");
        let err = Secrets::from_values(
            Environment::Dev,
            values(&[
                (JWT_SECRET, same.clone()),
                (TOKEN_PEPPER, same),
                (MFA_ENCRYPTION_KEY, "nope".into()),
            ]),
            SecretsOrigin::Environment,
        )
        .unwrap_err();
        assert!(err.mentions(TOKEN_PEPPER) && err.mentions(MFA_ENCRYPTION_KEY));
        // Messages name the problem, never the value.
        assert!(!err.to_string().contains("same-Zx9Q"));
    }

    #[test]
    fn a_new_deployment_secret_is_accepted_by_prod() {
        let json = new_deployment_secret();
        let values: HashMap<String, String> = serde_json::from_str(&json).unwrap();
        assert_eq!(values.len(), 3);
        let secrets = Secrets::from_values(
            Environment::Prod,
            values.clone(),
            SecretsOrigin::SecretsManager,
        )
        .unwrap();
        assert!(is_fernet_key(
            secrets.mfa_encryption_key().unwrap().expose_secret()
        ));
        assert_ne!(new_deployment_secret(), json, "fresh values every time");
    }

    #[test]
    fn prod_refuses_dev_and_placeholder_values_and_needs_the_mfa_key() {
        let dev = Secrets::generate();
        let exposed = dev.expose_all_for_leak_checks();
        let err = Secrets::from_values(
            Environment::Prod,
            values(&[
                (JWT_SECRET, exposed[0].clone()),
                (TOKEN_PEPPER, strong("please-CHANGEME")),
            ]),
            SecretsOrigin::Environment,
        )
        .unwrap_err();
        assert!(
            err.mentions(JWT_SECRET)
                && err.mentions(TOKEN_PEPPER)
                && err.mentions(MFA_ENCRYPTION_KEY)
        );
        let ok = Secrets::from_values(
            Environment::Prod,
            values(&[
                (JWT_SECRET, strong("a")),
                (TOKEN_PEPPER, strong("b")),
                (MFA_ENCRYPTION_KEY, exposed[2].clone()),
            ]),
            SecretsOrigin::SecretsManager,
        )
        .unwrap();
        assert_eq!(ok.origin(), SecretsOrigin::SecretsManager);
    }

    #[test]
    fn keys_without_variety_are_refused() {
        let err = Secrets::from_values(
            Environment::Prod,
            values(&[
                (JWT_SECRET, "a".repeat(40)),
                (TOKEN_PEPPER, "ab".repeat(20)),
                (MFA_ENCRYPTION_KEY, URL_SAFE.encode([7u8; 32])),
            ]),
            SecretsOrigin::Environment,
        )
        .unwrap_err();
        assert!(
            err.mentions(JWT_SECRET)
                && err.mentions(TOKEN_PEPPER)
                && err.mentions(MFA_ENCRYPTION_KEY)
        );
    }

    #[test]
    fn fernet_keys_are_recognised() {
        assert!(is_fernet_key(
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
        ));
        assert!(!is_fernet_key("too-short"));
        assert!(!is_fernet_key(&URL_SAFE.encode([0u8; 16])));
    }

    #[test]
    fn dev_secrets_are_created_once_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || dev_secrets(&path).unwrap())
            })
            .collect();
        let all: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            all.windows(2).all(|w| w[0] == w[1]),
            "every process must see the same secrets"
        );
        assert!(all[0][JWT_SECRET].starts_with(DEV_PREFIX));
        assert!(is_fernet_key(&all[0][MFA_ENCRYPTION_KEY]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("dev-secrets.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "dev secrets must be private to their owner"
            );
        }
    }
}
