//! What the tracker stores and shows: one type per kind of item, each with its input shape and
//! its validation. Inputs are validated whole (every invalid field listed) before anything is
//! written; stored items are these types serialized, so a stored item is always valid.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dates::{LocalInstant, parse_date, parse_instant};
use crate::http::{ApiError, FieldError};

/// Longest name (medication, symptom, condition, doctor …).
pub const MAX_NAME: usize = 200;
/// Longest free-text note.
pub const MAX_NOTE: usize = 2000;
/// Longest short field (unit, form, strength, phone, code …).
pub const MAX_SHORT: usize = 100;
/// Most times of day in one schedule, and most doctors on one condition.
pub const MAX_LIST: usize = 12;

/// Collects the invalid fields of one input.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn collect<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// A required text: trimmed, not empty, at most `max` characters, no control characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        self.collect(text(field, value, max)).unwrap_or_default()
    }

    /// An optional text; an empty one is absent.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value?.trim();
        if value.is_empty() {
            return None;
        }
        self.collect(text(field, value, max))
    }

    pub fn date(&mut self, field: &str, value: &str) -> Option<Date> {
        self.collect(parse_date(field, value))
    }

    pub fn instant(&mut self, field: &str, value: &str, now: Timestamp) -> Option<LocalInstant> {
        self.collect(parse_instant(field, value, now))
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    // Newlines and tabs are fine in notes; other control characters are not text.
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Day of the week, for schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub fn of(date: Date) -> Self {
        match date.weekday() {
            jiff::civil::Weekday::Monday => Self::Mon,
            jiff::civil::Weekday::Tuesday => Self::Tue,
            jiff::civil::Weekday::Wednesday => Self::Wed,
            jiff::civil::Weekday::Thursday => Self::Thu,
            jiff::civil::Weekday::Friday => Self::Fri,
            jiff::civil::Weekday::Saturday => Self::Sat,
            jiff::civil::Weekday::Sunday => Self::Sun,
        }
    }
}

/// When a medication is taken: at `times` (local `HH:MM`) on `days` (every day when empty), or
/// only as needed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    #[serde(default)]
    pub times: Vec<String>,
    #[serde(default)]
    pub days: Vec<Weekday>,
    #[serde(default)]
    pub as_needed: bool,
}

impl Schedule {
    fn check(&mut self, checks: &mut Checks) {
        if self.as_needed && !self.times.is_empty() {
            checks.push(FieldError::new(
                "body.schedule",
                "give times or as_needed, not both",
            ));
        }
        if !self.as_needed && self.times.is_empty() {
            checks.push(FieldError::new(
                "body.schedule.times",
                "give at least one time of day (HH:MM), or as_needed: true",
            ));
        }
        if self.times.len() > MAX_LIST {
            checks.push(FieldError::new(
                "body.schedule.times",
                format!("at most {MAX_LIST} times a day"),
            ));
        }
        for (i, time) in self.times.iter().enumerate() {
            if !is_time_of_day(time) {
                checks.push(FieldError::new(
                    format!("body.schedule.times[{i}]"),
                    "must be a time of day as HH:MM (00:00 to 23:59)",
                ));
            }
        }
        self.times.sort();
        self.times.dedup();
        self.days.sort();
        self.days.dedup();
    }

    /// Whether doses are due on `date` (ignoring the medication's start and end).
    pub fn due_on(&self, date: Date) -> bool {
        !self.as_needed && (self.days.is_empty() || self.days.contains(&Weekday::of(date)))
    }
}

fn is_time_of_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s[..2]
            .parse::<u8>()
            .is_ok_and(|h| h < 24 && b[0].is_ascii_digit() && b[1].is_ascii_digit())
        && s[3..]
            .parse::<u8>()
            .is_ok_and(|m| m < 60 && b[3].is_ascii_digit() && b[4].is_ascii_digit())
}

/// The smallest dose or amount: a millionth of its unit. Not merely above 0: DynamoDB stores no
/// number smaller than 1e-130, and a `5e-324` that passed here was a 500 from the store.
const MIN_AMOUNT: f64 = 0.000_001;

