//! A function's routes, declared once for their two uses.
//!
//! Every handler carries its description (`#[utoipa::path]`), so a route cannot exist without
//! it. Describing is costly, though: building the operations and schemas of the tracker's 46
//! routes took 3 ms of a cold start in which nothing reads them (the document is generated
//! ahead of time, `make openapi`). So one declaration, [`api_routes!`](crate::api_routes),
//! gives each function both:
//! - `api(api_prefix)`: the routes described (`OpenApiRouter`), what the document and the tests
//!   are built from;
//! - `lambda_routes(api_prefix)`: the same handlers at the same paths and methods, served as a plain
//!   axum router, which reads only each handler's path and methods.

/// What the macros expand to; not for direct use.
#[doc(hidden)]
pub mod __support {
    pub use axum::Router;
    pub use axum::routing::MethodRouter;
    pub use utoipa::Path;
    pub use utoipa_axum::PathItemExt;
    pub use utoipa_axum::paste;
    pub use utoipa_axum::router::OpenApiRouter;
}

/// Declares a function's routes: `root => [handlers]` for paths outside the API prefix, then
/// `"/nest" => [handlers]` for each group under `{api_prefix}/nest` (`""` for the prefix
/// itself). Handlers are paths to functions annotated with `#[utoipa::path]`. Expands to
/// `pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext>` and
/// `pub fn lambda_routes(api_prefix: &str) -> Router<AppContext>`.
#[macro_export]
macro_rules! api_routes {
    (
        $( root => [ $( $( $root:ident )::+ ),+ $(,)? ], )?
        $( $nest:literal => [ $( $( $handler:ident )::+ ),+ $(,)? ] ),+ $(,)?
    ) => {
        /// This function's routes, described: what the OpenAPI document is generated from.
        pub fn api(
            api_prefix: &str,
        ) -> $crate::http::routes::__support::OpenApiRouter<$crate::AppContext> {
            use $crate::http::routes::__support::OpenApiRouter;
            let api = OpenApiRouter::with_openapi($crate::openapi::base())
                $( $( .routes(::utoipa_axum::routes!( $( $root )::+ )) )+ )?;
            api $( .nest(
                &format!("{api_prefix}{}", $nest),
                OpenApiRouter::new() $( .routes(::utoipa_axum::routes!( $( $handler )::+ )) )+,
            ) )+
        }

        /// This function's routes as Lambda serves them: the handlers of [`api`] at the same
        /// paths and methods, with nothing described. Each is routed at its full path, not
        /// nested (nesting rebuilds every route of the group).
        pub fn lambda_routes(
            api_prefix: &str,
        ) -> $crate::http::routes::__support::Router<$crate::AppContext> {
            use $crate::http::routes::__support::Router;
            let router = Router::new();
            $( $( let router = $crate::__serve_handler!(router, "", [] $( $root )::+); )+ )?
            $(
                let group = format!("{api_prefix}{}", $nest);
                $( let router = $crate::__serve_handler!(router, &group, [] $( $handler )::+); )+
            )+
            router
        }
    };
}

/// Adds one handler to a plain router under `group`, at the path and methods of its
/// `#[utoipa::path]` (found on the `__path_<handler>` type utoipa generates next to it). The
/// group's own path is served without a trailing slash, as a nested router serves it.
#[doc(hidden)]
#[macro_export]
macro_rules! __serve_handler {
    ($router:ident, $group:expr, [ $( $module:ident )* ] $first:ident :: $( $rest:ident )::+) => {
        $crate::__serve_handler!($router, $group, [ $( $module )* $first ] $( $rest )::+)
    };
    ($router:ident, $group:expr, [ $( $module:ident )* ] $name:ident) => {{
        use $crate::http::routes::__support::{MethodRouter, Path as _, PathItemExt as _};
        $crate::http::routes::__support::paste! {
            let path = $( $module :: )* [<__path_ $name>]::path();
            let methods = $( $module :: )* [<__path_ $name>]::methods();
        }
        let method_router = methods.iter().fold(MethodRouter::new(), |router, method| {
            router.on(method.to_method_filter(), $( $module :: )* $name)
        });
        let group: &str = $group;
        let full = match (group, path.as_str()) {
            ("", "" | "/") => "/".to_owned(),
            (group, "" | "/") => group.to_owned(),
            (group, path) => format!("{group}{path}"),
        };
        $router.route(&full, method_router)
    }};
}
