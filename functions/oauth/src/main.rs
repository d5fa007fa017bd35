fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run("oauth", oauth::router)
}
