//! The tracker's export as HL7 FHIR R4 (4.0.1): one `collection` Bundle holding
//!
//! | what we hold            | FHIR resource                                              |
//! |-------------------------|------------------------------------------------------------|
//! | the user                | `Patient` (the emergency contact is its `contact`)         |
//! | a doctor                | `Practitioner`, and a `PractitionerRole` for a specialty   |
//! | a condition             | `Condition` (ICD-10 coding when known)                     |
//! | an allergy              | `AllergyIntolerance`                                       |
//! | a medication            | `MedicationStatement` with its schedule as `dosage`        |
//! | a logged dose           | `MedicationAdministration` (`not-done` when skipped/missed) |
//! | a symptom, a feeling    | `Observation` (category `survey`, `valueInteger`)          |
//!
//! Every entry's `fullUrl` is `urn:uuid:<uuid>`, and every reference between resources is one
//! of those. The UUIDs are name-based (version 5) from the user's id and the item's id, so the
//! same item has the same UUID in every export: a receiver can tell a re-export from new data.
//! Instants keep the offset the user logged them with; FHIR's shapes are stricter than ours in
//! places (seconds are required, offsets within ±14:00), so every date and time is re-printed
//! in FHIR's form rather than copied.

use std::collections::HashMap;

use aws_lc_rs::digest;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::{Offset, TimeZone};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::export::Export;
use super::model::{
    Allergy, AllergySeverity, ConditionStatus, Doctor, Dose, DoseStatus, Feeling, MedicalCondition,
    Medication, Symptom, Weekday,
};

/// The FHIR version the bundle conforms to.
pub const FHIR_VERSION: &str = "4.0.1";
/// The media type of a FHIR R4 JSON document.
pub const MEDIA_TYPE: &str = "application/fhir+json; fhirVersion=4.0";

/// Namespace of the name-based UUIDs of exported resources (a fixed, random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x5d0c_6a2e_8f41_4b7d_9c3e_2a71_f0b4_e819);

const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const CONDITION_ASSERTED_DATE: &str =
    "http://hl7.org/fhir/StructureDefinition/condition-assertedDate";
const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const CONTACT_RELATIONSHIP: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";

/// What a feeling's observation is called.
pub const FEELING_TEXT: &str = "How I feel (1-10)";

/// The export as a FHIR R4 Bundle of type `collection`.
pub fn bundle(export: &Export) -> Value {
    let today = export_day(export);
    let user = &export.patient.id;
    let patient = Ref::new(user, "Patient", "patient", "");
    let doctors: HashMap<&str, Ref> = export
        .doctors
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                Ref::new(user, "Practitioner", "doctor", &d.id),
            )
        })
        .collect();
    let medications: HashMap<&str, &Medication> = export
        .medications
        .iter()
        .map(|m| (m.id.as_str(), m))
        .collect();

    let mut entries = vec![patient.entry(patient_resource(export))];
    for doctor in &export.doctors {
        let practitioner = &doctors[doctor.id.as_str()];
        entries.push(practitioner.entry(practitioner_resource(doctor)));
        if let Some(specialty) = &doctor.specialty {
            let role = Ref::new(user, "PractitionerRole", "doctor-role", &doctor.id);
            entries.push(role.entry(json!({
                "resourceType": "PractitionerRole",
                "practitioner": practitioner.reference(),
                "specialty": [{ "text": specialty }],
            })));
        }
    }
    for condition in &export.conditions {
        let r = Ref::new(user, "Condition", "condition", &condition.id);
        entries.push(r.entry(condition_resource(
            condition,
            &patient,
            &doctors,
            &export.doctors,
        )));
    }
    for allergy in &export.allergies {
        let r = Ref::new(user, "AllergyIntolerance", "allergy", &allergy.id);
        entries.push(r.entry(allergy_resource(allergy, &patient)));
    }
    for medication in &export.medications {
        let r = Ref::new(user, "MedicationStatement", "medication", &medication.id);
        entries.push(r.entry(statement_resource(medication, &patient, today)));
    }
    for dose in &export.doses {
        let r = Ref::new(user, "MedicationAdministration", "dose", &dose.id);
        let medication = medications.get(dose.medication_id.as_str()).copied();
        entries.push(r.entry(administration_resource(dose, medication, &patient)));
    }
    for symptom in &export.symptoms {
        let r = Ref::new(user, "Observation", "symptom", &symptom.id);
        entries.push(r.entry(symptom_resource(symptom, &patient)));
    }
    for feeling in &export.feelings {
        let r = Ref::new(user, "Observation", "feeling", &feeling.date);
        entries.push(r.entry(feeling_resource(feeling, &patient)));
    }

    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(&export.exported_at),
    });
    bundle["entry"] = Value::Array(entries);
    compact(&mut bundle);
    bundle
}