fn positive_amount(checks: &mut Checks, field: &str, value: f64) {
    if !value.is_finite() || !(MIN_AMOUNT..=100_000.0).contains(&value) {
        checks.push(FieldError::new(
            field,
            "must be a number from 0.000001 to 100000",
        ));
    }
}

/// One of the user's medications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Medication {
    pub id: String,
    /// The catalogue entry it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<String>,
    /// Amount per dose, in `unit`.
    pub dose: f64,
    pub unit: String,
    pub schedule: Schedule,
    /// First day (YYYY-MM-DD).
    pub start_date: String,
    /// Last day, if it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Archived medications keep their history but are no longer current.
    #[serde(default)]
    pub archived: bool,
    /// RFC 3339.
    pub updated_at: String,
}

/// A medication as a client creates or replaces it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicationInput {
    /// A catalogue entry's id; the name, form and strength are still given by the client.
    pub catalog_id: Option<String>,
    pub name: String,
    pub generic_name: Option<String>,
    pub form: Option<String>,
    pub strength: Option<String>,
    #[schema(minimum = 0.000001, maximum = 100000)]
    pub dose: f64,
    pub unit: String,
    pub schedule: Schedule,
    #[schema(format = Date)]
    pub start_date: String,
    #[schema(format = Date)]
    pub end_date: Option<String>,
    pub notes: Option<String>,
}

impl MedicationInput {
    pub fn into_medication(mut self, id: String, now: Timestamp) -> Result<Medication, ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        let catalog_id = c.optional_text("body.catalog_id", self.catalog_id.as_deref(), MAX_SHORT);
        if catalog_id
            .as_deref()
            .is_some_and(|id| !super::catalog::is_catalog_id(id))
        {
            c.push(FieldError::new(
                "body.catalog_id",
                "no such catalogue entry",
            ));
        }
        let generic_name =
            c.optional_text("body.generic_name", self.generic_name.as_deref(), MAX_NAME);
        let form = c.optional_text("body.form", self.form.as_deref(), MAX_SHORT);
        let strength = c.optional_text("body.strength", self.strength.as_deref(), MAX_SHORT);
        positive_amount(&mut c, "body.dose", self.dose);
        let unit = c.text("body.unit", &self.unit, MAX_SHORT);
        self.schedule.check(&mut c);
        let start = c.date("body.start_date", &self.start_date);
        let end = self
            .end_date
            .as_deref()
            .and_then(|d| c.date("body.end_date", d));
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            c.push(FieldError::new(
                "body.end_date",
                "must not be before start_date",
            ));
        }
        let notes = c.optional_text("body.notes", self.notes.as_deref(), MAX_NOTE);
        c.finish()?;
        Ok(Medication {
            id,
            catalog_id,
            name,
            generic_name,
            form,
            strength,
            dose: self.dose,
            unit,
            schedule: self.schedule,
            start_date: self.start_date,
            end_date: end.map(|d| d.to_string()),
            notes,
            archived: false,
            updated_at: now.to_string(),
        })
    }
}

impl Medication {
    /// Whether it is current on `date`: started, not ended, not archived.
    pub fn active_on(&self, date: Date) -> bool {
        self.active_on_day(&date.to_string())
    }

    /// [`Self::active_on`] for a day already written `YYYY-MM-DD`.
    pub fn active_on_day(&self, day: &str) -> bool {
        !self.archived
            && self.start_date.as_str() <= day
            && self.end_date.as_deref().is_none_or(|end| day <= end)
    }
}

/// Whether a logged dose was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DoseStatus {
    Taken,
    Skipped,
    Missed,
}

/// One logged dose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dose {
    pub id: String,
    pub medication_id: String,
    /// RFC 3339 with the local offset; the entry belongs to that local day.
    pub taken_at: String,
    pub dose: f64,
    pub status: DoseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoseInput {
    pub medication_id: String,
    #[schema(format = DateTime)]
    pub taken_at: String,
    #[schema(minimum = 0.000001, maximum = 100000)]
    pub dose: f64,
    pub status: DoseStatus,
    pub note: Option<String>,
}

