//! The medical tracker's data: its types, its key layout, and what reads it whole (the day view,
//! adherence, feel-vs-yesterday, the passport, exports, erasure, demo data).
//!
//! Every item of a user lives in their own partition, apart from the account's items so that
//! reading the account never reads health data:
//!
//! ```text
//! TRACK#<user>  P#ALLERGY#<id>                  allergy
//! TRACK#<user>  P#CONTACT                       emergency contact
//! TRACK#<user>  P#COND#<id>                     condition
//! TRACK#<user>  P#DOC#<id>                      doctor
//! TRACK#<user>  P#MED#<id>                      medication
//! TRACK#<user>  DAY#<YYYY-MM-DD>#DOSE#<id>      dose        GSI1: TRACK#<user>#DOSE / <date>#<HH:MM>#<id>
//! TRACK#<user>  DAY#<YYYY-MM-DD>#FEEL           feeling     GSI1: TRACK#<user>#FEEL / <date>
//! TRACK#<user>  DAY#<YYYY-MM-DD>#SYM#<id>       symptom     GSI1: TRACK#<user>#SYM  / <date>#<HH:MM>#<id>
//! CATALOG       MED#<id>                        catalogue entry (shared by everyone)
//! ```
//!
//! - A day's entries are contiguous (`DAY#<date>#`), and so are two adjacent days: the day view
//!   and feel-vs-yesterday each read their days with one query.
//! - Everything a passport shows is under `P#`: one query.
//! - Lists of one kind over a date range read that kind's index partition (`…#DOSE`), so they
//!   never page through the other kinds.
//! - An entry's id starts with its day (`20260329-…`), so an id alone finds its key, and an id
//!   of another user's entry names nothing in the caller's partition (404).

pub mod catalog;
pub mod dates;
pub mod days;
pub mod demo;
pub mod export;
pub mod fhir;
pub mod model;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{Condition, Item, Key, Store, StoreError, Write};
use jiff::civil::Date;
pub use model::*;

pub const CATALOG_PARTITION: &str = "CATALOG";
pub const PASSPORT_PREFIX: &str = "P#";
pub const MEDICATION_PREFIX: &str = "P#MED#";
pub const CONDITION_PREFIX: &str = "P#COND#";
pub const ALLERGY_PREFIX: &str = "P#ALLERGY#";
pub const DOCTOR_PREFIX: &str = "P#DOC#";
pub const CONTACT_SK: &str = "P#CONTACT";

/// The kinds of items, as audit events and metrics name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Medication,
    Dose,
    Symptom,
    Feeling,
    Condition,
    Allergy,
    Doctor,
    EmergencyContact,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Medication => "medication",
            Self::Dose => "dose",
            Self::Symptom => "symptom",
            Self::Feeling => "feeling",
            Self::Condition => "condition",
            Self::Allergy => "allergy",
            Self::Doctor => "doctor",
            Self::EmergencyContact => "emergency_contact",
        }
    }

    fn day_tag(self) -> &'static str {
        match self {
            Self::Dose => "DOSE",
            Self::Symptom => "SYM",
            _ => "FEEL",
        }
    }
}

pub fn partition(user_id: &str) -> String {
    format!("TRACK#{user_id}")
}

/// A new random id (16 hex digits).
pub fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode(bytes)
}

/// Whether `id` has the shape of an id we issue (so it is safe inside a key).
pub fn is_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A new id for an entry of `day`: `YYYYMMDD-<16 hex>`.
pub fn new_entry_id(day: Date) -> String {
    format!("{}-{}", day.strftime("%Y%m%d"), new_id())
}

/// The day an entry id belongs to, when it is one of ours.
pub fn entry_day(id: &str) -> Option<Date> {
    let (day, rest) = id.split_once('-')?;
    if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) || !is_id(rest) {
        return None;
    }
    Date::strptime("%Y%m%d", day).ok()
}

pub fn day_prefix(day: Date) -> String {
    format!("DAY#{day}#")
}

/// The key of a passport item (`P#MED#<id>` …).
pub fn passport_key(user_id: &str, prefix: &str, id: &str) -> Key {
    Key::new(partition(user_id), format!("{prefix}{id}"))
}

pub fn contact_key(user_id: &str) -> Key {
    Key::new(partition(user_id), CONTACT_SK)
}

pub fn entry_key(user_id: &str, kind: Kind, day: Date, id: &str) -> Key {
    Key::new(
        partition(user_id),
        format!("{}{}#{id}", day_prefix(day), kind.day_tag()),
    )
}

pub fn feeling_key(user_id: &str, day: Date) -> Key {
    Key::new(partition(user_id), format!("{}FEEL", day_prefix(day)))
}

pub fn catalog_key(id: &str) -> Key {
    Key::new(CATALOG_PARTITION, format!("MED#{id}"))
}

