//! Extractors whose rejections are our own [`ApiError`]s, so malformed JSON, wrong content types,
//! bad query strings and bad path segments all answer in the envelope, with the field at fault.

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body: requires `Content-Type: application/json` (or `+json`), refuses trailing data,
/// and reports the path of the first invalid field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = read_body(request, state).await?;
        refuse_arrays(&bytes)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Every request body of the API is a JSON object, but serde also fills a struct from an array,
/// field by field in declaration order (`["Ada", "ada@example.com", "..."]` would sign up): an
/// array is refused before it gets that far.
fn refuse_arrays(bytes: &[u8]) -> Result<(), ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Err(ApiError::invalid_field("body", "must be a JSON object")),
        _ => Ok(()),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The whole body, within the size limit (413 beyond it).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::bad_request("could not read the request body")
            }
        })
}

/// A JSON body that may be left out: an empty body, or the JSON `null` the OpenAPI document allows
/// for it (`request_body = Option<T>`), is `T::default()`; a body that is there must be JSON, as
/// for [`ApiJson`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJsonOrDefault<T>(pub T);

impl<T, S> FromRequest<S> for ApiJsonOrDefault<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(request.headers());
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(ApiError::http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        refuse_arrays(&bytes)?;
        parse_json::<Option<T>>(&bytes).map(|body| Self(body.unwrap_or_default()))
    }
}

/// Parses a JSON document into `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            field_error("body", &path, &inner.to_string())
        } else {
            ApiError::invalid_field(
                "body",
                format!("the body is not valid JSON ({})", syntax_summary(&inner)),
            )
        }
    })?;
    deserializer.end().map_err(|_| {
        ApiError::invalid_field("body", "the body has data after the JSON document")
    })?;
    Ok(value)
}

/// serde_json's position information, without echoing any input.
fn syntax_summary(err: &serde_json::Error) -> String {
    match err.classify() {
        serde_json::error::Category::Eof => "it ends too early".to_owned(),
        _ => format!("line {} column {}", err.line(), err.column()),
    }
}

/// Builds the field path: `body.items[2].name`; a missing field is named itself.
fn field_error(root: &str, path: &str, message: &str) -> ApiError {
    let mut field = root.to_owned();
    if path != "." && !path.is_empty() {
        field.push('.');
        field.push_str(path);
    }
    // serde reports "missing field `x`" at the parent's path.
    let message = strip_location(message);
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return ApiError::invalid_field(format!("{field}.{missing}"), "this field is required");
    }
    ApiError::invalid_field(field, message)
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string decoded into `T`; failures are `VALIDATION_ERROR`s on `query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                field_error("query", &path, &err.into_inner().to_string())
            })
    }
}

/// Path parameters decoded into `T`; failures are `VALIDATION_ERROR`s on `path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::invalid_field("path", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Signup {
        email: String,
        age: u8,
        tags: Vec<String>,
    }

    fn details(err: ApiError) -> (StatusCode, Value) {
        let status = err.status();
        let response = axum::response::IntoResponse::into_response(err);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = runtime
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        (status, json["error"]["details"]["errors"][0].clone())
    }

    #[test]
    fn field_paths_are_reported() {
        let (status, error) = details(
            parse_json::<Signup>(br#"{"email": "a", "age": 300, "tags": []}"#).unwrap_err(),
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["field"], "body.age");
        let (_, error) =
            details(parse_json::<Signup>(br#"{"email": "a", "age": 3, "tags": [1]}"#).unwrap_err());
        assert_eq!(error["field"], "body.tags[0]");
        let (_, error) = details(parse_json::<Signup>(br#"{"age": 3, "tags": []}"#).unwrap_err());
        assert_eq!(error["field"], "body.email");
        assert_eq!(error["message"], "this field is required");
    }

    #[test]
    fn syntax_errors_do_not_echo_the_input() {
        let (status, error) =
            details(parse_json::<Signup>(b"{\"email\": \"secret-value").unwrap_err());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["field"], "body");
        assert!(!error["message"].as_str().unwrap().contains("secret-value"));
        let (_, error) = details(parse_json::<Value>(b"{} {}").unwrap_err());
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("after the JSON")
        );
        assert!(parse_json::<Value>(b"\xff\xfe").is_err());
    }

    #[test]
    fn deeply_nested_json_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (status, _) = details(parse_json::<Value>(deep.as_bytes()).unwrap_err());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn arrays_never_fill_a_body() {
        // serde alone would: field by field, in declaration order.
        assert!(parse_json::<Signup>(br#"["a", 3, []]"#).is_ok());
        for body in [&br#"["a", 3, []]"#[..], b"  \n[]", b"[null]"] {
            let (status, error) = details(refuse_arrays(body).unwrap_err());
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error["field"], "body");
        }
        for body in [&b"{}"[..], b" null", b"", b"\"x\""] {
            assert!(refuse_arrays(body).is_ok());
        }
    }

    #[test]
    fn json_content_types() {
        let headers = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            h
        };
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/jsonx")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