impl DoseInput {
    /// The dose and its local day.
    pub fn validate(self, now: Timestamp) -> Result<(Dose, Date), ApiError> {
        let mut c = Checks::default();
        let medication_id = c.text("body.medication_id", &self.medication_id, MAX_SHORT);
        if !medication_id.is_empty() && !super::is_id(&medication_id) {
            c.push(FieldError::new("body.medication_id", "no such medication"));
        }
        let at = c.instant("body.taken_at", &self.taken_at, now);
        positive_amount(&mut c, "body.dose", self.dose);
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        c.finish()?;
        let at = at.ok_or_else(|| ApiError::invalid_field("body.taken_at", "invalid"))?;
        Ok((
            Dose {
                id: String::new(),
                medication_id,
                taken_at: self.taken_at,
                dose: self.dose,
                status: self.status,
                note,
            },
            at.date,
        ))
    }
}

/// One symptom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Symptom {
    pub id: String,
    pub name: String,
    /// 0 (none) to 10 (worst imaginable).
    pub severity: u8,
    /// RFC 3339 with the local offset; the entry belongs to that local day.
    pub occurred_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SymptomInput {
    pub name: String,
    /// 0 to 10.
    #[schema(minimum = 0, maximum = 10)]
    pub severity: i64,
    #[schema(format = DateTime)]
    pub occurred_at: String,
    pub note: Option<String>,
}

impl SymptomInput {
    pub fn validate(self, now: Timestamp) -> Result<(Symptom, Date), ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        if !(0..=10).contains(&self.severity) {
            c.push(FieldError::new(
                "body.severity",
                "must be an integer from 0 to 10",
            ));
        }
        let at = c.instant("body.occurred_at", &self.occurred_at, now);
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        c.finish()?;
        let at = at.ok_or_else(|| ApiError::invalid_field("body.occurred_at", "invalid"))?;
        Ok((
            Symptom {
                id: String::new(),
                name,
                severity: u8::try_from(self.severity).unwrap_or(0),
                occurred_at: self.occurred_at,
                note,
            },
            at.date,
        ))
    }
}

/// How the user felt on one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Feeling {
    /// YYYY-MM-DD.
    pub date: String,
    /// 1 (awful) to 10 (excellent).
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeelingInput {
    /// 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    pub score: i64,
    pub note: Option<String>,
}

