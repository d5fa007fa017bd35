fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run("health", health::router)
}
