//! The medication catalogue: a starter set shipped with the code, overlaid by what admins store
//! under `CATALOG / MED#<id>` (an admin edits or retires a starter entry by storing an entry with
//! its id), and the search the medication picker uses.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::model::{CatalogEntry, MAX_SHORT};

static STARTER: LazyLock<Vec<CatalogEntry>> = LazyLock::new(|| {
    // Our own file, proven valid by the tests below; an empty catalogue beats a failed cold start.
    serde_json::from_str(include_str!("catalog_starter.json")).unwrap_or_else(|error| {
        tracing::error!(%error, "the starter medication catalogue does not parse");
        Vec::new()
    })
});

/// The starter catalogue: common medications with their usual forms and strengths.
pub fn starter() -> &'static [CatalogEntry] {
    &STARTER
}

/// Whether `id` has the shape of a catalogue id (lowercase ASCII letters, digits and dashes, at
/// most 100 characters, not starting or ending with a dash), so it is safe inside a key.
pub fn is_catalog_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SHORT
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Where each starter entry is, by id.
static STARTER_POSITION: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    starter()
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect()
});

/// The starter entries' names and generic names, folded once rather than on every search.
static STARTER_FOLDED: LazyLock<Vec<(String, Option<String>)>> = LazyLock::new(|| {
    starter()
        .iter()
        .map(|e| (fold(&e.name), e.generic_name.as_deref().map(fold)))
        .collect()
});

/// Whether `id` is a starter entry's (which exists without being stored).
pub fn is_starter_id(id: &str) -> bool {
    STARTER_POSITION.contains_key(id)
}

/// Lowercase (Unicode) with runs of whitespace made one space, for matching.
fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An entry as the search sees it, with its name and generic name folded.
#[derive(Clone, Debug)]
pub struct Listed<'a> {
    pub entry: &'a CatalogEntry,
    name: Cow<'a, str>,
    generic_name: Option<Cow<'a, str>>,
}

impl<'a> Listed<'a> {
    pub fn new(entry: &'a CatalogEntry) -> Self {
        Self {
            entry,
            name: Cow::Owned(fold(&entry.name)),
            generic_name: entry.generic_name.as_deref().map(|g| Cow::Owned(fold(g))),
        }
    }

    fn matches(&self, query: &str) -> bool {
        let name = &*self.name;
        if name.starts_with(query) {
            return true;
        }
        if self
            .generic_name
            .as_deref()
            .is_some_and(|g| g.starts_with(query))
        {
            return true;
        }
        // The start of any later word of the name: "glar" finds "Insulin glargine", "formo" finds
        // "Budesonide/formoterol".
        name.char_indices()
            .filter(|&(i, c)| {
                c.is_alphanumeric()
                    && name[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|p| !p.is_alphanumeric())
            })
            .any(|(i, _)| name[i..].starts_with(query))
    }
}

/// The leading number of a strength ("500 mg" → 500, "0.4 mg" → 0.4), so strengths sort by
/// amount rather than by text ("1000 mg" after "500 mg").
fn leading_amount(strength: &str) -> Option<f64> {
    let end = strength
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(strength.len());
    strength[..end].parse().ok()
}

fn by_name_then_strength(a: &Listed<'_>, b: &Listed<'_>) -> Ordering {
    let (x, y) = (a.entry, b.entry);
    a.name
        .cmp(&b.name)
        .then_with(
            || match (leading_amount(&x.strength), leading_amount(&y.strength)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        )
        .then_with(|| x.strength.cmp(&y.strength))
        .then_with(|| x.form.cmp(&y.form))
        .then_with(|| x.id.cmp(&y.id))
}

/// The entries whose name or generic name starts with `query`, or with a word of the name that
/// does (case-insensitive, Unicode); retired entries are left out. Sorted by name, then strength
/// (by amount), at most `limit`. An empty query matches every entry.
pub fn search<'a>(
    entries: impl IntoIterator<Item = Listed<'a>>,
    query: &str,
    limit: usize,
) -> Vec<CatalogEntry> {
    let query = fold(query);
    let mut found: Vec<Listed<'a>> = entries
        .into_iter()
        .filter(|e| !e.entry.retired && e.matches(&query))
        .collect();
    found.sort_by(by_name_then_strength);
    found
        .into_iter()
        .take(limit)
        .map(|e| e.entry.clone())
        .collect()
}

