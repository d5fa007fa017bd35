//! Email addresses, normalised once so that one person has one account: trimmed,
//! Unicode-normalised (NFKC), lowercased, and ASCII only — look-alike characters from other
//! scripts (a Cyrillic `а` for a Latin `a`) are refused rather than silently creating a second,
//! confusable account.

use serde::{Deserialize, Deserializer, Serialize};
use unicode_normalization::UnicodeNormalization;

pub const MAX_LEN: usize = 254;
const MAX_LOCAL: usize = 64;

/// A valid, normalised email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Normalises and checks `raw`; the error is the message a user sees.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = normalized(raw);
        if email.is_empty() {
            return Err("is required".to_owned());
        }
        if email.len() > MAX_LEN {
            return Err(format!("must be at most {MAX_LEN} characters"));
        }
        if !email.is_ascii() {
            return Err("must use only ASCII characters".to_owned());
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("is not a valid email address".to_owned());
        };
        let local_ok = !local.is_empty()
            && local.len() <= MAX_LOCAL
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
        if !local_ok || !domain_ok {
            return Err("is not a valid email address".to_owned());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .max_length(Some(MAX_LEN))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

/// Trimmed, NFKC and lowercase. ASCII is its own NFKC form, so ASCII input (every stored email,
/// nearly every typed one) skips the Unicode tables.
fn normalized(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        trimmed.nfkc().collect::<String>().to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
        // Fullwidth characters fold to ASCII under NFKC.
        assert_eq!(
            Email::parse("ｊａｎｅ@example.com").unwrap().as_str(),
            "jane@example.com"
        );
        assert_eq!(
            Email::parse("a+tag@sub.example.org").unwrap().local_part(),
            "a+tag"
        );
    }

    #[test]
    fn the_ascii_shortcut_normalises_as_nfkc_does() {
        let printable: String = (0x20u8..0x7f).map(char::from).collect();
        for raw in [
            printable.as_str(),
            " \t Jane.Doe+Tag@Example.COM \r\n",
            "A~B`C^D{E}F|G@x.io",
            "",
        ] {
            let full = raw.trim().nfkc().collect::<String>().to_lowercase();
            assert_eq!(normalized(raw), full, "{raw:?}");
        }
    }

    #[test]
    fn invalid_and_look_alike_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@example",
            "a@@example.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example.123",
            "\u{430}dmin@example.com",
            "admin@ex\u{430}mple.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Email>("\"ok@example.com\"").is_ok());
        let err = serde_json::from_str::<Email>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("not a valid email"));
    }
}