impl FeelingInput {
    /// A score is for a day that has begun somewhere, give or take the day of slack instants
    /// get ([`super::dates::latest_day`]).
    pub fn validate(self, date: Date, now: Timestamp) -> Result<Feeling, ApiError> {
        let mut c = Checks::default();
        if date > super::dates::latest_day(now) {
            c.push(FieldError::new("path.date", "must not be in the future"));
        }
        if !(1..=10).contains(&self.score) {
            c.push(FieldError::new(
                "body.score",
                "must be an integer from 1 to 10",
            ));
        }
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        c.finish()?;
        Ok(Feeling {
            date: date.to_string(),
            score: u8::try_from(self.score).unwrap_or(1),
            note,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConditionStatus {
    Active,
    Resolved,
}

/// A diagnosed condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MedicalCondition {
    pub id: String,
    pub name: String,
    /// ICD-10 code, e.g. `E11.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosed_on: Option<String>,
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The user's doctors who treat it.
    #[serde(default)]
    pub doctor_ids: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionInput {
    pub name: String,
    pub icd10: Option<String>,
    pub diagnosed_on: Option<String>,
    pub status: ConditionStatus,
    pub note: Option<String>,
    #[serde(default)]
    pub doctor_ids: Vec<String>,
}

/// ICD-10 shape: a letter, a digit, a digit or letter (`C4A`), then optionally a dot and one
/// to four more letters or digits.
fn is_icd10(code: &str) -> bool {
    match code.as_bytes() {
        [letter, digit, third, tail @ ..] => {
            letter.is_ascii_uppercase()
                && digit.is_ascii_digit()
                && (third.is_ascii_digit() || third.is_ascii_uppercase())
                && match tail {
                    [] => true,
                    [b'.', rest @ ..] => {
                        (1..=4).contains(&rest.len())
                            && rest
                                .iter()
                                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                    }
                    _ => false,
                }
        }
        _ => false,
    }
}

impl ConditionInput {
    /// Each doctor named (first mention), with the field that named it: the client's index.
    pub fn doctor_fields(&self) -> Vec<(String, String)> {
        let ids = &self.doctor_ids;
        ids.iter()
            .enumerate()
            .filter(|(i, id)| !ids[..*i].contains(id))
            .map(|(i, id)| (id.clone(), format!("body.doctor_ids[{i}]")))
            .collect()
    }

    pub fn into_condition(self, id: String, today: Date) -> Result<MedicalCondition, ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        let icd10 = self
            .icd10
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_uppercase);
        if icd10.as_deref().is_some_and(|code| !is_icd10(code)) {
            c.push(FieldError::new(
                "body.icd10",
                "must be an ICD-10 code such as E11.9",
            ));
        }
        let diagnosed = self
            .diagnosed_on
            .as_deref()
            .and_then(|d| c.date("body.diagnosed_on", d));
        if diagnosed.is_some_and(|d| d > today.tomorrow().unwrap_or(today)) {
            c.push(FieldError::new(
                "body.diagnosed_on",
                "must not be in the future",
            ));
        }
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        if self.doctor_ids.len() > MAX_LIST {
            c.push(FieldError::new(
                "body.doctor_ids",
                format!("at most {MAX_LIST} doctors"),
            ));
        }
        let mut doctor_ids = Vec::new();
        for (i, id) in self.doctor_ids.iter().enumerate() {
            if !super::is_id(id) {
                c.push(FieldError::new(
                    format!("body.doctor_ids[{i}]"),
                    "no such doctor",
                ));
            } else if !doctor_ids.contains(id) {
                doctor_ids.push(id.clone());
            }
        }
        c.finish()?;
        Ok(MedicalCondition {
            id,
            name,
            icd10,
            diagnosed_on: diagnosed.map(|d| d.to_string()),
            status: self.status,
            note,
            doctor_ids,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AllergySeverity {
    Mild,
    Moderate,
    Severe,
}

/// An allergy or intolerance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Allergy {
    pub id: String,
    /// What the user reacts to (a drug, a food …).
    pub substance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    pub severity: AllergySeverity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllergyInput {
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: AllergySeverity,
    pub note: Option<String>,
}

impl AllergyInput {
    pub fn into_allergy(self, id: String) -> Result<Allergy, ApiError> {
        let mut c = Checks::default();
        let substance = c.text("body.substance", &self.substance, MAX_NAME);
        let reaction = c.optional_text("body.reaction", self.reaction.as_deref(), MAX_NAME);
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        c.finish()?;
        Ok(Allergy {
            id,
            substance,
            reaction,
            severity: self.severity,
            note,
        })
    }
}

/// One of the user's doctors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Doctor {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorInput {
    pub name: String,
    pub specialty: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub note: Option<String>,
}

fn phone(c: &mut Checks, field: &str, value: Option<&str>) -> Option<String> {
    let phone = c.optional_text(field, value, MAX_SHORT)?;
    let ok = phone.chars().filter(char::is_ascii_digit).count() >= 3
        && phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch));
    if !ok {
        c.push(FieldError::new(
            field,
            "must be a phone number (digits, spaces, + - ( ) .)",
        ));
    }
    Some(phone)
}

fn contact_email(c: &mut Checks, field: &str, value: Option<&str>) -> Option<String> {
    let raw = c.optional_text(field, value, crate::auth::email::MAX_LEN)?;
    match crate::auth::Email::parse(&raw) {
        Ok(email) => Some(email.to_string()),
        Err(_) => {
            c.push(FieldError::new(field, "must be an email address"));
            None
        }
    }
}

impl DoctorInput {
    pub fn into_doctor(self, id: String) -> Result<Doctor, ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        let specialty = c.optional_text("body.specialty", self.specialty.as_deref(), MAX_NAME);
        let phone = phone(&mut c, "body.phone", self.phone.as_deref());
        let email = contact_email(&mut c, "body.email", self.email.as_deref());
        let address = c.optional_text("body.address", self.address.as_deref(), MAX_NOTE);
        let note = c.optional_text("body.note", self.note.as_deref(), MAX_NOTE);
        c.finish()?;
        Ok(Doctor {
            id,
            name,
            specialty,
            phone,
            email,
            address,
            note,
        })
    }
}

/// Whom to call in an emergency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContactInput {
    pub name: String,
    pub relationship: Option<String>,
    pub phone: String,
    pub email: Option<String>,
}

impl EmergencyContactInput {
    pub fn validate(self) -> Result<EmergencyContact, ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        let relationship =
            c.optional_text("body.relationship", self.relationship.as_deref(), MAX_SHORT);
        if self.phone.trim().is_empty() {
            c.push(FieldError::new("body.phone", "must not be empty"));
        }
        let phone = phone(&mut c, "body.phone", Some(&self.phone)).unwrap_or_default();
        let email = contact_email(&mut c, "body.email", self.email.as_deref());
        c.finish()?;
        Ok(EmergencyContact {
            name,
            relationship,
            phone,
            email,
        })
    }
}

