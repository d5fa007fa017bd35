//! Queries: one partition, an optional sort-key condition, a direction, a page size and a cursor.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::item::{GSI1PK, GSI1SK, Item, MAX_PK_BYTES, MAX_SK_BYTES, PK, SK};

/// Largest page a query may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Which key the query reads: the table's (`PK`, `SK`) or the index's (`GSI1PK`, `GSI1SK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Index {
    #[serde(rename = "t")]
    Table,
    #[serde(rename = "g")]
    Gsi1,
}

impl Index {
    pub fn partition_attr(self) -> &'static str {
        match self {
            Self::Table => PK,
            Self::Gsi1 => GSI1PK,
        }
    }

    pub fn sort_attr(self) -> &'static str {
        match self {
            Self::Table => SK,
            Self::Gsi1 => GSI1SK,
        }
    }
}

/// A condition on the sort key. Strings compare by UTF-8 bytes; `Between` includes both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    All,
    Eq(String),
    Prefix(String),
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortKey {
    /// The bound values (none for `All`, the prefix for `Prefix`).
    fn values(&self) -> Vec<&str> {
        match self {
            Self::All => vec![],
            Self::Eq(v)
            | Self::Prefix(v)
            | Self::Lt(v)
            | Self::Le(v)
            | Self::Gt(v)
            | Self::Ge(v) => vec![v],
            Self::Between(a, b) => vec![a, b],
        }
    }

    /// Whether a sort-key value satisfies the condition (byte order, as DynamoDB).
    pub fn matches(&self, value: &str) -> bool {
        let v = value.as_bytes();
        match self {
            Self::All => true,
            Self::Eq(x) => v == x.as_bytes(),
            Self::Prefix(p) => v.starts_with(p.as_bytes()),
            Self::Between(a, b) => a.as_bytes() <= v && v <= b.as_bytes(),
            Self::Lt(x) => v < x.as_bytes(),
            Self::Le(x) => v <= x.as_bytes(),
            Self::Gt(x) => v > x.as_bytes(),
            Self::Ge(x) => v >= x.as_bytes(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Forward,
    Backward,
}

/// A query over one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub sort_key: SortKey,
    pub direction: Direction,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl Query {
    /// Every item of a table partition, first page of 100, ascending.
    pub fn table(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Table,
            partition: partition.into(),
            sort_key: SortKey::All,
            direction: Direction::Forward,
            limit: 100,
            cursor: None,
        }
    }

    /// Every item of a `GSI1` partition.
    pub fn gsi1(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            ..Self::table(partition)
        }
    }

    pub fn sort_key(mut self, condition: SortKey) -> Self {
        self.sort_key = condition;
        self
    }

    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        self.sort_key(SortKey::Prefix(prefix.into()))
    }

    pub fn between(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.sort_key(SortKey::Between(from.into(), to.into()))
    }

    pub fn backward(mut self) -> Self {
        self.direction = Direction::Backward;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if self.partition.is_empty() || self.partition.len() > MAX_PK_BYTES {
            return Err(StoreError::invalid(format!(
                "a query needs a partition of 1..={MAX_PK_BYTES} bytes"
            )));
        }
        // DynamoDB refuses empty key values in conditions; only a prefix may be empty.
        let empty_allowed = matches!(self.sort_key, SortKey::Prefix(_));
        for value in self.sort_key.values() {
            if (value.is_empty() && !empty_allowed) || value.len() > MAX_SK_BYTES {
                return Err(StoreError::invalid(format!(
                    "sort-key values need 1..={MAX_SK_BYTES} bytes"
                )));
            }
        }
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(StoreError::invalid(format!(
                "limit must be 1..={MAX_PAGE_SIZE}"
            )));
        }
        if let SortKey::Between(from, to) = &self.sort_key
            && from.as_bytes() > to.as_bytes()
        {
            return Err(StoreError::invalid("Between needs from <= to"));
        }
        if let Some(cursor) = &self.cursor {
            let position = cursor.decode()?;
            if !position.fits(self) {
                return Err(StoreError::InvalidCursor);
            }
        }
        Ok(())
    }
}

/// One page of a query: live items in key order, and a cursor when more may follow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub cursor: Option<Cursor>,
}

/// Where the next page starts: the key of the last item returned, bound to its index and
/// partition so that it is useless for any other query. Opaque to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

/// A cursor's decoded contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    #[serde(rename = "i")]
    pub index: Index,
    #[serde(rename = "p")]
    pub partition: String,
    #[serde(rename = "k")]
    pub pk: String,
    #[serde(rename = "s")]
    pub sk: String,
    /// The index sort key of the last item (for `GSI1` queries).
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub index_sk: Option<String>,
}

