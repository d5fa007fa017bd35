//! `GET /v1/auth/oauth/{provider}/callback?code&state`: finishes a sign-in at a provider.
//!
//! The state is taken once (a replayed, expired, other provider's or other browser's state is
//! refused), the code is exchanged with the PKCE verifier, and the ID token checked. Then:
//! - an identity already linked signs in to its account (or answers `mfa_required`);
//! - a new identity whose verified email has no account creates one, linked;
//! - a new identity whose email has an account is never linked silently: 409 `LINK_REQUIRED`
//!   with a `link_token` for `POST /v1/auth/oauth/link`.
//!
//! A client that asks for JSON gets the answer in the body. A browser is sent (303) to the
//! redirect URI the sign-in started with, with the result in the URL's fragment — never its
//! query string, so tokens reach no server log and no `Referer` — and the refresh token in the
//! usual HttpOnly cookie.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use shared::AppContext;
use shared::abuse::{self, Subject};
use shared::accounts::identities::{self, Identity, IdentityOwner};
use shared::accounts::sessions;
use shared::accounts::users::{self, Credential};
use shared::accounts::{MfaRequired, Origin, SignedIn, User};
use shared::auth::{Email, Role};
use shared::http::{ApiError, ApiPath, ApiQuery, ClientOrigin, ErrorCode};
use shared::store::{Condition, Query, StoreError, Write};
use utoipa::IntoParams;

use super::authorize::{binding_in, clear_binding_cookie};
use super::{count, invalid_state, provider, provider_failure, see_other, wants_json};
use crate::flow::{self, PendingLink};
use crate::providers::{Providers, VerifiedIdentity};

/// Longest `code` and `state` accepted (providers' codes are far shorter).
const MAX_PARAM: usize = 2048;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code (absent when the provider reports an error).
    pub code: Option<String>,
    /// The `state` the sign-in started with.
    pub state: Option<String>,
    /// The provider's error code (`access_denied` …), instead of `code`.
    pub error: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider sends it.
    pub iss: Option<String>,
}

/// How a sign-in at a provider ended.
pub enum SignInResult {
    SignedIn { signed_in: SignedIn, created: bool },
    MfaRequired(MfaRequired),
    LinkRequired { link_token: String, email: String },
}

