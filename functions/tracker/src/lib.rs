//! The tracker function: the medical tracker, under `/v1/tracker/…`. Every endpoint needs a
//! signed-in user and reads or writes only that user's partition, so another user's item is
//! simply not there (404). No role reads anyone else's health data; ADMIN only curates the
//! shared medication catalogue.

pub mod routes;

use axum::Router;
use shared::AppContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use routes::{catalog, data, days, entries, export, feelings, medications, passport};

/// The tracker function's routes, described.
pub fn api(api_prefix: &str) -> OpenApiRouter<AppContext> {
    let tracker = OpenApiRouter::new()
        .routes(routes!(catalog::search, catalog::add))
        .routes(routes!(catalog::edit, catalog::retire))
        .routes(routes!(medications::create, medications::list))
        .routes(routes!(
            medications::read,
            medications::replace,
            medications::archive
        ))
        .routes(routes!(entries::log_dose, entries::list_doses))
        .routes(routes!(entries::replace_dose, entries::delete_dose))
        .routes(routes!(entries::log_symptom, entries::list_symptoms))
        .routes(routes!(entries::replace_symptom, entries::delete_symptom))
        .routes(routes!(feelings::put, feelings::delete))
        .routes(routes!(feelings::list))
        .routes(routes!(days::day))
        .routes(routes!(days::feel_vs_yesterday))
        .routes(routes!(days::adherence))
        .routes(routes!(passport::passport))
        .routes(routes!(
            passport::create_condition,
            passport::list_conditions
        ))
        .routes(routes!(
            passport::replace_condition,
            passport::delete_condition
        ))
        .routes(routes!(passport::create_allergy, passport::list_allergies))
        .routes(routes!(passport::replace_allergy, passport::delete_allergy))
        .routes(routes!(passport::create_doctor, passport::list_doctors))
        .routes(routes!(
            passport::read_doctor,
            passport::replace_doctor,
            passport::delete_doctor
        ))
        .routes(routes!(
            passport::put_contact,
            passport::read_contact,
            passport::delete_contact
        ))
        .routes(routes!(export::export))
        .routes(routes!(data::erase));
    OpenApiRouter::with_openapi(shared::openapi::base())
        .nest(&format!("{api_prefix}/tracker"), tracker)
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let (routes, _) = api(&ctx.settings.api_prefix).split_for_parts();
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        ctx.clone(),
        routes::common::dead_sessions_are_unauthorized,
    ));
    shared::http::app(routes, ctx)
}
