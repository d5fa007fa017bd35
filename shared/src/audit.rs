//! Audit events: structured log records with an `event_type`, the user and where the request
//! came from. Never a password, token or code.

use crate::accounts::Origin;

/// Records `event_type` (e.g. `auth.login.success`) for `user_id`.
pub fn record(event_type: &'static str, user_id: Option<&str>, origin: &Origin) {
    tracing::info!(
        event_type,
        user_id = user_id.unwrap_or(""),
        ip = origin.ip.as_deref().unwrap_or(""),
        "audit event"
    );
}

/// Records a security event that needs attention (reuse of a rotated token, …).
pub fn security(event_type: &'static str, user_id: Option<&str>, origin: &Origin) {
    tracing::warn!(
        event_type,
        user_id = user_id.unwrap_or(""),
        ip = origin.ip.as_deref().unwrap_or(""),
        "security event"
    );
}
