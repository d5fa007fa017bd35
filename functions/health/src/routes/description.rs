//! `GET /v1/openapi.json` and `GET /docs`: the API described, rendered once per container on
//! first use (not at cold start).

use std::sync::{Arc, OnceLock};

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use shared::AppContext;
use shared::config::Environment;
use shared::http::ApiError;

/// The document as JSON and as an HTML page.
pub struct Rendered {
    json: String,
    html: String,
}

fn rendered<'a>(cell: &'a OnceLock<Rendered>, ctx: &AppContext) -> &'a Rendered {
    cell.get_or_init(|| {
        let value = crate::openapi(&ctx.settings.api_prefix);
        Rendered {
            json: serde_json::to_string(&value).unwrap_or_default(),
            html: crate::docs_page::render(&value, &ctx.settings.path("/openapi.json")),
        }
    })
}

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json(
    State(ctx): State<AppContext>,
    Extension(cell): Extension<Arc<OnceLock<Rendered>>>,
) -> Response {
    let doc = rendered(&cell, &ctx);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.json.clone(),
    )
        .into_response()
}

/// A human-readable page of the API (not served in prod).
#[utoipa::path(
    get,
    path = "/docs",
    tag = "health",
    responses((status = 200, description = "HTML page describing every endpoint", content_type = "text/html"))
)]
pub async fn docs(
    State(ctx): State<AppContext>,
    Extension(cell): Extension<Arc<OnceLock<Rendered>>>,
) -> Result<Response, ApiError> {
    if ctx.settings.env == Environment::Prod {
        return Err(ApiError::not_found());
    }
    let doc = rendered(&cell, &ctx);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The page is self-contained: its own inline style, nothing loaded from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            ),
        ],
        doc.html.clone(),
    )
        .into_response())
}
