//! Keys and items: the unit the store reads and writes.
//!
//! An item is a JSON object whose attributes map one to one onto DynamoDB attributes (string,
//! number, bool, null, list, map). Entity modules turn their own types into items with serde and
//! own their key layout; the store only knows the key attributes below.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::StoreError;

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// Partition key of the one global secondary index, `GSI1`.
pub const GSI1PK: &str = "GSI1PK";
/// Sort key of `GSI1`.
pub const GSI1SK: &str = "GSI1SK";
/// TTL attribute, in epoch seconds. An item whose `expires_at <= now` is absent for every read,
/// condition and update, whether or not DynamoDB has swept it yet.
pub const EXPIRES_AT: &str = "expires_at";

/// DynamoDB's limits, enforced for both backends so they accept and refuse the same items.
pub(crate) const MAX_PK_BYTES: usize = 2048;
pub(crate) const MAX_SK_BYTES: usize = 1024;
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        validate_key_part(PK, &self.pk, MAX_PK_BYTES)?;
        validate_key_part(SK, &self.sk, MAX_SK_BYTES)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.pk, self.sk)
    }
}

fn validate_key_part(name: &str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(format!("{name} must not be empty")));
    }
    if value.len() > max {
        return Err(StoreError::invalid(format!(
            "{name} is longer than {max} bytes"
        )));
    }
    Ok(())
}

/// One stored item: its key attributes and everything else.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Item(Map<String, Value>);

impl Item {
    /// An item with only its key.
    pub fn new(key: &Key) -> Self {
        let mut attrs = Map::new();
        attrs.insert(PK.into(), Value::String(key.pk.clone()));
        attrs.insert(SK.into(), Value::String(key.sk.clone()));
        Self(attrs)
    }

    /// An item holding `entity`'s fields (which must serialize to a JSON object) under `key`.
    pub fn from_entity<T: Serialize>(key: &Key, entity: &T) -> Result<Self, StoreError> {
        let Value::Object(fields) = serde_json::to_value(entity).map_err(StoreError::corrupt)?
        else {
            return Err(StoreError::invalid(
                "an entity must serialize to a JSON object",
            ));
        };
        let mut item = Self::new(key);
        for (name, value) in fields {
            if name == PK || name == SK {
                return Err(StoreError::invalid(format!(
                    "an entity must not carry the key attribute {name}"
                )));
            }
            item.0.insert(name, value);
        }
        Ok(item)
    }

    /// The item's attributes read back as an entity (key and index attributes are ignored unless
    /// the entity asks for them). Read in place: no copy of the attributes is made.
    pub fn to_entity<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        T::deserialize(&self.0).map_err(StoreError::corrupt)
    }

    /// [`Item::to_entity`], taking the item: its strings move into the entity, uncopied.
    pub fn into_entity<T: DeserializeOwned>(self) -> Result<T, StoreError> {
        T::deserialize(Value::Object(self.0)).map_err(StoreError::corrupt)
    }

    /// Builder: sets the TTL (epoch seconds).
    pub fn with_ttl(mut self, expires_at: i64) -> Self {
        self.set(EXPIRES_AT, expires_at);
        self
    }

    /// Builder: puts the item into `GSI1` under (`pk`, `sk`).
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.set(GSI1PK, pk.into());
        self.set(GSI1SK, sk.into());
        self
    }

    /// Builder: sets one attribute.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_owned(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    pub fn attributes(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_attributes(self) -> Map<String, Value> {
        self.0
    }

    pub fn from_attributes(attrs: Map<String, Value>) -> Self {
        Self(attrs)
    }

    /// The item's sort key, when it is a string: for picking items out of a partition without
    /// copying their keys.
    pub fn sk(&self) -> Option<&str> {
        self.get_str(SK)
    }

    /// The item's key, when both key attributes are strings.
    pub fn key(&self) -> Option<Key> {
        Some(Key::new(self.get_str(PK)?, self.get_str(SK)?))
    }

    /// Whether this is the item at `key` (no copy of the key is made).
    pub fn has_key(&self, key: &Key) -> bool {
        self.get_str(PK) == Some(key.pk.as_str()) && self.sk() == Some(key.sk.as_str())
    }

    /// The TTL in epoch seconds, if the item has one.
    pub fn expires_at(&self) -> Option<i64> {
        self.get(EXPIRES_AT).and_then(Value::as_i64)
    }

    /// Whether the item is still alive at `now` (epoch seconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at().is_none_or(|at| at > now)
    }

    /// The `GSI1` key, when the item is in the index (both attributes present).
    pub fn gsi1(&self) -> Option<(&str, &str)> {
        Some((self.get_str(GSI1PK)?, self.get_str(GSI1SK)?))
    }

    /// Checks what DynamoDB would refuse, so both backends refuse the same items; answers the
    /// item's key, borrowed.
    pub(crate) fn validate(&self) -> Result<(&str, &str), StoreError> {
        let (Some(pk), Some(sk)) = (self.get_str(PK), self.sk()) else {
            return Err(StoreError::invalid(
                "an item needs string PK and SK attributes",
            ));
        };
        validate_key_part(PK, pk, MAX_PK_BYTES)?;
        validate_key_part(SK, sk, MAX_SK_BYTES)?;
        for index_attr in [GSI1PK, GSI1SK] {
            match self.get(index_attr) {
                None => {}
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(_) => {
                    return Err(StoreError::invalid(format!(
                        "{index_attr} must be a non-empty string"
                    )));
                }
            }
        }
        match self.get(EXPIRES_AT) {
            None => {}
            Some(v) if v.as_i64().is_some() => {}
            Some(_) => {
                return Err(StoreError::invalid(
                    "expires_at must be whole epoch seconds",
                ));
            }
        }
        for (name, value) in &self.0 {
            if name.is_empty() {
                return Err(StoreError::invalid("attribute names must not be empty"));
            }
            validate_value(value)?;
        }
        let mut size = ByteCount(0);
        serde_json::to_writer(&mut size, &self.0).map_err(StoreError::corrupt)?;
        if size.0 > MAX_ITEM_BYTES {
            return Err(StoreError::invalid(format!(
                "item is larger than {MAX_ITEM_BYTES} bytes"
            )));
        }
        Ok((pk, sk))
    }
}

