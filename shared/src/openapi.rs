//! The OpenAPI 3.1 document every function's routes are described in. Each function builds its
//! routes with `utoipa_axum::router::OpenApiRouter`, so a route cannot exist without its
//! description; the health function merges every function's document into one and serves it.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};

use crate::http::error::{ErrorBody, ErrorDetail, FieldError};

/// Title of the API document.
pub const TITLE: &str = "Medical Platform API";

/// The base every function's document starts from: info and the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Medical Platform API",
        description = "One account system for the exam-preparation platform and the personal medical tracker. \
                       Every error answers with the JSON envelope `{\"error\": {code, message, details, request_id}}`.",
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError))
)]
pub struct ApiDoc;

/// A fresh base document, versioned as the workspace.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";

/// Finishes a merged document: the bearer scheme, and the error envelope as the documented body
/// of every operation's 4XX and 5XX responses (unless an operation documents its own).
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    let envelope = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            responses
                .entry("4XX".to_owned())
                .or_insert_with(|| envelope("Client error, in the error envelope").into());
            responses.entry("5XX".to_owned()).or_insert_with(|| {
                envelope("Server error, in the error envelope (no internal detail)").into()
            });
        }
    }
}
