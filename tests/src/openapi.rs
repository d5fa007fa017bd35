//! The API's OpenAPI document generated from every function's routers: the source of the copy
//! the health function serves (`functions/health/openapi.json`, written by `make openapi`).

use std::path::PathBuf;

use shared::testkit::workspace_root;

/// Where the health function's committed copy lives.
pub fn committed_path() -> PathBuf {
    workspace_root().join("functions/health/openapi.json")
}

/// Every function's routes merged into one document, versioned paths under `api_prefix`.
pub fn generate(api_prefix: &str) -> serde_json::Value {
    let mut doc = health::api(api_prefix).into_openapi();
    doc.merge(auth::api(api_prefix).into_openapi());
    doc.merge(mfa::api(api_prefix).into_openapi());
    doc.merge(::oauth::api(api_prefix).into_openapi());
    doc.merge(::tracker::api(api_prefix).into_openapi());
    shared::openapi::finish(&mut doc);
    serde_json::to_value(&doc).unwrap()
}

/// The committed copy's exact text: pretty, so that a change to the API reads as a diff.
pub fn generate_committed_text() -> String {
    let mut text = serde_json::to_string_pretty(&generate(health::DOCUMENT_PREFIX)).unwrap();
    text.push('\n');
    text
}