/// Finish a sign-in at a provider.
#[utoipa::path(
    get,
    path = "/{provider}/callback",
    tag = "oauth",
    params(
        ("provider" = String, Path, description = "The provider the sign-in started at"),
        CallbackParams,
    ),
    responses(
        (status = 200, description = "JSON: signed in to a linked account (or `mfa_required`, see `POST /v1/auth/mfa/verify`)", body = SignedIn),
        (status = 201, description = "JSON: a new account, created and linked", body = SignedIn),
        (status = 303, description = "Browser: to the redirect URI, with the result in the fragment (`access_token`…, `mfa_token`, `link_token` or `error`)"),
        (status = 400, description = "`INVALID_OAUTH_STATE`: unknown, expired, used, or another browser's", body = shared::http::ErrorBody),
        (status = 401, description = "`OAUTH_FAILED`: the provider refused the code or its ID token failed a check", body = shared::http::ErrorBody),
        (status = 403, description = "`EMAIL_NOT_VERIFIED`, or `FORBIDDEN` for a disabled account", body = shared::http::ErrorBody),
        (status = 409, description = "`LINK_REQUIRED`: the email has an account; `details.link_token` links it", body = shared::http::ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = shared::http::ErrorBody),
        (status = 503, description = "The provider could not be reached", body = shared::http::ErrorBody),
    )
)]
pub async fn callback(
    State(ctx): State<AppContext>,
    Extension(providers): Extension<Arc<Providers>>,
    ClientOrigin(origin): ClientOrigin,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<CallbackParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let provider = provider(&providers, &name)?;
    let name = provider.name().to_owned();
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= MAX_PARAM)
        .ok_or_else(|| state_refused(&ctx, &name, &origin))?;
    let ip = Subject::ip(&origin);
    let (pending, limit) = tokio::join!(
        flow::take(&ctx, state),
        abuse::rate_limit(&ctx, "oauth_ip", &ip, ctx.settings.rate_limits.login_ip),
    );
    if let Some(retry_after) = limit?.retry_after() {
        shared::audit::security(&ctx, "auth.rate_limited", None, &origin);
        count(&ctx, &name, "rate_limited");
        return Err(ApiError::rate_limited(retry_after));
    }
    let pending = pending?.ok_or_else(|| state_refused(&ctx, &name, &origin))?;
    let bound_elsewhere = pending.binding.as_ref().is_some_and(|expected| {
        binding_in(&headers).is_none_or(|cookie| flow::binding_digest(&ctx, &cookie) != *expected)
    });
    if pending.provider != name || bound_elsewhere {
        return Err(state_refused(&ctx, &name, &origin));
    }
    // JSON for a client that asks for it, or whose own page the provider called back.
    let redirect = (!wants_json(&headers)
        && pending.redirect_uri != provider.settings.redirect_uri)
        .then_some(pending.redirect_uri.as_str());

    let outcome = async {
        if let Some(error) = &params.error {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            tracing::warn!(provider = %name, error = %error, "the provider reported an error");
            return Err(ApiError::coded(
                ErrorCode::OAuthFailed,
                StatusCode::UNAUTHORIZED,
                "the provider did not sign you in",
            )
            .with_details(serde_json::json!({ "provider_error": error })));
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= MAX_PARAM)
            .ok_or_else(|| ApiError::invalid_field("query.code", "is required"))?;
        let verified = provider
            .sign_in(
                &ctx,
                code,
                &pending.pkce_verifier,
                &pending.nonce,
                params.iss.as_deref(),
            )
            .await
            .map_err(|err| provider_failure(&name, err))?;
        sign_in(&ctx, &name, verified, &origin).await
    }
    .await;
    let outcome = outcome.inspect_err(|err| {
        if err.status().is_client_error() {
            shared::audit::security(&ctx, "auth.oauth.login.failure", None, &origin);
            count(&ctx, &name, "failure");
        }
    });
    let mut response = match (redirect, outcome) {
        (None, Ok(result)) => respond_json(&ctx, &name, result),
        (None, Err(err)) => err.into_response(),
        (Some(uri), Ok(result)) => respond_redirect(&ctx, &name, uri, result)?,
        (Some(uri), Err(err)) => redirect_error(uri, &err)?,
    };
    if pending.binding.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear_binding_cookie(&ctx));
    }
    Ok(response)
}

fn state_refused(ctx: &AppContext, provider: &str, origin: &Origin) -> ApiError {
    shared::audit::security(ctx, "auth.oauth.state.invalid", None, origin);
    count(ctx, provider, "invalid_state");
    invalid_state()
}

/// The account `verified` signs in to, creates, or may be linked to.
async fn sign_in(
    ctx: &AppContext,
    provider: &str,
    verified: VerifiedIdentity,
    origin: &Origin,
) -> Result<SignInResult, ApiError> {
    let email = verified
        .email
        .as_deref()
        .filter(|_| verified.email_verified)
        .and_then(|e| Email::parse(e).ok());
    let identity_key = identities::identity_key(&verified.issuer, &verified.subject);
    // Twice at most: a parallel first sign-in of the same identity may create the account
    // between our read and our write; then it is an existing identity.
    for _ in 0..2 {
        let credential_key = email.as_ref().map(users::credential_key);
        let (owner, credential) = tokio::join!(ctx.store.get(&identity_key), async {
            match &credential_key {
                Some(key) => ctx.store.get(key).await,
                None => Ok(None),
            }
        });
        if let Some(owner) = owner? {
            let owner: IdentityOwner = owner.to_entity()?;
            return sign_in_linked(ctx, provider, &owner, origin).await;
        }
        // A new identity: only a provider-verified email may create or claim an account.
        let Some(email) = &email else {
            count(ctx, provider, "email_not_verified");
            return Err(ApiError::coded(
                ErrorCode::EmailNotVerified,
                StatusCode::FORBIDDEN,
                "the provider does not vouch for this account's email address",
            ));
        };
        let identity = Identity {
            provider: provider.to_owned(),
            issuer: verified.issuer.clone(),
            subject: verified.subject.clone(),
            email: email.as_str().to_owned(),
            linked_at: ctx.clock.now().to_string(),
        };
        if let Some(credential) = credential? {
            let credential: Credential = credential.to_entity()?;
            return offer_link(ctx, provider, identity, credential.user_id, origin).await;
        }
        match create_account(ctx, &identity, verified.name.as_deref(), origin).await? {
            Created::Yes(signed_in) => {
                count(ctx, provider, "created");
                return Ok(SignInResult::SignedIn {
                    signed_in,
                    created: true,
                });
            }
            Created::EmailTaken(user_id) => {
                return offer_link(ctx, provider, identity, user_id, origin).await;
            }
            Created::IdentityTaken => continue,
        }
    }
    Err(ApiError::unavailable(std::io::Error::other(
        "identity kept changing during sign-in",
    )))
}

