//! A short load on loopback, on both backends: parallel sign-ins, refreshes and tracker writes
//! over real HTTP connections for a bounded time and count, at the deployed sign-in and refresh
//! limits. Nothing may answer other than success or the expected 429, and every acknowledged
//! tracker write must be readable afterwards, once. Throughput figures come from `make bench`;
//! this test is about correctness under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::Gateway;
use api_tests::client::{PASSWORD, with_bearer};
use api_tests::target::{Logs, Target};
use api_tests::tracker::{context_at, symptom, url};
use serde_json::{Value, json};
use shared::testkit::{TestStore, json_request, request};
use tokio::sync::Mutex;

shared::on_both_backends!(a_loopback_load_loses_nothing_and_fails_nothing);

/// How long and how much: every connection sends at least `MIN_PER_CONNECTION` requests (so a
/// slow machine still exceeds the sign-in limit), then goes on until `DURATION`; never more than
/// `MAX_REQUESTS` in all.
const DURATION: Duration = Duration::from_secs(3);
const MIN_PER_CONNECTION: usize = 10;
const MAX_REQUESTS: usize = 4000;
const CONNECTIONS: usize = 16;
const DAY: &str = "2099-03-10";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Login,
    Refresh,
    TrackerWrite,
    DayView,
}

/// What each connection's loop does, by its index.
fn operation_of(connection: usize) -> Operation {
    match connection % 4 {
        0 => Operation::Login,
        1 => Operation::Refresh,
        2 => Operation::TrackerWrite,
        _ => Operation::DayView,
    }
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<(Operation, u16), usize>,
    latencies: Vec<Duration>,
    /// Entry ids the API acknowledged with 201, by access token.
    written: BTreeMap<String, BTreeSet<String>>,
}

async fn a_loopback_load_loses_nothing_and_fails_nothing(t: TestStore) {
    // The deployed sign-in, refresh and lockout limits; only sign-ups are generous (setup).
    let (ctx, _) = context_at(
        &t,
        "2099-03-10T12:00:00Z",
        &[
            ("RL_LOGIN_IP_LIMIT", "20"),
            ("RL_LOGIN_EMAIL_LIMIT", "10"),
            ("RL_REFRESH_USER_LIMIT", "60"),
            ("LOGIN_FAIL_IP_THRESHOLD", "30"),
        ],
    );
    let base_url = api_tests::server::spawn(Gateway::new(&ctx)).await;
    let target = Arc::new(Target::http(
        &base_url,
        Some(ctx.clock.clone()),
        Logs::Captured,
    ));

    // One account per connection: a sign-in ends the account's other sessions, so the refresh
    // and tracker loops must not share accounts with the sign-in loops.
    let mut sessions = Vec::new();
    for connection in 0..CONNECTIONS {
        let email = format!("load-{connection}@example.com");
        let body = json!({"name": "Load", "email": email, "password": PASSWORD});
        let signed_up = target
            .send(json_request("POST", "/v1/auth/signup", &body))
            .await;
        assert_eq!(signed_up.status, 201, "{}", signed_up.text());
        let body = signed_up.json();
        sessions.push((
            email,
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let loops: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(connection, (email, access, mut refresh))| {
            let (target, tally, sent) = (target.clone(), tally.clone(), sent.clone());
            tokio::spawn(async move {
                let operation = operation_of(connection);
                let mut n = 0;
                while (n < MIN_PER_CONNECTION || started.elapsed() < DURATION)
                    && sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < MAX_REQUESTS
                {
                    n += 1;
                    let req = match operation {
                        Operation::Login => json_request(
                            "POST",
                            "/v1/auth/login",
                            &json!({"email": email, "password": PASSWORD}),
                        ),
                        Operation::Refresh => json_request(
                            "POST",
                            "/v1/auth/refresh",
                            &json!({"refresh_token": refresh}),
                        ),
                        Operation::TrackerWrite => {
                            let at = format!("{DAY}T{:02}:{:02}:00+00:00", n / 60 % 12, n % 60);
                            with_bearer(
                                json_request(
                                    "POST",
                                    &url("symptoms"),
                                    &symptom("Headache", 3, &at),
                                ),
                                &access,
                            )
                        }
                        Operation::DayView => {
                            with_bearer(request("GET", &url(&format!("days/{DAY}"))), &access)
                        }
                    };
                    let begun = Instant::now();
                    let response = target.send(req).await;
                    let latency = begun.elapsed();
                    let status = response.status.as_u16();
                    let expected = match (operation, status) {
                        (Operation::Login | Operation::Refresh, 429) => {
                            response.assert_error(429, "RATE_LIMITED");
                            true
                        }
                        (Operation::Login | Operation::Refresh | Operation::DayView, 200) => true,
                        (Operation::TrackerWrite, 201) => true,
                        _ => false,
                    };
                    assert!(
                        expected,
                        "{operation:?} answered {status}: {}",
                        response.text()
                    );
                    let mut tally = tally.lock().await;
                    *tally.statuses.entry((operation, status)).or_default() += 1;
                    tally.latencies.push(latency);
                    match (operation, status) {
                        (Operation::Refresh, 200) => {
                            refresh = response.json()["refresh_token"]
                                .as_str()
                                .unwrap()
                                .to_owned();
                        }
                        (Operation::TrackerWrite, 201) => {
                            let id = response.json()["id"].as_str().unwrap().to_owned();
                            assert!(
                                tally.written.entry(access.clone()).or_default().insert(id),
                                "an id given twice"
                            );
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for task in loops {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let tally = Arc::try_unwrap(tally).ok().unwrap().into_inner();

    // Every acknowledged write is there, once; nothing else is.
    let mut read_back = 0;
    for (access, written) in &tally.written {
        let mut stored = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_url = url(&format!(
                "symptoms?from={DAY}&to={DAY}&limit=100{}",
                cursor
                    .as_ref()
                    .map(|c| format!("&cursor={c}"))
                    .unwrap_or_default()
            ));
            let page = target
                .send(with_bearer(request("GET", &page_url), access))
                .await;
            assert_eq!(page.status, 200, "{}", page.text());
            let page: Value = page.json();
            stored.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let unique: BTreeSet<String> = stored.iter().cloned().collect();
        assert_eq!(unique.len(), stored.len(), "an entry listed twice");
        assert_eq!(
            &unique, written,
            "acknowledged writes and stored entries differ"
        );
        read_back += written.len();
    }

    let count = |operation| -> usize {
        tally
            .statuses
            .iter()
            .filter(|((op, _), _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    };
    for operation in [
        Operation::Login,
        Operation::Refresh,
        Operation::TrackerWrite,
        Operation::DayView,
    ] {
        assert!(
            count(operation) >= 4 * MIN_PER_CONNECTION,
            "{operation:?} ran only {} times",
            count(operation)
        );
    }
    // More sign-ins than the per-address limit allows, so some must have been refused.
    assert!(
        tally
            .statuses
            .get(&(Operation::Login, 429))
            .copied()
            .unwrap_or(0)
            > 0,
        "{:?}",
        tally.statuses
    );
    let mut latencies = tally.latencies.clone();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let total = latencies.len();
    println!(
        "load ({}): {total} requests over {CONNECTIONS} connections in {:.1} s, statuses {:?}, p50 {:.1} ms, p99 {:.1} ms; {read_back} acknowledged writes all read back once",
        t.backend.name(),
        elapsed.as_secs_f64(),
        tally.statuses,
        percentile(0.5).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
    );
    api_tests::figures::record(
        "load-test requests (only success or the expected 429)",
        total as u64,
    );
    api_tests::figures::record("acknowledged tracker writes read back", read_back as u64);
}
