//! Passwords: the policy they must meet, and Argon2id hashing off the async runtime.
//!
//! Policy per NIST SP 800-63B / OWASP ASVS: a minimum length (8 by default), at least 128
//! characters allowed, no composition rules, refused when it is one of the 10,000 most common
//! passwords or contains the account's email local part. Passwords are NFKC-normalised before
//! hashing so the same characters typed on different keyboards hash alike.

use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroize;

use super::email::Email;
use crate::config::PasswordSettings;

/// Longest password accepted, in characters: well above NIST's 64, bounded so hashing stays cheap.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The 10,000 most common passwords, lowercased, sorted, one per line: the top of the ranked list
/// the zxcvbn crate ships, as zxcvbn ranks it (written by `scripts/common-passwords.py`). Looked
/// up directly: running zxcvbn's whole estimator to learn only this cost about 1 ms per check and
/// linked all of its dictionaries.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

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

/// Whether the whole password is one of the 10,000 most common (case-insensitive).
pub fn is_common(password: &str) -> bool {
    static SORTED: LazyLock<Vec<&str>> = LazyLock::new(|| COMMON_PASSWORDS.lines().collect());
    SORTED
        .binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid Argon2 parameters")]
    Params(#[source] argon2::Error),
    #[error("no randomness for a salt")]
    Salt(#[source] rand::rand_core::OsError),
    #[error("hashing failed")]
    Hash(#[source] argon2::Error),
    #[error("encoding the hash failed")]
    Encode(#[source] argon2::password_hash::Error),
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
    workspaces: Arc<Workspaces>,
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
            workspaces: Arc::new(Workspaces::new(params.block_count())),
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
        let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
        OsRng.try_fill_bytes(&mut salt).map_err(HashError::Salt)?;
        let length = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut output = vec![0u8; length];
        let argon2 = self.argon2();
        self.workspaces
            .run(&argon2, password.as_bytes(), &salt, &mut output)
            .map_err(HashError::Hash)?;
        let phc = || -> Result<String, argon2::password_hash::Error> {
            Ok(PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&self.params)?,
                salt: Some(Salt::new(&salt)?),
                hash: Some(Output::new(&output)?),
            }
            .to_string())
        };
        let phc = phc().map_err(HashError::Encode);
        output.zeroize();
        phc
    }

    /// Whether `password` hashes to `stored`, with the algorithm, version and cost `stored`
    /// names; the outputs are compared in constant time. A hash that cannot be parsed or run
    /// does not match.
    fn matches(&self, password: &str, stored: &PasswordHash) -> bool {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(stored.algorithm.as_str()),
            Params::try_from(stored),
        ) else {
            return false;
        };
        let Ok(version) = stored
            .version
            .map_or(Ok(Version::default()), Version::try_from)
        else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let mut output = vec![0u8; expected.len()];
        let ran = self
            .workspaces
            .run(&argon2, password.as_bytes(), salt, &mut output);
        // `Output`'s equality is constant-time.
        let matches =
            ran.is_ok() && Output::new(&output).is_ok_and(|computed| computed == *expected);
        output.zeroize();
        matches
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
            let matches = this.matches(normalized.expose_secret(), &parsed);
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
            || stored.version != Some(Version::V0x13.into())
            || Params::try_from(stored).map_or(true, |p| {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            })
    }
}

/// Argon2's working memory (a 1 KiB block per KiB of the cost: 19 MiB by default), kept between
/// hashes rather than allocated for each. Allocations that large come fresh from the kernel and
/// are faulted in page by page, which made every hash and verify about 1.6× slower; under glibc
/// they also fragmented the heap, and auth grew past 600 MB (docs/PERFORMANCE.md). Wiped after
/// every use, so nothing derived from a password outlives its hash. At most one per core is
/// kept: hashing is CPU-bound, so more at once only queue, and a burst does not leave its memory
/// behind.
struct Workspaces {
    /// Blocks of the configured cost; a stored hash of a higher cost gets a one-off allocation.
    blocks: usize,
    /// How many are kept: the number of cores, read at the first hash rather than at start
    /// (reading the cgroup's CPU quota is a few file reads of every cold start).
    keep: OnceLock<usize>,
    /// Workspaces not in use, every block zero.
    idle: Mutex<Vec<Vec<Block>>>,
}

impl Workspaces {
    fn new(blocks: usize) -> Self {
        Self {
            blocks,
            keep: OnceLock::new(),
            idle: Mutex::new(Vec::new()),
        }
    }

    #[cfg(test)]
    fn keeping(blocks: usize, keep: usize) -> Self {
        Self {
            keep: OnceLock::from(keep),
            ..Self::new(blocks)
        }
    }

