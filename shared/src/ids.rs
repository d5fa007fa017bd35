//! Random identifiers: request, session, token, batch and event ids.
//!
//! They come from the thread's CSPRNG (`rand::rng()`: ChaCha12, seeded and reseeded from the
//! operating system), not from `Uuid::new_v4`, which asks the kernel for every id: a system
//! call per id, and a request makes one to four of them.

/// A new random (version 4) UUID.
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_rfc_variant_and_distinct() {
        let ids: std::collections::HashSet<uuid::Uuid> = (0..1000).map(|_| random_uuid()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.get_version(), Some(uuid::Version::Random));
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
    }
}
