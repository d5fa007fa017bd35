//! The baseline of the cold-start benchmark: a `lambda_http` function that does nothing, as
//! `cargo lambda new` writes it (the multi-thread runtime of `#[tokio::main]`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(
        |_request: lambda_http::Request| async {
            Ok::<_, lambda_http::Error>(lambda_http::Response::new(lambda_http::Body::Empty))
        },
    ))
    .await
}
