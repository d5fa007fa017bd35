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
//!
//! The resources are typed structs serialised straight to JSON. FHIR JSON has no nulls, empty
//! strings, empty arrays or empty objects, and no surrounding spaces in strings: every string
//! we hold goes through [`text`] (trimmed; nothing when empty), every optional element is
//! skipped when absent, and an element whose parts are all absent is absent itself.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_lc_rs::digest;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::{Offset, TimeZone};
use serde::{Serialize, Serializer};
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

/// The export as a FHIR R4 Bundle of type `collection`, ready to serialise.
pub fn bundle(export: &Export) -> Bundle<'_> {
    let today = export_day(export).map(|d| d.to_string());
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

    let mut entry = Vec::with_capacity(
        1 + 2 * export.doctors.len()
            + export.conditions.len()
            + export.allergies.len()
            + export.medications.len()
            + export.doses.len()
            + export.symptoms.len()
            + export.feelings.len(),
    );
    entry.push(patient.entry(patient_resource(patient.id, export)));
    for doctor in &export.doctors {
        let practitioner = doctors[doctor.id.as_str()];
        entry.push(practitioner.entry(practitioner_resource(practitioner.id, doctor)));
        if let Some(specialty) = &doctor.specialty {
            let role = Ref::new(user, "PractitionerRole", "doctor-role", &doctor.id);
            entry.push(role.entry(Resource::PractitionerRole(PractitionerRole {
                id: role.id,
                practitioner: practitioner.reference(),
                specialty: labels(Some(specialty)),
            })));
        }
    }
    for condition in &export.conditions {
        let r = Ref::new(user, "Condition", "condition", &condition.id);
        entry.push(r.entry(condition_resource(
            r.id,
            condition,
            patient,
            &doctors,
            &export.doctors,
        )));
    }
    for allergy in &export.allergies {
        let r = Ref::new(user, "AllergyIntolerance", "allergy", &allergy.id);
        entry.push(r.entry(allergy_resource(r.id, allergy, patient)));
    }
    for medication in &export.medications {
        let r = Ref::new(user, "MedicationStatement", "medication", &medication.id);
        entry.push(r.entry(statement_resource(
            r.id,
            medication,
            patient,
            today.as_deref(),
        )));
    }
    for dose in &export.doses {
        let r = Ref::new(user, "MedicationAdministration", "dose", &dose.id);
        let medication = medications.get(dose.medication_id.as_str()).copied();
        entry.push(r.entry(administration_resource(r.id, dose, medication, patient)));
    }
    for symptom in &export.symptoms {
        let r = Ref::new(user, "Observation", "symptom", &symptom.id);
        entry.push(r.entry(symptom_resource(r.id, symptom, patient)));
    }
    for feeling in &export.feelings {
        let r = Ref::new(user, "Observation", "feeling", &feeling.date);
        entry.push(r.entry(feeling_resource(r.id, feeling, patient)));
    }
    Bundle {
        resource_type: "Bundle",
        kind: "collection",
        timestamp: instant(&export.exported_at),
        entry,
    }
}

/// A FHIR `Bundle` of type `collection`.
#[derive(Serialize)]
pub struct Bundle<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    /// Never empty: the patient is always there.
    entry: Vec<Entry<'a>>,
}

impl Bundle<'_> {
    /// How many resources it holds (at least the patient).
    pub fn entries(&self) -> usize {
        self.entry.len()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    full_url: Urn,
    resource: Resource<'a>,
}