/// An entry of the shared medication catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_name: Option<String>,
    pub form: String,
    pub strength: String,
    pub unit: String,
    /// RxNorm concept id (RxCUI), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rxnorm: Option<String>,
    /// Retired entries are no longer offered by search.
    #[serde(default)]
    pub retired: bool,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntryInput {
    pub name: String,
    pub generic_name: Option<String>,
    pub form: String,
    pub strength: String,
    pub unit: String,
    pub rxnorm: Option<String>,
}

impl CatalogEntryInput {
    pub fn into_entry(self, id: String) -> Result<CatalogEntry, ApiError> {
        let mut c = Checks::default();
        let name = c.text("body.name", &self.name, MAX_NAME);
        let generic_name =
            c.optional_text("body.generic_name", self.generic_name.as_deref(), MAX_NAME);
        let form = c.text("body.form", &self.form, MAX_SHORT);
        let strength = c.text("body.strength", &self.strength, MAX_SHORT);
        let unit = c.text("body.unit", &self.unit, MAX_SHORT);
        let rxnorm = c.optional_text("body.rxnorm", self.rxnorm.as_deref(), 12);
        if rxnorm
            .as_deref()
            .is_some_and(|r| !r.bytes().all(|b| b.is_ascii_digit()))
        {
            c.push(FieldError::new(
                "body.rxnorm",
                "must be an RxNorm concept id (digits)",
            ));
        }
        c.finish()?;
        Ok(CatalogEntry {
            id,
            name,
            generic_name,
            form,
            strength,
            unit,
            rxnorm,
            retired: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_strict() {
        for ok in ["00:00", "08:30", "23:59"] {
            assert!(is_time_of_day(ok), "{ok}");
        }
        for bad in ["24:00", "8:30", "08:60", "0830", "+1:00", "08:3a", ""] {
            assert!(!is_time_of_day(bad), "{bad}");
        }
    }

    #[test]
    fn icd10_codes_have_their_shape() {
        for ok in ["E11", "E11.9", "J45.909", "U07.1", "C4A.0"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in [
            "e11",
            "11.9",
            "E1",
            "E11.",
            "E11.123456",
            "E11-9",
            "../x",
            "EAA",
            "XYZ.1",
            "A€",
            "ÉÉ",
            "E11.é",
        ] {
            assert!(!is_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn schedules_are_due_on_their_days() {
        let monday: Date = "2026-11-23".parse().unwrap();
        let every_day = Schedule {
            times: vec!["08:00".into()],
            ..Schedule::default()
        };
        assert!(every_day.due_on(monday));
        let weekends = Schedule {
            days: vec![Weekday::Sat, Weekday::Sun],
            ..every_day.clone()
        };
        assert!(!weekends.due_on(monday));
        let as_needed = Schedule {
            as_needed: true,
            ..Schedule::default()
        };
        assert!(!as_needed.due_on(monday));
    }
}