/// One resource of the bundle: its `urn:uuid:` URL and type.
#[derive(Clone, Debug)]
struct Ref {
    url: String,
    kind: &'static str,
}

impl Ref {
    /// The resource for item `id` of kind `tag` of `user` (the same UUID in every export).
    fn new(user: &str, kind: &'static str, tag: &str, id: &str) -> Self {
        Self {
            url: format!("urn:uuid:{}", name_uuid(&format!("{user}/{tag}/{id}"))),
            kind,
        }
    }

    fn id(&self) -> &str {
        self.url.trim_start_matches("urn:uuid:")
    }

    fn reference(&self) -> Reference<'_> {
        Reference {
            reference: &self.url,
            kind: self.kind,
        }
    }

    /// The bundle entry of `resource`, which gets this resource's type and id. The resource
    /// is moved, not copied: `json!` would copy a `Value` it is given, and the entries are most
    /// of a bundle.
    fn entry(&self, mut resource: Value) -> Value {
        if let Some(fields) = resource.as_object_mut() {
            fields.insert("resourceType".into(), Value::from(self.kind));
            fields.insert("id".into(), Value::from(self.id()));
        }
        let mut entry = Map::new();
        entry.insert("fullUrl".into(), Value::String(self.url.clone()));
        entry.insert("resource".into(), resource);
        Value::Object(entry)
    }
}

// The small data types FHIR resources are made of. `json!` serialises these straight into the
// resource, where a `Value` would be built and then copied.

/// A `Reference` to another resource of the bundle.
#[derive(Serialize)]
struct Reference<'a> {
    reference: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A `CodeableConcept` of one `Coding`.
#[derive(Serialize)]
struct CodeableConcept<'a> {
    coding: [Coding<'a>; 1],
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    display: &'a str,
}

/// An `Annotation` (a note).
#[derive(Serialize)]
struct Annotation<'a> {
    text: &'a str,
}

/// A `ContactPoint`.
#[derive(Serialize)]
struct ContactPoint<'a> {
    system: &'a str,
    value: &'a str,
}

/// A version 5 (SHA-1, name-based) UUID of `name` in [`NAMESPACE`], as RFC 9562 defines it.
fn name_uuid(name: &str) -> Uuid {
    let mut input = NAMESPACE.as_bytes().to_vec();
    input.extend_from_slice(name.as_bytes());
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The export's calendar day in the user's time zone (UTC when the zone is unknown).
fn export_day(export: &Export) -> Option<Date> {
    let at: Timestamp = export.exported_at.parse().ok()?;
    let tz = TimeZone::get(&export.patient.timezone).unwrap_or(TimeZone::UTC);
    Some(at.to_zoned(tz).date())
}

/// A FHIR `date` (`YYYY-MM-DD`), or nothing when `raw` is not a valid day.
fn date(raw: &str) -> Option<String> {
    raw.parse::<Date>()
        .ok()
        .filter(|d| d.year() >= 1)
        .map(|d| d.to_string())
}

/// A FHIR `dateTime`/`instant` from an RFC 3339 instant: the same local time and offset, with
/// seconds, and the offset as `Z` or `±HH:MM` (an offset FHIR cannot show becomes UTC).
fn date_time(raw: &str) -> Option<String> {
    let at: Timestamp = raw.parse().ok()?;
    let parsed = Pieces::parse(raw).ok()?.offset();
    let fits = |o: &Offset| o.seconds() % 60 == 0 && o.seconds().abs() <= 14 * 3600;
    let shown = parsed.map(|o| o.to_numeric_offset()).filter(fits);
    let offset = shown.unwrap_or(Offset::UTC);
    // `Z` and `-00:00` say "UTC, local offset unknown"; `+00:00` is a real offset of zero.
    let zulu = match parsed {
        Some(PiecesOffset::Numeric(n)) => {
            shown.is_none() || (n.offset() == Offset::UTC && n.is_negative())
        }
        _ => true,
    };
    let local = offset.to_datetime(at);
    if local.year() < 1 {
        return None;
    }
    let mut out = local.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = at.subsec_nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    if zulu {
        out.push('Z');
    } else {
        let seconds = offset.seconds();
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.abs() / 60;
        out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    Some(out)
}

/// A FHIR `instant` (the same shape as [`date_time`] gives; instants need the full time).
fn instant(raw: &str) -> Option<String> {
    date_time(raw)
}

/// A FHIR `time` (`HH:MM:SS`) from our `HH:MM`.
fn time_of_day(raw: &str) -> Option<String> {
    let (hours, minutes) = raw.split_once(':')?;
    let ok = |s: &str, max: u8| {
        s.len() == 2
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u8>().is_ok_and(|n| n <= max)
    };
    (ok(hours, 23) && ok(minutes, 59)).then(|| format!("{hours}:{minutes}:00"))
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

fn coding<'a>(system: &'a str, code: &'a str, display: &'a str) -> CodeableConcept<'a> {
    CodeableConcept {
        coding: [Coding {
            system,
            code,
            display,
        }],
    }
}

fn notes<'a>(texts: impl IntoIterator<Item = Option<&'a str>>) -> Vec<Annotation<'a>> {
    texts
        .into_iter()
        .flatten()
        .map(|text| Annotation { text })
        .collect()
}

