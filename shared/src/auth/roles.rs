//! The roles an account can hold.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Every new account.
    Student,
    /// Manages accounts and the medication catalogue; never reads anyone's health data.
    Admin,
    /// Reviews exam content.
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Student => "STUDENT",
            Self::Admin => "ADMIN",
            Self::Reviewer => "REVIEWER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_use_the_names_clients_know() {
        assert_eq!(
            serde_json::to_string(&Role::Student).unwrap(),
            "\"STUDENT\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"REVIEWER\"").unwrap(),
            Role::Reviewer
        );
        assert!(serde_json::from_str::<Role>("\"ROOT\"").is_err());
        assert_eq!(Role::Admin.as_str(), "ADMIN");
    }
}
