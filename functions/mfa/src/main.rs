fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run("mfa", mfa::router)
}
