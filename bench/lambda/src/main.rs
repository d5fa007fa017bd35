//! `bench-lambda`: cold start, peak memory and size of every function's release binary, against
//! an empty `lambda_http` function (`empty-lambda`) built in the same run. Prints one table.
//! `scripts/bench-lambda.sh` builds the binaries and zips, then runs this.
//!
//! - Cold start: every binary is started `--runs` times against a local Runtime API
//!   ([`runtime_api`]), round-robin across binaries so that drifting load on the machine hits all
//!   alike, after one discarded warm-up start each (it creates the dev secrets and the store and
//!   pulls the binary into the page cache). *Init* is spawn → first `GET /invocation/next`
//!   (Lambda's Init Duration); *first response* is spawn → the `POST /invocation/{id}/response`
//!   answering a cheap request from `events/`.
//! - Memory: one more process per function serves `--invocations` requests of its mix
//!   ([`workload`]), one at a time as in a Lambda sandbox; its peak is `VmHWM`.
//! - Size: the stripped release binary and its `bootstrap.zip`.

mod events;
mod init_steps;
mod process;
mod runtime_api;
mod stats;
mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use events::{Reply, Request};
use process::{FunctionProcess, Launch};
use runtime_api::{Invocation, Report, RuntimeApi};
use stats::{Summary, summarize};
use workload::Workload;

const USAGE: &str = "usage: bench-lambda --bin-dir DIR --events-dir DIR --work-dir DIR \
                     [--zip-dir DIR] [--arm64-bin-dir DIR --arm64-zip-dir DIR] [--profile NAME] \
                     [--env NAME=VALUE]... [--runs N] [--invocations N]";

/// How long a function may stay silent (starting, or answering one request) before the run fails.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
const MIB: f64 = 1024.0 * 1024.0;

/// Targets of the issue "Performance benchmarks".
const MAX_COLD_START_RATIO: f64 = 1.5;
const LAMBDA_MEMORY_MIB: f64 = 128.0;
const MAX_ZIP_MIB: f64 = 8.0;

struct Args {
    /// The release binaries (`target/x86_64-unknown-linux-gnu/release`).
    bin_dir: PathBuf,
    /// `cargo lambda build --output-format zip`'s `--lambda-dir`: `<dir>/<binary>/bootstrap.zip`.
    zip_dir: Option<PathBuf>,
    /// The same for arm64 (`target/aarch64-unknown-linux-gnu/release`), when it was built: only
    /// its sizes are reported (this machine cannot run it).
    arm64_bin_dir: Option<PathBuf>,
    arm64_zip_dir: Option<PathBuf>,
    /// The Cargo profile the binaries were built with, for the report.
    profile: String,
    /// Settings given to every function on top of the common ones (`--env NAME=VALUE`), e.g.
    /// what a deployment adds to its Lambda environment.
    env: Vec<(String, String)>,
    events_dir: PathBuf,
    /// A fresh folder for this run is made in it: the functions' data and their logs.
    work_dir: PathBuf,
    runs: usize,
    invocations: u32,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut bin_dir = None;
        let mut zip_dir = None;
        let mut arm64_bin_dir = None;
        let mut arm64_zip_dir = None;
        let mut profile = "release".to_owned();
        let mut env = Vec::new();
        let mut events_dir = None;
        let mut work_dir = None;
        let mut runs = 20;
        let mut invocations = 3000;
        let mut words = std::env::args().skip(1);
        while let Some(flag) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--bin-dir" => bin_dir = Some(PathBuf::from(value)),
                "--zip-dir" => zip_dir = Some(PathBuf::from(value)),
                "--arm64-bin-dir" => arm64_bin_dir = Some(PathBuf::from(value)),
                "--arm64-zip-dir" => arm64_zip_dir = Some(PathBuf::from(value)),
                "--profile" => profile = value,
                "--env" => {
                    let (name, setting) = value
                        .split_once('=')
                        .ok_or_else(|| anyhow!("--env needs NAME=VALUE\n{USAGE}"))?;
                    env.push((name.to_owned(), setting.to_owned()));
                }
                "--events-dir" => events_dir = Some(PathBuf::from(value)),
                "--work-dir" => work_dir = Some(PathBuf::from(value)),
                "--runs" => runs = value.parse().context("--runs")?,
                "--invocations" => invocations = value.parse().context("--invocations")?,
                _ => bail!("unknown option {flag}\n{USAGE}"),
            }
        }
        let required = |value: Option<PathBuf>, flag: &str| {
            value.ok_or_else(|| anyhow!("{flag} is required\n{USAGE}"))
        };
        if runs == 0 {
            bail!("--runs must be at least 1");
        }
        Ok(Self {
            bin_dir: required(bin_dir, "--bin-dir")?,
            zip_dir,
            arm64_bin_dir,
            arm64_zip_dir,
            profile,
            env,
            events_dir: required(events_dir, "--events-dir")?,
            work_dir: required(work_dir, "--work-dir")?,
            runs,
            invocations,
        })
    }
}

