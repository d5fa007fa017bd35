//! A real OpenID Provider for end-to-end tests of our OAuth client: `tests/oidc-provider/server.mjs`
//! (the certified npm package `oidc-provider`) on a free port of 127.0.0.1, one per call to
//! [`OidcProvider::start`], stopped when dropped or when the test process ends.
//!
//! The fixture has no login page: [`OidcProvider::authorize`] plays the browser and returns where
//! the provider sends it back to the client, and [`OidcProvider::tamper`] corrupts the next ID
//! token the token endpoint issues. See `tests/oidc-provider/README.md`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::servers::{LocalServer, free_port, workspace_root};

/// A running fixture provider. Its issuer is `http://127.0.0.1:{port}`; discovery is at
/// `{issuer}/.well-known/openid-configuration`.
pub struct OidcProvider {
    pub issuer: String,
    log: PathBuf,
    server: LocalServer,
}

/// Starts a provider with `clients` registered (a JSON array of oidc-provider client metadata);
/// the same as [`OidcProvider::start`].
pub fn start(clients: serde_json::Value) -> OidcProvider {
    OidcProvider::start(clients)
}

impl OidcProvider {
    /// Starts a provider with `clients` registered: a JSON array of oidc-provider client metadata,
    /// e.g. `[{"client_id": "app", "client_secret": "s", "redirect_uris": ["http://…/callback"],
    /// "token_endpoint_auth_method": "client_secret_basic"}]`. Waits until it listens (60 s).
    pub fn start(clients: serde_json::Value) -> Self {
        assert!(
            clients.is_array(),
            "clients must be a JSON array: {clients}"
        );
        let dir = workspace_root().join("tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed under {}: run `make deps` (scripts/install-tools.sh test)",
            dir.join("node_modules").display()
        );
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let logs = workspace_root().join("target/test-servers");
        let _ = std::fs::create_dir_all(&logs);
        let log = logs.join(format!("oidc-provider-{port}.log"));
        // `env` sets the fixture's configuration and execs node, so the watchdog holds node's PID.
        let args = vec![
            format!("PORT={port}"),
            format!("ISSUER={issuer}"),
            format!("CLIENTS={clients}"),
            "node".to_owned(),
            dir.join("server.mjs").display().to_string(),
        ];
        let server = LocalServer::start(Path::new("env"), &args, issuer.clone(), &log)
            .unwrap_or_else(|e| panic!("could not start the OIDC provider fixture ({e})"));
        let provider = Self {
            issuer,
            log,
            server,
        };
        provider.wait_until_listening(port, Duration::from_secs(60));
        provider
    }

    /// Waits for the port, failing at once (with the log) when node has already died.
    fn wait_until_listening(&self, port: u16, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            // Node ends the report of a fatal error with its version line.
            if log.contains("\nNode.js v") {
                panic!(
                    "the OIDC provider fixture failed to start (is `make deps` done?); {}:\n{log}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the OIDC provider fixture did not open port {port}; see {}",
            self.log.display()
        );
    }

    /// Plays the browser for `authorization_url` (as our API produced it): logs in as `account`
    /// (`{"sub", "email", "email_verified", "name", "tid"?}`, registered on the way), consents,
    /// and returns the URL the provider redirects to — a registered redirect URI with `code`,
    /// `state` and `iss`, or with `error`. That URL is not requested.
    pub async fn authorize(&self, authorization_url: &str, account: &serde_json::Value) -> String {
        let body = serde_json::json!({ "url": authorization_url, "account": account });
        let (status, text) = self.post_test("authorize", &body).await;
        assert_eq!(
            status,
            200,
            "fixture authorize failed: {text} (log: {})",
            self.log.display()
        );
        let answer: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("fixture authorize answered non-JSON ({e}): {text}"));
        answer["location"]
            .as_str()
            .unwrap_or_else(|| panic!("fixture authorize answered no location: {text}"))
            .to_owned()
    }

    /// Corrupts the ID token of the next successful token response only: `audience`, `issuer`,
    /// `expired` or `nonce` change that claim and re-sign with the real key; `unknown_key` signs
    /// the true claims with a key not in the JWKS (same `kid`); `none` clears a pending tamper.
    pub async fn tamper(&self, mode: &str) {
        let (status, text) = self
            .post_test("tamper", &serde_json::json!({ "mode": mode }))
            .await;
        assert_eq!(status, 200, "fixture tamper {mode:?} failed: {text}");
    }

    /// [`Self::tamper`], for the next ID token of the subject `sub` only: tests running in
    /// parallel against one provider do not see each other's tampering.
    pub async fn tamper_for(&self, sub: &str, mode: &str) {
        let (status, text) = self
            .post_test("tamper", &serde_json::json!({ "mode": mode, "sub": sub }))
            .await;
        assert_eq!(status, 200, "fixture tamper {mode:?} failed: {text}");
    }

    async fn post_test(&self, name: &str, body: &serde_json::Value) -> (u16, String) {
        http_request(
            "POST",
            &format!("{}/__test/{name}", self.issuer),
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.server.stop();
    }
}

/// A minimal HTTP/1.1 client for loopback fixtures: sends one request to an `http://` URL with
/// `Connection: close` and returns the status and the body as text. `headers` are sent as given
/// (the caller sets `content-type`, `authorization`, …).
pub async fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("bad URL {url}: {e}"));
    assert_eq!(uri.scheme_str(), Some("http"), "only http:// URLs: {url}");
    let authority = uri
        .authority()
        .unwrap_or_else(|| panic!("URL without host: {url}"))
        .to_string();
    let target = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string);
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    // Blocking I/O on a blocking thread: tokio's `net` feature is not ours to rely on.
    tokio::task::spawn_blocking(move || {
        let address = if uri.port().is_some() {
            authority
        } else {
            format!("{authority}:80")
        };
        let mut stream = TcpStream::connect(&address).map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| format!("read: {e}"))?;
        parse_response(&response).ok_or_else(|| {
            format!(
                "malformed HTTP response: {}",
                String::from_utf8_lossy(&response)
            )
        })
    })
    .await
    .expect("HTTP request task")
    .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
}

/// Status and body of a whole HTTP/1.1 response, de-chunked when needed.
fn parse_response(response: &[u8]) -> Option<(u16, String)> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..split]).ok()?;
    let mut body = &response[split + 4..];
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if !chunked {
        return Some((status, String::from_utf8_lossy(body).into_owned()));
    }
    let mut decoded = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some((status, String::from_utf8_lossy(&decoded).into_owned()));
        }
        decoded.extend_from_slice(body.get(end + 2..end + 2 + size)?);
        body = body.get(end + 4 + size..)?;
    }
}
