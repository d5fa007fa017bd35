//! What a request costs us, printed as tables (a program, not a timed test):
//!
//! 1. every endpoint of the OpenAPI document, in process through the whole API (every function's
//!    router), on the embedded store and on DynamoDB Local: median and p99 of wall time, the time
//!    spent in the store, the store client's CPU time, and our own CPU time per request;
//! 2. the store round trips of one request of each (total and sequential, from the access log),
//!    and the sequential ones against their targets; then the endpoints that hash a password
//!    again, on a store whose passwords are hashed at a token cost, to tell our own CPU in them
//!    from what sleeping through a real hash costs the request thread;
//! 3. Argon2id at the production cost, and login against it.
//!
//! Throughput over HTTP on loopback is `scripts/bench-load.sh`.
//!
//! Own CPU: everything runs on a current-thread runtime, so one thread runs every request, while
//! SQLite and Argon2 run on the blocking pool. Own CPU = that thread's CPU time during the request
//! minus its CPU time while a store call was in flight (see [`meter`]).
//!
//! Run it optimised, as `make bench` does: `cargo run --profile bench-fast -p bench-requests`.
//! Settings (environment): `PASSWORD_HASH_*` (the Argon2id cost, as a function reads them;
//! its defaults otherwise), `BENCH_ITERATIONS` (timed iterations of a light endpoint, default 300;
//! endpoints that prepare state get a third, those that hash a password `BENCH_HASH_ITERATIONS`,
//! default 30), `BENCH_CASE_SECONDS` (a case stops early once its warm-up and timed iterations
//! took this long, with at least 10 timed; default 2, which bounds the whole run to about 6
//! minutes on 2 busy cores), `BENCH_BACKENDS` (`embedded,dynamodb`), `BENCH_ONLY` (only endpoints
//! whose `METHOD /path` contains this).

mod cases;
mod fixture;
mod hashing;
mod meter;
mod report;
mod summary;

use anyhow::{Context as _, Result, bail, ensure};
use shared::testkit::{BackendKind, TestStore, request};

use crate::cases::{CASES, Case, Weight};
use crate::fixture::{Fixture, expect_status};
use crate::meter::percentile;
use crate::report::Measured;

/// Timed iterations a case gets however long they take.
const MIN_SAMPLES: usize = 10;

/// How much to run.
#[derive(Clone)]
struct Options {
    light: usize,
    hashing: usize,
    /// How long a case may take (warm-up, preparation and timed iterations).
    case_budget: std::time::Duration,
    backends: Vec<BackendKind>,
    only: Option<String>,
}

impl Options {
    fn from_env() -> Result<Self> {
        let number = |name: &str, default: usize| -> Result<usize> {
            std::env::var(name)
                .ok()
                .map(|v| v.parse().with_context(|| format!("{name}: not a number")))
                .transpose()
                .map(|v| v.unwrap_or(default).max(1))
        };
        let backends = std::env::var("BENCH_BACKENDS")
            .unwrap_or_else(|_| "embedded,dynamodb".to_owned())
            .split(',')
            .map(|name| match name.trim() {
                "embedded" => Ok(BackendKind::Embedded),
                "dynamodb" => Ok(BackendKind::DynamoDb),
                other => bail!("BENCH_BACKENDS: unknown backend {other:?}"),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            light: number("BENCH_ITERATIONS", 300)?,
            hashing: number("BENCH_HASH_ITERATIONS", 30)?,
            case_budget: std::time::Duration::from_secs_f64(
                std::env::var("BENCH_CASE_SECONDS")
                    .ok()
                    .map(|v| v.parse::<f64>().context("BENCH_CASE_SECONDS: not a number"))
                    .transpose()?
                    .unwrap_or(2.0)
                    .max(0.0),
            ),
            backends,
            only: std::env::var("BENCH_ONLY").ok().filter(|s| !s.is_empty()),
        })
    }

