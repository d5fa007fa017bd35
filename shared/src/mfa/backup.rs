//! Backup codes: twelve characters from a 30-symbol alphabet without look-alikes (59 random
//! bits), shown as `xxxx-xxxx-xxxx`. Stored only as an HMAC with the pepper over the user, the
//! batch and the code, so a copy of the table alone reveals none of them, and regenerating (a new
//! batch) makes every older code unfindable at once.

use rand::Rng;

use crate::auth::tokens::opaque_token_digest;
use crate::secrets::Secrets;
use crate::store::Key;

/// Digits and lowercase letters without `0 1 i l o u`: easy to read back from paper.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstvwxyz";
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;
const CODE_LEN: usize = GROUPS * GROUP_LEN;

pub const PREFIX: &str = "BACKUP#";

/// `count` new codes, formatted for display.
pub fn generate(count: u32) -> Vec<String> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let raw: Vec<u8> = (0..CODE_LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            raw.chunks(GROUP_LEN)
                .map(|group| String::from_utf8_lossy(group).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The canonical form of a typed code (case, dashes and spaces do not matter), or `None` when
/// it cannot be a backup code.
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Where the code `normalized` of `batch` is stored for `user_id`.
pub fn key(secrets: &Secrets, user_id: &str, batch: &str, normalized: &str) -> Key {
    let digest = opaque_token_digest(
        secrets.token_pepper_key(),
        &format!("{user_id}:{batch}:{normalized}"),
    );
    Key::new(
        crate::accounts::users::user_partition(user_id),
        format!("{PREFIX}{digest}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_readable_and_normalize_to_themselves() {
        let codes = generate(50);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 50);
        for code in &codes {
            assert_eq!(code.len(), CODE_LEN + GROUPS - 1);
            assert!(
                !code
                    .chars()
                    .any(|c| matches!(c, '0' | 'o' | '1' | 'l' | 'i' | 'u'))
            );
            let normalized = normalize(code).unwrap();
            assert_eq!(normalize(&code.to_uppercase()), Some(normalized.clone()));
            assert_eq!(normalize(&code.replace('-', " ")), Some(normalized));
        }
        for bad in [
            "",
            "123456",
            "abcd-efgh",
            "abcd-efgh-jkm0",
            &"a".repeat(100),
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_depend_on_user_batch_and_pepper() {
        let secrets = Secrets::generate();
        let code = normalize(&generate(1)[0]).unwrap();
        let k = key(&secrets, "u1", "b1", &code);
        assert_eq!(k, key(&secrets, "u1", "b1", &code));
        assert_ne!(k, key(&secrets, "u2", "b1", &code));
        assert_ne!(k, key(&secrets, "u1", "b2", &code));
        assert_ne!(k, key(&Secrets::generate(), "u1", "b1", &code));
        assert!(!k.sk.contains(&code));
    }
}
