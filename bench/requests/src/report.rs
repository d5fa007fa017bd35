//! The printed tables: plain text, aligned columns, units in the headers.

use std::time::Duration;

use crate::cases::{Case, Op};
use crate::hashing::HashTimes;
use crate::meter::percentile;

/// Own CPU per request we aim to stay under.
pub const OWN_CPU_TARGET: Duration = Duration::from_micros(100);

/// Login's time over one verification we aim to stay under.
pub const LOGIN_TO_VERIFY_TARGET: f64 = 1.15;

/// The figures of one case on one backend.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The case's place in [`crate::cases::CASES`].
    pub index: usize,
    pub case: Case,
    pub backend: &'static str,
    pub n: usize,
    pub wall_p50: Duration,
    pub wall_p99: Duration,
    pub store_p50: Duration,
    /// The store client's CPU on the runtime thread (see [`crate::meter::Sample::client_cpu`]).
    pub client_p50: Duration,
    pub own_p50: Duration,
    pub own_p99: Duration,
    pub calls: i64,
    pub sequential: i64,
    /// Median of each timed request's wall time over the mean of the bare verifications timed
    /// just before and after it (login only).
    pub to_paired_verify: Option<f64>,
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&'static str, Align)]) -> Self {
        Self {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn print(&self, title: &str) {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (header, _))| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|cell| cell.chars().count())
                    .chain([header.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let text: Vec<String> = cells
                .iter()
                .zip(&self.columns)
                .zip(&widths)
                .map(|((cell, (_, align)), width)| match align {
                    Align::Left => format!("{cell:<width$}"),
                    Align::Right => format!("{cell:>width$}"),
                })
                .collect();
            println!("{}", text.join("  ").trim_end());
        };
        println!("\n{title}\n");
        line(self.columns.iter().map(|(header, _)| *header).collect());
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(rule.iter().map(String::as_str).collect());
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect());
        }
    }
}

fn pass_or_miss(held: bool) -> &'static str {
    if held { "PASS" } else { "MISS" }
}

fn micros(d: Duration) -> String {
    d.as_micros().to_string()
}

