//! Everything the tracker holds about one user, read with one pass over their partition: the
//! source of `GET /v1/tracker/export` (our own JSON shape, or FHIR through [`super::fhir`]).

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{
    Allergy, Doctor, Dose, EmergencyContact, Feeling, MedicalCondition, Medication, Symptom,
};
use super::{
    ALLERGY_PREFIX, CONDITION_PREFIX, CONTACT_SK, DOCTOR_PREFIX, Kind, MEDICATION_PREFIX,
    day_entry_kind_of,
};
use crate::accounts::User;
use crate::store::{Item, StoreError};

/// Who the data is about.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Patient {
    pub id: String,
    pub name: String,
    pub email: String,
    pub timezone: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Export {
    /// RFC 3339.
    pub exported_at: String,
    pub patient: Patient,
    pub medications: Vec<Medication>,
    pub doses: Vec<Dose>,
    pub symptoms: Vec<Symptom>,
    pub feelings: Vec<Feeling>,
    pub conditions: Vec<MedicalCondition>,
    pub allergies: Vec<Allergy>,
    pub doctors: Vec<Doctor>,
    pub emergency_contact: Option<EmergencyContact>,
}

impl Export {
    /// Decodes a whole tracker partition (in key order, so entries come out by day). The items
    /// are taken: their strings move into the records.
    pub fn from_items(
        user: &User,
        items: Vec<Item>,
        exported_at: String,
    ) -> Result<Self, StoreError> {
        let parts = Parts::of(items);
        // Entries of one day come in id order; show them by local time.
        let mut doses: Vec<Dose> = decode(parts.doses)?;
        doses.sort_by(|a, b| local_order(&a.taken_at).cmp(local_order(&b.taken_at)));
        let mut symptoms: Vec<Symptom> = decode(parts.symptoms)?;
        symptoms.sort_by(|a, b| local_order(&a.occurred_at).cmp(local_order(&b.occurred_at)));
        Ok(Self {
            exported_at,
            patient: Patient {
                id: user.id.clone(),
                name: user.name.clone(),
                email: user.email.clone(),
                timezone: user.timezone.clone(),
            },
            medications: decode(parts.medications)?,
            doses,
            symptoms,
            feelings: decode(parts.feelings)?,
            conditions: decode(parts.conditions)?,
            allergies: decode(parts.allergies)?,
            doctors: decode(parts.doctors)?,
            emergency_contact: parts.contact.map(Item::into_entity).transpose()?,
        })
    }
}

/// What a partition's item is, among the records the export holds.
fn kind_of(sk: &str) -> Option<Kind> {
    match day_entry_kind_of(sk) {
        Some(kind @ (Kind::Dose | Kind::Symptom | Kind::Feeling)) => Some(kind),
        None if sk == CONTACT_SK => Some(Kind::EmergencyContact),
        None if sk.starts_with(MEDICATION_PREFIX) => Some(Kind::Medication),
        None if sk.starts_with(CONDITION_PREFIX) => Some(Kind::Condition),
        None if sk.starts_with(ALLERGY_PREFIX) => Some(Kind::Allergy),
        None if sk.starts_with(DOCTOR_PREFIX) => Some(Kind::Doctor),
        // Day entries of other kinds, and records the export does not hold.
        Some(_) | None => None,
    }
}

/// A partition's items sorted by what they are, in one pass and in key order: each item's sort
/// key is looked up once (a search of its attributes), not once per kind of record.
#[derive(Default)]
struct Parts {
    contact: Option<Item>,
    medications: Vec<Item>,
    doses: Vec<Item>,
    symptoms: Vec<Item>,
    feelings: Vec<Item>,
    conditions: Vec<Item>,
    allergies: Vec<Item>,
    doctors: Vec<Item>,
}

impl Parts {
    fn of(items: Vec<Item>) -> Self {
        let mut parts = Self::default();
        for item in items {
            let Some(kind) = item.sk().and_then(kind_of) else {
                continue;
            };
            let list = match kind {
                Kind::EmergencyContact => {
                    parts.contact = parts.contact.or(Some(item));
                    continue;
                }
                Kind::Medication => &mut parts.medications,
                Kind::Dose => &mut parts.doses,
                Kind::Symptom => &mut parts.symptoms,
                Kind::Feeling => &mut parts.feelings,
                Kind::Condition => &mut parts.conditions,
                Kind::Allergy => &mut parts.allergies,
                Kind::Doctor => &mut parts.doctors,
            };
            list.push(item);
        }
        parts
    }
}

fn decode<T: serde::de::DeserializeOwned>(items: Vec<Item>) -> Result<Vec<T>, StoreError> {
    items.into_iter().map(Item::into_entity).collect()
}

/// The local date and time of an instant (`YYYY-MM-DDTHH:MM:SS`), which orders a day's entries.
fn local_order(instant: &str) -> &str {
    instant.get(..19).unwrap_or(instant)
}
