//! Typed conditions and updates, and their meaning.
//!
//! The embedded backend evaluates them here; the DynamoDB backend translates them into
//! expressions. The conformance suite holds the two to the same answers.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::StoreError;
use super::item::{EXPIRES_AT, GSI1PK, GSI1SK, Item, PK, SK, validate_value};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on the current item. An expired item is evaluated as absent.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The item exists (and has not expired).
    Exists,
    /// The item does not exist (or has expired).
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    /// Compares an attribute with a value. A missing attribute or a value of another type is
    /// never equal, and never less or greater.
    Compare(String, Cmp, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn attribute_exists(name: &str) -> Self {
        Self::AttributeExists(name.to_owned())
    }

    pub fn attribute_not_exists(name: &str) -> Self {
        Self::AttributeNotExists(name.to_owned())
    }

    pub fn compare(name: &str, op: Cmp, value: impl Into<Value>) -> Self {
        Self::Compare(name.to_owned(), op, value.into())
    }

    pub fn eq(name: &str, value: impl Into<Value>) -> Self {
        Self::compare(name, Cmp::Eq, value)
    }

    /// `name` is absent or less than `value`: a counter with room left, a step not yet used.
    pub fn absent_or_below(name: &str, value: impl Into<Value>) -> Self {
        Self::attribute_not_exists(name).or(Self::compare(name, Cmp::Lt, value))
    }

    pub fn and(self, other: Condition) -> Self {
        match self {
            Self::And(mut all) => {
                all.push(other);
                Self::And(all)
            }
            first => Self::And(vec![first, other]),
        }
    }

    pub fn or(self, other: Condition) -> Self {
        match self {
            Self::Or(mut any) => {
                any.push(other);
                Self::Or(any)
            }
            first => Self::Or(vec![first, other]),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// Evaluates the condition against the current live item (`None` when absent or expired).
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        match self {
            Self::Exists => item.is_some(),
            Self::NotExists => item.is_none(),
            Self::AttributeExists(name) => item.is_some_and(|i| i.get(name).is_some()),
            Self::AttributeNotExists(name) => item.is_none_or(|i| i.get(name).is_none()),
            Self::Compare(name, op, value) => compare(item.and_then(|i| i.get(name)), *op, value),
            Self::And(all) => all.iter().all(|c| c.evaluate(item)),
            Self::Or(any) => any.iter().any(|c| c.evaluate(item)),
            Self::Not(inner) => !inner.evaluate(item),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::Exists | Self::NotExists => Ok(()),
            Self::AttributeExists(name) | Self::AttributeNotExists(name) => validate_name(name),
            Self::Compare(name, op, value) => {
                validate_name(name)?;
                validate_value(value)?;
                let orderable = value.is_number() || value.is_string();
                if !matches!(op, Cmp::Eq | Cmp::Ne) && !orderable {
                    return Err(StoreError::invalid(
                        "only numbers and strings can be ordered",
                    ));
                }
                Ok(())
            }
            Self::And(list) | Self::Or(list) => {
                if list.is_empty() {
                    return Err(StoreError::invalid(
                        "an And/Or condition needs at least one operand",
                    ));
                }
                list.iter().try_for_each(Condition::validate)
            }
            Self::Not(inner) => inner.validate(),
        }
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        Err(StoreError::invalid("attribute names must not be empty"))
    } else {
        Ok(())
    }
}

fn compare(actual: Option<&Value>, op: Cmp, expected: &Value) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    match op {
        Cmp::Eq => same_value(actual, expected),
        Cmp::Ne => !same_value(actual, expected),
        Cmp::Lt => order(actual, expected) == Some(Ordering::Less),
        Cmp::Le => matches!(
            order(actual, expected),
            Some(Ordering::Less | Ordering::Equal)
        ),
        Cmp::Gt => order(actual, expected) == Some(Ordering::Greater),
        Cmp::Ge => matches!(
            order(actual, expected),
            Some(Ordering::Greater | Ordering::Equal)
        ),
    }
}