fn millis(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// Sections 1 and 2: every endpoint's cost and round trips, both backends.
pub fn requests(measured: &[Measured]) {
    use Align::{Left, Right};
    let mut table = Table::new(&[
        ("endpoint", Left),
        ("case", Left),
        ("store", Left),
        ("n", Right),
        ("wall p50 µs", Right),
        ("wall p99 µs", Right),
        ("in store p50 µs", Right),
        ("client CPU p50 µs", Right),
        ("own CPU p50 µs", Right),
        ("own CPU p99 µs", Right),
        ("own ≤ 100 µs", Left),
        ("argon2", Right),
        ("calls", Right),
        ("seq", Right),
    ]);
    // Each case's rows together, its name on the first only.
    let mut rows: Vec<&Measured> = measured.iter().collect();
    rows.sort_by_key(|m| (m.index, m.backend != "embedded"));
    let mut previous = None;
    for m in rows {
        let (endpoint, note) = if previous == Some(m.index) {
            (String::new(), "")
        } else {
            (m.case.endpoint(), m.case.note)
        };
        previous = Some(m.index);
        table.row(vec![
            endpoint,
            note.to_owned(),
            m.backend.to_owned(),
            m.n.to_string(),
            micros(m.wall_p50),
            micros(m.wall_p99),
            micros(m.store_p50),
            micros(m.client_p50),
            micros(m.own_p50),
            micros(m.own_p99),
            pass_or_miss(m.own_p50 <= OWN_CPU_TARGET).to_owned(),
            m.case.argon2.to_string(),
            m.calls.to_string(),
            m.sequential.to_string(),
        ]);
    }
    table.print(
        "1. Per request, in process (median and p99 of wall time; time with a store call, or \
         the OpenID callback's call to the provider, in flight; client CPU = runtime-thread \
         CPU meanwhile, the clients' share; own CPU = runtime-thread CPU outside those calls, \
         Argon2 excluded) and \
         2. store round trips of one request (calls, sequential steps)",
    );
    for backend in ["embedded", "dynamodb"] {
        let over: Vec<String> = measured
            .iter()
            .filter(|m| m.backend == backend && m.own_p50 > OWN_CPU_TARGET)
            .map(|m| format!("{} ({} µs)", m.case.endpoint(), micros(m.own_p50)))
            .collect();
        let on_backend = measured.iter().filter(|m| m.backend == backend).count();
        if on_backend > 0 {
            crate::summary::add(
                &format!("own CPU p50 per request, {backend}"),
                &format!(
                    "{} of {on_backend} endpoints within",
                    on_backend - over.len()
                ),
                &format!("≤ {} µs", OWN_CPU_TARGET.as_micros()),
                Some(over.is_empty()),
            );
        }
        if measured.iter().any(|m| m.backend == backend) {
            println!(
                "\nown CPU p50 over {} µs on {backend}: {}",
                OWN_CPU_TARGET.as_micros(),
                if over.is_empty() {
                    "none".to_owned()
                } else {
                    over.join(", ")
                }
            );
        }
    }
}

/// Section 2's targets: sequential store round trips of the requests that have one.
pub fn round_trip_targets(measured: &[Measured]) {
    use Align::{Left, Right};
    const TARGETS: &[(Op, i64)] = &[
        (Op::Login, 3),
        (Op::Refresh, 2),
        (Op::Me, 1),
        (Op::LogDose, 1),
        (Op::LogSymptom, 1),
        (Op::PutFeeling, 1),
        (Op::DayView, 1),
        (Op::FeelVsYesterday, 1),
    ];
    let mut table = Table::new(&[
        ("endpoint", Left),
        ("target seq ≤", Right),
        ("embedded seq", Right),
        ("dynamodb seq", Right),
        ("target", Left),
    ]);
    for (op, target) in TARGETS {
        let on = |backend: &str| {
            measured
                .iter()
                .find(|m| m.case.op == *op && m.backend == backend)
        };
        let (embedded, dynamodb) = (on("embedded"), on("dynamodb"));
        let Some(endpoint) = embedded.or(dynamodb).map(|m| m.case.endpoint()) else {
            continue;
        };
        let seq = |m: Option<&Measured>| m.map_or("-".to_owned(), |m| m.sequential.to_string());
        let met = [embedded, dynamodb]
            .iter()
            .flatten()
            .all(|m| m.sequential <= *target);
        crate::summary::add(
            &format!("sequential store round trips, {endpoint}"),
            &format!("{} / {}", seq(embedded), seq(dynamodb)),
            &format!("≤ {target}"),
            Some(met),
        );
        table.row(vec![
            endpoint,
            target.to_string(),
            seq(embedded),
            seq(dynamodb),
            pass_or_miss(met).to_owned(),
        ]);
    }
    table.print("2. Sequential store round trips against their targets");
}

/// Section 2b: the endpoints that hash or verify a password, their own CPU at the configured
/// cost beside the same on a store whose passwords are hashed at a token cost. The difference
/// is not work of ours: while a real hash runs (tens of milliseconds on the blocking pool) the
/// request thread sleeps, and what it does after is slower (caches cold, a halted virtual CPU
/// woken). The token-cost column is our own work in those requests.
pub fn hash_wait(measured: &[Measured], at_token_cost: &[Measured]) {
    use Align::{Left, Right};
    if at_token_cost.is_empty() {
        return;
    }
    let mut table = Table::new(&[
        ("endpoint", Left),
        ("case", Left),
        ("own CPU p50 µs, configured cost", Right),
        ("own CPU p50 µs, token cost", Right),
        ("waiting for the hash µs", Right),
        ("own ≤ 100 µs at token cost", Left),
    ]);
    for cheap in at_token_cost {
        let configured = measured
            .iter()
            .find(|m| m.index == cheap.index && m.backend == cheap.backend);
        let configured_p50 = configured.map_or("-".to_owned(), |m| micros(m.own_p50));
        let wait = configured.map_or("-".to_owned(), |m| {
            let signed = m.own_p50.as_micros() as i128 - cheap.own_p50.as_micros() as i128;
            signed.to_string()
        });
        table.row(vec![
            cheap.case.endpoint(),
            cheap.case.note.to_owned(),
            configured_p50,
            micros(cheap.own_p50),
            wait,
            pass_or_miss(cheap.own_p50 <= OWN_CPU_TARGET).to_owned(),
        ]);
    }
    table.print(
        "2b. The endpoints that hash a password, on the embedded store: own CPU at the \
         configured cost and with passwords hashed at a token cost (the difference is the \
         request thread's slower work after sleeping through a real hash)",
    );
    let within = at_token_cost
        .iter()
        .filter(|m| m.own_p50 <= OWN_CPU_TARGET)
        .count();
    crate::summary::add(
        "own CPU p50 of the endpoints that hash, passwords at a token cost, embedded",
        &format!("{within} of {} endpoints within", at_token_cost.len()),
        &format!("≤ {} µs", OWN_CPU_TARGET.as_micros()),
        Some(within == at_token_cost.len()),
    );
}

/// Section 3: Argon2id at the production cost, and login against it.
pub fn hashing(times: &HashTimes, logins: &[&Measured]) {
    use Align::{Left, Right};
    let (mut hash, mut verify) = (times.hash.clone(), times.verify.clone());
    let cost = format!(
        "m={} KiB, t={}, p={}",
        times.cost.memory_kib, times.cost.iterations, times.cost.parallelism
    );
    let mut table = Table::new(&[
        ("measure", Left),
        ("n", Right),
        ("p50 ms", Right),
        ("p99 ms", Right),
        ("target", Left),
    ]);
    let verify_p50 = percentile(&mut verify, 50.0);
    table.row(vec![
        format!("Argon2id verify ({cost})"),
        verify.len().to_string(),
        millis(verify_p50),
        millis(percentile(&mut verify, 99.0)),
        String::new(),
    ]);
    table.row(vec![
        format!("Argon2id hash ({cost})"),
        hash.len().to_string(),
        millis(percentile(&mut hash, 50.0)),
        millis(percentile(&mut hash, 99.0)),
        String::new(),
    ]);
    for login in logins {
        table.row(vec![
            format!("POST /v1/auth/login, whole request ({})", login.backend),
            login.n.to_string(),
            millis(login.wall_p50),
            millis(login.wall_p99),
            String::new(),
        ]);
        // Judged on the paired ratio: each login over the verifications timed around it.
        let apart = login.wall_p50.as_secs_f64() / verify_p50.as_secs_f64().max(f64::MIN_POSITIVE);
        let ratio = login.to_paired_verify.unwrap_or(apart);
        crate::summary::add(
            &format!(
                "login ÷ one Argon2id verify timed around it, {}",
                login.backend
            ),
            &format!("{ratio:.2}×"),
            &format!("≤ {LOGIN_TO_VERIFY_TARGET}×"),
            Some(ratio <= LOGIN_TO_VERIFY_TARGET),
        );
        table.row(vec![
            format!(
                "login ({}) ÷ the verifies timed around it, median (target ≤ {LOGIN_TO_VERIFY_TARGET}×)",
                login.backend
            ),
            login.n.to_string(),
            format!("{ratio:.2}×"),
            String::new(),
            pass_or_miss(ratio <= LOGIN_TO_VERIFY_TARGET).to_owned(),
        ]);
        table.row(vec![
            format!(
                "login ({}) p50 ÷ verify p50 above (measured minutes apart)",
                login.backend
            ),
            String::new(),
            format!("{apart:.2}×"),
            String::new(),
            String::new(),
        ]);
    }
    table.print("3. Password hashing at the production cost, and login against it");
}
