//! The configured OpenID Providers: discovery (cached with the provider's keys), the
//! authorization URL, the code exchange and the ID token's checks.
//!
//! The ID token is checked by openidconnect against the provider's JWKS: signature (by aws-lc,
//! see [`crate::keys`]; asymmetric algorithms only, so a token "signed" with our client secret or
//! with `none` never passes), `iss`, `aud` = our client id (and no untrusted second audience),
//! `exp` and `nonce`. The keys are cached with the discovery document for
//! `JWKS_CACHE_TTL_SECONDS`; a token naming a key we do not have refreshes them once (a provider
//! rotating its keys), at most every [`MIN_REFRESH_SECS`].

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};
use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shared::AppContext;
use shared::config::{IssuerCheck, OAuthProviderSettings};
use shared::telemetry::EXTERNAL_CALL_SPAN;
use tracing::Instrument;

use crate::keys::ProviderKey;

/// A token naming an unknown key refreshes the keys no more often than this.
pub const MIN_REFRESH_SECS: i64 = 30;
/// The longest provider answer we wait for.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Claims beyond the standard ones that we read: Microsoft's tenant (`tid`) and its "email
/// domain owner verified" flag (`xms_edov`), which stands in for `email_verified` there.
///
/// Read leniently: they arrive with the token endpoint's answer, whose parse failing would
/// say "provider unavailable" (503). A `tid` that is not a string is taken as absent, which
/// fails a tenant-checked sign-in as an unusable ID token (401) and means nothing elsewhere.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims {
    #[serde(default, deserialize_with = "string_or_nothing")]
    tid: Option<String>,
    #[serde(default)]
    xms_edov: Option<serde_json::Value>,
}

fn string_or_nothing<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        _ => None,
    })
}

impl AdditionalClaims for ExtraClaims {}

type IdToken = openidconnect::IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The token endpoint's answer, its ID token read with [`ExtraClaims`] as it arrives (the core
/// types would read it without them, so it had to be printed and read again).
type TokenAnswer = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// openidconnect's `CoreClient`, but for [`TokenAnswer`].
type Client = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Who the provider says signed in, after every check.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a sign-in at a provider did not give a verified identity.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the code (used, expired, for another client or verifier).
    #[error("the provider refused the authorization code: {0}")]
    CodeRefused(String),
    /// The ID token failed a check.
    #[error("the ID token failed a check: {0}")]
    InvalidIdToken(String),
    /// The ID token names a signing key the provider's key set (as we have it) lacks.
    #[error("the ID token names an unknown signing key")]
    UnknownKey,
    /// The provider could not be reached, or answered something unusable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// What starting a sign-in needs to remember until the callback.
pub struct Authorization {
    pub url: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A provider's discovery document and keys, as a client.
struct Discovery {
    client: Client,
    /// The issuer as the discovery document names it (Microsoft's holds `{tenantid}`).
    issuer: IssuerUrl,
    jwks: JsonWebKeySet<ProviderKey>,
}

struct Cached {
    discovery: Arc<Discovery>,
    fetched_at: i64,
}

/// reqwest, with each exchange in an [`EXTERNAL_CALL_SPAN`].
struct ProviderHttp(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future =
        Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let span = tracing::debug_span!(EXTERNAL_CALL_SPAN, service = "openid_provider");
        Box::pin(self.0.call(request).instrument(span))
    }
}

/// Every configured provider, with their discovery documents and keys cached per container.
pub struct Providers {
    /// Each provider's settings and its own cache (one slow provider never holds up another).
    providers: BTreeMap<String, (OAuthProviderSettings, tokio::sync::Mutex<Option<Cached>>)>,
    http: ProviderHttp,
    cache_ttl: i64,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A provider's settings; `None` when `name` is not configured.
pub struct Provider<'a> {
    pub settings: &'a OAuthProviderSettings,
    cache: &'a tokio::sync::Mutex<Option<Cached>>,
    providers: &'a Providers,
}

impl Providers {
    pub fn new(ctx: &AppContext) -> Self {
        // reqwest's rustls uses the process's crypto provider: aws-lc, as the AWS SDK does.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            // Never follow a redirect: an OpenID Provider answers these requests directly.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .https_only(ctx.settings.env.is_deployed())
            .build()
            .unwrap_or_default();
        let providers = ctx
            .settings
            .oauth
            .providers
            .iter()
            .map(|(name, settings)| {
                let entry = (settings.clone(), tokio::sync::Mutex::new(None));
                (name.clone(), entry)
            })
            .collect();
        Self {
            providers,
            http: ProviderHttp(http),
            cache_ttl: i64::try_from(ctx.settings.oauth.jwks_cache_ttl.as_secs())
                .unwrap_or(i64::MAX),
        }
    }

