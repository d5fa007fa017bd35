//! What every Lambda function of the API shares: configuration and secrets, the store, the HTTP
//! layer, telemetry and metrics. A function's `main` is one call to [`lambda::run`].

pub mod abuse;
pub mod accounts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod http;
pub mod ids;
pub mod lambda;
pub mod mailer;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod secrets;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tracker;

pub use app::AppContext;

/// mimalloc instead of glibc's malloc for every binary that links this crate (the functions, their
/// tests and benchmarks): a request allocates and frees hundreds of small values, which mimalloc
/// does for 10–30 % less CPU (docs/PERFORMANCE.md). Built with `no_thp`: with transparent huge
/// pages, its first allocations faulted in 2 MiB pages, +0.6 ms of init and +16 MiB of RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
