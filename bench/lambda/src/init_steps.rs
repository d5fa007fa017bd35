//! Where a function's start goes: the step times every function logs on its "function ready"
//! line (`shared::lambda`), read back from the logs of its starts.

use std::path::Path;

use crate::stats::summarize;

/// The steps, in order, as logged (microseconds), and how the report names them.
pub const STEPS: [(&str, &str); 5] = [
    ("settings_us", "settings"),
    ("telemetry_us", "telemetry"),
    ("state_us", "state (secrets, store, hasher)"),
    ("startup_us", "startup step"),
    ("router_us", "router"),
];

/// The median of each step, in milliseconds, over every start logged in `log`; `None` when no
/// start logged them (the empty function).
pub fn medians(log: &Path) -> Option<[f64; STEPS.len()]> {
    let text = std::fs::read_to_string(log).ok()?;
    let mut samples: [Vec<f64>; STEPS.len()] = Default::default();
    let ready_lines = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "function ready");
    for line in ready_lines {
        for ((field, _), samples) in STEPS.iter().zip(&mut samples) {
            if let Some(micros) = line[field].as_f64() {
                samples.push(micros / 1000.0);
            }
        }
    }
    let mut medians = [0.0; STEPS.len()];
    for (median, samples) in medians.iter_mut().zip(&samples) {
        *median = summarize(samples)?.median;
    }
    Some(medians)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_the_ready_lines_only() {
        let dir = std::env::temp_dir().join(format!("init-steps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("f.log");
        let ready = |us: u64| {
            format!(
                r#"{{"message":"function ready","settings_us":{us},"telemetry_us":{us},"state_us":{us},"startup_us":{us},"router_us":{us}}}"#
            )
        };
        let text = [
            ready(1000),
            r#"{"message":"request completed","settings_us":99000}"#.to_owned(),
            "not json".to_owned(),
            ready(3000),
            ready(2000),
        ]
        .join("\n");
        std::fs::write(&log, text).unwrap();
        assert_eq!(medians(&log), Some([2.0; 5]));
        std::fs::write(&log, "{\"message\":\"hello\"}").unwrap();
        assert_eq!(medians(&log), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
