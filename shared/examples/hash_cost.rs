//! One Argon2id verification at the configured cost (OWASP defaults unless `PASSWORD_HASH_*`
//! say otherwise), timed on one core: the figure the Lambda memory sizes of `auth` and `mfa` are
//! chosen from (Lambda gives a function CPU in proportion to its memory, one full vCPU at
//! 1769 MB). Run with `cargo run --release -p shared --example hash_cost`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use shared::auth::{Password, PasswordHasher};
use shared::config::{EnvMap, Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let settings = Settings::from_env(&EnvMap::from_process(), "hash_cost").expect("settings");
    let hasher = PasswordHasher::new(&settings.passwords).expect("parameters");
    let password = Password::new("correct horse battery staple");
    let hash = hasher.hash(&password).await.expect("hash");
    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        hasher.verify(&password, Some(&hash)).await.expect("verify");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "argon2id verify, m={} KiB t={} p={}: median {median:.1} ms on one core",
        settings.passwords.memory_kib,
        settings.passwords.iterations,
        settings.passwords.parallelism
    );
    println!("estimated on Lambda (CPU share = memory / 1769 MB, capped at one vCPU):");
    for memory in [128, 256, 512, 1024, 1769] {
        let share = (f64::from(memory) / 1769.0).min(1.0);
        println!("  {memory:>5} MB: {:>6.0} ms", median / share);
    }
}