/// Every resource the bundle holds; `resourceType` is written first, then the resource's `id`
/// (each resource's first field).
#[derive(Serialize)]
#[serde(tag = "resourceType")]
enum Resource<'a> {
    Patient(Patient<'a>),
    Practitioner(Practitioner<'a>),
    PractitionerRole(PractitionerRole<'a>),
    Condition(Condition<'a>),
    AllergyIntolerance(AllergyIntolerance<'a>),
    MedicationStatement(MedicationStatement<'a>),
    MedicationAdministration(MedicationAdministration<'a>),
    Observation(Observation<'a>),
}

/// One resource of the bundle: its name-based UUID and type.
#[derive(Clone, Copy, Debug)]
struct Ref {
    id: Uuid,
    kind: &'static str,
}

impl Ref {
    /// The resource for item `id` of kind `tag` of `user` (the same UUID in every export).
    fn new(user: &str, kind: &'static str, tag: &str, id: &str) -> Self {
        Self {
            id: name_uuid(&NAMESPACE, &[user, "/", tag, "/", id]),
            kind,
        }
    }

    fn reference(self) -> Reference {
        Reference {
            reference: Urn(self.id),
            kind: self.kind,
        }
    }

    fn entry(self, resource: Resource<'_>) -> Entry<'_> {
        Entry {
            full_url: Urn(self.id),
            resource,
        }
    }
}

/// The version 5 (SHA-1, name-based) UUID of the concatenated `name` in `namespace`, as RFC
/// 9562 defines it (aws-lc's SHA-1: twice as fast here as the one `Uuid::new_v5` uses).
fn name_uuid(namespace: &Uuid, name: &[&str]) -> Uuid {
    let mut sha1 = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    sha1.update(namespace.as_bytes());
    for part in name {
        sha1.update(part.as_bytes());
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&sha1.finish().as_ref()[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// A UUID as a `urn:uuid:` URI, written without an intermediate string.
#[derive(Clone, Copy, Debug)]
struct Urn(Uuid);

impl Serialize for Urn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const PREFIX: &[u8] = b"urn:uuid:";
        let mut buf = [0u8; PREFIX.len() + uuid::fmt::Hyphenated::LENGTH];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let written = self
            .0
            .hyphenated()
            .encode_lower(&mut buf[PREFIX.len()..])
            .len();
        let urn = std::str::from_utf8(&buf[..PREFIX.len() + written])
            .map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(urn)
    }
}

// The data types FHIR resources are made of.

/// A `Reference` to another resource of the bundle.
#[derive(Clone, Copy, Serialize)]
struct Reference {
    reference: Urn,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A `CodeableConcept`: a coding, words, or both.
#[derive(Serialize)]
struct Concept<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    coding: Option<[Coding<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

/// An element that is only words: a `HumanName`, `Address` or `CodeableConcept` given as text,
/// and an `Annotation` (a note).
#[derive(Serialize)]
struct Label<'a> {
    text: Cow<'a, str>,
}

/// A `ContactPoint`.
#[derive(Serialize)]
struct ContactPoint<'a> {
    system: &'static str,
    value: &'a str,
}

/// A `Quantity`, or nothing when it has neither value nor unit.
#[derive(Serialize)]
struct Quantity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
}

impl<'a> Quantity<'a> {
    fn new(value: f64, unit: Option<&'a str>) -> Option<Self> {
        let value = value.is_finite().then_some(value);
        let unit = unit.and_then(text);
        (value.is_some() || unit.is_some()).then_some(Self { value, unit })
    }
}

/// A string as FHIR JSON holds it: without surrounding spaces, and absent when that leaves
/// nothing.
fn text(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|t| !t.is_empty())
}

/// [`text`] for a string of our own making.
fn owned_text(raw: String) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == raw.len() {
        Some(raw)
    } else {
        Some(trimmed.to_owned())
    }
}

fn label(raw: &str) -> Option<Label<'_>> {
    text(raw).map(|text| Label {
        text: Cow::Borrowed(text),
    })
}

/// [`label`] for words of our own making.
fn owned_label<'a>(raw: String) -> Option<Label<'a>> {
    owned_text(raw).map(|text| Label {
        text: Cow::Owned(text),
    })
}

/// `[label]`, or nothing without words.
fn labels(raw: Option<&str>) -> Option<[Label<'_>; 1]> {
    raw.and_then(label).map(|l| [l])
}

fn coded<'a>(system: &'a str, code: &'a str, display: &'a str) -> Concept<'a> {
    Concept {
        coding: Some([Coding {
            system,
            code,
            display: Some(display),
        }]),
        text: None,
    }
}

/// The notes among `texts` that say something.
fn notes<'a>(texts: impl IntoIterator<Item = Option<&'a str>>) -> Vec<Label<'a>> {
    texts.into_iter().flatten().filter_map(label).collect()
}

/// A ContactPoint, or nothing without a value (a system alone says nothing).
fn telecom<'a>(system: &'static str, value: Option<&'a str>) -> Option<ContactPoint<'a>> {
    value
        .and_then(text)
        .map(|value| ContactPoint { system, value })
}

/// A phone number and an email address, as far as there are any.
fn telecoms<'a>(phone: Option<&'a str>, email: Option<&'a str>) -> Vec<ContactPoint<'a>> {
    [telecom("phone", phone), telecom("email", email)]
        .into_iter()
        .flatten()
        .collect()
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
    // Printed by hand: strftime would read its format string for each of hundreds of entries.
    let mut out = String::with_capacity(40);
    push_padded(&mut out, i64::from(local.year()), 4);
    out.push('-');
    push_padded(&mut out, i64::from(local.month()), 2);
    out.push('-');
    push_padded(&mut out, i64::from(local.day()), 2);
    out.push('T');
    push_padded(&mut out, i64::from(local.hour()), 2);
    out.push(':');
    push_padded(&mut out, i64::from(local.minute()), 2);
    out.push(':');
    push_padded(&mut out, i64::from(local.second()), 2);
    let nanos = at.subsec_nanosecond();
    if nanos != 0 {
        let mut fraction = String::with_capacity(9);
        push_padded(&mut fraction, i64::from(nanos), 9);
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    if zulu {
        out.push('Z');
    } else {
        let seconds = offset.seconds();
        out.push(if seconds < 0 { '-' } else { '+' });
        let minutes = i64::from(seconds.abs() / 60);
        push_padded(&mut out, minutes / 60, 2);
        out.push(':');
        push_padded(&mut out, minutes % 60, 2);
    }
    Some(out)
}

/// `value` (not negative) in decimal, with leading zeros to `width` digits.
fn push_padded(out: &mut String, value: i64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(value);
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(digits);
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

// The resources, each with the elements we fill, in the order FHIR lists them.

#[derive(Serialize)]
struct Patient<'a> {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<[Label<'a>; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    telecom: Vec<ContactPoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<[PatientContact<'a>; 1]>,
}

#[derive(Serialize)]
struct PatientContact<'a> {
    /// Never empty: "Emergency Contact" is always coded.
    relationship: Vec<Concept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Label<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    telecom: Vec<ContactPoint<'a>>,
}

fn patient_resource(id: Uuid, export: &Export) -> Resource<'_> {
    let p = &export.patient;
    let contact = export.emergency_contact.as_ref().map(|c| {
        let mut relationship = vec![coded(CONTACT_RELATIONSHIP, "C", "Emergency Contact")];
        relationship.extend(
            c.relationship
                .as_deref()
                .and_then(text)
                .map(|words| Concept {
                    coding: None,
                    text: Some(words),
                }),
        );
        [PatientContact {
            relationship,
            name: label(&c.name),
            telecom: telecoms(Some(&c.phone), c.email.as_deref()),
        }]
    });
    Resource::Patient(Patient {
        id,
        name: labels(Some(&p.name)),
        telecom: telecom("email", Some(&p.email)).into_iter().collect(),
        contact,
    })
}

#[derive(Serialize)]
struct Practitioner<'a> {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<[Label<'a>; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    telecom: Vec<ContactPoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<[Label<'a>; 1]>,
}

fn practitioner_resource(id: Uuid, doctor: &Doctor) -> Resource<'_> {
    Resource::Practitioner(Practitioner {
        id,
        name: labels(Some(&doctor.name)),
        telecom: telecoms(doctor.phone.as_deref(), doctor.email.as_deref()),
        address: labels(doctor.address.as_deref()),
    })
}

