//! Tokens: signed JWTs for access and for a pending MFA step, opaque random tokens for refresh
//! and one-time uses (stored only as an HMAC with the pepper).
//!
//! Verification pins everything an attacker could choose: the algorithm (no `none`, no
//! algorithm switching), the key (by `kid`, from our own key set only; `jwk`/`jku`/`x5u` headers
//! are refused), the issuer, the audience and the token type. Expiry is checked against our
//! clock, not the system's, so it is testable.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::roles::Role;
use crate::config::{JwtAlgorithm, TokenSettings};
use crate::secrets::Secrets;

/// Longest token we try to parse.
const MAX_TOKEN_LEN: usize = 4096;
/// Clock skew tolerated on `iat`, in seconds.
const IAT_LEEWAY: i64 = 30;

/// What a JWT may be used for (its `typ` claim).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// Bearer access to the API.
    Access,
    /// Proof of a correct password, waiting for the second factor; never an access token.
    MfaPending,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub typ: TokenType,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed with another algorithm")]
    WrongAlgorithm,
    #[error("token names a key we do not have")]
    UnknownKey,
    #[error("token carries its own key material")]
    EmbeddedKey,
    #[error("invalid token signature or claims")]
    Invalid,
    #[error("expired token")]
    Expired,
    #[error("token issued in the future")]
    NotYetValid,
    #[error("token of another type")]
    WrongType,
    #[error("could not sign the token")]
    Signing,
}

/// The signing key and every key still accepted, by `kid`.
///
/// Tokens are signed and checked here with aws-lc's HMAC over the JWS signing input, with keys
/// prepared once: `jsonwebtoken::encode` and its `crypto::verify` prepare the HMAC key again
/// for every token (a tenth of a refresh's own CPU). A token whose header is byte for byte one
/// we write (every token we issue) is matched to its key without parsing the header; any other
/// header is read by `jsonwebtoken` and checked field by field.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    signing_kid: String,
    /// `base64url(header) + "."`: the same for every token the signing key signs.
    signing_prefix: String,
    signing: hmac::Key,
    verifying: HashMap<String, hmac::Key>,
    /// `base64url(header)` as we write it for each accepted key, with that key.
    own_headers: Vec<(String, hmac::Key)>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("signing_kid", &self.signing_kid)
            .finish_non_exhaustive()
    }
}

/// A key's id: the start of its SHA-256, which reveals nothing about a 256-bit random key.
fn key_id(secret: &SecretString) -> String {
    let hash = digest::digest(&digest::SHA256, secret.expose_secret().as_bytes());
    hex::encode(&hash.as_ref()[..8])
}

