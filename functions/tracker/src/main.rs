fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run("tracker", tracker::router)
}