/// Equality as DynamoDB sees it: numbers by value (1 == 1.0), everything else structurally.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_order(x, y) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Ordering exists only between two numbers or two strings (strings by UTF-8 bytes, as DynamoDB).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_order(x, y),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

fn number_order(x: &Number, y: &Number) -> Option<Ordering> {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

/// One change to an item's attributes.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// `SET name = value`.
    Set(String, Value),
    /// `SET name = if_not_exists(name, value)`.
    SetIfAbsent(String, Value),
    /// `ADD name delta`: atomic counter; a missing attribute counts from zero.
    Add(String, i64),
    /// `REMOVE name`.
    Remove(String),
}

impl Update {
    pub fn set(name: &str, value: impl Into<Value>) -> Self {
        Self::Set(name.to_owned(), value.into())
    }

    pub fn set_if_absent(name: &str, value: impl Into<Value>) -> Self {
        Self::SetIfAbsent(name.to_owned(), value.into())
    }

    pub fn add(name: &str, delta: i64) -> Self {
        Self::Add(name.to_owned(), delta)
    }

    pub fn remove(name: &str) -> Self {
        Self::Remove(name.to_owned())
    }

    pub fn attribute(&self) -> &str {
        match self {
            Self::Set(name, _)
            | Self::SetIfAbsent(name, _)
            | Self::Add(name, _)
            | Self::Remove(name) => name,
        }
    }

    pub(crate) fn normalize_numbers(&mut self) {
        if let Self::Set(_, value) | Self::SetIfAbsent(_, value) = self {
            super::item::normalize_numbers(value);
        }
    }