impl TokenKeys {
    pub fn new(settings: &TokenSettings, secrets: &Secrets) -> Self {
        let (algorithm, hmac_algorithm) = match settings.jwt_alg {
            JwtAlgorithm::HS256 => (Algorithm::HS256, hmac::HMAC_SHA256),
            JwtAlgorithm::HS384 => (Algorithm::HS384, hmac::HMAC_SHA384),
            JwtAlgorithm::HS512 => (Algorithm::HS512, hmac::HMAC_SHA512),
        };
        let hmac_key = |secret: &SecretString| {
            hmac::Key::new(hmac_algorithm, secret.expose_secret().as_bytes())
        };
        let current = secrets.jwt_secret();
        let verifying: HashMap<String, hmac::Key> = std::iter::once(current)
            .chain(secrets.jwt_previous_secrets())
            .map(|key| (key_id(key), hmac_key(key)))
            .collect();
        let header_for = |kid: &str| {
            let mut header = Header::new(algorithm);
            header.kid = Some(kid.to_owned());
            // A header is strings and an enum: serialising it cannot fail.
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default())
        };
        let own_headers = verifying
            .iter()
            .map(|(kid, key)| (header_for(kid), key.clone()))
            .collect();
        let signing_kid = key_id(current);
        let mut signing_prefix = header_for(&signing_kid);
        signing_prefix.push('.');
        Self {
            algorithm,
            signing_kid,
            signing_prefix,
            signing: hmac_key(current),
            verifying,
            own_headers,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }
    }

    /// Signs a token of type `typ` for `sub`, valid for `ttl` from `now` (epoch seconds).
    pub fn issue(
        &self,
        typ: TokenType,
        sub: &str,
        sid: Option<&str>,
        roles: &[Role],
        ttl: Duration,
        now: i64,
    ) -> Result<(String, Claims), TokenError> {
        let claims = Claims {
            sub: sub.to_owned(),
            sid: sid.map(str::to_owned),
            roles: roles.to_vec(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: crate::ids::random_uuid().to_string(),
            typ,
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| TokenError::Signing)?;
        // JWS compact serialisation: header.payload, then the MAC of those two, base64url.
        let mut token =
            String::with_capacity(self.signing_prefix.len() + payload.len() * 4 / 3 + 90);
        token.push_str(&self.signing_prefix);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let tag = hmac::sign(&self.signing, token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok((token, claims))
    }

    /// Verifies a token of type `expected` at `now` (epoch seconds).
    pub fn verify(&self, token: &str, expected: TokenType, now: i64) -> Result<Claims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (header, _) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let key = match self.own_headers.iter().find(|(own, _)| own == header) {
            Some((_, key)) => key,
            None => self.key_for_header(token)?,
        };
        // The signature over `header.payload`, then the claims, each parsed once (decode()
        // would parse the header again and the claims twice, through a JSON value).
        let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (_, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        // Constant time.
        hmac::verify(key, message.as_bytes(), &tag).map_err(|_| TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        // Every claim but `sid` and `roles` is required by the type.
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.iat > now + IAT_LEEWAY {
            return Err(TokenError::NotYetValid);
        }
        if claims.typ != expected {
            return Err(TokenError::WrongType);
        }
        Ok(claims)
    }

    /// The key a header we did not write names, once the header passes every check: our
    /// algorithm, no key material of its own, a `kid` of ours.
    fn key_for_header(&self, token: &str) -> Result<&hmac::Key, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != self.algorithm {
            return Err(TokenError::WrongAlgorithm);
        }
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::EmbeddedKey);
        }
        header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenError::UnknownKey)
    }
}

