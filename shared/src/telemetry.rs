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

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer as _};
use serde_json::Value;
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
    name.eq_ignore_ascii_case("code")
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
        .any(|s| contains_ignore_case(name, s))
}

/// Whether `haystack` contains the lowercase ASCII `needle`, ignoring ASCII case.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

const REDACTED: &str = "[REDACTED]";

/// Fields by name, in the order recorded; a field recorded again replaces its value.
type Fields = Vec<(&'static str, Value)>;

/// The fields recorded on a span, kept in its extensions.
#[derive(Default)]
struct SpanFields(Fields);

struct Recorder<'a>(&'a mut Fields);

impl Recorder<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if is_sensitive(name) {
            Value::from(REDACTED)
        } else {
            value
        };
        match self.0.iter_mut().find(|(known, _)| *known == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
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

/// One JSON object of `fields`, in their order; of a name given more than once, only the last
/// is written (a span's field, then the event's own of the same name). Written straight to
/// bytes: building a `serde_json::Map` first cost a key allocation per field and a tree insert,
/// several times per request.
pub(crate) fn object_line<V: Serialize>(fields: &[(&str, V)]) -> Option<Vec<u8>> {
    let mut line = Vec::with_capacity(384);
    let mut serializer = serde_json::Serializer::new(&mut line);
    let mut object = serializer.serialize_map(Some(fields.len())).ok()?;
    for (index, (name, value)) in fields.iter().enumerate() {
        if fields[index + 1..].iter().all(|(later, _)| later != name) {
            object.serialize_entry(name, value).ok()?;
        }
    }
    object.end().ok()?;
    Some(line)
}

/// A log line's value: ours, or one recorded on the event or a span.
#[derive(Serialize)]
#[serde(untagged)]
enum LineValue<'a> {
    Text(&'a str),
    Recorded(&'a Value),
}

/// `2026-11-24T15:51:57.123Z`: UTC, milliseconds.
fn utc_millis(now: jiff::Timestamp) -> String {
    format!("{now:.3}")
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
        let mut own = Fields::with_capacity(8);
        event.record(&mut Recorder(&mut own));
        let spans: Vec<_> = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().collect())
            .unwrap_or_default();
        let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
        let timestamp = utc_millis(jiff::Timestamp::now());
        let mut fields = Vec::with_capacity(24);
        fields.extend([
            ("timestamp", LineValue::Text(&timestamp)),
            ("level", LineValue::Text(level_name(*metadata.level()))),
            ("logger", LineValue::Text(metadata.target())),
            (
                "module",
                LineValue::Text(metadata.module_path().unwrap_or(metadata.target())),
            ),
            ("function", LineValue::Text(&self.function)),
        ]);
        for span_fields in extensions.iter().filter_map(|e| e.get::<SpanFields>()) {
            fields.extend(
                span_fields
                    .0
                    .iter()
                    .map(|(k, v)| (*k, LineValue::Recorded(v))),
            );
        }
        fields.extend(own.iter().map(|(k, v)| (*k, LineValue::Recorded(v))));
        if let Some(line) = object_line(&fields) {
            self.sink.write_line(&line);
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

/// The span a call to a service outside the process (an OpenID Provider) runs in, at debug
/// level, so production logs never show it. The request benchmark counts the time inside it
/// as it counts store calls: the service's answer and the HTTP client's work are not ours.
pub const EXTERNAL_CALL_SPAN: &str = "external_call";

/// A subscriber writing our JSON lines at `level`; chatty dependencies only from WARN.
pub fn subscriber(
    function: &str,
    level: LogLevel,
    sink: Sink,
) -> impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync {
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
                // Whatever the case, wherever the word is in the name.
                Password = "p1",
                x_AUTHORIZATION_header = "p2",
                Code = "p3",
                user_TotpCode = "p4",
                encoded = "kept",
                "oops"
            );
        });
        let text = serde_json::to_string(&lines).unwrap();
        for value in ["hunter2", "\"rt\"", "123456", "p1", "p2", "p3", "p4"] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
        assert_eq!(lines[0]["user_id"], "u1");
        assert_eq!(lines[0]["encoded"], "kept");
        assert_eq!(lines[0]["level"], "WARNING");
    }

    #[test]
    fn a_field_named_twice_is_written_once_with_its_latest_value() {
        let sink = Sink::memory();
        tracing::subscriber::with_default(subscriber("f", LogLevel::Info, sink.clone()), || {
            let outer =
                tracing::info_span!("outer", path = "/outer", status = tracing::field::Empty);
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", path = "/inner");
            let _inner = inner.enter();
            outer.record("status", 1);
            outer.record("status", 2);
            tracing::info!("first");
            tracing::info!(path = "/event", "second");
        });
        let lines = sink.lines();
        for (line, path) in lines.iter().zip(["/inner", "/event"]) {
            assert_eq!(line.matches("\"path\"").count(), 1, "{line}");
            assert_eq!(line.matches("\"status\"").count(), 1, "{line}");
            let parsed: Value = serde_json::from_str(line).unwrap();
            assert_eq!(parsed["path"], path);
            assert_eq!(parsed["status"], 2);
        }
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let at: jiff::Timestamp = "2026-03-04T05:06:07.089999Z".parse().unwrap();
        assert_eq!(utc_millis(at), "2026-03-04T05:06:07.089Z");
        let whole: jiff::Timestamp = "2026-03-04T05:06:07Z".parse().unwrap();
        assert_eq!(utc_millis(whole), "2026-03-04T05:06:07.000Z");
        let line = &capture(|| tracing::info!("now"))[0];
        let stamp = line["timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-03-04T05:06:07.089Z".len(), "{stamp}");
        assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
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
