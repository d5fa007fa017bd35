//! Metrics as CloudWatch Embedded Metric Format (EMF): JSON log lines that CloudWatch turns into
//! metrics. No API call, no added latency; the dashboard in `infra/` reads them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::telemetry::Sink;

/// Namespace of every metric the API emits.
pub const NAMESPACE: &str = "MedicalPlatform";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One value of one metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub value: f64,
}

impl Metric {
    pub fn count(name: &'static str) -> Self {
        Self {
            name,
            unit: Unit::Count,
            value: 1.0,
        }
    }

    pub fn value(name: &'static str, unit: Unit, value: f64) -> Self {
        Self { name, unit, value }
    }
}

/// Emits EMF lines. Every line has the `function` dimension.
#[derive(Clone, Debug)]
pub struct Metrics {
    function: Arc<str>,
    sink: Sink,
}

impl Metrics {
    pub fn new(function: &str, sink: Sink) -> Self {
        Self {
            function: function.into(),
            sink,
        }
    }

    /// Writes `metrics` with the given dimensions; `properties` are searchable but not dimensions
    /// (a request id, say).
    pub fn emit(
        &self,
        dimensions: &[(&str, &str)],
        metrics: &[Metric],
        properties: &[(&str, Value)],
    ) {
        let mut dimension_names = vec![Value::from("function")];
        dimension_names.extend(dimensions.iter().map(|(name, _)| Value::from(*name)));
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": jiff::Timestamp::now().as_millisecond(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimension_names],
                    "Metrics": definitions,
                }],
            }),
        );
        line.insert("function".into(), Value::from(&*self.function));
        for (name, value) in dimensions {
            line.insert((*name).into(), Value::from(*value));
        }
        for (name, value) in properties {
            line.insert((*name).into(), value.clone());
        }
        for metric in metrics {
            line.insert(metric.name.into(), Value::from(metric.value));
        }
        if let Ok(bytes) = serde_json::to_vec(&line) {
            self.sink.write_line(&bytes);
        }
    }

    /// Counts one occurrence of `name`.
    pub fn count(&self, name: &'static str, dimensions: &[(&str, &str)]) {
        self.emit(dimensions, &[Metric::count(name)], &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_valid_embedded_metric_format() {
        let sink = Sink::memory();
        let metrics = Metrics::new("auth", sink.clone());
        metrics.emit(
            &[("result", "success"), ("method", "password")],
            &[Metric::count("authentication_attempts_total")],
            &[("request_id", Value::from("r1"))],
        );
        let line: Value = serde_json::from_str(&sink.lines()[0]).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"][0],
            json!(["function", "result", "method"])
        );
        assert_eq!(
            directive["Metrics"][0],
            json!({"Name": "authentication_attempts_total", "Unit": "Count"})
        );
        assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        // Every dimension and metric named in the directive is a top-level member.
        assert_eq!(line["function"], "auth");
        assert_eq!(line["result"], "success");
        assert_eq!(line["method"], "password");
        assert_eq!(line["authentication_attempts_total"], 1.0);
        assert_eq!(line["request_id"], "r1");
    }
}
