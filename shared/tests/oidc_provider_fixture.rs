//! The OpenID Provider fixture itself: discovery, a whole authorization code flow with PKCE as
//! our OAuth client runs it, and a tampered ID token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use shared::testkit::oidc_provider::{OidcProvider, http_request};

const REDIRECT_URI: &str = "http://127.0.0.1:9/v1/auth/oauth/local/callback";

fn client() -> Value {
    json!([{
        "client_id": "app",
        "client_secret": "app-secret",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }])
}

async fn get_json(url: &str) -> Value {
    let (status, body) = http_request("GET", url, &[], "").await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).expect("JSON body")
}

/// Header and payload of a compact JWT, unverified.
fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || {
        let part = parts.next().expect("JWT part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    let header = decode();
    (header, decode())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// One authorization code flow, as our OAuth client runs it; returns the ID token.
async fn flow(provider: &OidcProvider, discovery: &Value, nonce: &str) -> String {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );
    let state = uuid::Uuid::new_v4().simple().to_string();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let authorization_endpoint = discovery["authorization_endpoint"].as_str().expect("auth");
    let account = json!({
        "sub": "user-1",
        "email": "ada@example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "tid": "tenant-1",
    });
    let location = provider
        .authorize(&format!("{authorization_endpoint}?{query}"), &account)
        .await;
    assert!(location.starts_with(REDIRECT_URI), "location: {location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some(&*state));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(&*provider.issuer)
    );
    let code = query_param(&location, "code").expect("code in the redirect");

    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_verifier", &verifier)
        .finish();
    let basic = format!("Basic {}", STANDARD.encode("app:app-secret"));
    let token_endpoint = discovery["token_endpoint"].as_str().expect("token");
    let (status, body) = http_request(
        "POST",
        token_endpoint,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &basic),
        ],
        &form,
    )
    .await;
    assert_eq!(status, 200, "token endpoint: {body}");
    let tokens: Value = serde_json::from_str(&body).expect("token JSON");
    tokens["id_token"].as_str().expect("id_token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_runs_a_code_flow_and_tampers_with_the_next_id_token() {
    let provider = OidcProvider::start(client());
    let discovery = get_json(&format!(
        "{}/.well-known/openid-configuration",
        provider.issuer
    ))
    .await;
    assert_eq!(discovery["issuer"], provider.issuer.as_str());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/jwks", provider.issuer).as_str()
    );
    let jwks = get_json(discovery["jwks_uri"].as_str().expect("jwks_uri")).await;
    let kid = jwks["keys"][0]["kid"].clone();
    assert!(kid.is_string(), "jwks: {jwks}");

    let (header, claims) = jwt_parts(&flow(&provider, &discovery, "nonce-1").await);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], kid);
    assert_eq!(claims["iss"], provider.issuer.as_str());
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["tid"], "tenant-1");

    provider.tamper("audience").await;
    let (header, claims) = jwt_parts(&flow(&provider, &discovery, "nonce-2").await);
    assert_eq!(claims["aud"], "someone-else");
    assert_eq!(claims["nonce"], "nonce-2");
    assert_eq!(header["kid"], kid);

    // Only the next token response is tampered with.
    let (_, claims) = jwt_parts(&flow(&provider, &discovery, "nonce-3").await);
    assert_eq!(claims["aud"], "app");
}