    pub fn get(&self, name: &str) -> Option<Provider<'_>> {
        self.providers.get(name).map(|(settings, cache)| Provider {
            settings,
            cache,
            providers: self,
        })
    }
}

impl Provider<'_> {
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The discovered client, from the cache while it is fresh (`refresh` forces a new fetch
    /// unless the cached one is younger than [`MIN_REFRESH_SECS`]).
    async fn discovery(&self, now: i64, refresh: bool) -> Result<Arc<Discovery>, ProviderError> {
        // Held across the fetch: parallel requests wait for one fetch instead of each making one.
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            let age = now - cached.fetched_at;
            if age < self.providers.cache_ttl && (!refresh || age < MIN_REFRESH_SECS) {
                return Ok(cached.discovery.clone());
            }
        }
        let discovery = Arc::new(self.discover().await?);
        *cache = Some(Cached {
            discovery: discovery.clone(),
            fetched_at: now,
        });
        Ok(discovery)
    }

    async fn discover(&self) -> Result<Discovery, ProviderError> {
        let settings = self.settings;
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let request = http::Request::get(&url)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|err| ProviderError::Unavailable(format!("discovery: {err}")))?;
        let response = self
            .providers
            .http
            .call(request)
            .await
            .map_err(|err| ProviderError::Unavailable(format!("discovery: {err}")))?;
        if !response.status().is_success() {
            return Err(ProviderError::Unavailable(format!(
                "discovery: HTTP {} from {url}",
                response.status()
            )));
        }
        let metadata: CoreProviderMetadata = serde_json::from_slice(response.body())
            .map_err(|err| ProviderError::Unavailable(format!("discovery document: {err}")))?;
        let issuer = metadata.issuer().clone();
        let expected = match settings.issuer_check {
            IssuerCheck::Exact => settings.issuer.clone(),
            IssuerCheck::MicrosoftTenant => {
                "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned()
            }
        };
        if issuer.as_str() != expected {
            return Err(ProviderError::Unavailable(format!(
                "discovery document names issuer {issuer:?}, expected {expected:?}"
            )));
        }
        let jwks =
            JsonWebKeySet::<ProviderKey>::fetch_async(metadata.jwks_uri(), &self.providers.http)
                .await
                .map_err(|err| ProviderError::Unavailable(format!("keys: {err}")))?;
        // Prefer HTTP Basic for the client secret; some providers only take it in the body.
        let basic = metadata
            .token_endpoint_auth_methods_supported()
            .is_none_or(|methods| methods.iter().any(|m| m.as_ref() == "client_secret_basic"));
        let redirect = RedirectUrl::new(settings.redirect_uri.clone())
            .map_err(|err| ProviderError::Unavailable(format!("redirect URI: {err}")))?;
        let client = Client::from_provider_metadata(
            // The client's own key set stays empty: ID tokens are checked against `jwks`.
            metadata,
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(
                settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(if basic {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        });
        Ok(Discovery {
            client,
            issuer,
            jwks,
        })
    }

    /// The provider's authorization URL for `state`, with a new nonce and PKCE (S256) pair.
    pub async fn authorization(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Authorization, ProviderError> {
        let discovery = self.discovery(now, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let (url, _, nonce) = discovery
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url: url.to_string(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the PKCE verifier) and checks the ID token it brings.
    pub async fn sign_in(
        &self,
        ctx: &AppContext,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        answered_by: Option<&str>,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let now = ctx.clock.epoch_seconds();
        let discovery = self.discovery(now, false).await?;
        // RFC 9207: a callback naming another issuer is a mix-up attack; refuse before the
        // code goes anywhere.
        let exact = self.settings.issuer_check == IssuerCheck::Exact;
        if answered_by.is_some_and(|iss| exact && iss != discovery.issuer.as_str()) {
            return Err(ProviderError::InvalidIdToken(
                "the callback names another issuer".into(),
            ));
        }
        let response = discovery
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|err| ProviderError::Unavailable(format!("token endpoint: {err}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.providers.http)
            .await
            .map_err(|err| match err {
                openidconnect::RequestTokenError::ServerResponse(refusal) => {
                    ProviderError::CodeRefused(refusal.error().to_string())
                }
                other => ProviderError::Unavailable(format!("token endpoint: {other}")),
            })?;
        let token: &IdToken = response
            .id_token()
            .ok_or_else(|| ProviderError::InvalidIdToken("no id_token in the answer".into()))?;
        match self.verify(ctx, &discovery, token, nonce) {
            Err(ProviderError::UnknownKey) => {
                // Perhaps a key the provider rotated in since we fetched them: once more.
                let discovery = self.discovery(now, true).await?;
                self.verify(ctx, &discovery, token, nonce)
            }
            other => other,
        }
    }

    fn verify(
        &self,
        ctx: &AppContext,
        discovery: &Discovery,
        token: &IdToken,
        nonce: &str,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let clock = ctx.clock.clone();
        let multi_tenant = self.settings.issuer_check == IssuerCheck::MicrosoftTenant;
        // A verifier without the client secret: HMAC-"signed" tokens never pass.
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            discovery.issuer.clone(),
            discovery.jwks.clone(),
        )
        .set_allowed_algs(ASYMMETRIC_ALGS)
        .require_issuer_match(!multi_tenant)
        .set_time_fn(move || {
            chrono::DateTime::from_timestamp(clock.epoch_seconds(), 0).unwrap_or_default()
        });
        let claims = token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|err| match err {
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ) => ProviderError::UnknownKey,
                other => ProviderError::InvalidIdToken(other.to_string()),
            })?;
        let issuer = claims.issuer().as_str().to_owned();
        let tid = claims.additional_claims().tid.as_deref();
        if multi_tenant && !is_tenant_issuer(&issuer, tid) {
            return Err(ProviderError::InvalidIdToken(format!(
                "issuer {issuer:?} is not the token's tenant's"
            )));
        }
        let subject = claims.subject().as_str().to_owned();
        if subject.is_empty() || subject.len() > 255 {
            return Err(ProviderError::InvalidIdToken("unusable subject".into()));
        }
        // Microsoft sends this flag as a boolean or as a string.
        let edov = matches!(
            &claims.additional_claims().xms_edov,
            Some(serde_json::Value::Bool(true))
        ) || claims
            .additional_claims()
            .xms_edov
            .as_ref()
            .and_then(|v| v.as_str())
            == Some("true");
        Ok(VerifiedIdentity {
            issuer,
            subject,
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true) || (multi_tenant && edov),
            name: claims
                .name()
                .and_then(|names| names.get(None))
                .map(|n| n.as_str().to_owned()),
        })
    }
}

/// Microsoft's multi-tenant rule: `iss` is `https://login.microsoftonline.com/{tid}/v2.0` for
/// the token's own tenant id (`tid`), which must be there and look like one.
pub fn is_tenant_issuer(issuer: &str, tid: Option<&str>) -> bool {
    let Some(tid) = tid else {
        return false;
    };
    let valid_tid = !tid.is_empty()
        && tid.len() <= 64
        && tid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid_tid && issuer == format!("https://login.microsoftonline.com/{tid}/v2.0")
}

const ASYMMETRIC_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A `tid` of another type is absent, not a failure to read the provider's answer.
    #[test]
    fn extra_claims_are_read_leniently() {
        let read =
            |json: serde_json::Value| -> ExtraClaims { serde_json::from_value(json).unwrap() };
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(
            read(serde_json::json!({ "tid": tid })).tid.as_deref(),
            Some(tid)
        );
        for odd in [
            serde_json::json!(123),
            serde_json::json!(["x"]),
            serde_json::Value::Null,
        ] {
            assert_eq!(read(serde_json::json!({ "tid": odd })).tid, None, "{odd}");
        }
        assert_eq!(read(serde_json::json!({})).tid, None);
        let flag = read(serde_json::json!({ "xms_edov": "true" })).xms_edov;
        assert_eq!(flag, Some(serde_json::json!("true")));
    }

    #[test]
    fn a_microsoft_token_names_its_own_tenant_as_issuer() {
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert!(is_tenant_issuer(&issuer, Some(tid)));
        // Another tenant's issuer, no tenant, the template itself, or a tid that would change
        // the URL's shape: all refused.
        let other = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
        assert!(!is_tenant_issuer(other, Some(tid)));
        assert!(!is_tenant_issuer(&issuer, None));
        assert!(!is_tenant_issuer(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            Some("{tenantid}")
        ));
        assert!(!is_tenant_issuer(
            "https://login.microsoftonline.com/a/b/v2.0",
            Some("a/b")
        ));
        assert!(!is_tenant_issuer(
            "https://login.microsoftonline.com//v2.0",
            Some("")
        ));
    }
}