enum Created {
    Yes(SignedIn),
    EmailTaken(String),
    IdentityTaken,
}

/// A new account for `identity`, with no password, linked and signed in, in one transaction.
async fn create_account(
    ctx: &AppContext,
    identity: &Identity,
    name: Option<&str>,
    origin: &Origin,
) -> Result<Created, ApiError> {
    let email = Email::parse(&identity.email).map_err(ApiError::bad_request)?;
    let display_name = name
        .map(|n| {
            n.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.local_part().to_owned());
    let user = User::new(
        shared::ids::random_uuid().to_string(),
        display_name,
        &email,
        vec![Role::Student],
        ctx.clock.now().to_string(),
    );
    let mut writes = users::create_writes(&user, &email, None)?;
    let identity_at = writes.len();
    writes.extend(identities::link_writes(&user.id, identity)?);
    let (tokens, _) = sessions::open_replacing(ctx, &user, origin, &[], &mut writes, 2)
        .map_err(ApiError::internal)?;
    writes.push(shared::audit::history_write(
        ctx,
        "auth.register.success",
        &user.id,
        origin,
    ));
    writes.push(shared::audit::history_write(
        ctx,
        "auth.oauth.linked",
        &user.id,
        origin,
    ));
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            // Someone signed up with this email meanwhile: link, as for any existing account.
            let credential: Option<Credential> = ctx
                .store
                .get(&users::credential_key(&email))
                .await?
                .map(|item| item.to_entity())
                .transpose()?;
            return match credential {
                Some(credential) => Ok(Created::EmailTaken(credential.user_id)),
                None => Ok(Created::IdentityTaken),
            };
        }
        Err(StoreError::ConditionFailed { index: Some(i) }) if i == identity_at => {
            return Ok(Created::IdentityTaken);
        }
        Err(err) => return Err(err.into()),
    }
    shared::audit::record(ctx, "auth.register.success", Some(&user.id), origin);
    shared::audit::record(ctx, "auth.oauth.linked", Some(&user.id), origin);
    shared::audit::record(ctx, "auth.oauth.login.success", Some(&user.id), origin);
    Ok(Created::Yes(SignedIn { tokens, user }))
}

