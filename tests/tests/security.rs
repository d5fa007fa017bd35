//! The attack suite, part one: forged, altered and misused tokens against every operation of
//! the OpenAPI document that needs a bearer token, on the embedded store and on DynamoDB Local.
//! Each attack must answer 401 `UNAUTHORIZED` everywhere; the run prints how many were tried.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use api_tests::client::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::testkit::{TestStore, json_request, request};

shared::on_both_backends!(every_forged_or_misused_token_is_refused_everywhere);

static ATTACKS: AtomicUsize = AtomicUsize::new(0);

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The parts of a token, decoded.
fn parts(token: &str) -> (Value, Value) {
    let mut pieces = token.split('.');
    let decode = |piece: Option<&str>| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(piece.unwrap()).unwrap()).unwrap()
    };
    (decode(pieces.next()), decode(pieces.next()))
}

/// Signs `claims` with `key` under HS256 and the header fields in `extra`.
fn sign(claims: &Value, key: &[u8], kid: Option<&str>, extra: impl FnOnce(&mut Header)) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    extra(&mut header);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key)).unwrap()
}

/// A body each operation accepts. A token is verified before the body is read, but the session
/// it names is checked with the request's own store work (never as an extra round trip), so a
/// correctly signed token of an ended session meets body validation first: valid bodies make
/// every attack reach the session check.
fn valid_body(path: &str) -> Value {
    match path.rsplit('/').next().unwrap_or_default() {
        "enable" | "regenerate" | "disable" => json!({"code": "123456"}),
        "change" => json!({"current_password": PASSWORD, "new_password": "a new passphrase here"}),
        _ if path.starts_with("/v1/admin/users/") => json!({"roles": ["STUDENT"]}),
        _ => json!({}),
    }
}

