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

/// How long a user's own security history is kept.
pub const HISTORY_DAYS: i64 = 90;

pub fn history_partition(user_id: &str) -> String {
    format!("EVENTS#{user_id}")
}

/// The write that keeps `event_type` in the user's own history (`GET /v1/auth/events`): put it
/// in the transaction the action already makes, so it costs no extra round trip.
///
/// ```text
/// EVENTS#<user id>   <epoch ms, zero-padded>#<id>   {event_type, at, ip, user_agent}   TTL: 90 days
/// ```
pub fn history_write(
    ctx: &AppContext,
    event_type: &'static str,
    user_id: &str,
    origin: &Origin,
) -> crate::store::Write {
    let now = ctx.clock.now();
    let sort = format!(
        "{:015}#{}",
        now.as_millisecond(),
        crate::ids::random_uuid().simple()
    );
    let mut item =
        crate::store::Item::new(&crate::store::Key::new(history_partition(user_id), sort))
            .with("event_type", event_type)
            .with("at", now.to_string())
            .with_ttl(now.as_second() + HISTORY_DAYS * 86_400);
    if let Some(ip) = &origin.ip {
        item.set("ip", ip.clone());
    }
    if let Some(agent) = &origin.user_agent {
        item.set("user_agent", agent.clone());
    }
    crate::store::Write::Put {
        item,
        condition: None,
    }
}
