//! The figures of the verification suites (attacks tried, races run, faults injected, ...): each
//! suite adds its counts as JSON lines to the file `VERIFICATION_FIGURES` names, and
//! `scripts/verification-figures.py` prints their sum at the end of `make test`. A count is
//! recorded only after its checks passed, so every figure counts things that held.

use std::io::Write;

/// Adds `count` to the figure `kind` (nothing when `VERIFICATION_FIGURES` is unset).
pub fn record(kind: &str, count: u64) {
    let Some(path) = std::env::var_os("VERIFICATION_FIGURES") else {
        return;
    };
    let line = format!("{}\n", serde_json::json!({"kind": kind, "count": count}));
    // One short append per line: whole lines even when test processes write at once.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(err) = written {
        panic!("cannot add to {}: {err}", path.to_string_lossy());
    }
}

/// A race that held: `parallel` requests for one thing, and the outcome the test asserted.
pub fn race(parallel: u64) {
    record("races run with real concurrency", 1);
    record("parallel requests in those races", parallel);
}