#[derive(Serialize)]
struct PractitionerRole<'a> {
    id: Uuid,
    practitioner: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    specialty: Option<[Label<'a>; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Condition<'a> {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<[DateExtension; 1]>,
    clinical_status: Concept<'a>,
    category: [Concept<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Concept<'a>>,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asserter: Option<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Label<'a>>,
}

/// An `Extension` whose value is a `dateTime`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DateExtension {
    url: &'static str,
    value_date_time: String,
}

fn condition_resource<'a>(
    id: Uuid,
    condition: &'a MedicalCondition,
    patient: Ref,
    refs: &HashMap<&str, Ref>,
    doctors: &[Doctor],
) -> Resource<'a> {
    let status = match condition.status {
        ConditionStatus::Active => coded(CONDITION_CLINICAL, "active", "Active"),
        ConditionStatus::Resolved => coded(CONDITION_CLINICAL, "resolved", "Resolved"),
    };
    // Doctors deleted since are left out; the first one left asserts it, the others are named.
    let mut treating = condition
        .doctor_ids
        .iter()
        .filter_map(|id| refs.get(id.as_str()).map(|r| (id, *r)));
    let asserter = treating.next().map(|(_, r)| r.reference());
    let others: Vec<&str> = treating
        .filter_map(|(id, _)| doctors.iter().find(|d| d.id == *id))
        .map(|d| d.name.as_str())
        .collect();
    let mut note = notes([condition.note.as_deref()]);
    if !others.is_empty() {
        note.extend(owned_label(format!(
            "Also treated by: {}",
            others.join(", ")
        )));
    }
    // A coding without a code says nothing.
    let icd10 = condition.icd10.as_deref().and_then(text).map(|code| {
        [Coding {
            system: ICD10,
            code,
            display: None,
        }]
    });
    let name = text(&condition.name);
    let code = (icd10.is_some() || name.is_some()).then_some(Concept {
        coding: icd10,
        text: name,
    });
    let diagnosed = condition.diagnosed_on.as_deref().and_then(date);
    Resource::Condition(Condition {
        id,
        extension: diagnosed.clone().map(|value_date_time| {
            [DateExtension {
                url: CONDITION_ASSERTED_DATE,
                value_date_time,
            }]
        }),
        clinical_status: status,
        category: [coded(
            CONDITION_CATEGORY,
            "problem-list-item",
            "Problem List Item",
        )],
        code,
        subject: patient.reference(),
        recorded_date: diagnosed,
        asserter,
        note,
    })
}