/// A ContactPoint, or nothing without a value (a system alone says nothing).
fn telecom<'a>(system: &'a str, value: Option<&'a str>) -> Option<ContactPoint<'a>> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|value| ContactPoint { system, value })
}

fn patient_resource(export: &Export) -> Value {
    let p = &export.patient;
    let contact = export.emergency_contact.as_ref().map(|c| {
        json!({
            "relationship": [
                coding(CONTACT_RELATIONSHIP, "C", "Emergency Contact"),
                { "text": c.relationship },
            ],
            "name": { "text": c.name },
            "telecom": [
                telecom("phone", Some(&c.phone)),
                telecom("email", c.email.as_deref()),
            ],
        })
    });
    json!({
        "resourceType": "Patient",
        "name": [{ "text": p.name }],
        "telecom": [telecom("email", Some(&p.email))],
        "contact": [contact],
    })
}

fn practitioner_resource(doctor: &Doctor) -> Value {
    json!({
        "resourceType": "Practitioner",
        "name": [{ "text": doctor.name }],
        "telecom": [
            telecom("phone", doctor.phone.as_deref()),
            telecom("email", doctor.email.as_deref()),
        ],
        "address": [{ "text": doctor.address }],
    })
}

fn condition_resource(
    condition: &MedicalCondition,
    patient: &Ref,
    refs: &HashMap<&str, Ref>,
    doctors: &[Doctor],
) -> Value {
    let status = match condition.status {
        ConditionStatus::Active => coding(CONDITION_CLINICAL, "active", "Active"),
        ConditionStatus::Resolved => coding(CONDITION_CLINICAL, "resolved", "Resolved"),
    };
    // Doctors deleted since are left out; the first one left asserts it, the others are named.
    let treating: Vec<&str> = condition
        .doctor_ids
        .iter()
        .filter(|id| refs.contains_key(id.as_str()))
        .map(String::as_str)
        .collect();
    let asserter = treating.first().map(|id| refs[id].reference());
    let others: Vec<&str> = treating
        .iter()
        .skip(1)
        .filter_map(|id| doctors.iter().find(|d| d.id == *id))
        .map(|d| d.name.as_str())
        .collect();
    let also = (!others.is_empty()).then(|| format!("Also treated by: {}", others.join(", ")));
    let icd10 = condition
        .icd10
        .as_ref()
        .map(|code| json!({ "system": ICD10, "code": code }));
    let diagnosed = condition.diagnosed_on.as_deref().and_then(date);
    json!({
        "resourceType": "Condition",
        "extension": [diagnosed.as_ref().map(|d| json!({ "url": CONDITION_ASSERTED_DATE, "valueDateTime": d }))],
        "clinicalStatus": status,
        "category": [coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": { "coding": [icd10], "text": condition.name },
        "subject": patient.reference(),
        "recordedDate": diagnosed,
        "asserter": asserter,
        "note": notes([condition.note.as_deref(), also.as_deref()]),
    })
}

fn allergy_resource(allergy: &Allergy, patient: &Ref) -> Value {
    let (criticality, severity) = match allergy.severity {
        AllergySeverity::Mild => ("low", "mild"),
        AllergySeverity::Moderate => ("low", "moderate"),
        AllergySeverity::Severe => ("high", "severe"),
    };
    // A reaction needs a manifestation; without one the severity is in the criticality only.
    let reaction = allergy
        .reaction
        .as_ref()
        .map(|r| json!({ "manifestation": [{ "text": r }], "severity": severity }));
    json!({
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": coding(ALLERGY_CLINICAL, "active", "Active"),
        "criticality": criticality,
        "code": { "text": allergy.substance },
        "patient": patient.reference(),
        "asserter": patient.reference(),
        "note": notes([allergy.note.as_deref()]),
        "reaction": [reaction],
    })
}

/// What a medication is, in words: `Glucophage (metformin) 500 mg tablet`.
fn medication_text(m: &Medication) -> String {
    let mut text = m.name.clone();
    if let Some(generic) = m
        .generic_name
        .as_ref()
        .filter(|g| !g.eq_ignore_ascii_case(&m.name))
    {
        text.push_str(&format!(" ({generic})"));
    }
    for part in [&m.strength, &m.form].into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    text
}

/// A MedicationStatement's status: archived → stopped, ended before the export's day →
/// completed, starting after it → intended, else active.
fn statement_status(m: &Medication, today: Option<Date>) -> &'static str {
    if m.archived {
        return "stopped";
    }
    let Some(today) = today.map(|d| d.to_string()) else {
        return "active";
    };
    if m.end_date.as_ref().is_some_and(|end| *end < today) {
        "completed"
    } else if m.start_date > today {
        "intended"
    } else {
        "active"
    }
}

