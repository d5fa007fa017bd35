//! Audit events: structured log records with an `event_type`, the user and where the request
//! came from — never a password, token or code — and the `security_events_total` metric.

use crate::AppContext;
use crate::accounts::Origin;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
        }
    }
}

/// Records `event_type` (e.g. `auth.login.success`) for `user_id`.
pub fn record(ctx: &AppContext, event_type: &'static str, user_id: Option<&str>, origin: &Origin) {
    emit(ctx, event_type, Severity::Info, user_id, origin);
}

/// Records an event that needs attention (reuse of a rotated token, a lockout, …).
pub fn security(
    ctx: &AppContext,
    event_type: &'static str,
    user_id: Option<&str>,
    origin: &Origin,
) {
    emit(ctx, event_type, Severity::Warning, user_id, origin);
}

fn emit(
    ctx: &AppContext,
    event_type: &'static str,
    severity: Severity,
    user_id: Option<&str>,
    origin: &Origin,
) {
    let user_id = user_id.unwrap_or("");
    let ip = origin.ip.as_deref().unwrap_or("");
    match severity {
        Severity::Info => tracing::info!(event_type, user_id, ip, "audit event"),
        Severity::Warning => tracing::warn!(event_type, user_id, ip, "security event"),
    }
    ctx.metrics.count(
        "security_events_total",
        &[("event_type", event_type), ("severity", severity.as_str())],
    );
}
