//! `make openapi`: writes the OpenAPI document the health function serves, generated from every
//! function's routers.

fn main() -> std::io::Result<()> {
    let path = api_tests::openapi::committed_path();
    std::fs::write(&path, api_tests::openapi::generate_committed_text())?;
    println!("wrote {}", path.display());
    Ok(())
}
