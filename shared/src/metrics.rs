//! Metrics as CloudWatch Embedded Metric Format (EMF): JSON log lines that CloudWatch turns into
//! metrics. No API call, no added latency; the dashboard in `infra/` reads them.

use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::telemetry::{Sink, object_line};

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
        let directive = Directive {
            timestamp: jiff::Timestamp::now().as_millisecond(),
            dimensions,
            metrics,
        };
        let mut fields =
            Vec::with_capacity(2 + dimensions.len() + properties.len() + metrics.len());
        fields.push(("_aws", Member::Directive(&directive)));
        fields.push(("function", Member::Text(&self.function)));
        fields.extend(
            dimensions
                .iter()
                .map(|(name, value)| (*name, Member::Text(value))),
        );
        fields.extend(
            properties
                .iter()
                .map(|(name, value)| (*name, Member::Json(value))),
        );
        fields.extend(metrics.iter().map(|m| (m.name, Member::Number(m.value))));
        if let Some(line) = object_line(&fields) {
            self.sink.write_line(&line);
        }
    }

    /// Counts one occurrence of `name`.
    pub fn count(&self, name: &'static str, dimensions: &[(&str, &str)]) {
        self.emit(dimensions, &[Metric::count(name)], &[]);
    }
}

/// A top-level member of an EMF line.
#[derive(Serialize)]
#[serde(untagged)]
enum Member<'a> {
    Directive(&'a Directive<'a>),
    Text(&'a str),
    Json(&'a Value),
    Number(f64),
}

/// `_aws`: which members are metrics, with which dimensions.
struct Directive<'a> {
    timestamp: i64,
    dimensions: &'a [(&'a str, &'a str)],
    metrics: &'a [Metric],
}

impl Serialize for Directive<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut names = Vec::with_capacity(1 + self.dimensions.len());
        names.push("function");
        names.extend(self.dimensions.iter().map(|(name, _)| *name));
        let definitions: Vec<_> = self
            .metrics
            .iter()
            .map(|m| MetricDefinition {
                name: m.name,
                unit: m.unit.as_str(),
            })
            .collect();
        let mut aws = serializer.serialize_map(Some(2))?;
        aws.serialize_entry("Timestamp", &self.timestamp)?;
        aws.serialize_entry(
            "CloudWatchMetrics",
            &[MetricDirective {
                namespace: NAMESPACE,
                dimensions: [&names],
                metrics: &definitions,
            }],
        )?;
        aws.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDirective<'a> {
    namespace: &'static str,
    dimensions: [&'a [&'a str]; 1],
    metrics: &'a [MetricDefinition],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition {
    name: &'static str,
    unit: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_line_holds_exactly_its_directive_dimensions_properties_and_values() {
        let sink = Sink::memory();
        let metrics = Metrics::new("tracker", sink.clone());
        metrics.emit(
            &[("status_class", "2xx")],
            &[
                Metric::count("http_requests_total"),
                Metric::value("http_request_duration_ms", Unit::Milliseconds, 1.25),
            ],
            &[("request_id", Value::from("r\"2"))],
        );
        let mut line: Value = serde_json::from_str(&sink.lines()[0]).unwrap();
        let timestamp = line["_aws"]
            .as_object_mut()
            .unwrap()
            .remove("Timestamp")
            .unwrap();
        assert!(timestamp.as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(
            line,
            json!({
                "_aws": {"CloudWatchMetrics": [{
                    "Namespace": "MedicalPlatform",
                    "Dimensions": [["function", "status_class"]],
                    "Metrics": [
                        {"Name": "http_requests_total", "Unit": "Count"},
                        {"Name": "http_request_duration_ms", "Unit": "Milliseconds"},
                    ],
                }]},
                "function": "tracker",
                "status_class": "2xx",
                "request_id": "r\"2",
                "http_requests_total": 1.0,
                "http_request_duration_ms": 1.25,
            })
        );
    }

    #[test]
    fn a_member_named_twice_is_written_once_the_metric_winning() {
        let sink = Sink::memory();
        Metrics::new("auth", sink.clone()).emit(
            &[("kind", "a")],
            &[Metric::count("kind")],
            &[("kind", Value::from("b"))],
        );
        let text = &sink.lines()[0];
        assert_eq!(text.matches("\"kind\":").count(), 1, "{text}");
        let line: Value = serde_json::from_str(text).unwrap();
        assert_eq!(line["kind"], 1.0);
    }
}
