//! The embedded store shared by several processes, as every function is under
//! `cargo lambda watch`: this test binary starts copies of itself as worker processes that race
//! on one SQLite file, then checks that no write was lost and one-time items were taken once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use shared::clock::Clock;
use shared::store::embedded::EmbeddedBackend;
use shared::store::{Condition, Item, Key, Store, Update};

const WORKER_ENV: &str = "EMBEDDED_WORKER_DB";
const WORKERS: usize = 4;
const UPDATES_PER_WORKER: i64 = 40;
const TOKENS: usize = 30;

fn open(path: &Path) -> Store {
    let clock = Clock::system();
    let backend = EmbeddedBackend::open(path, clock.epoch_seconds()).unwrap();
    Store::new(std::sync::Arc::new(backend), clock)
}

/// In a worker process: add to the shared counter and try to consume every token.
async fn work(path: &Path) {
    let store = open(path);
    let mut won = 0;
    for i in 0..UPDATES_PER_WORKER {
        store
            .update(&Key::new("C", "counter"), vec![Update::add("n", 1)], None)
            .await
            .unwrap();
        // Every worker tries to take every token; each must go to exactly one of them.
        let token = i as usize;
        if token < TOKENS {
            match store
                .delete(
                    &Key::new("T", format!("{token:02}")),
                    Some(Condition::Exists),
                )
                .await
            {
                Ok(Some(_)) => won += 1,
                Ok(None) => panic!("a conditional delete returned nothing"),
                Err(err) => assert!(err.is_condition_failed(), "{err:?}"),
            }
        }
    }
    println!("WON {won}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_is_safe_for_several_processes() {
    if let Ok(path) = std::env::var(WORKER_ENV) {
        work(Path::new(&path)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let store = open(&path);
    for token in 0..TOKENS {
        store
            .put(Item::new(&Key::new("T", format!("{token:02}"))), None)
            .await
            .unwrap();
    }
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "one_file_is_safe_for_several_processes",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, &path)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tokens_won = 0;
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "worker failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokens_won += stdout
            .lines()
            .find_map(|l| l.split("WON ").nth(1))
            .map(|n| n.trim().parse::<usize>().unwrap())
            .expect("worker reported its wins");
    }
    let counter = store.get(&Key::new("C", "counter")).await.unwrap().unwrap();
    assert_eq!(
        counter.get_i64("n"),
        Some(WORKERS as i64 * UPDATES_PER_WORKER),
        "no update lost"
    );
    assert_eq!(
        tokens_won, TOKENS,
        "each token consumed by exactly one process"
    );
    let left = store.query(shared::store::Query::table("T")).await.unwrap();
    assert!(left.items.is_empty());
}