    /// Warm-up and timed iterations of a case.
    fn iterations(&self, weight: Weight) -> (usize, usize) {
        let timed = match weight {
            Weight::Light => self.light,
            Weight::Stateful => (self.light / 3).max(1),
            Weight::Argon2 => self.hashing,
        };
        ((timed / 10).max(3), timed)
    }

    fn selects(&self, case: &Case) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| case.endpoint().contains(only.as_str()))
    }
}

fn backend_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Embedded => "embedded",
        BackendKind::DynamoDb => "dynamodb",
    }
}

fn main() -> Result<()> {
    // One thread runs every request (see the module documentation).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<()> {
    let started = std::time::Instant::now();
    let options = Options::from_env()?;
    if cfg!(debug_assertions) {
        eprintln!(
            "WARNING: unoptimised build; the figures mean nothing. \
             Run `cargo run --profile bench-fast -p bench-requests`."
        );
    }
    // The access log lines that round trips are read from (`sequential_calls`).
    shared::testkit::captured_logs();
    let production = hashing::production_cost()?;
    let verifier = hashing::Verifier::new(production).await?;
    let mut measured = Vec::new();
    for kind in &options.backends {
        let backend = backend_name(*kind);
        eprintln!("{backend}: preparing accounts and a month of tracker data");
        let store = TestStore::new(*kind).await;
        let mut fixture = Fixture::new(&store, production).await?;
        // While timing, log lines are built as in production (INFO, JSON) and dropped.
        let quiet = fixture.meter.quiet_logs();
        if options.only.is_none() {
            check_coverage(&fixture).await?;
        }
        for (index, case) in CASES.iter().enumerate() {
            if !options.selects(case) {
                continue;
            }
            eprintln!("{backend}: {} {}", case.endpoint(), case.note);
            let paired = (case.op == cases::Op::Login).then_some(&verifier);
            let figures = measure(
                &mut fixture,
                (index, case),
                backend,
                &options,
                &quiet,
                paired,
            )
            .await
            .with_context(|| format!("{backend}: {} {}", case.endpoint(), case.note))?;
            measured.push(figures);
        }
    }
    report::requests(&measured);
    report::round_trip_targets(&measured);
    let at_token_cost = hashing_cases_at_token_cost(&options).await?;
    report::hash_wait(&measured, &at_token_cost);
    eprintln!("hashing at the production cost");
    let times = hashing::measure(&verifier, options.hashing).await?;
    let logins: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.case.op == cases::Op::Login)
        .collect();
    report::hashing(&times, &logins);
    println!(
        "\nwhole run: {:.0} s on {} CPUs",
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    Ok(())
}

/// The cases that hash or verify a password, again on the embedded store, with every password
/// hashed at the tests' token cost (microseconds, not tens of milliseconds): what is left of
/// their own CPU is ours, without what waiting for a real hash costs the request thread (see
/// [`report::hash_wait`]). Nothing when the embedded store is not among the backends.
async fn hashing_cases_at_token_cost(options: &Options) -> Result<Vec<Measured>> {
    let selected: Vec<(usize, &Case)> = CASES
        .iter()
        .enumerate()
        .filter(|(_, case)| case.argon2 > 0 && options.selects(case))
        .collect();
    if selected.is_empty() || !options.backends.contains(&BackendKind::Embedded) {
        return Ok(Vec::new());
    }
    eprintln!("embedded: the hashing cases again, passwords at a token cost");
    let store = TestStore::new(BackendKind::Embedded).await;
    let token_cost = shared::config::PasswordSettings::cheap_for_tests();
    let mut fixture = Fixture::new(&store, token_cost).await?;
    let quiet = fixture.meter.quiet_logs();
    // Cheap now, so as many timed requests as a case that prepares state.
    let options = Options {
        hashing: (options.light / 3).max(1),
        ..options.clone()
    };
    let mut measured = Vec::new();
    for (index, case) in selected {
        eprintln!(
            "embedded, token hash cost: {} {}",
            case.endpoint(),
            case.note
        );
        let figures = measure(
            &mut fixture,
            (index, case),
            "embedded",
            &options,
            &quiet,
            None,
        )
        .await
        .with_context(|| format!("token hash cost: {} {}", case.endpoint(), case.note))?;
        measured.push(figures);
    }
    Ok(measured)
}