fn amount(value: f64) -> String {
    format!("{value}")
}

fn statement_resource(m: &Medication, patient: &Ref, today: Option<Date>) -> Value {
    let dose = format!("{} {}", amount(m.dose), m.unit);
    let schedule = &m.schedule;
    let text = if schedule.as_needed {
        format!("{dose} as needed")
    } else {
        let days = if schedule.days.is_empty() {
            "every day".to_owned()
        } else {
            format!(
                "on {}",
                schedule
                    .days
                    .iter()
                    .map(|d| weekday_name(*d))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!("{dose} at {} {days}", schedule.times.join(", "))
    };
    let times: Vec<String> = schedule
        .times
        .iter()
        .filter_map(|t| time_of_day(t))
        .collect();
    let days: Vec<&str> = schedule.days.iter().map(|d| weekday_code(*d)).collect();
    let timing = (!schedule.as_needed && !times.is_empty())
        .then(|| json!({ "repeat": { "timeOfDay": times, "dayOfWeek": days } }));
    json!({
        "resourceType": "MedicationStatement",
        "status": statement_status(m, today),
        "medicationCodeableConcept": { "text": medication_text(m) },
        "subject": patient.reference(),
        "effectivePeriod": {
            "start": date(&m.start_date),
            "end": m.end_date.as_deref().and_then(date),
        },
        "dateAsserted": date_time(&m.updated_at),
        "informationSource": patient.reference(),
        "note": notes([m.notes.as_deref()]),
        "dosage": [{
            "text": text,
            "timing": timing,
            "asNeededBoolean": schedule.as_needed,
            "doseAndRate": [{ "doseQuantity": { "value": m.dose, "unit": m.unit } }],
        }],
    })
}

fn administration_resource(dose: &Dose, medication: Option<&Medication>, patient: &Ref) -> Value {
    let (status, reason) = match dose.status {
        DoseStatus::Taken => ("completed", None),
        DoseStatus::Skipped => ("not-done", Some("Skipped")),
        DoseStatus::Missed => ("not-done", Some("Missed")),
    };
    let name = medication.map_or_else(|| "Unknown medication".to_owned(), medication_text);
    let performer =
        (dose.status == DoseStatus::Taken).then(|| json!({ "actor": patient.reference() }));
    json!({
        "resourceType": "MedicationAdministration",
        "status": status,
        "statusReason": [reason.map(|text| json!({ "text": text }))],
        "medicationCodeableConcept": { "text": name },
        "subject": patient.reference(),
        "effectiveDateTime": date_time(&dose.taken_at),
        "performer": [performer],
        "note": notes([dose.note.as_deref()]),
        "dosage": { "dose": { "value": dose.dose, "unit": medication.map(|m| m.unit.as_str()) } },
    })
}

fn survey() -> [CodeableConcept<'static>; 1] {
    [coding(OBSERVATION_CATEGORY, "survey", "Survey")]
}

fn symptom_resource(symptom: &Symptom, patient: &Ref) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": survey(),
        "code": { "text": symptom.name },
        "subject": patient.reference(),
        "effectiveDateTime": date_time(&symptom.occurred_at),
        "performer": [patient.reference()],
        "valueInteger": symptom.severity,
        "note": notes([symptom.note.as_deref()]),
    })
}

fn feeling_resource(feeling: &Feeling, patient: &Ref) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": survey(),
        "code": { "text": FEELING_TEXT },
        "subject": patient.reference(),
        "effectiveDateTime": date(&feeling.date),
        "performer": [patient.reference()],
        "valueInteger": feeling.score,
        "note": notes([feeling.note.as_deref()]),
    })
}