async fn every_forged_or_misused_token_is_refused_everywhere(t: TestStore) {
    let (api, ctx) = api_and_context(
        &t,
        &[("SESSION_POLICY", "multi"), ("SEED_DEMO_ACCOUNTS", "true")],
    );
    auth::seed::demo_accounts(&ctx).await.unwrap();
    let (admin, _) = tokens(&login(&api, "admin@example.com", "Admin123!").await);
    let signed_up = signup(&api, "target@example.com").await;
    let (valid, refresh_token) = tokens(&signed_up);
    let (header, claims) = parts(&valid);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let key = ctx.secrets.jwt_secret().expose_secret().as_bytes().to_vec();
    let now = ctx.clock.epoch_seconds();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };

    // Tokens of real sessions that must no longer work.
    let (revoked, revoked_refresh) = tokens(&login(&api, "target@example.com", PASSWORD).await);
    api.send(json_request(
        "POST",
        "/v1/auth/logout",
        &json!({"refresh_token": revoked_refresh}),
    ))
    .await;
    // An account deleted as deletion will delete it: its whole partition (profile, sessions…).
    let (of_deleted, _) = tokens(&signup(&api, "deleted@example.com").await);
    let deleted_id = parts(&of_deleted).1["sub"].as_str().unwrap().to_owned();
    let partition = shared::accounts::users::user_partition(&deleted_id);
    for item in ctx
        .store
        .query(shared::store::Query::table(partition))
        .await
        .unwrap()
        .items
    {
        ctx.store.delete(&item.key().unwrap(), None).await.unwrap();
    }
    let (of_disabled, _) = tokens(&signup(&api, "disabled@example.com").await);
    let disabled_id = parts(&of_disabled).1["sub"].as_str().unwrap().to_owned();
    let disabled = api
        .send(with_bearer(
            json_request(
                "PATCH",
                &format!("/v1/admin/users/{disabled_id}"),
                &json!({"disabled": true}),
            ),
            &admin,
        ))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text());
    let (mfa_pending, _) = ctx
        .tokens
        .issue(
            shared::auth::TokenType::MfaPending,
            claims["sub"].as_str().unwrap(),
            claims["sid"].as_str(),
            &[],
            std::time::Duration::from_secs(300),
            now,
        )
        .unwrap();

    let tampered = {
        let mut pieces: Vec<String> = valid.split('.').map(str::to_owned).collect();
        pieces[1] = b64(&with(json!({"roles": ["ADMIN"]})));
        pieces.join(".")
    };
    let public_key_pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                b64(&claims)
            ),
        ),
        (
            "alg None, signature kept",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "None", "kid": kid})),
                b64(&claims),
                valid.split('.').nth(2).unwrap()
            ),
        ),
        (
            "HS256 with an empty key",
            sign(&claims, b"", Some(&kid), |_| {}),
        ),
        (
            "HS256 with a public key as the secret",
            sign(&claims, public_key_pem.as_bytes(), Some(&kid), |_| {}),
        ),
        ("HS384 with the right key", {
            let mut header = Header::new(Algorithm::HS384);
            header.kid = Some(kid.clone());
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key)).unwrap()
        }),
        ("no kid", sign(&claims, &key, None, |_| {})),
        (
            "unknown kid",
            sign(&claims, &key, Some("0011223344556677"), |_| {}),
        ),
        (
            "path-like kid",
            sign(&claims, &key, Some("../../../../dev/null"), |_| {}),
        ),
        (
            "embedded jwk",
            sign(&claims, &key, Some(&kid), |h| {
                h.jwk = serde_json::from_value(
                    json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(&key)}),
                )
                .ok();
            }),
        ),
        (
            "jku header",
            sign(&claims, &key, Some(&kid), |h| {
                h.jku = Some("https://attacker.example/jwks.json".to_owned());
            }),
        ),
        (
            "x5u header",
            sign(&claims, &key, Some(&kid), |h| {
                h.x5u = Some("https://attacker.example/cert.pem".to_owned());
            }),
        ),
        (
            "expired",
            sign(
                &with(json!({"iat": now - 3600, "exp": now - 1})),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        (
            "not yet valid",
            sign(
                &with(json!({"iat": now + 3600, "exp": now + 7200})),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        (
            "wrong issuer",
            sign(
                &with(json!({"iss": "https://attacker.example"})),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        (
            "wrong audience",
            sign(
                &with(json!({"aud": "another-api"})),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        (
            "no typ",
            sign(
                &{
                    let mut c = claims.clone();
                    c.as_object_mut().unwrap().remove("typ");
                    c
                },
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        ("typ mfa_pending", mfa_pending),
        (
            "an ID token",
            sign(
                &json!({"iss": claims["iss"], "aud": claims["aud"], "sub": claims["sub"],
                        "iat": now, "exp": now + 600, "nonce": "n", "email": "target@example.com"}),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        ("a refresh token", refresh_token.clone()),
        ("tampered payload", tampered),
        ("truncated signature", valid[..valid.len() - 4].to_owned()),
        ("no sid", {
            let mut c = claims.clone();
            c.as_object_mut().unwrap().remove("sid");
            sign(&c, &key, Some(&kid), |_| {})
        }),
        (
            "a session that never existed",
            sign(
                &with(json!({"sid": uuid::Uuid::new_v4().to_string()})),
                &key,
                Some(&kid),
                |_| {},
            ),
        ),
        ("a revoked session", revoked),
        ("a deleted account", of_deleted),
        ("a disabled account", of_disabled),
        ("garbage", "not.a.token".to_owned()),
        ("oversized", format!("{}{}", valid, "A".repeat(8000))),
    ];

    let operations = bearer_operations();
    assert!(operations.len() >= 13, "{operations:?}");
    for (name, token) in &attacks {
        for (method, path) in &operations {
            let response = api
                .send(with_bearer(
                    json_request(method, path, &valid_body(path)),
                    token,
                ))
                .await;
            assert_eq!(
                (
                    response.status.as_u16(),
                    response.json()["error"]["code"].clone()
                ),
                (401, json!("UNAUTHORIZED")),
                "{name}: {method} {path}: {}",
                response.text()
            );
            ATTACKS.fetch_add(1, Ordering::SeqCst);
        }
    }
    // The genuine token still works: the attacks changed nothing.
    assert_eq!(me(&api, &valid).await.status, 200);
    let sessions = api
        .send(with_bearer(request("GET", "/v1/auth/sessions"), &valid))
        .await;
    assert_eq!(sessions.status, 200);
    println!(
        "security: {} token attacks on {} bearer operations, all refused with 401 ({} attacks tried so far)",
        attacks.len(),
        operations.len(),
        ATTACKS.load(Ordering::SeqCst)
    );
}
