//! The lines this benchmark adds to `make bench`'s one summary table: JSON lines appended to
//! the file `BENCH_SUMMARY` names (nothing when it is unset), printed by
//! `scripts/bench-summary.py`.

use std::io::Write as _;

/// One figure of the summary: what was measured, its value, the target and whether it held
/// (`None` for a figure without a target).
pub fn add(measure: &str, value: &str, target: &str, held: Option<bool>) {
    let Some(path) = std::env::var_os("BENCH_SUMMARY") else {
        return;
    };
    let verdict = match held {
        Some(true) => "PASS",
        Some(false) => "MISS",
        None => "",
    };
    let line = serde_json::json!({
        "part": "per request",
        "measure": measure,
        "value": value,
        "target": target,
        "verdict": verdict,
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
