//! Passwords: the policy they must meet, and Argon2id hashing off the async runtime.
//!
//! Policy per NIST SP 800-63B / OWASP ASVS: a minimum length (8 by default), at least 128
//! characters allowed, no composition rules, refused when it is one of the 10,000 most common
//! passwords or contains the account's email local part. Passwords are NFKC-normalised before
//! hashing so the same characters typed on different keyboards hash alike.

use std::sync::{Arc, OnceLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use unicode_normalization::UnicodeNormalization;

use super::email::Email;
use crate::config::PasswordSettings;

/// Longest password accepted, in characters: well above NIST's 64, bounded so hashing stays cheap.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords ranked below this in the common-passwords list are refused.
const COMMON_PASSWORD_RANK: usize = 10_000;

/// No password longer than this is one of those 10,000: the longest in the list zxcvbn 3.1 ships
/// has 18 characters (`123456789987654321`, pinned by a test), so this leaves a margin. Longer
/// passwords, such as the passphrases NIST recommends, skip the estimator (about 1 ms of CPU).
const COMMON_PASSWORD_MAX_CHARS: usize = 24;

/// A password as it arrives in a request: it cannot be printed or serialised.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The normalised form that is hashed and checked.
    fn normalized(&self) -> String {
        self.expose().nfkc().collect()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Password::new)
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Password,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Password {}

/// Why a password is refused (the message a user sees).
pub fn check_policy(
    password: &Password,
    email: Option<&Email>,
    min_chars: usize,
) -> Result<(), String> {
    let normalized = password.normalized();
    let chars = normalized.chars().count();
    if chars < min_chars {
        return Err(format!("must be at least {min_chars} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if is_common(&normalized) {
        return Err("is one of the most common passwords; choose another".to_owned());
    }
    if let Some(email) = email {
        let local = email.local_part();
        if local.chars().count() >= 3 && normalized.to_lowercase().contains(local) {
            return Err("must not contain your email address".to_owned());
        }
    }
    Ok(())
}

/// Whether the whole password is one of the 10,000 most common (case-insensitive), according to
/// the ranked list zxcvbn ships.
pub fn is_common(password: &str) -> bool {
    if password.chars().count() > COMMON_PASSWORD_MAX_CHARS {
        return false;
    }
    let entropy = zxcvbn::zxcvbn(password, &[]);
    entropy.sequence().iter().any(|m| {
        let whole = m.i == 0 && m.j + 1 == password.chars().count();
        match &m.pattern {
            zxcvbn::matching::patterns::MatchPattern::Dictionary(d) => {
                whole
                    // zxcvbn does not export its dictionary type; its name is pinned by the tests.
                    && format!("{:?}", d.dictionary_name) == "Passwords"
                    && d.rank <= COMMON_PASSWORD_RANK
                    && !d.reversed
                    && !d.l33t
            }
            _ => false,
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid Argon2 parameters")]
    Params(#[source] argon2::Error),
    #[error("hashing failed")]
    Hash(#[source] argon2::password_hash::Error),
    #[error("the hashing task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// The outcome of a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Right password; `needs_rehash` when the stored hash used other parameters.
    Match {
        needs_rehash: bool,
    },
    Mismatch,
}

/// Hashes and verifies with the configured Argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Verified against when the account does not exist, so both paths cost one hash.
    dummy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordHasher({})", self.params)
    }
}

impl PasswordHasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, HashError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(HashError::Params)?;
        Ok(Self {
            params,
            dummy: Arc::new(OnceLock::new()),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), computed on the blocking pool.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let this = self.clone();
        let normalized = SecretString::from(password.normalized());
        tokio::task::spawn_blocking(move || this.hash_now(normalized.expose_secret()))
            .await
            .map_err(HashError::Task)?
    }

    fn hash_now(&self, password: &str) -> Result<String, HashError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(HashError::Hash)
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account,
    /// so an unknown email costs the same as a wrong password.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verification, HashError> {
        let this = self.clone();
        let normalized = SecretString::from(password.normalized());
        let stored = stored.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            // The dummy hash is made on the first verification of either kind, so the first
            // request on a fresh instance costs the same whether or not the account exists.
            let dummy = this.dummy_hash()?;
            let (hash, real) = match stored {
                Some(hash) => (hash, true),
                None => (dummy, false),
            };
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Ok(Verification::Mismatch);
            };
            let matches = this
                .argon2()
                .verify_password(normalized.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(if matches && real {
                Verification::Match {
                    needs_rehash: this.needs_rehash(&parsed),
                }
            } else {
                Verification::Mismatch
            })
        })
        .await
        .map_err(HashError::Task)?
    }

    fn dummy_hash(&self) -> Result<String, HashError> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash_now("dummy password for accounts that do not exist")?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }

    fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        stored.algorithm != argon2::ARGON2ID_IDENT
            || Params::try_from(stored).map_or(true, |p| {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(&PasswordSettings::cheap_for_tests()).unwrap()
    }

    #[test]
    fn the_policy_follows_nist() {
        let email = Email::parse("Jane.Doe@Example.com").unwrap();
        let check = |p: &str| check_policy(&Password::new(p), Some(&email), 8);
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("Tr0ub4dor&3x").is_ok());
        assert!(check("short").unwrap_err().contains("at least 8"));
        assert!(check(&"x".repeat(129)).unwrap_err().contains("at most 128"));
        assert!(
            check(&"xy".repeat(64)).is_ok(),
            "128 characters are allowed"
        );
        for common in [
            "password",
            "Password",
            "12345678",
            "iloveyou",
            "qwertyuiop",
            "football",
            // The longest of the 10,000 (18 characters), under COMMON_PASSWORD_MAX_CHARS.
            "123456789987654321",
        ] {
            assert!(check(common).unwrap_err().contains("common"), "{common}");
        }
        assert!(check("my-jane.doe-secret").unwrap_err().contains("email"));
        // No composition rules: a long lowercase phrase is fine.
        assert!(check("walking in the rain tonight").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check_policy(&Password::new("ééééééé"), None, 8).is_err());
        assert!(check_policy(&Password::new("éééééééé"), None, 8).is_ok());
    }

    #[test]
    fn passwords_never_print() {
        let password = Password::new("hunter2-secret");
        assert!(!format!("{password:?}").contains("hunter2"));
        let parsed: Password = serde_json::from_str("\"hunter2-secret\"").unwrap();
        assert_eq!(parsed.expose(), "hunter2-secret");
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = cheap();
        let hash = hasher.hash(&Password::new("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"));
        assert_eq!(
            hasher
                .verify(&Password::new("correct horse"), Some(&hash))
                .await
                .unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify(&Password::new("wrong horse"), Some(&hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher.verify(&Password::new("x"), None).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher
                .verify(&Password::new("x"), Some("not a hash"))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn equivalent_unicode_forms_match() {
        let hasher = cheap();
        let composed = Password::new("caf\u{e9} au lait");
        let decomposed = Password::new("cafe\u{301} au lait");
        let hash = hasher.hash(&composed).await.unwrap();
        assert!(matches!(
            hasher.verify(&decomposed, Some(&hash)).await.unwrap(),
            Verification::Match { .. }
        ));
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_need_rehashing() {
        let old = PasswordHasher::new(&PasswordSettings {
            memory_kib: 16,
            ..PasswordSettings::cheap_for_tests()
        })
        .unwrap();
        let hash = old.hash(&Password::new("correct horse")).await.unwrap();
        assert_eq!(
            cheap()
                .verify(&Password::new("correct horse"), Some(&hash))
                .await
                .unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }
}
