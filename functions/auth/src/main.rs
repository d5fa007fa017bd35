fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_with_startup("auth", auth::router, |ctx| {
        Box::pin(auth::seed::demo_accounts(ctx))
    })
}