#[derive(Serialize)]
struct AllergyIntolerance<'a> {
    id: Uuid,
    #[serde(rename = "clinicalStatus")]
    clinical_status: Concept<'a>,
    criticality: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Label<'a>>,
    patient: Reference,
    asserter: Reference,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Label<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reaction: Option<[Reaction<'a>; 1]>,
}

#[derive(Serialize)]
struct Reaction<'a> {
    manifestation: [Label<'a>; 1],
    severity: &'static str,
}

fn allergy_resource(id: Uuid, allergy: &Allergy, patient: Ref) -> Resource<'_> {
    let (criticality, severity) = match allergy.severity {
        AllergySeverity::Mild => ("low", "mild"),
        AllergySeverity::Moderate => ("low", "moderate"),
        AllergySeverity::Severe => ("high", "severe"),
    };
    // A reaction needs a manifestation; without one the severity is in the criticality only.
    let reaction = labels(allergy.reaction.as_deref()).map(|manifestation| {
        [Reaction {
            manifestation,
            severity,
        }]
    });
    Resource::AllergyIntolerance(AllergyIntolerance {
        id,
        clinical_status: coded(ALLERGY_CLINICAL, "active", "Active"),
        criticality,
        code: label(&allergy.substance),
        patient: patient.reference(),
        asserter: patient.reference(),
        note: notes([allergy.note.as_deref()]),
        reaction,
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
        text.push_str(" (");
        text.push_str(generic);
        text.push(')');
    }
    for part in [&m.strength, &m.form].into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    text
}