/// Signs in to the account `owner` names.
async fn sign_in_linked(
    ctx: &AppContext,
    provider: &str,
    owner: &IdentityOwner,
    origin: &Origin,
) -> Result<SignInResult, ApiError> {
    let partition = ctx
        .store
        .query(Query::table(users::user_partition(&owner.user_id)).limit(1000))
        .await?;
    let Some(user) = users::profile_in(&partition.items)? else {
        return Err(ApiError::internal(std::io::Error::other(
            "identity of an account without a profile",
        )));
    };
    if user.disabled {
        return Err(ApiError::coded(
            ErrorCode::Forbidden,
            StatusCode::FORBIDDEN,
            "this account is disabled",
        ));
    }
    if user.mfa_enabled {
        return mfa_required(ctx, provider, &user.id, origin);
    }
    let mut writes = vec![
        // Still linked, and MFA still off, when the session opens.
        Write::Check {
            key: identities::identity_key(&owner.identity.issuer, &owner.identity.subject),
            condition: Condition::eq("user_id", owner.user_id.as_str()),
        },
        Write::Check {
            key: users::profile_key(&user.id),
            condition: Condition::eq("mfa_enabled", false).and(users::not_disabled()),
        },
        shared::audit::history_write(ctx, "auth.oauth.login.success", &user.id, origin),
    ];
    let (tokens, rest) =
        sessions::open_replacing(ctx, &user, origin, &partition.items, &mut writes, 0)
            .map_err(ApiError::internal)?;
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: Some(1) }) => {
            return mfa_required(ctx, provider, &user.id, origin);
        }
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(ApiError::http(
                StatusCode::CONFLICT,
                "the identity was unlinked meanwhile; sign in again",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    sessions::close_after_commit(ctx, &rest).await;
    shared::audit::record(ctx, "auth.oauth.login.success", Some(&user.id), origin);
    count(ctx, provider, "success");
    Ok(SignInResult::SignedIn {
        signed_in: SignedIn { tokens, user },
        created: false,
    })
}

fn mfa_required(
    ctx: &AppContext,
    provider: &str,
    user_id: &str,
    origin: &Origin,
) -> Result<SignInResult, ApiError> {
    let answer = MfaRequired::issue(ctx, user_id, origin).map_err(ApiError::internal)?;
    count(ctx, provider, "mfa_required");
    Ok(SignInResult::MfaRequired(answer))
}

async fn offer_link(
    ctx: &AppContext,
    provider: &str,
    identity: Identity,
    user_id: String,
    origin: &Origin,
) -> Result<SignInResult, ApiError> {
    let email = identity.email.clone();
    let link_token = flow::offer_link(ctx, &PendingLink { identity, user_id }).await?;
    shared::audit::record(ctx, "auth.oauth.link_required", None, origin);
    count(ctx, provider, "link_required");
    Ok(SignInResult::LinkRequired { link_token, email })
}

/// 409 `LINK_REQUIRED`, with what `POST /link` needs.
fn link_required(ctx: &AppContext, provider: &str, link_token: String, email: String) -> ApiError {
    ApiError::coded(
        ErrorCode::LinkRequired,
        StatusCode::CONFLICT,
        "an account with this email exists: link this sign-in to it with its password",
    )
    .with_details(serde_json::json!({
        "link_token": link_token,
        "email": email,
        "provider": provider,
        "expires_in": ctx.settings.oauth.link_ttl.as_secs(),
    }))
}

fn respond_json(ctx: &AppContext, provider: &str, result: SignInResult) -> Response {
    match result {
        SignInResult::SignedIn { signed_in, created } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            signed_in.respond(ctx, status)
        }
        SignInResult::MfaRequired(answer) => super::json(StatusCode::OK, answer),
        SignInResult::LinkRequired { link_token, email } => {
            link_required(ctx, provider, link_token, email).into_response()
        }
    }
}

/// The fragment a browser lands with.
fn respond_redirect(
    ctx: &AppContext,
    provider: &str,
    redirect_uri: &str,
    result: SignInResult,
) -> Result<Response, ApiError> {
    let mut fragment = form_urlencoded::Serializer::new(String::new());
    let mut cookie = None;
    match &result {
        SignInResult::SignedIn { signed_in, created } => {
            fragment
                .append_pair("access_token", &signed_in.tokens.access_token)
                .append_pair("token_type", signed_in.tokens.token_type)
                .append_pair("expires_in", &signed_in.tokens.expires_in.to_string())
                .append_pair("new_account", if *created { "true" } else { "false" });
            cookie = Some(shared::accounts::cookies::set(
                ctx,
                &signed_in.tokens.refresh_token,
            ));
        }
        SignInResult::MfaRequired(answer) => {
            fragment
                .append_pair("mfa_required", "true")
                .append_pair("mfa_token", &answer.mfa_token);
        }
        SignInResult::LinkRequired { link_token, email } => {
            fragment
                .append_pair("error", "link_required")
                .append_pair("link_token", link_token)
                .append_pair("email", email)
                .append_pair("provider", provider);
        }
    }
    let mut response = see_other(&format!("{redirect_uri}#{}", fragment.finish()))?;
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// An error, to the browser: `#error=<code>&error_description=<message>`.
fn redirect_error(redirect_uri: &str, err: &ApiError) -> Result<Response, ApiError> {
    let fragment = form_urlencoded::Serializer::new(String::new())
        .append_pair("error", &err.code().as_str().to_ascii_lowercase())
        .append_pair("error_description", err.message())
        .finish();
    see_other(&format!("{redirect_uri}#{fragment}"))
}