    fn keep(&self) -> usize {
        *self
            .keep
            .get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Runs `argon2` into `output` in a kept workspace when its cost fits one, and otherwise
    /// (a stored hash of a higher cost than the configured one) in memory of its own, wiped and
    /// freed afterwards.
    fn run(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        output: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = argon2.params().block_count();
        let (blocks, home) = if needed > self.blocks {
            (Vec::new(), None)
        } else {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            (idle.unwrap_or_default(), Some(self))
        };
        let mut workspace = InUse {
            blocks,
            used: 0,
            home,
        };
        if workspace.blocks.len() < needed {
            workspace.blocks.resize(needed, Block::new());
        }
        workspace.used = needed;
        argon2.hash_password_into_with_memory(
            password,
            salt,
            output,
            &mut workspace.blocks[..needed],
        )
    }

    #[cfg(test)]
    fn idle(&self) -> Vec<Vec<Block>> {
        self.idle.lock().unwrap().clone()
    }
}

/// A workspace in use: wiped when dropped, whether the hash finished or panicked, then given
/// back to its [`Workspaces`] (or freed: a one-off, or one beyond `keep`).
struct InUse<'a> {
    blocks: Vec<Block>,
    /// Blocks the hash may have written; the rest are still zero.
    used: usize,
    home: Option<&'a Workspaces>,
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.blocks[..self.used]
            .iter_mut()
            .for_each(Zeroize::zeroize);
        let Some(home) = self.home else { return };
        let mut idle = home.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < home.keep() {
            idle.push(std::mem::take(&mut self.blocks));
        }
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
            // The longest of the 10,000 (18 characters).
            "123456789987654321",
            // Ranked 9,999th.
            "Lizaveta",
        ] {
            assert!(check(common).unwrap_err().contains("common"), "{common}");
        }
        assert!(check("my-jane.doe-secret").unwrap_err().contains("email"));
        // No composition rules: a long lowercase phrase is fine.
        assert!(check("walking in the rain tonight").is_ok());
    }

    #[test]
    fn the_common_list_is_the_top_10000_lowercased_and_sorted() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert!(
            lines.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, no duplicates"
        );
        assert!(
            lines
                .iter()
                .all(|line| *line == line.to_lowercase() && !line.is_empty())
        );
        // Ranked 10,000th, in any case; 10,001st, just outside.
        assert!(is_common("QQQQQQ1"));
        assert!(!is_common("cathy1"));
        // Only the whole password counts, not a part of it.
        assert!(!is_common("password-of-mine"));
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

    /// Hashes made by the argon2 crate's own API, the way every stored hash was made before
    /// the workspace: other algorithms, versions, costs and output lengths.
    fn crate_hash(
        algorithm: Algorithm,
        version: Version,
        params: Params,
        password: &str,
    ) -> String {
        use argon2::PasswordHasher as _;
        Argon2::new(algorithm, version, params)
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_hashing() {
        use argon2::PasswordVerifier as _;
        let hasher = cheap();
        let ours = hasher.hash(&Password::new("correct horse")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        let standard = Argon2::default();
        assert!(standard.verify_password(b"correct horse", &parsed).is_ok());
        assert!(standard.verify_password(b"wrong horse", &parsed).is_err());
        let salt = parsed.salt.unwrap();
        assert_eq!(salt.len(), argon2::RECOMMENDED_SALT_LEN);
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
        // Byte for byte the string the crate makes from the same salt.
        let params = Params::new(8, 1, 1, None).unwrap();
        let same_salt = argon2::PasswordHasher::hash_password_with_salt(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            b"correct horse",
            &salt,
        )
        .unwrap();
        assert_eq!(ours, same_salt.to_string());
        assert_ne!(
            ours,
            hasher.hash(&Password::new("correct horse")).await.unwrap()
        );

        let cheap_params = || Params::new(8, 1, 1, None).unwrap();
        let current = crate_hash(
            Algorithm::Argon2id,
            Version::V0x13,
            cheap_params(),
            "correct horse",
        );
        let others = [
            crate_hash(
                Algorithm::Argon2i,
                Version::V0x13,
                cheap_params(),
                "correct horse",
            ),
            crate_hash(
                Algorithm::Argon2d,
                Version::V0x13,
                cheap_params(),
                "correct horse",
            ),
            crate_hash(
                Algorithm::Argon2id,
                Version::V0x10,
                cheap_params(),
                "correct horse",
            ),
            crate_hash(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(16, 2, 2, Some(64)).unwrap(),
                "correct horse",
            ),
        ];
        let verify = |hash: &str, password: &str| {
            let (hasher, hash, password) =
                (hasher.clone(), hash.to_owned(), Password::new(password));
            async move { hasher.verify(&password, Some(&hash)).await.unwrap() }
        };
        assert_eq!(
            verify(&current, "correct horse").await,
            Verification::Match {
                needs_rehash: false
            }
        );
        // Without a version field: read as 1.3, as the argon2 crate reads it, and re-hashed.
        let unversioned = current.replace("$v=19$", "$");
        assert_eq!(
            verify(&unversioned, "correct horse").await,
            Verification::Match { needs_rehash: true }
        );
        for other in &others {
            assert_eq!(
                verify(other, "correct horse").await,
                Verification::Match { needs_rehash: true },
                "{other}"
            );
            assert_eq!(
                verify(other, "wrong horse").await,
                Verification::Mismatch,
                "{other}"
            );
        }
    }

    #[tokio::test]
    async fn damaged_or_foreign_hashes_never_match() {
        let hasher = cheap();
        let good = hasher.hash(&Password::new("correct horse")).await.unwrap();
        let (head, output) = good.rsplit_once('$').unwrap();
        let flipped = format!("{head}${}", flip_first_char(output));
        let (no_output, _) = good.rsplit_once('$').unwrap();
        let bad = [
            flipped,
            no_output.to_owned(),
            good.replace("$argon2id$", "$argon2x$"),
            good.replace("$v=19$", "$v=18$"),
            good.replace("m=8,", "m=1,"),
            // A valid cost, but not the one the output was made with.
            good.replace("t=1,", "t=2,"),
            format!("$pbkdf2-sha256$i=1000${}", output),
        ];
        for hash in &bad {
            assert_eq!(
                hasher
                    .verify(&Password::new("correct horse"), Some(hash))
                    .await
                    .unwrap(),
                Verification::Mismatch,
                "{hash}"
            );
        }
    }

    fn flip_first_char(text: &str) -> String {
        let first = if text.starts_with('A') { 'B' } else { 'A' };
        format!("{first}{}", &text[1..])
    }

    fn all_zero(workspace: &[Block]) -> bool {
        let zero = format!("{:?}", Block::new());
        workspace.iter().all(|block| format!("{block:?}") == zero)
    }

    #[test]
    fn workspaces_are_reused_wiped_bounded_and_never_grown_past_the_configured_cost() {
        let (salt, password) = (b"sixteen byte salt", b"correct horse");
        let argon2 = |m_kib| {
            let params = Params::new(m_kib, 1, 1, None).unwrap();
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        };
        let (small, large) = (argon2(8), argon2(32));
        let fresh = |argon2: &Argon2<'_>| {
            let mut output = [0u8; 32];
            argon2
                .hash_password_into(password, salt, &mut output)
                .unwrap();
            output
        };
        let mut output = [0u8; 32];
        let workspaces = Workspaces::keeping(8, 2);

        workspaces.run(&small, password, salt, &mut output).unwrap();
        assert_eq!(
            output,
            fresh(&small),
            "the same result as a fresh allocation"
        );
        let idle = workspaces.idle();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].len(), 8);
        assert!(all_zero(&idle[0]), "wiped after use");

        // A stored hash of a higher cost than the configured one: a one-off allocation.
        workspaces.run(&large, password, salt, &mut output).unwrap();
        assert_eq!(output, fresh(&large));
        assert_eq!(
            workspaces.idle().iter().map(Vec::len).collect::<Vec<_>>(),
            [8]
        );

        // Reused for a smaller cost, with the same result as a fresh allocation.
        let workspaces = Workspaces::keeping(32, 2);
        workspaces.run(&large, password, salt, &mut output).unwrap();
        workspaces.run(&small, password, salt, &mut output).unwrap();
        assert_eq!(output, fresh(&small));
        let idle = workspaces.idle();
        assert_eq!(idle.iter().map(Vec::len).collect::<Vec<_>>(), [32]);
        assert!(all_zero(&idle[0]));
    }

    #[test]
    fn no_more_workspaces_are_kept_than_allowed() {
        let workspaces = Workspaces::keeping(8, 2);
        let in_use: Vec<InUse<'_>> = (0..3)
            .map(|_| InUse {
                blocks: vec![Block::new(); 8],
                used: 8,
                home: Some(&workspaces),
            })
            .collect();
        drop(in_use);
        assert_eq!(workspaces.idle().len(), 2, "the third is freed");

        // And through real concurrent hashes.
        let params = Params::new(64, 4, 1, None).unwrap();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let workspaces = Workspaces::keeping(64, 2);
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let mut output = [0u8; 32];
                    start.wait();
                    workspaces
                        .run(&argon2, b"correct horse", b"sixteen byte salt", &mut output)
                        .unwrap();
                });
            }
        });
        let idle = workspaces.idle();
        assert!((1..=2).contains(&idle.len()), "{} kept", idle.len());
        assert!(idle.iter().all(|workspace| all_zero(workspace)));
    }
}