impl Position {
    /// Whether a query may continue from here: same index and partition, a well-formed key, and
    /// a sort value inside the query's range (DynamoDB refuses a start key outside it).
    fn fits(&self, query: &Query) -> bool {
        let key_part = |v: &str, max: usize| !v.is_empty() && v.len() <= max;
        let sort_value = match self.index {
            Index::Table => Some(self.sk.as_str()),
            Index::Gsi1 => self.index_sk.as_deref(),
        };
        self.index == query.index
            && self.partition == query.partition
            && (self.index == Index::Gsi1 || self.pk == query.partition)
            && key_part(&self.pk, MAX_PK_BYTES)
            && key_part(&self.sk, MAX_SK_BYTES)
            && sort_value.is_some_and(|v| key_part(v, MAX_SK_BYTES) && query.sort_key.matches(v))
    }
}

impl Cursor {
    pub(crate) fn at(position: &Position) -> Result<Self, StoreError> {
        let json = serde_json::to_vec(position).map_err(StoreError::corrupt)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(json)))
    }

    /// Wraps a cursor string a client sent back.
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_token(&self) -> &str {
        &self.0
    }

    pub(crate) fn after_item(
        index: Index,
        partition: &str,
        item: &Item,
    ) -> Result<Self, StoreError> {
        let key = item
            .key()
            .ok_or_else(|| StoreError::invalid("item without a key"))?;
        let position = Position {
            index,
            partition: partition.to_owned(),
            pk: key.pk,
            sk: key.sk,
            index_sk: match index {
                Index::Table => None,
                Index::Gsi1 => item.get_str(GSI1SK).map(str::to_owned),
            },
        };
        Self::at(&position)
    }

    pub(crate) fn decode(&self) -> Result<Position, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| StoreError::InvalidCursor)?;
        let position: Position =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if position.index == Index::Gsi1 && position.index_sk.is_none() {
            return Err(StoreError::InvalidCursor);
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_partition() {
        let item = Item::new(&Key::new("USER#1", "DOSE#2")).with_gsi1("G", "2024");
        let cursor = Cursor::after_item(Index::Gsi1, "G", &item).unwrap();
        let position = cursor.decode().unwrap();
        assert_eq!(position.index_sk.as_deref(), Some("2024"));

        let own = Query::gsi1("G").after(Some(cursor.clone()));
        assert!(own.validate().is_ok());
        let other_partition = Query::gsi1("H").after(Some(cursor.clone()));
        assert!(matches!(
            other_partition.validate(),
            Err(StoreError::InvalidCursor)
        ));
        let other_index = Query::table("G").after(Some(cursor));
        assert!(matches!(
            other_index.validate(),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn garbage_cursors_are_refused() {
        for token in ["", "!!!", "bm90IGpzb24", "e30"] {
            let q = Query::table("P").after(Some(Cursor::from_token(token)));
            assert!(
                matches!(q.validate(), Err(StoreError::InvalidCursor)),
                "{token}"
            );
        }
    }

    #[test]
    fn forged_or_misused_cursors_are_refused() {
        let item = Item::new(&Key::new("P", "a5"));
        let cursor = Cursor::after_item(Index::Table, "P", &item).unwrap();
        assert!(
            Query::table("P")
                .prefix("a")
                .after(Some(cursor.clone()))
                .validate()
                .is_ok()
        );
        // Reused with a range it is outside of.
        let q = Query::table("P")
            .sort_key(SortKey::Ge("a6".into()))
            .after(Some(cursor));
        assert!(matches!(q.validate(), Err(StoreError::InvalidCursor)));
        // Forged: another partition's key, an empty sort key.
        for (pk, sk) in [("Q", "a1"), ("P", "")] {
            let forged = Cursor::at(&Position {
                index: Index::Table,
                partition: "P".into(),
                pk: pk.into(),
                sk: sk.into(),
                index_sk: None,
            })
            .unwrap();
            let q = Query::table("P").after(Some(forged));
            assert!(
                matches!(q.validate(), Err(StoreError::InvalidCursor)),
                "{pk}/{sk}"
            );
        }
    }

    #[test]
    fn empty_sort_key_values_are_refused_except_prefixes() {
        assert!(
            Query::table("P")
                .sort_key(SortKey::Eq(String::new()))
                .validate()
                .is_err()
        );
        assert!(
            Query::table("P")
                .sort_key(SortKey::Ge(String::new()))
                .validate()
                .is_err()
        );
        assert!(Query::table("P").between("", "b").validate().is_err());
        assert!(Query::table("P").prefix("").validate().is_ok());
        assert!(
            Query::table("P")
                .sort_key(SortKey::Lt("x".repeat(1025)))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(Query::table("P").limit(0).validate().is_err());
        assert!(
            Query::table("P")
                .limit(MAX_PAGE_SIZE + 1)
                .validate()
                .is_err()
        );
        assert!(Query::table("P").between("b", "a").validate().is_err());
        assert!(Query::table("").validate().is_err());
    }
}