/// A new opaque token: 256 random bits, URL-safe.
pub fn new_opaque_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for an opaque token: HMAC-SHA256 with the pepper, hex. A copy of the table
/// without the pepper cannot be turned back into usable tokens.
pub fn opaque_token_digest(pepper: &hmac::Key, token: &str) -> String {
    hex::encode(hmac::sign(pepper, token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnvMap, Settings};
    use jsonwebtoken::EncodingKey;

    fn keys_with(secrets: &Secrets) -> TokenKeys {
        let settings = Settings::from_env(&EnvMap::default(), "test").unwrap();
        TokenKeys::new(&settings.tokens, secrets)
    }

    const NOW: i64 = 1_800_000_000;
    const TTL: Duration = Duration::from_secs(900);

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let keys = keys_with(&Secrets::generate());
        let (token, issued) = keys
            .issue(
                TokenType::Access,
                "user-1",
                Some("sid-1"),
                &[Role::Student],
                TTL,
                NOW,
            )
            .unwrap();
        let claims = keys.verify(&token, TokenType::Access, NOW + 10).unwrap();
        assert_eq!(claims, issued);
        assert_eq!(claims.exp, NOW + 900);
        assert_eq!(claims.iss, "medical-platform");
        assert_eq!(claims.aud, "medical-platform-api");
        assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
    }

    #[test]
    fn expiry_type_and_time_are_enforced() {
        let keys = keys_with(&Secrets::generate());
        let (token, _) = keys
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        assert_eq!(
            keys.verify(&token, TokenType::Access, NOW + 900),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, TokenType::Access, NOW - 60),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            keys.verify(&token, TokenType::MfaPending, NOW),
            Err(TokenError::WrongType)
        );
        let (pending, _) = keys
            .issue(TokenType::MfaPending, "u", None, &[], TTL, NOW)
            .unwrap();
        assert_eq!(
            keys.verify(&pending, TokenType::Access, NOW),
            Err(TokenError::WrongType)
        );
    }

    /// The reference implementation and ours agree both ways, for every algorithm we offer.
    #[test]
    fn tokens_interoperate_with_jsonwebtoken() {
        for alg in ["HS256", "HS384", "HS512"] {
            let mut env = EnvMap::default();
            env.set("JWT_ALG", alg);
            let settings = Settings::from_env(&env, "test").unwrap();
            let secrets = Secrets::generate();
            let keys = TokenKeys::new(&settings.tokens, &secrets);
            let algorithm = keys.algorithm;
            let secret = secrets.jwt_secret().expose_secret().as_bytes();

            let (ours, issued) = keys
                .issue(TokenType::Access, "u", Some("s"), &[Role::Admin], TTL, NOW)
                .unwrap();
            let header = jsonwebtoken::decode_header(&ours).unwrap();
            assert_eq!(header.alg, algorithm, "{alg}");
            assert_eq!(
                header.kid.as_deref(),
                Some(key_id(secrets.jwt_secret()).as_str())
            );
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.validate_exp = false;
            validation.set_audience(&[issued.aud.as_str()]);
            validation.set_issuer(&[issued.iss.as_str()]);
            let decoded = jsonwebtoken::decode::<Claims>(
                &ours,
                &jsonwebtoken::DecodingKey::from_secret(secret),
                &validation,
            )
            .unwrap();
            assert_eq!(decoded.claims, issued, "{alg}");

            let theirs = jsonwebtoken::encode(
                &header,
                &issued,
                &jsonwebtoken::EncodingKey::from_secret(secret),
            )
            .unwrap();
            assert_eq!(
                theirs, ours,
                "{alg}: the same header and claims sign the same"
            );
            assert_eq!(keys.verify(&theirs, TokenType::Access, NOW), Ok(issued));
        }
    }

    /// A header we did not write byte for byte (members in another order, spaces) is read and
    /// checked instead of matched, and verifies when it says what ours say.
    #[test]
    fn a_header_written_differently_is_read_and_checked() {
        let secrets = Secrets::generate();
        let keys = keys_with(&secrets);
        let (token, issued) = keys
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        let (_, payload_and_signature) = token.split_once('.').unwrap();
        let (payload, _) = payload_and_signature.split_once('.').unwrap();
        let kid = key_id(secrets.jwt_secret());
        let sign = |header_json: &str| {
            let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header_json));
            let tag = hmac::sign(&keys.signing, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
        };
        let reordered = sign(&format!(
            r#"{{ "kid": "{kid}", "alg": "HS256", "typ": "JWT" }}"#
        ));
        assert!(
            keys.own_headers
                .iter()
                .all(|(own, _)| !reordered.starts_with(own.as_str()))
        );
        assert_eq!(
            keys.verify(&reordered, TokenType::Access, NOW),
            Ok(issued.clone())
        );
        let unknown = sign(r#"{"alg":"HS256","typ":"JWT","kid":"0000000000000000"}"#);
        assert_eq!(
            keys.verify(&unknown, TokenType::Access, NOW),
            Err(TokenError::UnknownKey)
        );
        let embedded = sign(&format!(
            r#"{{"alg":"HS256","kid":"{kid}","jwk":{{"kty":"oct","k":"AAAA"}}}}"#
        ));
        assert_eq!(
            keys.verify(&embedded, TokenType::Access, NOW),
            Err(TokenError::EmbeddedKey)
        );
    }

    #[test]
    fn foreign_and_tampered_tokens_are_refused() {
        let keys = keys_with(&Secrets::generate());
        let other = keys_with(&Secrets::generate());
        let (foreign, _) = other
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        assert_eq!(
            keys.verify(&foreign, TokenType::Access, NOW),
            Err(TokenError::UnknownKey)
        );

        let (token, _) = keys
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let forged = String::from_utf8(payload)
            .unwrap()
            .replace("\"roles\":[]", "\"roles\":[\"ADMIN\"]");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged),
            parts[2]
        );
        assert_eq!(
            keys.verify(&tampered, TokenType::Access, NOW),
            Err(TokenError::Invalid)
        );

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(keys.verify(&none, TokenType::Access, NOW).is_err());
        for garbage in ["", "a.b", "a.b.c", &"x".repeat(5000)] {
            assert!(
                keys.verify(garbage, TokenType::Access, NOW).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn another_algorithm_or_an_embedded_key_is_refused() {
        let secrets = Secrets::generate();
        let keys = keys_with(&secrets);
        let kid = key_id(secrets.jwt_secret());
        let claims = keys
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap()
            .1;
        let sign = |header: Header| {
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(secrets.jwt_secret().expose_secret().as_bytes()),
            )
            .unwrap()
        };
        let mut hs512 = Header::new(Algorithm::HS512);
        hs512.kid = Some(kid.clone());
        assert_eq!(
            keys.verify(&sign(hs512), TokenType::Access, NOW),
            Err(TokenError::WrongAlgorithm)
        );
        let mut with_jku = Header::new(Algorithm::HS256);
        with_jku.kid = Some(kid.clone());
        with_jku.jku = Some("https://attacker.example/keys".into());
        assert_eq!(
            keys.verify(&sign(with_jku), TokenType::Access, NOW),
            Err(TokenError::EmbeddedKey)
        );
        let mut path_kid = Header::new(Algorithm::HS256);
        path_kid.kid = Some("../../etc/passwd".into());
        assert_eq!(
            keys.verify(&sign(path_kid), TokenType::Access, NOW),
            Err(TokenError::UnknownKey)
        );
        let mut no_kid = Header::new(Algorithm::HS256);
        no_kid.kid = None;
        assert_eq!(
            keys.verify(&sign(no_kid), TokenType::Access, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn signed_tokens_for_another_issuer_audience_or_without_a_claim_are_refused() {
        // Signed with our own key, as a deployment sharing the secret (or a bug) could sign.
        let secrets = Secrets::generate();
        let keys = keys_with(&secrets);
        let (token, _) = keys
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key_id(secrets.jwt_secret()));
        let sign = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut claims = claims.clone();
            change(&mut claims);
            let key = EncodingKey::from_secret(secrets.jwt_secret().expose_secret().as_bytes());
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        };
        assert!(keys.verify(&sign(&|_| {}), TokenType::Access, NOW).is_ok());
        let refused: [&dyn Fn(&mut serde_json::Value); 5] = [
            &|c| c["iss"] = "https://someone-else.example".into(),
            &|c| c["aud"] = "another-api".into(),
            &|c| c["aud"] = serde_json::json!(["another-api", c["aud"].clone()]),
            &|c| drop(c.as_object_mut().unwrap().remove("exp")),
            &|c| drop(c.as_object_mut().unwrap().remove("sub")),
        ];
        for change in refused {
            assert_eq!(
                keys.verify(&sign(change), TokenType::Access, NOW),
                Err(TokenError::Invalid)
            );
        }
    }

    #[test]
    fn a_rotated_key_still_verifies_until_removed() {
        let old = Secrets::generate();
        let (token, _) = keys_with(&old)
            .issue(TokenType::Access, "u", Some("s"), &[], TTL, NOW)
            .unwrap();
        let rotated = Secrets::generate().with_previous_jwt_secret(old.jwt_secret().clone());
        assert!(
            keys_with(&rotated)
                .verify(&token, TokenType::Access, NOW)
                .is_ok()
        );
        let forgotten = Secrets::generate();
        assert_eq!(
            keys_with(&forgotten).verify(&token, TokenType::Access, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn opaque_tokens_are_random_and_stored_as_peppered_digests() {
        let token = new_opaque_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_opaque_token());
        let (one, two) = (Secrets::generate(), Secrets::generate());
        let digest = opaque_token_digest(one.token_pepper_key(), &token);
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, opaque_token_digest(one.token_pepper_key(), &token));
        assert_ne!(digest, opaque_token_digest(two.token_pepper_key(), &token));
        // Stored digests stay findable: HMAC-SHA256 with the pepper as the key, in hex
        // (RFC 4231, test case 2), and the prepared key is the pepper's.
        let jefe = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            opaque_token_digest(&jefe, "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let from_value = hmac::Key::new(
            hmac::HMAC_SHA256,
            one.token_pepper().expose_secret().as_bytes(),
        );
        assert_eq!(digest, opaque_token_digest(&from_value, &token));
        assert!(!digest.contains(&token));
    }
}