    pub(crate) fn validate_all(updates: &[Update]) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Err(StoreError::invalid("an update needs at least one change"));
        }
        for (index, update) in updates.iter().enumerate() {
            let name = update.attribute();
            validate_name(name)?;
            if name == PK || name == SK {
                return Err(StoreError::invalid(format!(
                    "the key attribute {name} cannot be updated"
                )));
            }
            // A handful of updates: scanning them beats building a set.
            if updates[..index]
                .iter()
                .any(|earlier| earlier.attribute() == name)
            {
                return Err(StoreError::invalid(format!(
                    "attribute {name} is updated twice"
                )));
            }
            if let Self::Set(_, value) | Self::SetIfAbsent(_, value) = update {
                validate_value(value)?;
                let well_typed = match name {
                    GSI1PK | GSI1SK => value.as_str().is_some_and(|s| !s.is_empty()),
                    EXPIRES_AT => value.as_i64().is_some(),
                    _ => true,
                };
                if !well_typed {
                    return Err(StoreError::invalid(format!("{name} has the wrong type")));
                }
            }
        }
        Ok(())
    }

    /// Applies the change to `item` in place.
    pub(crate) fn apply(&self, item: &mut Item) -> Result<(), StoreError> {
        match self {
            Self::Set(name, value) => item.set(name, value.clone()),
            Self::SetIfAbsent(name, value) => {
                if item.get(name).is_none() {
                    item.set(name, value.clone());
                }
            }
            Self::Add(name, delta) => {
                let next = match item.get(name) {
                    None => Value::from(*delta),
                    Some(Value::Number(n)) => match n.as_i64() {
                        Some(current) => {
                            Value::from(current.checked_add(*delta).ok_or_else(|| {
                                StoreError::invalid(format!("ADD overflows attribute {name}"))
                            })?)
                        }
                        None => Number::from_f64(n.as_f64().unwrap_or(0.0) + *delta as f64)
                            .map(Value::Number)
                            .ok_or_else(|| StoreError::invalid("numbers must be finite"))?,
                    },
                    Some(_) => {
                        return Err(StoreError::invalid(format!(
                            "ADD needs a number in attribute {name}"
                        )));
                    }
                };
                item.set(name, next);
            }
            Self::Remove(name) => {
                item.remove(name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;
    use serde_json::json;

    fn item() -> Item {
        Item::new(&Key::new("A", "B"))
            .with("n", 5)
            .with("s", "abc")
            .with("f", 1.5)
    }

    #[test]
    fn absent_or_below_holds_for_a_missing_or_smaller_attribute() {
        let item = item();
        assert!(Condition::absent_or_below("missing", 1).evaluate(Some(&item)));
        assert!(Condition::absent_or_below("n", 6).evaluate(Some(&item)));
        assert!(!Condition::absent_or_below("n", 5).evaluate(Some(&item)));
        assert!(!Condition::absent_or_below("n", 4).evaluate(Some(&item)));
    }

    #[test]
    fn comparisons_follow_dynamodb() {
        let i = item();
        assert!(Condition::eq("n", 5).evaluate(Some(&i)));
        assert!(Condition::eq("n", 5.0).evaluate(Some(&i)));
        assert!(Condition::compare("n", Cmp::Lt, 6).evaluate(Some(&i)));
        assert!(Condition::compare("f", Cmp::Gt, 1).evaluate(Some(&i)));
        assert!(Condition::compare("s", Cmp::Ge, "abc").evaluate(Some(&i)));
        // Another type is never ordered, and never equal.
        assert!(!Condition::compare("s", Cmp::Lt, 1).evaluate(Some(&i)));
        assert!(Condition::compare("s", Cmp::Ne, 1).evaluate(Some(&i)));
        // A missing attribute satisfies no comparison at all.
        assert!(!Condition::compare("missing", Cmp::Ne, 1).evaluate(Some(&i)));
        assert!(!Condition::eq("n", 5).evaluate(None));
    }

    #[test]
    fn existence_and_combinators() {
        let i = item();
        assert!(Condition::Exists.evaluate(Some(&i)));
        assert!(Condition::NotExists.evaluate(None));
        assert!(Condition::attribute_not_exists("n").evaluate(None));
        let both = Condition::attribute_exists("n").and(Condition::eq("s", "abc"));
        assert!(both.evaluate(Some(&i)));
        assert!(!both.clone().not().evaluate(Some(&i)));
        assert!(
            Condition::eq("n", 1)
                .or(Condition::eq("n", 5))
                .evaluate(Some(&i))
        );
    }

    #[test]
    fn updates_apply_like_dynamodb() {
        let mut i = item();
        Update::add("n", 2).apply(&mut i).unwrap();
        Update::add("fresh", 3).apply(&mut i).unwrap();
        Update::add("f", 1).apply(&mut i).unwrap();
        Update::set_if_absent("s", "zzz").apply(&mut i).unwrap();
        Update::set_if_absent("t", "new").apply(&mut i).unwrap();
        Update::remove("missing").apply(&mut i).unwrap();
        assert_eq!(i.get("n"), Some(&json!(7)));
        assert_eq!(i.get("fresh"), Some(&json!(3)));
        assert_eq!(i.get("f"), Some(&json!(2.5)));
        assert_eq!(i.get("s"), Some(&json!("abc")));
        assert_eq!(i.get("t"), Some(&json!("new")));
        assert!(Update::add("s", 1).apply(&mut i).is_err());
    }

    #[test]
    fn ordering_needs_numbers_or_strings() {
        assert!(Condition::compare("a", Cmp::Lt, true).validate().is_err());
        assert!(
            Condition::compare("a", Cmp::Ge, json!([1]))
                .validate()
                .is_err()
        );
        assert!(
            Condition::compare("a", Cmp::Eq, json!({"x": 1}))
                .validate()
                .is_ok()
        );
        assert!(Condition::compare("a", Cmp::Gt, "b").validate().is_ok());
    }

    #[test]
    fn invalid_updates_are_refused() {
        assert!(Update::validate_all(&[]).is_err());
        assert!(Update::validate_all(&[Update::set("PK", "x")]).is_err());
        assert!(Update::validate_all(&[Update::set("a", 1), Update::remove("a")]).is_err());
        assert!(Update::validate_all(&[Update::set(EXPIRES_AT, "x")]).is_err());
        assert!(Update::validate_all(&[Update::set("a", 1), Update::add("b", 1)]).is_ok());
    }
}