/// A MedicationStatement's status: archived → stopped, ended before the export's day →
/// completed, starting after it → intended, else active.
fn statement_status(m: &Medication, today: Option<&str>) -> &'static str {
    if m.archived {
        return "stopped";
    }
    let Some(today) = today else {
        return "active";
    };
    if m.end_date.as_deref().is_some_and(|end| end < today) {
        "completed"
    } else if m.start_date.as_str() > today {
        "intended"
    } else {
        "active"
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MedicationStatement<'a> {
    id: Uuid,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    medication_codeable_concept: Option<Label<'a>>,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_asserted: Option<String>,
    information_source: Reference,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Label<'a>>,
    dosage: [StatementDosage<'a>; 1],
}

#[derive(Serialize)]
struct Period {
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatementDosage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing: Option<Timing<'a>>,
    as_needed_boolean: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dose_and_rate: Option<[DoseAndRate<'a>; 1]>,
}

#[derive(Serialize)]
struct Timing<'a> {
    repeat: Repeat<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Repeat<'a> {
    /// Never empty: a schedule without times has no timing.
    time_of_day: Vec<String>,
    /// Our weekdays serialise as FHIR's `days-of-week` codes (`mon` … `sun`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    day_of_week: &'a [Weekday],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DoseAndRate<'a> {
    dose_quantity: Quantity<'a>,
}

fn amount(value: f64) -> String {
    format!("{value}")
}

fn statement_resource<'a>(
    id: Uuid,
    m: &'a Medication,
    patient: Ref,
    today: Option<&str>,
) -> Resource<'a> {
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
    let timing = (!schedule.as_needed && !times.is_empty()).then(|| Timing {
        repeat: Repeat {
            time_of_day: times,
            day_of_week: &schedule.days,
        },
    });
    let start = date(&m.start_date);
    let end = m.end_date.as_deref().and_then(date);
    let effective_period = (start.is_some() || end.is_some()).then_some(Period { start, end });
    Resource::MedicationStatement(MedicationStatement {
        id,
        status: statement_status(m, today),
        medication_codeable_concept: owned_label(medication_text(m)),
        subject: patient.reference(),
        effective_period,
        date_asserted: date_time(&m.updated_at),
        information_source: patient.reference(),
        note: notes([m.notes.as_deref()]),
        dosage: [StatementDosage {
            text: owned_text(text),
            timing,
            as_needed_boolean: schedule.as_needed,
            dose_and_rate: Quantity::new(m.dose, Some(&m.unit))
                .map(|dose_quantity| [DoseAndRate { dose_quantity }]),
        }],
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MedicationAdministration<'a> {
    id: Uuid,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<[Label<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    medication_codeable_concept: Option<Label<'a>>,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    performer: Option<[Performer; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Label<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dosage: Option<AdministrationDosage<'a>>,
}

#[derive(Serialize)]
struct Performer {
    actor: Reference,
}

#[derive(Serialize)]
struct AdministrationDosage<'a> {
    dose: Quantity<'a>,
}

fn administration_resource<'a>(
    id: Uuid,
    dose: &'a Dose,
    medication: Option<&'a Medication>,
    patient: Ref,
) -> Resource<'a> {
    let (status, reason) = match dose.status {
        DoseStatus::Taken => ("completed", None),
        DoseStatus::Skipped => ("not-done", Some("Skipped")),
        DoseStatus::Missed => ("not-done", Some("Missed")),
    };
    let name = medication.map_or_else(|| "Unknown medication".to_owned(), medication_text);
    let performer = (dose.status == DoseStatus::Taken).then(|| {
        [Performer {
            actor: patient.reference(),
        }]
    });
    Resource::MedicationAdministration(MedicationAdministration {
        id,
        status,
        status_reason: labels(reason),
        medication_codeable_concept: owned_label(name),
        subject: patient.reference(),
        effective_date_time: date_time(&dose.taken_at),
        performer,
        note: notes([dose.note.as_deref()]),
        dosage: Quantity::new(dose.dose, medication.map(|m| m.unit.as_str()))
            .map(|dose| AdministrationDosage { dose }),
    })
}

/// A symptom or a feeling, as the user reported it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Observation<'a> {
    id: Uuid,
    status: &'static str,
    category: [Concept<'static>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Label<'a>>,
    subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date_time: Option<String>,
    performer: [Reference; 1],
    value_integer: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Label<'a>>,
}

fn survey() -> [Concept<'static>; 1] {
    [coded(OBSERVATION_CATEGORY, "survey", "Survey")]
}

fn symptom_resource(id: Uuid, symptom: &Symptom, patient: Ref) -> Resource<'_> {
    Resource::Observation(Observation {
        id,
        status: "final",
        category: survey(),
        code: label(&symptom.name),
        subject: patient.reference(),
        effective_date_time: date_time(&symptom.occurred_at),
        performer: [patient.reference()],
        value_integer: symptom.severity,
        note: notes([symptom.note.as_deref()]),
    })
}

