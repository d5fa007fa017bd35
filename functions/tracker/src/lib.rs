//! The tracker function: the medical tracker, under `/v1/tracker/…`. Every endpoint needs a
//! signed-in user and reads or writes only that user's partition, so another user's item is
//! simply not there (404). No role reads anyone else's health data; ADMIN only curates the
//! shared medication catalogue.

pub mod routes;

use axum::Router;
use shared::AppContext;

use routes::{catalog, data, days, entries, export, feelings, medications, passport};

shared::api_routes! {
    "/tracker" => [
        catalog::search,
        catalog::add,
        catalog::edit,
        catalog::retire,
        medications::create,
        medications::list,
        medications::read,
        medications::replace,
        medications::archive,
        entries::log_dose,
        entries::list_doses,
        entries::replace_dose,
        entries::delete_dose,
        entries::log_symptom,
        entries::list_symptoms,
        entries::replace_symptom,
        entries::delete_symptom,
        feelings::put,
        feelings::delete,
        feelings::list,
        days::day,
        days::feel_vs_yesterday,
        days::adherence,
        passport::passport,
        passport::create_condition,
        passport::list_conditions,
        passport::replace_condition,
        passport::delete_condition,
        passport::create_allergy,
        passport::list_allergies,
        passport::replace_allergy,
        passport::delete_allergy,
        passport::create_doctor,
        passport::list_doctors,
        passport::read_doctor,
        passport::replace_doctor,
        passport::delete_doctor,
        passport::put_contact,
        passport::read_contact,
        passport::delete_contact,
        export::export,
        data::erase,
    ],
}

/// The router Lambda runs.
pub fn router(ctx: AppContext) -> Router {
    let dead_sessions = axum::middleware::from_fn_with_state(
        ctx.clone(),
        routes::common::dead_sessions_are_unauthorized,
    );
    shared::http::app_with(lambda_routes(&ctx.settings.api_prefix), ctx, dead_sessions)
}