/// FHIR JSON has no nulls, empty strings, empty arrays or empty objects: drops them, deepest
/// first (so an object left empty by that goes too), and trims strings. In place: a bundle is
/// mostly strings that need neither.
fn compact(value: &mut Value) {
    match value {
        Value::Object(fields) => fields.retain(|_, v| {
            compact(v);
            !is_empty(v)
        }),
        Value::Array(items) => items.retain_mut(|v| {
            compact(v);
            !is_empty(v)
        }),
        Value::String(s) => {
            let trimmed = s.trim();
            if trimmed.len() != s.len() {
                *s = trimmed.to_owned();
            }
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::tracker::export::Patient;
    use crate::tracker::model::{EmergencyContact, Schedule};

    fn medication(id: &str, archived: bool, start: &str, end: Option<&str>) -> Medication {
        Medication {
            id: id.into(),
            catalog_id: None,
            name: "Glucophage".into(),
            generic_name: Some("metformin".into()),
            form: Some("tablet".into()),
            strength: Some("500 mg".into()),
            dose: 1.0,
            unit: "tablet".into(),
            schedule: Schedule {
                times: vec!["08:00".into(), "20:00".into()],
                days: vec![Weekday::Mon, Weekday::Fri],
                as_needed: false,
            },
            start_date: start.into(),
            end_date: end.map(Into::into),
            notes: Some("with food".into()),
            archived,
            updated_at: "2026-03-01T09:15:00.5Z".into(),
        }
    }

    fn doctor(id: &str, name: &str, specialty: Option<&str>) -> Doctor {
        Doctor {
            id: id.into(),
            name: name.into(),
            specialty: specialty.map(Into::into),
            phone: Some("+49 30 1234567".into()),
            email: Some("dr@example.com".into()),
            address: Some("Hauptstr. 1, Berlin".into()),
            note: None,
        }
    }

    fn export() -> Export {
        Export {
            exported_at: "2026-03-29T22:30:00Z".into(),
            patient: Patient {
                id: "u1".into(),
                name: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
                // Already 2026-03-30 there: the export's day is the user's.
                timezone: "Asia/Tokyo".into(),
            },
            medications: vec![
                medication("m1", false, "2026-01-01", None),
                medication("m2", true, "2026-01-01", None),
                medication("m3", false, "2026-01-01", Some("2026-03-29")),
                medication("m4", false, "2026-01-01", Some("2026-03-30")),
                medication("m5", false, "2026-04-01", None),
                Medication {
                    schedule: Schedule {
                        as_needed: true,
                        ..Schedule::default()
                    },
                    ..medication("m6", false, "2026-01-01", None)
                },
            ],
            doses: vec![
                Dose {
                    id: "20260329-0000000000000001".into(),
                    medication_id: "m1".into(),
                    taken_at: "2026-03-29T08:05:00+02:00".into(),
                    dose: 1.0,
                    status: DoseStatus::Taken,
                    note: None,
                },
                Dose {
                    id: "20260329-0000000000000002".into(),
                    medication_id: "m1".into(),
                    taken_at: "2026-03-29T20:00:00+02:00".into(),
                    dose: 1.0,
                    status: DoseStatus::Skipped,
                    note: Some("felt sick".into()),
                },
                Dose {
                    id: "20260328-0000000000000003".into(),
                    medication_id: "gone".into(),
                    taken_at: "2026-03-28T20:00:00Z".into(),
                    dose: 0.5,
                    status: DoseStatus::Missed,
                    note: None,
                },
            ],
            symptoms: vec![Symptom {
                id: "20260329-0000000000000004".into(),
                name: "Headache".into(),
                severity: 6,
                occurred_at: "2026-03-29T14:00:00-05:30".into(),
                note: Some("after lunch".into()),
            }],
            feelings: vec![Feeling {
                date: "2026-03-29".into(),
                score: 7,
                note: None,
            }],
            conditions: vec![
                MedicalCondition {
                    id: "c1".into(),
                    name: "Type 2 diabetes".into(),
                    icd10: Some("E11.9".into()),
                    diagnosed_on: Some("2020-05-01".into()),
                    status: ConditionStatus::Resolved,
                    note: None,
                    doctor_ids: vec!["d2".into(), "deleted".into(), "d1".into()],
                },
                MedicalCondition {
                    id: "c2".into(),
                    name: "Asthma".into(),
                    icd10: None,
                    diagnosed_on: None,
                    status: ConditionStatus::Active,
                    note: Some("mild".into()),
                    doctor_ids: vec![],
                },
            ],
            allergies: vec![
                Allergy {
                    id: "a1".into(),
                    substance: "Penicillin".into(),
                    reaction: Some("Anaphylaxis".into()),
                    severity: AllergySeverity::Severe,
                    note: None,
                },
                Allergy {
                    id: "a2".into(),
                    substance: "Pollen".into(),
                    reaction: None,
                    severity: AllergySeverity::Moderate,
                    note: None,
                },
            ],
            doctors: vec![
                doctor("d1", "Dr. Who", Some("Cardiology")),
                doctor("d2", "Dr. House", None),
            ],
            emergency_contact: Some(EmergencyContact {
                name: "Charles Babbage".into(),
                relationship: Some("friend".into()),
                phone: "+44 20 7946 0000".into(),
                email: None,
            }),
        }
    }

    fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == kind)
            .collect()
    }

    fn by_text<'a>(bundle: &'a Value, kind: &str, pointer: &str, text: &str) -> &'a Value {
        resources(bundle, kind)
            .into_iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(text))
            .unwrap()
    }

    /// Every `reference` anywhere under `value`.
    fn references(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, v) in fields {
                    match (key.as_str(), v) {
                        ("reference", Value::String(r)) => out.push(r.clone()),
                        _ => references(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }

    #[test]
    fn one_resource_per_item() {
        let b = bundle(&export());
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "collection");
        assert_eq!(b["timestamp"], "2026-03-29T22:30:00Z");
        let count = |kind| resources(&b, kind).len();
        assert_eq!(count("Patient"), 1);
        assert_eq!(count("Practitioner"), 2);
        assert_eq!(
            count("PractitionerRole"),
            1,
            "only the doctor with a specialty"
        );
        assert_eq!(count("Condition"), 2);
        assert_eq!(count("AllergyIntolerance"), 2);
        assert_eq!(count("MedicationStatement"), 6);
        assert_eq!(count("MedicationAdministration"), 3);
        assert_eq!(count("Observation"), 2);
        assert_eq!(b["entry"].as_array().unwrap().len(), 19);
    }

    #[test]
    fn references_resolve_to_entries_of_the_right_type() {
        let b = bundle(&export());
        let entries = b["entry"].as_array().unwrap();
        let mut urls = HashMap::new();
        for entry in entries {
            let url = entry["fullUrl"].as_str().unwrap();
            let id = entry["resource"]["id"].as_str().unwrap();
            assert_eq!(url, format!("urn:uuid:{id}"));
            let uuid: Uuid = id.parse().unwrap();
            assert_eq!(uuid.get_version_num(), 5);
            assert_eq!(uuid.to_string(), id, "lower case, hyphenated");
            assert!(
                urls.insert(url.to_owned(), entry["resource"]["resourceType"].clone())
                    .is_none(),
                "unique {url}"
            );
        }
        let mut found = Vec::new();
        references(&b, &mut found);
        assert!(found.len() > 15, "{found:?}");
        for r in found {
            assert!(urls.contains_key(&r), "{r} is not in the bundle");
        }
        // Typed references name the type of what they point to.
        fn typed(value: &Value, urls: &HashMap<String, Value>) {
            match value {
                Value::Object(o) if o.contains_key("reference") => {
                    assert_eq!(urls[o["reference"].as_str().unwrap()], o["type"], "{value}");
                }
                Value::Object(o) => o.values().for_each(|v| typed(v, urls)),
                Value::Array(a) => a.iter().for_each(|v| typed(v, urls)),
                _ => {}
            }
        }
        typed(&b, &urls);
        let patient = &resources(&b, "Patient")[0];
        let patient_url = format!("urn:uuid:{}", patient["id"].as_str().unwrap());
        for obs in resources(&b, "Observation") {
            assert_eq!(obs["subject"]["reference"], patient_url.as_str());
        }
    }

    #[test]
    fn the_same_export_gives_the_same_bundle_and_users_do_not_share_uuids() {
        let a = bundle(&export());
        assert_eq!(a, bundle(&export()));
        let mut other = export();
        other.patient.id = "u2".into();
        let b = bundle(&other);
        let ids = |b: &Value| -> HashSet<String> {
            b["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(ids(&a).is_disjoint(&ids(&b)));
        // RFC 9562's example of a name-based UUID: "www.example.com" in the DNS namespace.
        let dns = Uuid::from_u128(0x6ba7b810_9dad_11d1_80b4_00c04fd430c8);
        let mut input = dns.as_bytes().to_vec();
        input.extend_from_slice(b"www.example.com");
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.as_ref()[..16]);
        assert_eq!(
            uuid::Builder::from_sha1_bytes(bytes)
                .into_uuid()
                .to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }

    #[test]
    fn medication_statuses_follow_archive_and_dates_in_the_users_zone() {
        let b = bundle(&export());
        let statements = resources(&b, "MedicationStatement");
        let statuses: Vec<&str> = statements
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        // m3 ended on the 29th, and it is the 30th in Tokyo; m4 ends on the 30th.
        assert_eq!(
            statuses,
            [
                "active",
                "stopped",
                "completed",
                "active",
                "intended",
                "active"
            ]
        );
        let mut utc = export();
        utc.patient.timezone = "UTC".into();
        let b = bundle(&utc);
        assert_eq!(resources(&b, "MedicationStatement")[2]["status"], "active");
        let mut unknown = export();
        unknown.exported_at = "soon".into();
        let b = bundle(&unknown);
        assert!(b.get("timestamp").is_none());
        assert_eq!(resources(&b, "MedicationStatement")[2]["status"], "active");
    }

    #[test]
    fn medication_statement_carries_the_schedule() {
        let b = bundle(&export());
        let s = resources(&b, "MedicationStatement")[0];
        assert_eq!(
            s["medicationCodeableConcept"]["text"],
            "Glucophage (metformin) 500 mg tablet"
        );
        assert_eq!(s["effectivePeriod"], json!({ "start": "2026-01-01" }));
        assert_eq!(s["dateAsserted"], "2026-03-01T09:15:00.5Z");
        assert_eq!(s["note"], json!([{ "text": "with food" }]));
        let dosage = &s["dosage"][0];
        assert_eq!(dosage["text"], "1 tablet at 08:00, 20:00 on Mon, Fri");
        assert_eq!(
            dosage["timing"]["repeat"],
            json!({ "timeOfDay": ["08:00:00", "20:00:00"], "dayOfWeek": ["mon", "fri"] })
        );
        assert_eq!(dosage["asNeededBoolean"], false);
        assert_eq!(
            dosage["doseAndRate"][0]["doseQuantity"],
            json!({ "value": 1.0, "unit": "tablet" })
        );
        let ended = resources(&b, "MedicationStatement")[2];
        assert_eq!(
            ended["effectivePeriod"],
            json!({ "start": "2026-01-01", "end": "2026-03-29" })
        );
        let as_needed = &resources(&b, "MedicationStatement")[5]["dosage"][0];
        assert_eq!(as_needed["asNeededBoolean"], true);
        assert_eq!(as_needed["text"], "1 tablet as needed");
        assert!(as_needed.get("timing").is_none());
    }

    #[test]
    fn doses_become_administrations() {
        let b = bundle(&export());
        let doses = resources(&b, "MedicationAdministration");
        assert_eq!(doses[0]["status"], "completed");
        assert_eq!(doses[0]["effectiveDateTime"], "2026-03-29T08:05:00+02:00");
        assert_eq!(
            doses[0]["dosage"]["dose"],
            json!({ "value": 1.0, "unit": "tablet" })
        );
        assert_eq!(
            doses[0]["medicationCodeableConcept"]["text"],
            "Glucophage (metformin) 500 mg tablet"
        );
        assert!(doses[0].get("statusReason").is_none());
        assert_eq!(doses[1]["status"], "not-done");
        assert_eq!(doses[1]["statusReason"], json!([{ "text": "Skipped" }]));
        assert_eq!(doses[1]["note"], json!([{ "text": "felt sick" }]));
        assert!(
            doses[1].get("performer").is_none(),
            "nobody performed a skipped dose"
        );
        assert_eq!(doses[2]["statusReason"], json!([{ "text": "Missed" }]));
        assert_eq!(
            doses[2]["medicationCodeableConcept"]["text"],
            "Unknown medication"
        );
        assert_eq!(doses[2]["dosage"]["dose"], json!({ "value": 0.5 }));
    }

    #[test]
    fn conditions_allergies_observations_and_people() {
        let b = bundle(&export());
        let diabetes = by_text(&b, "Condition", "/code/text", "Type 2 diabetes");
        assert_eq!(
            diabetes["clinicalStatus"]["coding"][0]["system"],
            CONDITION_CLINICAL
        );
        assert_eq!(diabetes["clinicalStatus"]["coding"][0]["code"], "resolved");
        assert_eq!(
            diabetes["code"]["coding"],
            json!([{ "system": ICD10, "code": "E11.9" }])
        );
        assert_eq!(diabetes["recordedDate"], "2020-05-01");
        assert_eq!(diabetes["extension"][0]["valueDateTime"], "2020-05-01");
        let house = by_text(&b, "Practitioner", "/name/0/text", "Dr. House");
        assert_eq!(
            diabetes["asserter"]["reference"],
            format!("urn:uuid:{}", house["id"].as_str().unwrap())
        );
        assert_eq!(
            diabetes["note"],
            json!([{ "text": "Also treated by: Dr. Who" }])
        );
        let asthma = by_text(&b, "Condition", "/code/text", "Asthma");
        assert_eq!(asthma["clinicalStatus"]["coding"][0]["code"], "active");
        assert!(asthma["code"].get("coding").is_none());
        assert!(asthma.get("asserter").is_none() && asthma.get("recordedDate").is_none());

        let penicillin = by_text(&b, "AllergyIntolerance", "/code/text", "Penicillin");
        assert_eq!(penicillin["criticality"], "high");
        assert_eq!(
            penicillin["reaction"],
            json!([{ "manifestation": [{ "text": "Anaphylaxis" }], "severity": "severe" }])
        );
        assert_eq!(penicillin["clinicalStatus"]["coding"][0]["code"], "active");
        let pollen = by_text(&b, "AllergyIntolerance", "/code/text", "Pollen");
        assert_eq!(pollen["criticality"], "low");
        assert!(pollen.get("reaction").is_none());

        let headache = by_text(&b, "Observation", "/code/text", "Headache");
        assert_eq!(headache["status"], "final");
        assert_eq!(headache["valueInteger"], 6);
        assert_eq!(headache["effectiveDateTime"], "2026-03-29T14:00:00-05:30");
        assert_eq!(headache["category"][0]["coding"][0]["code"], "survey");
        let feeling = by_text(&b, "Observation", "/code/text", FEELING_TEXT);
        assert_eq!(feeling["valueInteger"], 7);
        assert_eq!(feeling["effectiveDateTime"], "2026-03-29");

        let patient = resources(&b, "Patient")[0];
        assert_eq!(patient["name"], json!([{ "text": "Ada Lovelace" }]));
        assert_eq!(
            patient["telecom"],
            json!([{ "system": "email", "value": "ada@example.com" }])
        );
        let contact = &patient["contact"][0];
        assert_eq!(contact["relationship"][0]["coding"][0]["code"], "C");
        assert_eq!(contact["relationship"][1]["text"], "friend");
        assert_eq!(
            contact["telecom"],
            json!([{ "system": "phone", "value": "+44 20 7946 0000" }])
        );
        let who = by_text(&b, "Practitioner", "/name/0/text", "Dr. Who");
        assert_eq!(who["address"], json!([{ "text": "Hauptstr. 1, Berlin" }]));
        let role = resources(&b, "PractitionerRole")[0];
        assert_eq!(role["specialty"], json!([{ "text": "Cardiology" }]));
        assert_eq!(
            role["practitioner"]["reference"],
            format!("urn:uuid:{}", who["id"].as_str().unwrap())
        );
    }

    #[test]
    fn an_empty_export_is_a_patient_alone() {
        let mut e = export();
        e.medications.clear();
        e.doses.clear();
        e.symptoms.clear();
        e.feelings.clear();
        e.conditions.clear();
        e.allergies.clear();
        e.doctors.clear();
        e.emergency_contact = None;
        let b = bundle(&e);
        assert_eq!(b["entry"].as_array().unwrap().len(), 1);
        assert!(resources(&b, "Patient")[0].get("contact").is_none());
    }

    #[test]
    fn dates_and_times_take_fhirs_shapes() {
        assert_eq!(
            date_time("2026-03-29T08:00:00+02:00").as_deref(),
            Some("2026-03-29T08:00:00+02:00")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00Z").as_deref(),
            Some("2026-03-29T08:00:00Z")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00+00:00").as_deref(),
            Some("2026-03-29T08:00:00+00:00")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00-00:00").as_deref(),
            Some("2026-03-29T08:00:00Z")
        );
        assert_eq!(
            date_time("2026-03-29t08:00:00.120z").as_deref(),
            Some("2026-03-29T08:00:00.12Z")
        );
        assert_eq!(
            date_time("2026-03-29T08:00+02:00").as_deref(),
            Some("2026-03-29T08:00:00+02:00")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00-09:30").as_deref(),
            Some("2026-03-29T08:00:00-09:30")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00+14:00").as_deref(),
            Some("2026-03-29T08:00:00+14:00")
        );
        // Offsets FHIR cannot show become UTC, at the same instant.
        assert_eq!(
            date_time("2026-03-29T08:00:00+15:00").as_deref(),
            Some("2026-03-28T17:00:00Z")
        );
        assert_eq!(
            date_time("2026-03-29T08:00:00+01:00:30").as_deref(),
            Some("2026-03-29T06:59:30Z")
        );
        assert_eq!(date_time("2026-03-29"), None);
        assert_eq!(date_time(""), None);
        assert_eq!(date("2026-02-29"), None);
        assert_eq!(date("2028-02-29").as_deref(), Some("2028-02-29"));
        assert_eq!(time_of_day("08:30").as_deref(), Some("08:30:00"));
        for bad in ["24:00", "8:30", "08:60", "0830", ""] {
            assert_eq!(time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn compact_leaves_no_empty_values() {
        let mut v = json!({ "a": null, "b": "", "c": [], "d": {}, "e": [null, { "f": [] }], "g": " x ", "h": 0, "i": false, "j": "y" });
        compact(&mut v);
        assert_eq!(v, json!({ "g": "x", "h": 0, "i": false, "j": "y" }));
    }
}