fn feeling_resource(id: Uuid, feeling: &Feeling, patient: Ref) -> Resource<'_> {
    Resource::Observation(Observation {
        id,
        status: "final",
        category: survey(),
        code: label(FEELING_TEXT),
        subject: patient.reference(),
        effective_date_time: date(&feeling.date),
        performer: [patient.reference()],
        value_integer: feeling.score,
        note: notes([feeling.note.as_deref()]),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::rngs::StdRng;
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};
    use serde_json::{Value, json};

    use super::*;
    use crate::tracker::export::Patient;
    use crate::tracker::model::{EmergencyContact, Schedule};

    /// The bundle as JSON, as a client reads it.
    fn bundle(export: &Export) -> Value {
        serde_json::to_value(super::bundle(export)).unwrap()
    }

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
        assert_eq!(
            name_uuid(&dns, &["www.", "example.com"]).to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
        // A receiver matches re-exports by these: they must not change between releases.
        assert_eq!(
            name_uuid(&NAMESPACE, &["u1", "/", "patient", "/", ""]).to_string(),
            "d1787467-b461-508a-b952-97f48f14863d"
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

    /// An export whose every field is drawn from values that test the writer: empty and
    /// blank strings, surrounding spaces, characters JSON escapes, dates and instants FHIR
    /// cannot take, references to doctors that are gone.
    fn random_export(rng: &mut StdRng) -> Export {
        const WORDS: &[&str] = &[
            "",
            " ",
            "  Ada  ",
            "Ada",
            "tab\tand \"quotes\"",
            "Ünïcödé ✓",
            "\u{a0}ADA\u{a0}",
            "x",
        ];
        const DAYS: &[&str] = &["2026-03-29", "2026-02-30", "", "0000-01-01", "2028-02-29"];
        const INSTANTS: &[&str] = &[
            "2026-03-29T08:00:00+02:00",
            "2026-03-29T08:00:00.5Z",
            "2026-03-29T08:00:00+15:00",
            "2026-03-29T08:00:00-00:00",
            "not a time",
        ];
        const AMOUNTS: &[f64] = &[0.0, -0.0, 0.5, 1.0, 2.25, f64::NAN, f64::INFINITY];
        let word = |rng: &mut StdRng| (*WORDS.choose(rng).unwrap()).to_owned();
        let maybe = |rng: &mut StdRng| rng.random_bool(0.6).then(|| word(rng));
        let day = |rng: &mut StdRng| (*DAYS.choose(rng).unwrap()).to_owned();
        let instant = |rng: &mut StdRng| (*INSTANTS.choose(rng).unwrap()).to_owned();
        let amount = |rng: &mut StdRng| *AMOUNTS.choose(rng).unwrap();
        let n = |rng: &mut StdRng| rng.random_range(0..4);
        let doctors: Vec<Doctor> = (0..n(rng))
            .map(|i| Doctor {
                id: format!("d{i}"),
                name: word(rng),
                specialty: maybe(rng),
                phone: maybe(rng),
                email: maybe(rng),
                address: maybe(rng),
                note: maybe(rng),
            })
            .collect();
        let medications: Vec<Medication> = (0..n(rng))
            .map(|i| Medication {
                id: format!("m{i}"),
                catalog_id: None,
                name: word(rng),
                generic_name: maybe(rng),
                form: maybe(rng),
                strength: maybe(rng),
                dose: amount(rng),
                unit: word(rng),
                schedule: Schedule {
                    times: (0..n(rng))
                        .map(|_| (*["08:00", "24:00", "20:30", ""].choose(rng).unwrap()).to_owned())
                        .collect(),
                    days: (0..n(rng))
                        .map(|_| {
                            *[Weekday::Mon, Weekday::Wed, Weekday::Sat, Weekday::Sun]
                                .choose(rng)
                                .unwrap()
                        })
                        .collect(),
                    as_needed: rng.random_bool(0.3),
                },
                start_date: day(rng),
                end_date: rng.random_bool(0.5).then(|| day(rng)),
                notes: maybe(rng),
                archived: rng.random_bool(0.2),
                updated_at: instant(rng),
            })
            .collect();
        let statuses = [DoseStatus::Taken, DoseStatus::Skipped, DoseStatus::Missed];
        Export {
            exported_at: instant(rng),
            patient: Patient {
                id: format!("u{}", n(rng)),
                name: word(rng),
                email: word(rng),
                timezone: (*["Asia/Tokyo", "UTC", "Nowhere/Else", ""]
                    .choose(rng)
                    .unwrap())
                .to_owned(),
            },
            doses: (0..n(rng))
                .map(|i| Dose {
                    id: format!("dose{i}"),
                    medication_id: format!("m{}", n(rng)),
                    taken_at: instant(rng),
                    dose: amount(rng),
                    status: *statuses.choose(rng).unwrap(),
                    note: maybe(rng),
                })
                .collect(),
            symptoms: (0..n(rng))
                .map(|i| Symptom {
                    id: format!("s{i}"),
                    name: word(rng),
                    severity: rng.random_range(1..=10),
                    occurred_at: instant(rng),
                    note: maybe(rng),
                })
                .collect(),
            feelings: (0..n(rng))
                .map(|_| Feeling {
                    date: day(rng),
                    score: rng.random_range(1..=10),
                    note: maybe(rng),
                })
                .collect(),
            conditions: (0..n(rng))
                .map(|i| MedicalCondition {
                    id: format!("c{i}"),
                    name: word(rng),
                    icd10: maybe(rng),
                    diagnosed_on: rng.random_bool(0.5).then(|| day(rng)),
                    status: *[ConditionStatus::Active, ConditionStatus::Resolved]
                        .choose(rng)
                        .unwrap(),
                    note: maybe(rng),
                    doctor_ids: (0..n(rng)).map(|_| format!("d{}", n(rng))).collect(),
                })
                .collect(),
            allergies: (0..n(rng))
                .map(|i| Allergy {
                    id: format!("a{i}"),
                    substance: word(rng),
                    reaction: maybe(rng),
                    severity: *[
                        AllergySeverity::Mild,
                        AllergySeverity::Moderate,
                        AllergySeverity::Severe,
                    ]
                    .choose(rng)
                    .unwrap(),
                    note: maybe(rng),
                })
                .collect(),
            medications,
            doctors,
            emergency_contact: rng.random_bool(0.5).then(|| EmergencyContact {
                name: word(rng),
                relationship: maybe(rng),
                phone: word(rng),
                email: maybe(rng),
            }),
        }
    }

    /// Where `value` holds a null, an empty string, array or object, or a string with
    /// surrounding spaces, none of which FHIR JSON has.
    fn not_fhir_json(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Null => found.push(format!("{path}: null")),
            Value::String(s) if s.is_empty() || s.trim() != s => {
                found.push(format!("{path}: {s:?}"))
            }
            Value::Array(items) if items.is_empty() => found.push(format!("{path}: []")),
            Value::Object(fields) if fields.is_empty() => found.push(format!("{path}: {{}}")),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    not_fhir_json(item, &format!("{path}[{i}]"), found);
                }
            }
            Value::Object(fields) => {
                for (name, field) in fields {
                    not_fhir_json(field, &format!("{path}.{name}"), found);
                }
            }
            _ => {}
        }
    }

    /// Every value held under `key`, at any depth (array members one by one).
    fn every<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    if name == key {
                        match field {
                            Value::Array(items) => out.extend(items),
                            other => out.push(other),
                        }
                    }
                    every(field, key, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| every(item, key, out)),
            _ => {}
        }
    }

    #[test]
    fn no_export_gives_an_empty_or_untrimmed_value() {
        let mut rng = StdRng::seed_from_u64(9);
        for case in 0..500 {
            let export = random_export(&mut rng);
            let json = bundle(&export);
            let mut found = Vec::new();
            not_fhir_json(&json, "bundle", &mut found);
            assert!(found.is_empty(), "case {case}: {found:?}\n{export:#?}");
            // What R4 requires of the elements a blank input could leave half-filled.
            let (mut reactions, mut codings) = (Vec::new(), Vec::new());
            every(&json, "reaction", &mut reactions);
            every(&json, "coding", &mut codings);
            assert!(
                reactions.iter().all(|r| r.get("manifestation").is_some()),
                "case {case}: a reaction without a manifestation: {reactions:?}"
            );
            assert!(
                codings.iter().all(|c| c.get("code").is_some()),
                "case {case}: a coding without a code: {codings:?}"
            );
        }
    }
}
