//! The empty function on the runtime flavour the functions use (a current-thread runtime), to
//! show how much of their start that choice saves against the template's multi-thread runtime.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(
        |_request: lambda_http::Request| async {
            Ok::<_, lambda_http::Error>(lambda_http::Response::new(lambda_http::Body::Empty))
        },
    ))
    .await
}
