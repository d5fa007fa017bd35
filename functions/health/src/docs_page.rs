//! The `/docs` page: the OpenAPI document as plain, self-contained HTML (no scripts, nothing
//! fetched from a CDN), so it works offline and under a strict content security policy.

use std::fmt::Write;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}\
h1{margin-bottom:0}code,pre{font-family:ui-monospace,monospace;font-size:13px}\
pre{background:#f5f6f8;padding:.6rem;overflow:auto;border-radius:4px}\
section{border-top:1px solid #dde1e8;padding:.6rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}\
.get{color:#1a7f37}.post{color:#0550ae}.put,.patch{color:#9a6700}.delete{color:#cf222e}\
table{border-collapse:collapse}td,th{border:1px solid #dde1e8;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.muted{color:#59636e}";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A schema as a short label: its component name when it is a reference.
fn schema_label(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    escape(&serde_json::to_string(schema).unwrap_or_default())
}

fn content_labels(content: Option<&Value>) -> String {
    let Some(Value::Object(types)) = content else {
        return String::new();
    };
    types
        .iter()
        .map(|(media, body)| match body.get("schema") {
            Some(schema) => format!("<code>{}</code> {}", escape(media), schema_label(schema)),
            None => format!("<code>{}</code>", escape(media)),
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Renders the whole page; `openapi_url` is where the JSON document is served.
pub fn render(doc: &Value, openapi_url: &str) -> String {
    let info = &doc["info"];
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p class=\"muted\">Version {version} · OpenAPI {openapi} · <a href=\"{json}\">machine-readable document</a></p><p>{description}</p>",
        title = escape(text(info, "title")),
        version = escape(text(info, "version")),
        openapi = escape(text(doc, "openapi")),
        json = escape(openapi_url),
        description = escape(text(info, "description")),
    );
    if let Some(Value::Object(paths)) = doc.get("paths") {
        page.push_str("<h2>Endpoints</h2>");
        for (path, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                operation_section(&mut page, method, path, operation);
            }
        }
    }
    if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
        page.push_str("<h2>Schemas</h2>");
        for (name, schema) in schemas {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                page,
                "<section id=\"schema-{name}\"><h3><code>{name}</code></h3><pre>{body}</pre></section>",
                name = escape(name),
                body = escape(&pretty)
            );
        }
    }
    page.push_str("</body></html>");
    page
}

fn operation_section(page: &mut String, method: &str, path: &str, operation: &Value) {
    let _ = write!(
        page,
        "<section><h3><span class=\"m {method}\">{method}</span> <code>{path}</code></h3>",
        path = escape(path)
    );
    let summary = text(operation, "summary");
    let description = text(operation, "description");
    if !summary.is_empty() {
        let _ = write!(page, "<p><strong>{}</strong></p>", escape(summary));
    }
    if !description.is_empty() && description != summary {
        let _ = write!(page, "<p>{}</p>", escape(description));
    }
    if operation.get("security").is_some() {
        page.push_str("<p class=\"muted\">Requires <code>Authorization: Bearer &lt;access token&gt;</code>.</p>");
    }
    if let Some(Value::Array(parameters)) = operation.get("parameters") {
        page.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(text(parameter, "name")),
                escape(text(parameter, "in")),
                if parameter
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    "yes"
                } else {
                    "no"
                },
                escape(text(parameter, "description")),
            );
        }
        page.push_str("</table>");
    }
    if let Some(body) = operation.get("requestBody") {
        let _ = write!(
            page,
            "<p>Request body: {}</p>",
            content_labels(body.get("content"))
        );
    }
    if let Some(Value::Object(responses)) = operation.get("responses") {
        page.push_str("<table><tr><th>Status</th><th>Description</th><th>Body</th></tr>");
        for (status, response) in responses {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                escape(text(response, "description")),
                content_labels(response.get("content")),
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_from_the_document_is_escaped() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>alert(1)</script>", "version": "1"},
            "paths": {"/x": {"get": {"summary": "a & b", "responses": {"200": {"description": "\"ok\""}}}}}
        });
        let page = render(&doc, "/v1/openapi.json");
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a &amp; b"));
        assert!(page.contains("&quot;ok&quot;"));
    }
}
