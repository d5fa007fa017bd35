//! The whole of a function's `main`: read settings, start telemetry, build the state once, serve.

use axum::Router;

use crate::app::AppContext;
use crate::config::{EnvMap, LogLevel, Settings};
use crate::telemetry::{self, Sink};

/// Runs a function under the Lambda runtime (or `cargo lambda watch`). A configuration problem
/// stops it at start with a message naming the variable; it never waits for the first request.
pub async fn run(
    function: &'static str,
    router: fn(AppContext) -> Router,
) -> Result<(), lambda_http::Error> {
    run_with_startup(function, router, |_| Box::pin(async { Ok(()) })).await
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
pub async fn run_with_startup(
    function: &'static str,
    router: fn(AppContext) -> Router,
    startup: Startup,
) -> Result<(), lambda_http::Error> {
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
    telemetry::init(telemetry::subscriber(
        &settings.function_name,
        settings.log_level,
        Sink::Stdout,
    ));
    let ctx = match AppContext::build(settings, &env, Sink::Stdout).await {
        Ok(ctx) => ctx,
        Err(err) => {
            tracing::error!(error = &err as &dyn std::error::Error, "cannot start");
            return Err(err.into());
        }
    };
    if let Err(err) = startup(&ctx).await {
        tracing::error!(error = %err, "cannot start: the startup step failed");
        return Err(err);
    }
    tracing::info!(
        env = ctx.settings.env.as_str(),
        store = ctx.store.backend_name(),
        key_source = ?ctx.secrets.origin(),
        "function ready"
    );
    if env.get("AWS_LAMBDA_RUNTIME_API").is_none() {
        let message = "AWS_LAMBDA_RUNTIME_API is not set: this is a Lambda function; run it with `make run` \
                       (cargo lambda watch) or in AWS Lambda";
        tracing::error!("{message}");
        return Err(message.into());
    }
    lambda_http::run(router(ctx)).await
}