/// One row of the table: a binary, started with some settings.
struct Subject {
    label: String,
    /// The binary, and the function name it runs as.
    binary: &'static str,
    /// The sample event (in `events/`) of its first request.
    first_event: &'static str,
    extra_env: Vec<(String, String)>,
    /// Whether its cold start is judged against the target (the function as deployed).
    judge_cold_start: bool,
    /// Whether it also gets a memory run and sizes, judged (one row per binary).
    measure_load: bool,
}

impl Subject {
    fn new(label: &str, binary: &'static str, first_event: &'static str) -> Self {
        Self {
            label: label.to_owned(),
            binary,
            first_event,
            extra_env: Vec::new(),
            judge_cold_start: false,
            measure_load: false,
        }
    }
}

const EMPTY: &str = "empty-lambda";

/// What a deployment sets on top of the common environment (`infra/template.yaml`): ENV=prod,
/// the DynamoDB store and SES mail. The secrets stand in for what a deployed function reads
/// from Secrets Manager at start, a network call this benchmark cannot make; these values exist
/// only here. No store call and no mail happen before the first answer.
fn as_deployed() -> Vec<(String, String)> {
    [
        ("ENV", "prod"),
        ("STORE", "dynamodb"),
        ("TABLE_NAME", "bench"),
        ("AWS_SESSION_TOKEN", "dummy"),
        ("CORS_ORIGINS", "https://app.example.com"),
        ("MAIL_FROM", "no-reply@example.com"),
        ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
        ("JWT_SECRET", "bench-only-jwt-secret-7f3a9c2e5b8d1f4a6c0e"),
        (
            "TOKEN_PEPPER",
            "bench-only-token-pepper-2d8b5e1a9f4c7a3e0b6d",
        ),
        // 32 bytes, URL-safe base64: a Fernet key.
        (
            "MFA_ENCRYPTION_KEY",
            "YmVuY2gtbWZhLWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g=",
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// The baseline first; then every function as deployed (judged: cold start); then as `make run`
/// starts it (ENV=dev, the embedded store: cold start shown, memory and size judged); then
/// auth seeding the demo accounts (dev only), to show what that costs.
fn subjects() -> Vec<Subject> {
    let functions = [
        ("health", "health-liveness.json"),
        ("auth", "auth-me-unauthorized.json"),
        ("mfa", "mfa-status-unauthorized.json"),
        ("oauth", "oauth-identities-unauthorized.json"),
        ("tracker", "tracker-catalog-unauthorized.json"),
    ];
    let deployed = |(binary, event): (&'static str, &'static str)| Subject {
        extra_env: as_deployed(),
        judge_cold_start: true,
        measure_load: false,
        ..Subject::new(binary, binary, event)
    };
    let dev = |(binary, event): (&'static str, &'static str)| Subject {
        measure_load: true,
        ..Subject::new(&format!("{binary} dev"), binary, event)
    };
    let mut subjects = vec![
        Subject {
            measure_load: true,
            ..Subject::new(EMPTY, EMPTY, "health-liveness.json")
        },
        Subject::new(
            "empty-lambda, current-thread runtime",
            "empty-lambda-current-thread",
            "health-liveness.json",
        ),
    ];
    subjects.extend(functions.map(deployed));
    subjects.extend(functions.map(dev));
    subjects.push(Subject {
        extra_env: vec![("SEED_DEMO_ACCOUNTS".to_owned(), "true".to_owned())],
        ..Subject::new("auth dev +seed", "auth", "auth-me-unauthorized.json")
    });
    subjects
}

/// One cold start: times from spawning the process.
struct ColdStart {
    init: Duration,
    first_response: Duration,
    status: u16,
}

/// One memory run.
struct LoadRun {
    peak_rss_kib: u64,
    /// Answers by kind of request and status.
    tally: BTreeMap<(&'static str, u16), u32>,
    elapsed: Duration,
}

struct Bench {
    args: Args,
    data_dir: PathBuf,
    log_dir: PathBuf,
    /// Numbers every request, across functions (request ids and source IPs).
    sequence: u32,
}

impl Bench {
    fn new(args: Args) -> anyhow::Result<Self> {
        let run_dir = args.work_dir.join(
            chrono::Utc::now()
                .format("run-%Y%m%dT%H%M%S%.3f")
                .to_string(),
        );
        let data_dir = run_dir.join("data");
        let log_dir = run_dir.join("logs");
        for dir in [&data_dir, &log_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(Self {
            args,
            data_dir,
            log_dir,
            sequence: 0,
        })
    }

    fn binary(&self, subject: &Subject) -> PathBuf {
        self.args.bin_dir.join(subject.binary)
    }

    /// Where every start of `subject` writes its output, appended.
    fn log_path(&self, subject: &Subject) -> PathBuf {
        self.log_dir
            .join(format!("{}.log", subject.label.replace(' ', "")))
    }

    fn start(&self, subject: &Subject, api: &RuntimeApi) -> anyhow::Result<FunctionProcess> {
        let log = self.log_path(subject);
        let mut extra_env = self.args.env.clone();
        extra_env.extend(subject.extra_env.iter().cloned());
        FunctionProcess::start(&Launch {
            binary: &self.binary(subject),
            function_name: subject.binary,
            runtime_api: api.addr,
            data_dir: &self.data_dir,
            extra_env: &extra_env,
            log: &log,
        })
    }

    async fn cold_start(&mut self, subject: &Subject) -> anyhow::Result<ColdStart> {
        let event_path = self.args.events_dir.join(subject.first_event);
        let event = std::fs::read(&event_path)
            .with_context(|| format!("cannot read {}", event_path.display()))?;
        let mut api = RuntimeApi::start(subject.binary).await?;
        // Queued before the start, so the first ask for work is answered at once.
        let id = self.next_id();
        api.queue(Invocation {
            id: id.clone(),
            event,
        })
        .await?;
        let mut process = self.start(subject, &api)?;
        let polled = loop {
            if let Report::Polled { at } = next_report(&mut api, &mut process).await? {
                break at;
            }
        };
        let (responded, body) = await_response(&mut api, &mut process, &id).await?;
        let reply = Reply::from_gateway_response(&body)?;
        Ok(ColdStart {
            init: polled - process.started,
            first_response: responded - process.started,
            status: reply.status,
        })
    }

    /// Serves `workload` to one process of `subject`; its peak memory at the end.
    async fn memory_run(
        &mut self,
        subject: &Subject,
        workload: &mut dyn Workload,
    ) -> anyhow::Result<LoadRun> {
        let mut api = RuntimeApi::start(subject.binary).await?;
        let mut process = self.start(subject, &api)?;
        let began = Instant::now();
        let mut tally = BTreeMap::new();
        for n in 0..self.args.invocations {
            let request = workload.request(n);
            let reply = self.invoke(&mut api, &mut process, &request).await?;
            workload.observe(&request, &reply);
            *tally.entry((request.kind, reply.status)).or_insert(0) += 1;
        }
        Ok(LoadRun {
            peak_rss_kib: process.peak_rss_kib()?,
            tally,
            elapsed: began.elapsed(),
        })
    }

    /// Signs up the user the other functions' mixes act as (with the auth function); its token.
    async fn sign_up_bench_user(&mut self, auth: &Subject) -> anyhow::Result<String> {
        let mut api = RuntimeApi::start(auth.binary).await?;
        let mut process = self.start(auth, &api)?;
        let reply = self
            .invoke(&mut api, &mut process, &workload::bench_user_signup())
            .await?;
        match reply.text("access_token") {
            Some(token) if reply.status == 201 => Ok(token),
            _ => bail!(
                "signing up the bench user answered {}: {}",
                reply.status,
                reply.body
            ),
        }
    }

    async fn invoke(
        &mut self,
        api: &mut RuntimeApi,
        process: &mut FunctionProcess,
        request: &Request,
    ) -> anyhow::Result<Reply> {
        let id = self.next_id();
        api.queue(Invocation {
            id: id.clone(),
            event: request.to_event(self.sequence),
        })
        .await?;
        let (_, body) = await_response(api, process, &id).await?;
        Reply::from_gateway_response(&body)
    }

    fn next_id(&mut self) -> String {
        self.sequence += 1;
        format!("bench-{}", self.sequence)
    }
}

/// The next thing the function does; an error when it fails, exits or stays silent too long.
async fn next_report(
    api: &mut RuntimeApi,
    process: &mut FunctionProcess,
) -> anyhow::Result<Report> {
    let log = process.log.display().to_string();
    let give_up = Instant::now() + SILENCE_LIMIT;
    loop {
        match api.next_report(Duration::from_millis(100)).await {
            Some(Report::InitFailed { body }) => bail!(
                "the function could not start: {} (log: {log})",
                String::from_utf8_lossy(&body)
            ),
            Some(Report::Failed { id, body }) => bail!(
                "invocation {id} failed: {} (log: {log})",
                String::from_utf8_lossy(&body)
            ),
            Some(report) => return Ok(report),
            None => {}
        }
        if let Some(status) = process.exited() {
            bail!("the function exited ({status}) (log: {log})");
        }
        if Instant::now() > give_up {
            bail!("the function did nothing for {SILENCE_LIMIT:?} (log: {log})");
        }
    }
}

/// Waits for the answer to invocation `id`: when it came, and the API Gateway response.
async fn await_response(
    api: &mut RuntimeApi,
    process: &mut FunctionProcess,
    id: &str,
) -> anyhow::Result<(Instant, axum::body::Bytes)> {
    loop {
        if let Report::Responded {
            id: answered,
            at,
            body,
        } = next_report(api, process).await?
            && answered == id
        {
            return Ok((at, body));
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn file_mib(path: &Path) -> Option<f64> {
    std::fs::metadata(path).ok().map(|m| m.len() as f64 / MIB)
}

/// Everything measured on one subject.
struct Row {
    init: Summary,
    first_response: Summary,
    first_statuses: BTreeMap<u16, usize>,
    load: Option<LoadRun>,
    /// Sizes: x86_64, then arm64.
    sizes: [Sizes; 2],
}

/// A function's stripped release binary and its `bootstrap.zip`, in MiB.
#[derive(Clone, Copy, Default)]
struct Sizes {
    binary: Option<f64>,
    zip: Option<f64>,
}

impl Sizes {
    fn of(binary: &str, bin_dir: Option<&PathBuf>, zip_dir: Option<&PathBuf>) -> Self {
        Self {
            binary: bin_dir.and_then(|dir| file_mib(&dir.join(binary))),
            zip: zip_dir.and_then(|dir| file_mib(&dir.join(binary).join("bootstrap.zip"))),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let subjects = subjects();
    let mut bench = Bench::new(args)?;
    for subject in &subjects {
        let binary = bench.binary(subject);
        if !binary.is_file() {
            bail!("{} is missing: build it first", binary.display());
        }
    }

    eprintln!("warm-up: one discarded start of each binary");
    for subject in &subjects {
        bench.cold_start(subject).await?;
    }
    let runs = bench.args.runs;
    let mut cold_starts: Vec<Vec<ColdStart>> = subjects.iter().map(|_| Vec::new()).collect();
    for run in 1..=runs {
        eprint!("\rcold starts: run {run}/{runs}");
        for (subject, samples) in subjects.iter().zip(&mut cold_starts) {
            samples.push(bench.cold_start(subject).await?);
        }
    }
    eprintln!();

    let auth = subjects
        .iter()
        .find(|s| s.binary == "auth" && s.measure_load)
        .ok_or_else(|| anyhow!("no auth subject on the embedded store"))?;
    let bench_token = bench.sign_up_bench_user(auth).await?;
    let mut loads = Vec::new();
    for subject in &subjects {
        if !subject.measure_load {
            loads.push(None);
            continue;
        }
        eprintln!(
            "memory: {} serving {} requests",
            subject.label, bench.args.invocations
        );
        let mut workload = workload::for_function(subject.binary, &bench_token);
        loads.push(Some(bench.memory_run(subject, workload.as_mut()).await?));
    }

    let mut rows = Vec::new();
    for ((subject, samples), load) in subjects.iter().zip(&cold_starts).zip(loads) {
        let init: Vec<f64> = samples.iter().map(|s| millis(s.init)).collect();
        let first: Vec<f64> = samples.iter().map(|s| millis(s.first_response)).collect();
        let mut first_statuses = BTreeMap::new();
        for sample in samples {
            *first_statuses.entry(sample.status).or_insert(0) += 1;
        }
        let args = &bench.args;
        let sizes = if subject.measure_load {
            [
                Sizes::of(subject.binary, Some(&args.bin_dir), args.zip_dir.as_ref()),
                Sizes::of(
                    subject.binary,
                    args.arm64_bin_dir.as_ref(),
                    args.arm64_zip_dir.as_ref(),
                ),
            ]
        } else {
            [Sizes::default(); 2]
        };
        rows.push(Row {
            init: summarize(&init).ok_or_else(|| anyhow!("no samples"))?,
            first_response: summarize(&first).ok_or_else(|| anyhow!("no samples"))?,
            first_statuses,
            sizes,
            load,
        });
    }
    print_report(&bench, &subjects, &rows);
    Ok(())
}

/// One line of `make bench`'s summary table (scripts/bench-summary.py), appended to the file
/// `BENCH_SUMMARY` names; nothing when it is unset.
fn summary(part: &str, measure: &str, value: &str, target: &str, held: bool) {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("BENCH_SUMMARY") else {
        return;
    };
    let line = serde_json::json!({
        "part": part, "measure": measure, "value": value, "target": target,
        "verdict": verdict(held),
    });
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(err) = written {
        eprintln!("cannot add to {}: {err}", path.to_string_lossy());
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn print_report(bench: &Bench, subjects: &[Subject], rows: &[Row]) {
    let Some(empty) = rows.first() else { return };
    let args = &bench.args;
    let arm64 = args.arm64_zip_dir.is_some();
    let optional = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mut header = "| function | init ms median | init ms p90 | first response ms median \
                      | first response ms p90 | init ×empty | first response ×empty \
                      | peak RSS MB | binary MB x86_64 | zip MB x86_64"
        .to_owned();
    let mut rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:".to_owned();
    if arm64 {
        header.push_str(" | binary MB arm64 | zip MB arm64");
        rule.push_str("|---:|---:");
    }
    header.push_str(&format!(
        " | cold start ≤{MAX_COLD_START_RATIO}× | memory ≤{LAMBDA_MEMORY_MIB} MB | zip ≤{MAX_ZIP_MIB} MB |"
    ));
    rule.push_str("|:-:|:-:|:-:|");
    println!("\n{header}\n{rule}");
    let mut misses = Vec::new();
    for (subject, row) in subjects.iter().zip(rows) {
        let init_ratio = row.init.median / empty.init.median;
        let first_ratio = row.first_response.median / empty.first_response.median;
        let peak_mib = row.load.as_ref().map(|l| l.peak_rss_kib as f64 / 1024.0);
        let mut line = format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {}",
            subject.label,
            row.init.median,
            row.init.p90,
            row.first_response.median,
            row.first_response.p90,
            init_ratio,
            first_ratio,
            optional(peak_mib),
            optional(row.sizes[0].binary),
            optional(row.sizes[0].zip),
        );
        if arm64 {
            line.push_str(&format!(
                " | {} | {}",
                optional(row.sizes[1].binary),
                optional(row.sizes[1].zip)
            ));
        }
        // The baseline is shown, not judged; cold starts are judged as deployed, memory and
        // size once per binary.
        let cold = subject.judge_cold_start.then(|| {
            let held = init_ratio <= MAX_COLD_START_RATIO && first_ratio <= MAX_COLD_START_RATIO;
            if !held {
                misses.push(format!(
                    "{}: cold start {init_ratio:.2}× / {first_ratio:.2}× empty",
                    subject.label
                ));
            }
            summary(
                "cold start",
                &format!("{}: init ÷ empty, first response ÷ empty", subject.label),
                &format!("{init_ratio:.2}×, {first_ratio:.2}×"),
                &format!("≤ {MAX_COLD_START_RATIO}×"),
                held,
            );
            verdict(held)
        });
        let load = (subject.measure_load && subject.binary != EMPTY).then(|| {
            let memory = peak_mib.is_some_and(|p| p <= LAMBDA_MEMORY_MIB);
            if !memory {
                misses.push(format!(
                    "{}: peak RSS {} MB",
                    subject.binary,
                    optional(peak_mib)
                ));
            }
            let zips: Vec<f64> = row.sizes.iter().filter_map(|s| s.zip).collect();
            let size = !zips.is_empty() && zips.iter().all(|&z| z <= MAX_ZIP_MIB);
            if !size {
                misses.push(format!(
                    "{}: zip over {MAX_ZIP_MIB} MB (or missing)",
                    subject.binary
                ));
            }
            summary(
                "memory",
                &format!("{}: peak RSS under load", subject.binary),
                &format!("{} MiB", optional(peak_mib)),
                &format!("≤ {LAMBDA_MEMORY_MIB} MB"),
                memory,
            );
            let zip_sizes: Vec<String> = zips.iter().map(|z| format!("{z:.2}")).collect();
            summary(
                "size",
                &format!("{}: zip per architecture built", subject.binary),
                &format!("{} MiB", zip_sizes.join(" / ")),
                &format!("≤ {MAX_ZIP_MIB} MB"),
                size,
            );
            (verdict(memory), verdict(size))
        });
        let cold = cold.unwrap_or("-");
        let (memory, size) = load.unwrap_or(("-", "-"));
        println!("{line} | {cold} | {memory} | {size} |");
    }

    println!(
        "\nMB = MiB (2^20 bytes). Profile: {}. Cold start: {} starts per binary (round-robin, after \
         one discarded warm-up start each); init = spawn → first GET /invocation/next (Lambda's \
         Init Duration); first response = spawn → POST /invocation/{{id}}/response; ×empty = \
         median / the empty lambda_http function's median; PASS when both are ≤ \
         {MAX_COLD_START_RATIO}, judged on the rows named after each function: started as deployed \
         (ENV=prod, STORE=dynamodb, SES mail, Lambda's environment credentials; secrets from \
         the environment standing in for Secrets Manager's network call; the first request \
         needs no store). Rows `… dev` start as `make run` does (ENV=dev, STORE=embedded: \
         SQLite; not judged for cold start); `auth dev +seed` also seeds the demo accounts \
         (two Argon2id hashes per start).",
        args.profile, args.runs
    );
    if !args.env.is_empty() {
        let settings: Vec<String> = args.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("Every function also ran with {}.", settings.join(" "));
    }
    println!(
        "Peak RSS = VmHWM after {} requests of the function's mix, one at a time; PASS when it \
         fits a {LAMBDA_MEMORY_MIB} MB Lambda. Argon2id: m=19456 KiB (19 MiB per hash in flight), \
         t=2, p=1 (the PASSWORD_HASH_* defaults). Zip = cargo lambda's bootstrap.zip; PASS when \
         every architecture built is ≤ {MAX_ZIP_MIB} MB.",
        args.invocations
    );
    for (subject, row) in subjects.iter().zip(rows) {
        let statuses: Vec<String> = row
            .first_statuses
            .iter()
            .map(|(status, count)| format!("{status}×{count}"))
            .collect();
        println!(
            "- {}: init min/max {:.2}/{:.2} ms, first response min/max {:.2}/{:.2} ms, first answer {}",
            subject.label,
            row.init.min,
            row.init.max,
            row.first_response.min,
            row.first_response.max,
            statuses.join(" ")
        );
        if let Some(load) = &row.load {
            let tally: Vec<String> = load
                .tally
                .iter()
                .map(|((kind, status), count)| format!("{kind} {status}×{count}"))
                .collect();
            println!(
                "  mix ({:.1} s): {}",
                load.elapsed.as_secs_f64(),
                tally.join(", ")
            );
        }
    }
    print_init_steps(bench, subjects, rows);
    if misses.is_empty() {
        println!(
            "\nEvery target met (cold start ≤ {MAX_COLD_START_RATIO}× empty, RSS ≤ {LAMBDA_MEMORY_MIB} MB, zip ≤ {MAX_ZIP_MIB} MB)."
        );
    } else {
        println!("\nTargets missed: {}", misses.join("; "));
    }
    println!("Logs: {}", bench.log_dir.display());
}

/// Where each function's init goes, from the step times on its "function ready" log lines; the
/// rest of its init (process start, runtime, first poll) is what the empty function also pays.
fn print_init_steps(bench: &Bench, subjects: &[Subject], rows: &[Row]) {
    let Some(empty) = rows.first() else { return };
    let names: Vec<&str> = init_steps::STEPS.iter().map(|(_, name)| *name).collect();
    println!(
        "\nInit by step, ms (median over every start of the run):\n\n| function | {} | rest of init | empty function's init |\n|---|{}---:|---:|",
        names.join(" | "),
        "---:|".repeat(names.len())
    );
    for (subject, row) in subjects.iter().zip(rows) {
        let Some(steps) = init_steps::medians(&bench.log_path(subject)) else {
            continue;
        };
        let cells: Vec<String> = steps.iter().map(|ms| format!("{ms:.2}")).collect();
        println!(
            "| {} | {} | {:.2} | {:.2} |",
            subject.label,
            cells.join(" | "),
            row.init.median - steps.iter().sum::<f64>(),
            empty.init.median
        );
    }
}
