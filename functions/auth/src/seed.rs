//! Demo accounts for local development: with `ENV=dev` and `SEED_DEMO_ACCOUNTS=true`,
//! `admin@example.com` / `Admin123!` (ADMIN) and `student@example.com` / `Student123!` (STUDENT)
//! exist after the auth function starts. Idempotent; never in staging or prod.

use shared::AppContext;
use shared::accounts::{User, users};
use shared::auth::{Email, Password, Role};
use shared::store::StoreError;

pub const DEMO_ACCOUNTS: [(&str, &str, &str, Role); 2] = [
    ("Demo Admin", "admin@example.com", "Admin123!", Role::Admin),
    (
        "Demo Student",
        "student@example.com",
        "Student123!",
        Role::Student,
    ),
];

/// Creates the demo accounts that do not exist yet.
pub async fn demo_accounts(
    ctx: &AppContext,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if !ctx.settings.env.is_dev() || !ctx.settings.seed_demo_accounts {
        return Ok(());
    }
    for (name, email, password, role) in DEMO_ACCOUNTS {
        let email = Email::parse(email)?;
        let hash = ctx.passwords.hash(&Password::new(password)).await?;
        let user = User::new(
            shared::ids::random_uuid().to_string(),
            name.to_owned(),
            &email,
            vec![role],
            ctx.clock.now().to_string(),
        );
        match ctx
            .store
            .transact(users::create_writes(&user, &email, Some(hash))?)
            .await
        {
            Ok(()) => tracing::info!(
                email = email.as_str(),
                role = role.as_str(),
                "demo account created"
            ),
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
