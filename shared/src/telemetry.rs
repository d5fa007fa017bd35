//! Structured JSON logs, one line per event.
//!
//! Every line carries `timestamp`, `level`, `logger` (the tracing target), `module`, `function`
//! (the Lambda function), the fields of the spans it happened in (`request_id`, `method`, `path`,
//! `lambda_request_id` …) and its own fields. Field names that can only hold credentials are
//! redacted before writing, as a last line of defence: code must never log them in the first place.
//!
//! Built separately from installed, so tests can capture or silence it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogLevel;

/// Where log and metric lines go.
#[derive(Clone, Debug, Default)]
pub enum Sink {
    /// Standard output: CloudWatch Logs in Lambda, the terminal under `cargo lambda watch`.
    #[default]
    Stdout,
    /// A buffer, for tests that read what was logged.
    Memory(Arc<Mutex<Vec<u8>>>),
    /// Nowhere.
    Discard,
}

impl Sink {
    pub fn memory() -> Self {
        Self::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Writes one complete line in one call, so concurrent lines never interleave.
    pub fn write_line(&self, line: &[u8]) {
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line).and_then(|()| out.write_all(b"\n"));
            }
            Self::Memory(buffer) => {
                let mut buffer = buffer.lock().unwrap_or_else(|e| e.into_inner());
                buffer.extend_from_slice(line);
                buffer.push(b'\n');
            }
            Self::Discard => {}
        }
    }

    /// Everything written to a memory sink, as lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Memory(buffer) => {
                String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|e| e.into_inner()))
                    .lines()
                    .map(str::to_owned)
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Field names whose values are credentials; their values are replaced before writing.
fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "code"
        || [
            "password",
            "secret",
            "token",
            "pepper",
            "authorization",
            "cookie",
            "totp",
            "backup_code",
            "otp",
        ]
        .iter()
        .any(|s| name.contains(s))
}

const REDACTED: &str = "[REDACTED]";

/// The fields recorded on a span, kept in its extensions.
#[derive(Default)]
struct SpanFields(Map<String, Value>);

struct Recorder<'a>(&'a mut Map<String, Value>);

impl Recorder<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        let value = if is_sensitive(field.name()) {
            Value::from(REDACTED)
        } else {
            value
        };
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for Recorder<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain, outermost first.
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        self.insert(field, Value::from(chain));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, Value::from(format!("{value:?}")));
    }
}

/// The layer that writes JSON lines.
pub struct JsonLogLayer {
    function: String,
    sink: Sink,
}

impl<S> Layer<S> for JsonLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = SpanFields::default();
        attrs.record(&mut Recorder(&mut fields.0));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Recorder(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(
                jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
            ),
        );
        line.insert("level".into(), Value::from(level_name(*metadata.level())));
        line.insert("logger".into(), Value::from(metadata.target()));
        line.insert(
            "module".into(),
            Value::from(metadata.module_path().unwrap_or(metadata.target())),
        );
        line.insert("function".into(), Value::from(self.function.as_str()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Recorder(&mut line));
        if let Ok(bytes) = serde_json::to_vec(&line) {
            self.sink.write_line(&bytes);
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARNING",
        Level::ERROR => "ERROR",
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// A subscriber writing our JSON lines at `level`; chatty dependencies only from WARN.
pub fn subscriber(function: &str, level: LogLevel, sink: Sink) -> impl Subscriber + Send + Sync {
    let level = level_filter(level);
    let quiet = level.min(LevelFilter::WARN);
    let filter = Targets::new()
        .with_default(level)
        .with_target("aws_config", quiet)
        .with_target("aws_smithy_runtime", quiet)
        .with_target("aws_smithy_http_client", quiet)
        .with_target("aws_sdk_dynamodb", quiet)
        .with_target("aws_sdk_secretsmanager", quiet)
        .with_target("hyper", quiet)
        .with_target("hyper_util", quiet)
        .with_target("h2", quiet)
        .with_target("rustls", quiet);
    let layer = JsonLogLayer {
        function: function.to_owned(),
        sink,
    };
    tracing_subscriber::registry().with(layer.with_filter(filter))
}

/// Installs `subscriber` for the whole process (once; later calls are ignored).
pub fn init(subscriber: impl Subscriber + Send + Sync) {
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(work: impl FnOnce()) -> Vec<Value> {
        let sink = Sink::memory();
        tracing::subscriber::with_default(
            subscriber("health", LogLevel::Debug, sink.clone()),
            work,
        );
        sink.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_carry_the_standard_fields_and_span_fields() {
        let lines = capture(|| {
            let span = tracing::info_span!(
                "request",
                request_id = "abc",
                method = "GET",
                path = "/v1/health"
            );
            let _entered = span.enter();
            tracing::info!(status_code = 200, latency_ms = 1.5, "request completed");
        });
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["function"], "health");
        assert_eq!(line["request_id"], "abc");
        assert_eq!(line["method"], "GET");
        assert_eq!(line["path"], "/v1/health");
        assert_eq!(line["status_code"], 200);
        assert_eq!(line["message"], "request completed");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(line["module"].as_str().unwrap().starts_with("shared"));
        assert!(line["logger"].is_string());
    }

    #[test]
    fn credential_fields_are_redacted() {
        let lines = capture(|| {
            tracing::warn!(
                password = "hunter2",
                refresh_token = "rt",
                code = "123456",
                user_id = "u1",
                "oops"
            );
        });
        let text = serde_json::to_string(&lines).unwrap();
        for value in ["hunter2", "\"rt\"", "123456"] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
        assert_eq!(lines[0]["user_id"], "u1");
        assert_eq!(lines[0]["level"], "WARNING");
    }

    #[test]
    fn level_filters_apply() {
        let sink = Sink::memory();
        tracing::subscriber::with_default(subscriber("f", LogLevel::Warn, sink.clone()), || {
            tracing::info!("hidden");
            tracing::error!("shown");
        });
        let lines = sink.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("shown"));
    }
}
