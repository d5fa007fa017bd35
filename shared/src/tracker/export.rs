//! Everything the tracker holds about one user, read with one pass over their partition: the
//! source of `GET /v1/tracker/export` (our own JSON shape, or FHIR through [`super::fhir`]).

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{
    Allergy, Doctor, Dose, EmergencyContact, Feeling, MedicalCondition, Medication, Symptom,
};
use super::{
    ALLERGY_PREFIX, CONDITION_PREFIX, CONTACT_SK, DOCTOR_PREFIX, Kind, MEDICATION_PREFIX, entries,
    under,
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
    /// Decodes a whole tracker partition (in key order, so entries come out by day).
    pub fn from_items(
        user: &User,
        items: &[Item],
        exported_at: String,
    ) -> Result<Self, StoreError> {
        let contact = items
            .iter()
            .find(|i| i.sk() == Some(CONTACT_SK))
            .map(Item::to_entity)
            .transpose()?;
        // Entries of one day come in id order; show them by local time.
        let mut doses: Vec<Dose> = entries(items, Kind::Dose)?;
        doses.sort_by(|a, b| local_order(&a.taken_at).cmp(local_order(&b.taken_at)));
        let mut symptoms: Vec<Symptom> = entries(items, Kind::Symptom)?;
        symptoms.sort_by(|a, b| local_order(&a.occurred_at).cmp(local_order(&b.occurred_at)));
        Ok(Self {
            exported_at,
            patient: Patient {
                id: user.id.clone(),
                name: user.name.clone(),
                email: user.email.clone(),
                timezone: user.timezone.clone(),
            },
            medications: under(items, MEDICATION_PREFIX)?,
            doses,
            symptoms,
            feelings: entries(items, Kind::Feeling)?,
            conditions: under(items, CONDITION_PREFIX)?,
            allergies: under(items, ALLERGY_PREFIX)?,
            doctors: under(items, DOCTOR_PREFIX)?,
            emergency_contact: contact,
        })
    }
}

/// The local date and time of an instant (`YYYY-MM-DDTHH:MM:SS`), which orders a day's entries.
fn local_order(instant: &str) -> &str {
    instant.get(..19).unwrap_or(instant)
}