/// Counts what is written to it: an item's encoded size without encoding it into memory.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whole numbers written as floats (`1.0`) become integers, as DynamoDB returns them, so both
/// backends read back the same value.
pub(crate) fn normalize_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(values) => values.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

impl Item {
    pub(crate) fn normalize_numbers(&mut self) {
        self.0.values_mut().for_each(normalize_numbers);
    }
}

/// Numbers must be finite (DynamoDB has no NaN or infinity); nested values are checked too.
pub(crate) fn validate_value(value: &Value) -> Result<(), StoreError> {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            Err(StoreError::invalid("numbers must be finite"))
        }
        Value::Array(values) => values.iter().try_for_each(validate_value),
        Value::Object(map) => map.values().try_for_each(validate_value),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Note {
        title: String,
        stars: u32,
    }

    #[test]
    fn an_item_or_write_has_a_key_only_when_both_parts_match() {
        use crate::store::{Condition, Write};
        let key = Key::new("A", "B");
        let item = Item::new(&key);
        assert!(item.has_key(&key));
        for other in [Key::new("A", "C"), Key::new("X", "B"), Key::new("B", "A")] {
            assert!(!item.has_key(&other));
            let writes = [
                Write::Put {
                    item: item.clone(),
                    condition: None,
                },
                Write::Delete {
                    key: key.clone(),
                    condition: None,
                },
                Write::Check {
                    key: key.clone(),
                    condition: Condition::Exists,
                },
            ];
            for write in &writes {
                assert!(write.has_key(&key) && !write.has_key(&other));
            }
        }
    }

    #[test]
    fn entity_round_trip_keeps_fields_and_key() {
        let key = Key::new("USER#1", "NOTE#a");
        let note = Note {
            title: "hi".into(),
            stars: 3,
        };
        let item = Item::from_entity(&key, &note).unwrap().with_ttl(100);
        assert_eq!(item.key(), Some(key));
        assert_eq!(item.expires_at(), Some(100));
        assert_eq!(item.to_entity::<Note>().unwrap(), note);
    }

    #[test]
    fn entity_may_not_overwrite_the_key() {
        let key = Key::new("A", "B");
        let err = Item::from_entity(&key, &json!({"PK": "other"})).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
    }

    #[test]
    fn liveness_follows_expires_at() {
        let item = Item::new(&Key::new("A", "B")).with_ttl(10);
        assert!(item.is_live(9));
        assert!(!item.is_live(10));
        assert!(Item::new(&Key::new("A", "B")).is_live(i64::MAX));
    }

    #[test]
    fn validation_refuses_what_dynamodb_refuses() {
        let ok = Item::new(&Key::new("A", "B"));
        assert!(ok.validate().is_ok());
        assert!(Item::new(&Key::new("", "B")).validate().is_err());
        assert!(
            Item::new(&Key::new("A", "x".repeat(1025)))
                .validate()
                .is_err()
        );
        assert!(ok.clone().with(GSI1PK, 5).validate().is_err());
        assert!(ok.clone().with(EXPIRES_AT, "soon").validate().is_err());
        assert!(
            ok.clone()
                .with("big", "x".repeat(MAX_ITEM_BYTES))
                .validate()
                .is_err()
        );
    }
}
