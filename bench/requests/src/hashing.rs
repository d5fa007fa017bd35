//! Argon2id at the cost a deployed function uses: the defaults of `shared::config` (what a
//! function gets with no `PASSWORD_HASH_*` variable set), or the cost those variables set in
//! the benchmark's environment (to measure the cost you deploy); never the cheap cost of the
//! tests.
//! Hashed and verified through `PasswordHasher`, on the blocking pool, exactly as login does.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use shared::auth::{Password, PasswordHasher, Verification};
use shared::config::{EnvMap, PasswordSettings, Settings};

/// The password cost of a function configured with the environment's `PASSWORD_HASH_*`
/// variables (its defaults where none is set), checked as a function checks them at start.
pub fn production_cost() -> Result<PasswordSettings> {
    let cost_variables =
        EnvMap::from_pairs(std::env::vars().filter(|(name, _)| name.starts_with("PASSWORD_HASH_")));
    Ok(Settings::from_env(&cost_variables, "bench")?.passwords)
}

/// Durations of hashing and of verifying one password.
pub struct HashTimes {
    pub cost: PasswordSettings,
    pub hash: Vec<Duration>,
    pub verify: Vec<Duration>,
}

/// Hashes and verifies `n` times each at the verifier's cost, after one warm-up verification
/// (making the verifier hashed once already).
pub async fn measure(verifier: &Verifier, n: usize) -> Result<HashTimes> {
    verifier.time_verify().await?;
    let mut times = HashTimes {
        cost: verifier.cost,
        hash: Vec::with_capacity(n),
        verify: Vec::with_capacity(n),
    };
    for _ in 0..n {
        times.hash.push(verifier.time_hash().await?);
        times.verify.push(verifier.time_verify().await?);
    }
    Ok(times)
}

/// A password hashed once at a cost, checked and hashed again on demand through
/// `PasswordHasher`, on the blocking pool, as login does. Its verifications also bracket every
/// timed login, so that login ÷ verify is a ratio of neighbours (each login over the mean of the
/// verifications just before and after it): the host's speed drifts over a run (twice as slow
/// for minutes on a shared machine), which a ratio of two medians taken minutes apart reads as
/// login's own cost.
pub struct Verifier {
    cost: PasswordSettings,
    hasher: PasswordHasher,
    password: Password,
    stored: String,
}

impl Verifier {
    pub async fn new(cost: PasswordSettings) -> Result<Self> {
        let hasher = PasswordHasher::new(&cost)?;
        let password = Password::new(api_tests::client::PASSWORD);
        let stored = hasher.hash(&password).await?;
        Ok(Self {
            cost,
            hasher,
            password,
            stored,
        })
    }

    /// How long one verification took.
    pub async fn time_verify(&self) -> Result<Duration> {
        let started = Instant::now();
        let verified = self
            .hasher
            .verify(&self.password, Some(&self.stored))
            .await?;
        let took = started.elapsed();
        ensure!(
            matches!(verified, Verification::Match { .. }),
            "the password did not verify"
        );
        Ok(took)
    }

    /// How long one hash took.
    pub async fn time_hash(&self) -> Result<Duration> {
        let started = Instant::now();
        self.hasher.hash(&self.password).await?;
        Ok(started.elapsed())
    }
}
