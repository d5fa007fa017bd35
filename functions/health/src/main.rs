// A sandbox serves one request at a time: one thread runs it, and no worker threads are
// started; password hashing and SQLite run on the blocking pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run("health", health::router).await
}