/// Fails when an operation of the served OpenAPI document has no case, or a case no operation.
async fn check_coverage(fixture: &Fixture) -> Result<()> {
    let doc = fixture.api.send(request("GET", "/v1/openapi.json")).await;
    expect_status(&doc, 200, "GET /v1/openapi.json")?;
    let doc: serde_json::Value = serde_json::from_slice(&doc.body)?;
    let (missing, unknown) = cases::coverage_gaps(&doc);
    ensure!(
        missing.is_empty() && unknown.is_empty(),
        "the cases do not match the OpenAPI document: no case for {missing:?}; \
         not in the document: {unknown:?}"
    );
    Ok(())
}

/// Warm-up, one request whose round trips are read from its access log line, then the timed
/// iterations, between timed bare verifications when `paired` (login). Every answer must have
/// the case's status.
async fn measure(
    fixture: &mut Fixture,
    (index, case): (usize, &Case),
    backend: &'static str,
    options: &Options,
    quiet: &tracing::Dispatch,
    paired: Option<&hashing::Verifier>,
) -> Result<Measured> {
    let (warm_up, n) = options.iterations(case.weight);
    let endpoint = case.endpoint();
    let deadline = std::time::Instant::now() + options.case_budget;
    let mut i = 0;
    {
        let _quiet = tracing::dispatcher::set_default(quiet);
        for _ in 0..warm_up {
            let request = fixture.request(case.op, i).await?;
            i += 1;
            let (response, _) = fixture.timed(case.op, request).await;
            expect_status(&response, case.status, &endpoint)?;
        }
    }

    let request = fixture.request(case.op, i).await?;
    i += 1;
    // Unique in the access log, which both backends' runs share.
    let request_id = format!("bench-{backend}-{index}-{i}");
    let (status, calls, sequential) =
        api_tests::client::sequential_calls(fixture.gateway(case.op), request, &request_id).await;
    ensure!(
        status == case.status,
        "{endpoint}: expected {}, got {status}",
        case.status
    );

    let _quiet = tracing::dispatcher::set_default(quiet);
    let mut samples = Vec::with_capacity(n);
    let mut verify_ratios = Vec::new();
    let mut verify_before = match paired {
        Some(paired) => Some(paired.time_verify().await?),
        None => None,
    };
    for _ in 0..n {
        if samples.len() >= MIN_SAMPLES && std::time::Instant::now() > deadline {
            break;
        }
        let request = fixture.request(case.op, i).await?;
        i += 1;
        let (response, sample) = fixture.timed(case.op, request).await;
        expect_status(&response, case.status, &endpoint)?;
        if let (Some(paired), Some(before)) = (paired, verify_before) {
            let after = paired.time_verify().await?;
            let around = (before + after).as_secs_f64() / 2.0;
            verify_ratios.push(sample.wall.as_secs_f64() / around);
            verify_before = Some(after);
        }
        samples.push(sample);
    }
    let mut wall: Vec<_> = samples.iter().map(|s| s.wall).collect();
    let mut store: Vec<_> = samples.iter().map(|s| s.store).collect();
    let mut client: Vec<_> = samples.iter().map(|s| s.client_cpu).collect();
    let mut own: Vec<_> = samples.iter().map(|s| s.own_cpu).collect();
    Ok(Measured {
        index,
        case: *case,
        backend,
        n: samples.len(),
        wall_p50: percentile(&mut wall, 50.0),
        wall_p99: percentile(&mut wall, 99.0),
        store_p50: percentile(&mut store, 50.0),
        client_p50: percentile(&mut client, 50.0),
        own_p50: percentile(&mut own, 50.0),
        own_p99: percentile(&mut own, 99.0),
        calls,
        sequential,
        to_paired_verify: median(&mut verify_ratios),
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_unstable_by(f64::total_cmp);
    values.get(values.len().checked_sub(1)? / 2).copied()
}