/// The catalogue as users see it: the starter set with each entry replaced by a stored entry of
/// the same id (edited or retired by an admin), then the stored entries with new ids. Retired
/// entries stay in the list (admins see them); [`search`] leaves them out. Nothing is copied:
/// only what a search returns is.
pub fn merged(stored: &[CatalogEntry]) -> Vec<Listed<'_>> {
    let mut all: Vec<Listed<'_>> = starter()
        .iter()
        .zip(STARTER_FOLDED.iter())
        .map(|(entry, (name, generic_name))| Listed {
            entry,
            name: Cow::Borrowed(name),
            generic_name: generic_name.as_deref().map(Cow::Borrowed),
        })
        .collect();
    let mut added: HashMap<&str, usize> = HashMap::new();
    for entry in stored {
        let id = entry.id.as_str();
        match STARTER_POSITION.get(id).or_else(|| added.get(id)) {
            Some(&i) => all[i] = Listed::new(entry),
            None => {
                added.insert(id, all.len());
                all.push(Listed::new(entry));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn entry(id: &str, name: &str, generic: Option<&str>, strength: &str) -> CatalogEntry {
        CatalogEntry {
            id: id.into(),
            name: name.into(),
            generic_name: generic.map(Into::into),
            form: "tablet".into(),
            strength: strength.into(),
            unit: "mg".into(),
            rxnorm: None,
            retired: false,
        }
    }

    fn ids(entries: &[CatalogEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn the_starter_set_parses_and_every_entry_is_valid() {
        // Parse the file directly: the lazy fallback would hide an error as an empty list.
        let parsed: Vec<CatalogEntry> =
            serde_json::from_str(include_str!("catalog_starter.json")).unwrap();
        assert_eq!(parsed, starter());
        assert!(starter().len() >= 50, "{} entries", starter().len());
        let mut seen = HashSet::new();
        for e in starter() {
            assert!(
                is_catalog_id(&e.id) && e.id.starts_with("starter-"),
                "id {}",
                e.id
            );
            assert!(seen.insert(e.id.as_str()), "duplicate id {}", e.id);
            for (field, value, max) in [
                ("name", e.name.as_str(), super::super::model::MAX_NAME),
                ("form", &e.form, MAX_SHORT),
                ("strength", &e.strength, MAX_SHORT),
                ("unit", &e.unit, MAX_SHORT),
            ] {
                assert!(
                    !value.trim().is_empty() && value.trim() == value,
                    "{}: {field}",
                    e.id
                );
                assert!(value.chars().count() <= max, "{}: {field}", e.id);
            }
            if let Some(generic) = &e.generic_name {
                assert!(!generic.trim().is_empty(), "{}: generic_name", e.id);
            }
            if let Some(rxnorm) = &e.rxnorm {
                assert!(
                    !rxnorm.is_empty()
                        && rxnorm.len() <= 12
                        && rxnorm.bytes().all(|b| b.is_ascii_digit()),
                    "{}",
                    e.id
                );
            }
            assert!(!e.retired, "{}", e.id);
            assert!(
                leading_amount(&e.strength).is_some(),
                "{}: strength starts with an amount",
                e.id
            );
        }
    }

    #[test]
    fn catalog_ids_have_their_shape() {
        for ok in ["starter-metformin-500-tab", "0123456789abcdef", "a"] {
            assert!(is_catalog_id(ok), "{ok}");
        }
        for bad in [
            "",
            "Starter",
            "a b",
            "a#b",
            "../x",
            "-a",
            "a-",
            "ü",
            &"a".repeat(101),
        ] {
            assert!(!is_catalog_id(bad), "{bad}");
        }
    }

    #[test]
    fn search_matches_prefixes_of_names_words_and_generic_names() {
        let all = [
            entry(
                "m500",
                "Metformin",
                Some("metformin hydrochloride"),
                "500 mg",
            ),
            entry(
                "m1000",
                "Metformin",
                Some("metformin hydrochloride"),
                "1000 mg",
            ),
            entry("glar", "Insulin glargine", None, "100 units/mL"),
            entry("para", "Paracetamol", Some("acetaminophen"), "500 mg"),
            entry(
                "bud",
                "Budesonide/formoterol",
                None,
                "160 mcg/4.5 mcg per dose",
            ),
        ];
        let find = |q: &str| ids(&search(all.iter().map(Listed::new), q, 10)).join(",");
        // Prefix, sorted by strength as an amount.
        assert_eq!(find("met"), "m500,m1000");
        // Case-insensitive, surrounding space ignored.
        assert_eq!(find("  METF "), "m500,m1000");
        // Generic name.
        assert_eq!(find("acet"), "para");
        // Start of a later word of the name, but not the middle of a word.
        assert_eq!(find("glarg"), "glar");
        assert_eq!(find("formo"), "bud");
        assert_eq!(find("etformin"), "");
        assert_eq!(find("insulin g"), "glar");
        assert_eq!(find("xyz"), "");
    }

    #[test]
    fn search_is_unicode_case_insensitive() {
        let all = [
            entry("o", "Östrogel", None, "0.06%"),
            entry("e", "Élan", None, "1 mg"),
        ];
        assert_eq!(ids(&search(all.iter().map(Listed::new), "öst", 10)), ["o"]);
        assert_eq!(ids(&search(all.iter().map(Listed::new), "ÉL", 10)), ["e"]);
    }

    #[test]
    fn search_leaves_out_retired_entries_and_stops_at_the_limit() {
        let mut retired = entry("old", "Ibuprofen", None, "600 mg");
        retired.retired = true;
        let all = [
            entry("i400", "Ibuprofen", None, "400 mg"),
            retired,
            entry("i200", "Ibuprofen", None, "200 mg"),
            entry("a", "Amlodipine", None, "5 mg"),
        ];
        assert_eq!(
            ids(&search(all.iter().map(Listed::new), "ibu", 10)),
            ["i200", "i400"]
        );
        assert_eq!(
            ids(&search(all.iter().map(Listed::new), "ibu", 1)),
            ["i200"]
        );
        assert!(search(all.iter().map(Listed::new), "ibu", 0).is_empty());
        // An empty query lists everything current, by name.
        assert_eq!(
            ids(&search(all.iter().map(Listed::new), "", 10)),
            ["a", "i200", "i400"]
        );
    }

    #[test]
    fn the_starter_set_is_searchable() {
        let found = search(merged(&[]), "metformin", 10);
        assert_eq!(
            found
                .iter()
                .map(|e| e.strength.as_str())
                .collect::<Vec<_>>(),
            ["500 mg", "850 mg", "1000 mg"]
        );
        assert!(
            search(merged(&[]), "albuterol", 5)
                .iter()
                .any(|e| e.name == "Salbutamol")
        );
        assert!(
            search(merged(&[]), "glargine", 5)
                .iter()
                .any(|e| e.name == "Insulin glargine")
        );
    }

    #[test]
    fn stored_entries_override_retire_and_extend_the_starter_set() {
        let first = starter()[0].clone();
        let mut edited = first.clone();
        edited.strength = "500 mg (edited)".into();
        let mut retired = starter()[1].clone();
        retired.retired = true;
        let added = entry("0123456789abcdef", "Zolmitriptan", None, "2.5 mg");

        let stored = [edited.clone(), retired.clone(), added.clone()];
        let listed = merged(&stored);
        let all: Vec<CatalogEntry> = listed.iter().map(|l| l.entry.clone()).collect();
        assert_eq!(all.len(), starter().len() + 1);
        assert_eq!(all[0], edited, "overridden in place");
        assert_eq!(all[1], retired);
        assert_eq!(all.last(), Some(&added));
        assert_eq!(all.iter().filter(|e| e.id == first.id).count(), 1);
        // The edited entry is searched by its new name, not the starter's.
        let mut renamed = first.clone();
        renamed.name = "Zz renamed".into();
        assert_eq!(
            ids(&search(merged(&[renamed]), "zz ren", 5)),
            [first.id.as_str()]
        );
        // A stored entry stored twice (new id) is listed once, as last stored.
        let mut again = added.clone();
        again.strength = "5 mg".into();
        let both = [added.clone(), again.clone()];
        let twice = merged(&both);
        assert_eq!(twice.len(), starter().len() + 1);
        assert_eq!(twice.last().map(|l| l.entry), Some(&again));

        let current = search(listed, "", usize::MAX);
        assert!(
            current.iter().all(|e| e.id != retired.id),
            "retired entries are not offered"
        );
        assert!(current.contains(&edited) && current.contains(&added));
        assert_eq!(current.len(), starter().len());
    }

    #[test]
    fn merged_without_stored_entries_is_the_starter_set_folded_as_search_folds() {
        let listed = merged(&[]);
        let entries: Vec<CatalogEntry> = listed.iter().map(|l| l.entry.clone()).collect();
        assert_eq!(entries, starter());
        for (l, fresh) in listed.iter().zip(starter().iter().map(Listed::new)) {
            assert_eq!(
                (&l.name, &l.generic_name),
                (&fresh.name, &fresh.generic_name)
            );
        }
        assert!(is_starter_id(&starter()[0].id) && !is_starter_id("0123456789abcdef"));
    }
}