/// The index partition listing one kind of day entry.
pub fn kind_index(user_id: &str, kind: Kind) -> String {
    format!("{}#{}", partition(user_id), kind.day_tag())
}

/// The attributes holding a day entry's instant (a dose's, a symptom's).
const INSTANT_FIELDS: [&str; 2] = ["taken_at", "occurred_at"];

/// A day entry as an item, indexed for listing by kind, day and local time.
pub fn entry_item<T: Serialize>(
    user_id: &str,
    kind: Kind,
    day: Date,
    id: &str,
    entity: &T,
) -> Result<Item, StoreError> {
    let key = if kind == Kind::Feeling {
        feeling_key(user_id, day)
    } else {
        entry_key(user_id, kind, day, id)
    };
    let item = Item::from_entity(&key, entity)?;
    let sort = if kind == Kind::Feeling {
        day.to_string()
    } else {
        // Within a day, by local time of day (from the entry's own instant), then id.
        let time = INSTANT_FIELDS
            .iter()
            .find_map(|field| item.get_str(field))
            .and_then(|instant| instant.get(11..16))
            .unwrap_or("");
        format!("{day}#{time}#{id}")
    };
    Ok(item.with_gsi1(kind_index(user_id, kind), sort))
}

/// What kind of day entry an item is, from its sort key.
pub fn day_entry_kind(item: &Item) -> Option<Kind> {
    day_entry_kind_of(item.sk()?)
}

/// What kind of day entry a sort key names.
pub fn day_entry_kind_of(sk: &str) -> Option<Kind> {
    let rest = sk.strip_prefix("DAY#")?.get(11..)?;
    match rest.split('#').next()? {
        "DOSE" => Some(Kind::Dose),
        "SYM" => Some(Kind::Symptom),
        "FEEL" => Some(Kind::Feeling),
        _ => None,
    }
}

/// The items of `kind` among `items`, decoded.
pub fn entries<T: DeserializeOwned>(items: &[Item], kind: Kind) -> Result<Vec<T>, StoreError> {
    items
        .iter()
        .filter(|i| day_entry_kind(i) == Some(kind))
        .map(Item::to_entity)
        .collect()
}

/// The items under `prefix` among `items`, decoded.
pub fn under<T: DeserializeOwned>(items: &[Item], prefix: &str) -> Result<Vec<T>, StoreError> {
    items
        .iter()
        .filter(|i| i.sk().is_some_and(|sk| sk.starts_with(prefix)))
        .map(Item::to_entity)
        .collect()
}

/// Puts a new item unless its key is taken.
pub fn create(item: Item) -> Write {
    Write::Put {
        item,
        condition: Some(Condition::NotExists),
    }
}

/// Replaces an item that must exist.
pub fn replace(item: Item) -> Write {
    Write::Put {
        item,
        condition: Some(Condition::Exists),
    }
}

/// Fails the transaction unless the item exists.
pub fn must_exist(key: Key) -> Write {
    Write::Check {
        key,
        condition: Condition::Exists,
    }
}

/// Deletes every tracker item of a user. Safe to run again after a failure part-way: it
/// deletes whatever is left. Returns how many were deleted.
pub async fn erase(store: &Store, user_id: &str) -> Result<usize, StoreError> {
    store.delete_partition(&partition(user_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_carry_their_day_and_nothing_else() {
        let day: Date = "2026-03-29".parse().unwrap();
        let id = new_entry_id(day);
        assert_eq!(entry_day(&id), Some(day));
        for bad in [
            "20260329-zz",
            "2026032-0123456789abcdef",
            "20260230-0123456789abcdef",
            "../../x",
            "",
            "20260329-0123456789ABCDEF",
        ] {
            assert_eq!(entry_day(bad), None, "{bad}");
        }
        assert!(is_id(&new_id()));
    }

    #[test]
    fn day_entries_know_their_kind() {
        let day: Date = "2026-03-29".parse().unwrap();
        let item = entry_item("u", Kind::Symptom, day, "x", &serde_json::json!({})).unwrap();
        assert_eq!(day_entry_kind(&item), Some(Kind::Symptom));
        let feeling = entry_item("u", Kind::Feeling, day, "", &serde_json::json!({})).unwrap();
        assert_eq!(day_entry_kind(&feeling), Some(Kind::Feeling));
        assert_eq!(feeling.gsi1(), Some(("TRACK#u#FEEL", "2026-03-29")));
        let dose = serde_json::json!({"taken_at": "2026-03-29T20:10:00+02:00"});
        let item = entry_item("u", Kind::Dose, day, "x", &dose).unwrap();
        assert_eq!(item.gsi1(), Some(("TRACK#u#DOSE", "2026-03-29#20:10#x")));
    }
}
