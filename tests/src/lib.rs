//! The whole API in one process, routed exactly as API Gateway and `cargo lambda watch` route it:
//! from the `[workspace.metadata.lambda.watch.router]` table of the workspace `Cargo.toml` (the
//! one routing table), to each function's own router, the same router Lambda runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod client;
pub mod figures;
pub mod oauth;
pub mod openapi;
pub mod server;
pub mod target;
pub mod tracker;

use std::collections::BTreeMap;

use axum::Router;
use shared::AppContext;
use shared::testkit::{TestResponse, send, workspace_root};

/// What a function's `main` serves: its router over the shared context.
pub type RouterFn = fn(AppContext) -> Router;

/// Every function of the API, by binary name, with the router its `main` serves.
pub const FUNCTIONS: &[(&str, RouterFn)] = &[
    ("auth", auth::router),
    ("health", health::router),
    ("mfa", mfa::router),
    ("oauth", ::oauth::router),
    ("tracker", ::tracker::router),
];

/// The routing table: path pattern → function name.
pub fn routing_table() -> BTreeMap<String, String> {
    let manifest =
        std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("workspace Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is valid TOML");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router] exists");
    router
        .iter()
        .map(|(path, function)| {
            (
                path.clone(),
                function.as_str().expect("function name").to_owned(),
            )
        })
        .collect()
}

/// The API Gateway of the tests.
pub struct Gateway {
    matcher: matchit::Router<String>,
    functions: BTreeMap<&'static str, Router>,
}

impl Gateway {
    /// Every function's router over one shared context (one store, one set of secrets).
    pub fn new(ctx: &AppContext) -> Self {
        Self::per_function(|_| ctx.clone())
    }

    /// Every function's router over the context `context(name)` gives it (the same store
    /// seen through per-function wrappers, say).
    pub fn per_function(context: impl Fn(&str) -> AppContext) -> Self {
        let mut matcher = matchit::Router::new();
        for (pattern, function) in routing_table() {
            matcher
                .insert(pattern, function)
                .expect("valid route pattern");
        }
        let functions = FUNCTIONS
            .iter()
            .map(|(name, router)| (*name, router(context(name))))
            .collect();
        Self { matcher, functions }
    }

    /// The function a path is routed to.
    pub fn function_for(&self, path: &str) -> Option<&str> {
        self.matcher.at(path).ok().map(|m| m.value.as_str())
    }

    /// The router of the function a path is routed to (the catch-all routes every path).
    fn router_for(&self, path: &str) -> &Router {
        let function = self
            .function_for(path)
            .unwrap_or_else(|| panic!("no route for {path}"));
        self.functions
            .get(function)
            .unwrap_or_else(|| panic!("routing table names unknown function {function}"))
    }

    /// The function's answer, its body read whole.
    pub async fn send(&self, request: http::Request<axum::body::Body>) -> TestResponse {
        send(self.router_for(request.uri().path()), request).await
    }

    /// The function's answer as it streams (what the HTTP server returns).
    pub async fn call(&self, request: http::Request<axum::body::Body>) -> axum::response::Response {
        use tower::ServiceExt;
        let router = self.router_for(request.uri().path()).clone();
        match router.oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        }
    }
}
