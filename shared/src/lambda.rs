//! The whole of a function's `main`: read settings, start telemetry, build the state once, serve.

use std::time::{Duration, Instant};

use axum::Router;

use crate::app::AppContext;
use crate::config::{EnvMap, LogLevel, Settings};
use crate::telemetry::{self, Sink};

/// Runs a function under the Lambda runtime (or `cargo lambda watch`). A configuration problem
/// stops it at start with a message naming the variable; it never waits for the first request.
pub fn run(
    function: &'static str,
    router: fn(AppContext) -> Router,
) -> Result<(), lambda_http::Error> {
    run_with_startup(function, router, |_| Box::pin(async { Ok(()) }))
}

/// What a function does once at cold start, after its state is built (e.g. seeding dev data).
pub type Startup = for<'a> fn(
    &'a AppContext,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'a,
    >,
>;

/// [`run`], with a startup step; a failing step stops the function at start.
///
/// On a current-thread runtime: a sandbox serves one request at a time, so worker threads would
/// only cost start time (0.8 ms of an empty function's) and memory; password hashing and SQLite
/// run on the blocking pool either way.
pub fn run_with_startup(
    function: &'static str,
    router: fn(AppContext) -> Router,
    startup: Startup,
) -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(function, router, startup))
}

async fn serve(
    function: &'static str,
    router: fn(AppContext) -> Router,
    startup: Startup,
) -> Result<(), lambda_http::Error> {
    let started = Instant::now();
    let env = EnvMap::from_process();
    let settings = match Settings::from_env(&env, function) {
        Ok(settings) => settings,
        Err(err) => {
            telemetry::init(telemetry::subscriber(
                function,
                LogLevel::Info,
                Sink::Stdout,
            ));
            tracing::error!(error = %err, "cannot start: fix the configuration");
            return Err(err.into());
        }
    };
    let configured = started.elapsed();
    telemetry::init(telemetry::subscriber(
        &settings.function_name,
        settings.log_level,
        Sink::Stdout,
    ));
    let telemetry_started = started.elapsed();
    let ctx = match AppContext::build(settings, &env, Sink::Stdout).await {
        Ok(ctx) => ctx,
        Err(err) => {
            tracing::error!(error = &err as &dyn std::error::Error, "cannot start");
            return Err(err.into());
        }
    };
    let state_built = started.elapsed();
    if let Err(err) = startup(&ctx).await {
        tracing::error!(error = %err, "cannot start: the startup step failed");
        return Err(err);
    }
    let startup_done = started.elapsed();
    let (env_name, store, key_source) = (
        ctx.settings.env.as_str(),
        ctx.store.backend_name(),
        ctx.secrets.origin(),
    );
    let app = router(ctx);
    let routed = started.elapsed();
    // Where the cold start goes, step by step (microseconds since main began).
    tracing::info!(
        env = env_name,
        store,
        key_source = ?key_source,
        settings_us = micros(configured),
        telemetry_us = micros(telemetry_started - configured),
        state_us = micros(state_built - telemetry_started),
        startup_us = micros(startup_done - state_built),
        router_us = micros(routed - startup_done),
        "function ready"
    );
    if env.get("AWS_LAMBDA_RUNTIME_API").is_none() {
        let message = "AWS_LAMBDA_RUNTIME_API is not set: this is a Lambda function; run it with `make run` \
                       (cargo lambda watch) or in AWS Lambda";
        tracing::error!("{message}");
        return Err(message.into());
    }
    lambda_http::run(app).await
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
