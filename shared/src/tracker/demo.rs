//! Sample data for a demo account: two weeks of a plausible life with type 2 diabetes and
//! hypertension. What is generated is fixed (no randomness, so every demo tells the same story);
//! only the ids are random. Every item carries the account's TTL, so the demo cleans up after
//! itself.

use jiff::civil::Date;
use jiff::{Span, ToSpan};

use super::model::{
    Allergy, AllergySeverity, ConditionStatus, Doctor, Dose, DoseStatus, EmergencyContact, Feeling,
    MedicalCondition, Medication, Schedule, Symptom,
};
use super::{
    ALLERGY_PREFIX, CONDITION_PREFIX, DOCTOR_PREFIX, Kind, MEDICATION_PREFIX, contact_key,
    entry_item, new_entry_id, new_id, passport_key,
};
use crate::store::{Item, PK, StoreError};

/// How many days of entries, today included.
pub const DAYS: usize = 14;

/// A headache on day `i` (0 = the first of the two weeks): severity, local time.
const HEADACHES: [Option<(u8, &str)>; DAYS] = [
    None,
    Some((4, "10:30")),
    None,
    None,
    Some((6, "14:15")),
    Some((3, "09:45")),
    None,
    None,
    None,
    Some((7, "13:00")),
    None,
    None,
    Some((5, "16:20")),
    None,
];

/// Fatigue on day `i`: severity, local time.
const FATIGUE: [Option<(u8, &str)>; DAYS] = [
    None,
    None,
    Some((3, "15:30")),
    None,
    None,
    Some((4, "17:00")),
    None,
    None,
    None,
    None,
    Some((2, "16:00")),
    None,
    None,
    None,
];

/// Small day-to-day ups and downs of the feeling, independent of symptoms.
const MOOD: [i8; DAYS] = [0, 0, 0, 1, 0, -1, 1, 1, 0, 0, 0, 1, 0, 0];

/// Minutes after the scheduled time the morning and evening doses were logged.
const MORNING_LATE: [u8; DAYS] = [5, 12, 0, 20, 3, 8, 45, 2, 10, 15, 0, 6, 30, 0];
const EVENING_LATE: [u8; DAYS] = [10, 0, 25, 0, 5, 40, 0, 15, 3, 0, 12, 8, 20, 0];

/// What became of a scheduled dose on day `i`, with a note when it was not taken.
fn metformin_evening(i: usize) -> (DoseStatus, Option<&'static str>) {
    match i {
        3 | 9 => (DoseStatus::Missed, Some("Forgot after dinner")),
        6 => (DoseStatus::Skipped, Some("No evening meal")),
        _ => (DoseStatus::Taken, None),
    }
}

fn lisinopril_morning(i: usize) -> (DoseStatus, Option<&'static str>) {
    match i {
        8 => (DoseStatus::Missed, Some("Left in a hurry")),
        _ => (DoseStatus::Taken, None),
    }
}

/// The feeling score (1–10) of day `i`: good by default, lower on headache and fatigue days.
fn feeling_score(i: usize) -> u8 {
    let headache = HEADACHES[i].map_or(0, |(severity, _)| i16::from(severity));
    let fatigue = FATIGUE[i].map_or(0, |(severity, _)| i16::from(severity));
    let score = 8 - (headache + 1) / 2 - fatigue / 3 + i16::from(MOOD[i]);
    u8::try_from(score.clamp(1, 10)).unwrap_or(5)
}

fn feeling_note(i: usize) -> Option<&'static str> {
    match (HEADACHES[i], FATIGUE[i]) {
        (Some((severity, _)), _) if severity >= 6 => Some("Bad headache most of the afternoon"),
        (Some(_), Some(_)) => Some("Headache and tired"),
        (None, Some(_)) => Some("Tired in the afternoon"),
        _ if MOOD[i] > 0 => Some("Good day, went for a walk"),
        _ => None,
    }
}

/// `HH:MM` plus `minutes` (staying within the day).
fn later(time: &str, minutes: u8) -> String {
    let h: u32 = time.get(..2).and_then(|h| h.parse().ok()).unwrap_or(0);
    let m: u32 = time.get(3..5).and_then(|m| m.parse().ok()).unwrap_or(0);
    let total = (h * 60 + m + u32::from(minutes)).min(23 * 60 + 59);
    format!("{:02}:{:02}", total / 60, total % 60)
}

/// An RFC 3339 instant at local `time` (`HH:MM`) of `day`, in UTC.
fn at(day: Date, time: &str) -> String {
    format!("{day}T{time}:00+00:00")
}

