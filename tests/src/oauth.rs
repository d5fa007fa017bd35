//! Sign-ins through the oauth function against a real OpenID Provider (the `oidc-provider`
//! fixture on 127.0.0.1, one per test process), configured as the generic provider `local`.

use std::sync::OnceLock;

use serde_json::{Value, json};
use shared::testkit::oidc_provider::OidcProvider;
use shared::testkit::{TestResponse, request};

use crate::Gateway;

/// The redirect URI registered at the provider: our callback (never really requested; the
/// fixture stops there and the test sends it through the gateway).
pub const CALLBACK: &str = "http://127.0.0.1:9/v1/auth/oauth/local/callback";
/// A client page on the allowed list.
pub const APP_PAGE: &str = "https://app.example.com/oauth/done";

/// The provider of this test process, started on first use.
pub fn provider() -> &'static OidcProvider {
    static PROVIDER: OnceLock<OidcProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        OidcProvider::start(json!([{
            "client_id": "app",
            "client_secret": "app-secret",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }]))
    })
}

/// The settings that configure `local` as the fixture, and the allowed client page.
pub fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("OAUTH_PROVIDERS", "local"),
        ("OAUTH_LOCAL_ISSUER", provider().issuer.as_str()),
        ("OAUTH_LOCAL_CLIENT_ID", "app"),
        ("OAUTH_LOCAL_CLIENT_SECRET", "app-secret"),
        ("OAUTH_LOCAL_REDIRECT_URI", CALLBACK),
        ("OAUTH_ALLOWED_REDIRECT_URIS", APP_PAGE),
    ]
}

/// An account at the provider: a new subject with a verified `email`.
pub fn account(email: &str) -> Value {
    json!({
        "sub": uuid::Uuid::new_v4().to_string(),
        "email": email,
        "email_verified": true,
        "name": "Grace Hopper",
    })
}

/// The path and query of a URL (what the gateway routes).
pub fn path_and_query(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or_else(|| "/".to_owned(), |i| after_scheme[i..].to_owned())
}

/// A GET that asks for JSON (not a browser redirect).
pub fn json_get(path: &str) -> http::Request<axum::body::Body> {
    let mut req = request("GET", path);
    req.headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    req
}

/// `GET /authorize` asking for JSON: the provider's authorization URL.
pub async fn authorization_url(api: &Gateway) -> String {
    let response = api.send(json_get("/v1/auth/oauth/local/authorize")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Where the provider sends the browser back after `account` signs in there.
pub async fn provider_answer(api: &Gateway, account: &Value) -> String {
    let url = authorization_url(api).await;
    provider().authorize(&url, account).await
}

/// Our callback, called with the provider's answer, asking for JSON.
pub async fn callback(api: &Gateway, location: &str) -> TestResponse {
    api.send(json_get(&path_and_query(location))).await
}

/// A whole sign-in as `account`, in JSON.
pub async fn sign_in(api: &Gateway, account: &Value) -> TestResponse {
    let location = provider_answer(api, account).await;
    callback(api, &location).await
}

/// The `name=value` pairs of a URL's fragment.
pub fn fragment(url: &str) -> std::collections::BTreeMap<String, String> {
    let fragment = url.split_once('#').map_or("", |(_, f)| f);
    form_urlencoded::parse(fragment.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
