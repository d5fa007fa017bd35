pub mod description;
pub mod info;
pub mod liveness;
pub mod readiness;
