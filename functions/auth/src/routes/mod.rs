pub mod account;
pub mod admin;
pub mod demo;
pub mod events;
pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;
pub mod reset;
pub mod sessions;
pub mod signup;

/// Checks `password` against the policy (a 422 on `body.new_password`) and returns the write that
/// stores its hash in `email`'s credential.
pub async fn new_password_write(
    ctx: &shared::AppContext,
    email: &shared::auth::Email,
    password: &shared::auth::Password,
) -> Result<shared::store::Write, shared::http::ApiError> {
    use shared::http::ApiError;
    shared::auth::password::check_policy(password, Some(email), ctx.settings.passwords.min_length)
        .map_err(|message| ApiError::invalid_field("body.new_password", message))?;
    let hash = ctx
        .passwords
        .hash(password)
        .await
        .map_err(ApiError::internal)?;
    Ok(shared::store::Write::Update {
        key: shared::accounts::users::credential_key(email),
        updates: vec![shared::store::Update::set("password_hash", hash)],
        condition: Some(shared::store::Condition::Exists),
    })
}

/// Marks the profile with the time the password changed: reset links issued before it die.
pub fn password_changed_write(ctx: &shared::AppContext, user_id: &str) -> shared::store::Write {
    shared::store::Write::Update {
        key: shared::accounts::users::profile_key(user_id),
        updates: vec![shared::store::Update::set(
            PASSWORD_CHANGED_AT,
            ctx.clock.epoch_seconds(),
        )],
        condition: Some(shared::store::Condition::Exists),
    }
}

pub use shared::accounts::users::PASSWORD_CHANGED_AT;