fn add(day: Date, span: Span) -> Result<Date, StoreError> {
    day.checked_add(span)
        .map_err(|e| StoreError::invalid(format!("demo date out of range: {e}")))
}

/// Two weeks of sample data for `user_id`, ending `today`: medications, their doses (mostly
/// taken), headaches and fatigue, a feeling a day, a condition, an allergy, a doctor and an
/// emergency contact. Entries of `today` stop at 08:00 (the morning doses), so nothing lies in
/// the future of a demo started after 08:00 UTC. Every item expires at `expires_at`; items come
/// in key order.
pub fn two_weeks(user_id: &str, today: Date, expires_at: i64) -> Result<Vec<Item>, StoreError> {
    let first = add(today, (1 - DAYS as i64).days())?;
    let mut items = Vec::new();

    let doctor = Doctor {
        id: new_id(),
        name: "Dr. Sarah Mitchell".into(),
        specialty: Some("General practice".into()),
        phone: Some("+44 20 7946 0018".into()),
        email: Some("s.mitchell@example.org".into()),
        address: Some("Riverside Medical Centre, 12 Example Street, London".into()),
        note: Some("Diabetes review every six months".into()),
    };
    items.push(Item::from_entity(
        &passport_key(user_id, DOCTOR_PREFIX, &doctor.id),
        &doctor,
    )?);

    let condition = MedicalCondition {
        id: new_id(),
        name: "Type 2 diabetes mellitus".into(),
        icd10: Some("E11.9".into()),
        diagnosed_on: Some(add(today, (-3_i64).years())?.to_string()),
        status: ConditionStatus::Active,
        note: Some("Managed with metformin, diet and exercise".into()),
        doctor_ids: vec![doctor.id.clone()],
    };
    items.push(Item::from_entity(
        &passport_key(user_id, CONDITION_PREFIX, &condition.id),
        &condition,
    )?);

    let allergy = Allergy {
        id: new_id(),
        substance: "Penicillin".into(),
        reaction: Some("Hives".into()),
        severity: AllergySeverity::Severe,
        note: Some("Reacted to amoxicillin as a child".into()),
    };
    items.push(Item::from_entity(
        &passport_key(user_id, ALLERGY_PREFIX, &allergy.id),
        &allergy,
    )?);

    let contact = EmergencyContact {
        name: "Jamie Carter".into(),
        relationship: Some("Partner".into()),
        phone: "+44 7700 900123".into(),
        email: Some("jamie.carter@example.com".into()),
    };
    items.push(Item::from_entity(&contact_key(user_id), &contact)?);

    let updated_at = format!("{first}T07:00:00Z");
    let medication = |catalog_id: &str,
                      name: &str,
                      generic: &str,
                      strength: &str,
                      dose: f64,
                      schedule: Schedule| {
        Medication {
            id: new_id(),
            catalog_id: Some(catalog_id.into()),
            name: name.into(),
            generic_name: Some(generic.into()),
            form: Some("tablet".into()),
            strength: Some(strength.into()),
            dose,
            unit: "mg".into(),
            schedule,
            start_date: first.to_string(),
            end_date: None,
            notes: None,
            archived: false,
            updated_at: updated_at.clone(),
        }
    };
    let daily = |times: &[&str]| Schedule {
        times: times.iter().map(|t| (*t).to_owned()).collect(),
        ..Schedule::default()
    };
    let mut metformin = medication(
        "starter-metformin-500-tab",
        "Metformin",
        "metformin hydrochloride",
        "500 mg",
        500.0,
        daily(&["08:00", "20:00"]),
    );
    metformin.notes = Some("Take with meals".into());
    let lisinopril = medication(
        "starter-lisinopril-10-tab",
        "Lisinopril",
        "lisinopril",
        "10 mg",
        10.0,
        daily(&["08:00"]),
    );
    let mut ibuprofen = medication(
        "starter-ibuprofen-400-tab",
        "Ibuprofen",
        "ibuprofen",
        "400 mg",
        400.0,
        Schedule {
            as_needed: true,
            ..Schedule::default()
        },
    );
    ibuprofen.notes = Some("For headaches; at most 3 a day, with food".into());
    for med in [&metformin, &lisinopril, &ibuprofen] {
        items.push(Item::from_entity(
            &passport_key(user_id, MEDICATION_PREFIX, &med.id),
            med,
        )?);
    }

    for i in 0..DAYS {
        let day = add(first, (i as i64).days())?;
        let is_today = day == today;
        let dose =
            |medication: &Medication, time: String, status: DoseStatus, note: Option<&str>| {
                let id = new_entry_id(day);
                let dose = Dose {
                    id: id.clone(),
                    medication_id: medication.id.clone(),
                    taken_at: at(day, &time),
                    dose: medication.dose,
                    status,
                    note: note.map(Into::into),
                };
                entry_item(user_id, Kind::Dose, day, &id, &dose)
            };

        // Today's morning doses are logged on the hour: nothing after 08:00.
        let morning = if is_today {
            "08:00".to_owned()
        } else {
            later("08:00", MORNING_LATE[i])
        };
        // A dose not taken is logged at its scheduled time.
        let when = |status: DoseStatus, slot: &str, taken: String| match status {
            DoseStatus::Taken => taken,
            DoseStatus::Skipped | DoseStatus::Missed => slot.to_owned(),
        };
        items.push(dose(&metformin, morning.clone(), DoseStatus::Taken, None)?);
        let (status, note) = lisinopril_morning(i);
        items.push(dose(
            &lisinopril,
            when(status, "08:00", morning),
            status,
            note,
        )?);
        if !is_today {
            let (status, note) = metformin_evening(i);
            let evening = when(status, "20:00", later("20:00", EVENING_LATE[i]));
            items.push(dose(&metformin, evening, status, note)?);
        }

        if let Some((severity, time)) = HEADACHES[i].filter(|_| !is_today) {
            let id = new_entry_id(day);
            let symptom = Symptom {
                id: id.clone(),
                name: "Headache".into(),
                severity,
                occurred_at: at(day, time),
                note: (severity >= 6).then(|| "Behind the eyes, worse with screens".into()),
            };
            items.push(entry_item(user_id, Kind::Symptom, day, &id, &symptom)?);
            // Ibuprofen half an hour in for a real headache, again in the evening for a bad one.
            if severity >= 4 {
                items.push(dose(&ibuprofen, later(time, 30), DoseStatus::Taken, None)?);
            }
            if severity >= 6 {
                items.push(dose(
                    &ibuprofen,
                    "21:30".into(),
                    DoseStatus::Taken,
                    Some("Headache came back"),
                )?);
            }
        }
        if let Some((severity, time)) = FATIGUE[i].filter(|_| !is_today) {
            let id = new_entry_id(day);
            let symptom = Symptom {
                id: id.clone(),
                name: "Fatigue".into(),
                severity,
                occurred_at: at(day, time),
                note: None,
            };
            items.push(entry_item(user_id, Kind::Symptom, day, &id, &symptom)?);
        }

        let feeling = Feeling {
            date: day.to_string(),
            score: feeling_score(i),
            note: feeling_note(i).map(Into::into),
        };
        items.push(entry_item(user_id, Kind::Feeling, day, "", &feeling)?);
    }

    let mut items: Vec<Item> = items
        .into_iter()
        .map(|item| item.with_ttl(expires_at))
        .collect();
    // Compared in place: `Item::key` would copy both keys at each of the n log n comparisons.
    fn key(item: &Item) -> (Option<&str>, Option<&str>) {
        (item.get_str(PK), item.sk())
    }
    items.sort_by(|a, b| key(a).cmp(&key(b)));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::accounts::User;
    use crate::tracker::days::{adherence, day_view};
    use crate::tracker::export::Export;
    use crate::tracker::{day_entry_kind, entry_day, is_id, partition};

    const TODAY: &str = "2026-03-29";
    const EXPIRES_AT: i64 = 1_790_000_000;

    fn demo() -> Vec<Item> {
        two_weeks("u1", TODAY.parse().unwrap(), EXPIRES_AT).unwrap()
    }

    fn export(items: &[Item]) -> Export {
        let user = User {
            id: "u1".into(),
            name: "Demo".into(),
            email: "demo@example.com".into(),
            roles: Vec::new(),
            mfa_enabled: false,
            created_at: "2026-03-29T09:00:00Z".into(),
            timezone: "UTC".into(),
            disabled: false,
        };
        Export::from_items(&user, items.to_vec(), "2026-03-29T09:00:00Z".into()).unwrap()
    }

    #[test]
    fn every_item_is_the_users_expires_and_is_storable() {
        let items = demo();
        // 3 medications, 41 scheduled doses, 6 ibuprofen, 8 symptoms, 14 feelings, 4 passport items.
        assert_eq!(items.len(), 76);
        let mut keys = HashSet::new();
        for item in &items {
            assert_eq!(item.expires_at(), Some(EXPIRES_AT), "{item:?}");
            let key = item.key().unwrap();
            assert_eq!(key.pk, partition("u1"));
            assert!(keys.insert(key.clone()), "duplicate key {key}");
            assert!(item.validate().is_ok(), "{key}");
        }
        let sorted: Vec<_> = items.iter().map(|i| i.key().unwrap()).collect();
        assert!(sorted.is_sorted(), "items come in key order");
    }

    #[test]
    fn the_export_reads_two_weeks_back() {
        let items = demo();
        let export = export(&items);
        assert_eq!(export.medications.len(), 3);
        assert_eq!(export.feelings.len(), DAYS);
        assert_eq!(export.doses.len(), 47);
        assert_eq!(export.symptoms.len(), 8);
        assert_eq!(export.conditions.len(), 1);
        assert_eq!(export.allergies.len(), 1);
        assert_eq!(export.doctors.len(), 1);
        assert!(export.emergency_contact.is_some());

        let today: Date = TODAY.parse().unwrap();
        let first: Date = "2026-03-16".parse().unwrap();
        let dates: Vec<&str> = export.feelings.iter().map(|f| f.date.as_str()).collect();
        assert_eq!(dates.first(), Some(&"2026-03-16"));
        assert_eq!(dates.last(), Some(&TODAY));
        assert!(export.feelings.iter().all(|f| (1..=10).contains(&f.score)));
        assert!(export.symptoms.iter().all(|s| s.severity <= 10));
        // Feelings vary, and headache days feel worse.
        let scores: HashSet<u8> = export.feelings.iter().map(|f| f.score).collect();
        assert!(scores.len() >= 3, "{scores:?}");
        for (i, f) in export.feelings.iter().enumerate() {
            if HEADACHES[i].is_some_and(|(s, _)| s >= 4) {
                assert!(f.score < feeling_score(0), "day {i}: {}", f.score);
            }
        }

        // Every entry lies within the two weeks, today's not after 08:00, and its id names its day.
        let ids: HashSet<&str> = export.medications.iter().map(|m| m.id.as_str()).collect();
        for dose in &export.doses {
            assert!(ids.contains(dose.medication_id.as_str()));
            let day: Date = dose.taken_at[..10].parse().unwrap();
            assert!(first <= day && day <= today);
            assert_eq!(entry_day(&dose.id), Some(day));
            if day == today {
                assert!(&dose.taken_at[11..16] <= "08:00", "{}", dose.taken_at);
            }
        }
        for symptom in &export.symptoms {
            let day: Date = symptom.occurred_at[..10].parse().unwrap();
            assert!(first <= day && day < today);
            assert_eq!(entry_day(&symptom.id), Some(day));
        }
        assert!(
            export
                .medications
                .iter()
                .all(|m| is_id(&m.id) && m.start_date == "2026-03-16")
        );
        let condition = &export.conditions[0];
        assert_eq!(condition.icd10.as_deref(), Some("E11.9"));
        assert_eq!(condition.doctor_ids, [export.doctors[0].id.clone()]);
        assert_eq!(export.allergies[0].severity, AllergySeverity::Severe);
        assert_eq!(
            items
                .iter()
                .filter(|i| day_entry_kind(i) == Some(Kind::Feeling))
                .count(),
            DAYS
        );
    }

    #[test]
    fn adherence_is_high_but_not_perfect() {
        let export = export(&demo());
        let today: Date = TODAY.parse().unwrap();
        let yesterday = today.yesterday().unwrap();
        let first: Date = "2026-03-16".parse().unwrap();
        let figures = adherence(first, yesterday, &export.medications, &export.doses);
        // 13 full days: metformin twice, lisinopril once; 3 missed, 1 skipped.
        assert_eq!(figures.overall.scheduled, 39);
        assert_eq!(figures.overall.taken, 35);
        let of_today = export
            .doses
            .iter()
            .filter(|d| d.taken_at.starts_with(TODAY))
            .cloned()
            .collect();
        let view = day_view(today, &export.medications, of_today, Vec::new(), None);
        assert_eq!(view.adherence.taken, 2, "today's morning doses are logged");
        assert_eq!(
            view.adherence.scheduled, 3,
            "the evening dose is still to come"
        );
    }

    #[test]
    fn the_same_story_every_time() {
        let strip = |items: Vec<Item>| {
            let e = export(&items);
            (
                e.feelings,
                {
                    let mut symptoms: Vec<_> = e
                        .symptoms
                        .iter()
                        .map(|s| (s.occurred_at.clone(), s.name.clone(), s.severity))
                        .collect();
                    symptoms.sort();
                    symptoms
                },
                {
                    let mut doses: Vec<_> = e
                        .doses
                        .iter()
                        .map(|d| {
                            (
                                d.taken_at.clone(),
                                format!("{:?}", d.status),
                                d.dose.to_bits(),
                            )
                        })
                        .collect();
                    doses.sort();
                    doses
                },
            )
        };
        assert_eq!(strip(demo()), strip(demo()));
    }
}
