//! API Gateway HTTP API (payload 2.0) events, shaped like the samples in `events/*.json`, and
//! the function's answer read back from the response it posts to the Runtime API.

use serde_json::{Value, json};

/// One HTTP request to a function.
pub struct Request {
    /// What the request does, for the per-kind tally (`login`, `me (anonymous)` …).
    pub kind: &'static str,
    pub method: &'static str,
    pub path: String,
    /// Without the `?`.
    pub query: String,
    pub bearer: Option<String>,
    pub body: Option<Value>,
}

impl Request {
    pub fn get(kind: &'static str, path: impl Into<String>) -> Self {
        Self {
            kind,
            method: "GET",
            path: path.into(),
            query: String::new(),
            bearer: None,
            body: None,
        }
    }

    pub fn send(
        kind: &'static str,
        method: &'static str,
        path: impl Into<String>,
        body: Value,
    ) -> Self {
        Self {
            method,
            body: Some(body),
            ..Self::get(kind, path)
        }
    }

    /// The same request with another method, e.g. a `POST` without a body.
    pub fn with_method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }

    pub fn bearer(mut self, token: Option<&str>) -> Self {
        self.bearer = token.map(str::to_owned);
        self
    }

    /// The event API Gateway would deliver. `sequence` numbers the request: it makes the request
    /// id, and the source IP (198.18.0.0/15, the benchmarking range), so that per-IP rate limits
    /// see many clients, as in production.
    pub fn to_event(&self, sequence: u32) -> Vec<u8> {
        let source_ip = format!(
            "198.{}.{}.{}",
            18 + (sequence >> 16) % 2,
            (sequence >> 8) % 256,
            sequence % 256
        );
        let mut headers = json!({
            "accept": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "bench-lambda",
            "x-forwarded-for": source_ip,
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
        });
        if let Some(token) = &self.bearer {
            headers["authorization"] = json!(format!("Bearer {token}"));
        }
        if self.body.is_some() {
            headers["content-type"] = json!("application/json");
        }
        let now = chrono::Utc::now();
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": "bench-lambda",
                },
                "requestId": format!("bench-{sequence}"),
                "routeKey": "$default",
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.timestamp_millis(),
            },
            "isBase64Encoded": false,
        });
        if let Some(body) = &self.body {
            event["body"] = json!(body.to_string());
        }
        event.to_string().into_bytes()
    }
}

/// A function's answer to one request.
pub struct Reply {
    pub status: u16,
    /// The body as JSON (`Null` when it is not JSON, e.g. the `/docs` page).
    pub body: Value,
}

impl Reply {
    /// Reads the API Gateway response (`statusCode`, `body` …) a function posted.
    pub fn from_gateway_response(raw: &[u8]) -> anyhow::Result<Self> {
        let response: Value = serde_json::from_slice(raw)?;
        let status = response["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| anyhow::anyhow!("no statusCode in the function's response"))?;
        let body = response["body"]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Ok(Self { status, body })
    }

    /// A string field of the body, e.g. `access_token`.
    pub fn text(&self, field: &str) -> Option<String> {
        self.body[field].as_str().map(str::to_owned)
    }
}
