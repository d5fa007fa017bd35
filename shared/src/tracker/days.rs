//! What the tracker computes from stored days: a day's schedule and what happened to it,
//! adherence over a range, and how today compares with yesterday. Pure functions over decoded
//! items, so every rule is tested without a store.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::dates::days;
use super::model::{Dose, DoseStatus, Feeling, Medication, Symptom};

/// What became of one scheduled dose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Taken,
    Skipped,
    Missed,
    /// Nothing logged for it (yet).
    NotLogged,
}

/// One dose a medication's schedule calls for on a day.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ScheduledDose {
    pub medication_id: String,
    pub medication_name: String,
    /// Local `HH:MM` the schedule says.
    pub time: String,
    pub dose: f64,
    pub unit: String,
    pub status: SlotStatus,
    /// The logged dose matched to this slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_id: Option<String>,
}

/// Scheduled versus taken.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AdherenceFigures {
    pub scheduled: u32,
    pub taken: u32,
    /// `taken / scheduled` in percent, one decimal; `null` when nothing was scheduled.
    pub percent: Option<f64>,
}

impl AdherenceFigures {
    fn new(scheduled: u32, taken: u32) -> Self {
        let percent = (scheduled > 0)
            .then(|| (f64::from(taken) * 1000.0 / f64::from(scheduled)).round() / 10.0);
        Self {
            scheduled,
            taken,
            percent,
        }
    }
}

/// One day: its schedule with what happened, the other doses, symptoms and the feeling.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DayView {
    pub date: String,
    pub scheduled_doses: Vec<ScheduledDose>,
    /// Doses not matched to a scheduled time (as-needed medications, extra doses).
    pub other_doses: Vec<Dose>,
    pub symptoms: Vec<Symptom>,
    pub feeling: Option<Feeling>,
    pub adherence: AdherenceFigures,
}

/// Minutes since midnight of an `HH:MM` (0 for anything else).
fn minutes(time_of_day: &str) -> i32 {
    let part = |range: std::ops::Range<usize>| {
        time_of_day
            .get(range)
            .and_then(|p| p.parse::<i32>().ok())
            .unwrap_or(0)
    };
    part(0..2) * 60 + part(3..5)
}

fn local_time(instant: &str) -> &str {
    instant.get(11..16).unwrap_or("")
}

/// Which scheduled time each of a medication's doses of one day takes: the doses, in time order
/// (a stable sort, so doses at the same minute keep their stored order), each take the free time
/// nearest to them; a dose finding every time taken is extra (`None`). Returns the doses in that
/// order with the index of the time each took. The day view and adherence both match through
/// this, so they always agree.
fn match_to_times<D: std::borrow::Borrow<Dose>>(
    times: &[String],
    mut own: Vec<D>,
) -> Vec<(D, Option<usize>)> {
    own.sort_by(|a, b| local_time(&a.borrow().taken_at).cmp(local_time(&b.borrow().taken_at)));
    let mut free = vec![true; times.len()];
    own.into_iter()
        .map(|dose| {
            let at = minutes(local_time(&dose.borrow().taken_at));
            let nearest = (0..times.len())
                .filter(|&slot| free[slot])
                .min_by_key(|&slot| (minutes(&times[slot]) - at).abs());
            if let Some(slot) = nearest {
                free[slot] = false;
            }
            (dose, nearest)
        })
        .collect()
}

/// Matches a medication's doses of one day to its scheduled times (see [`match_to_times`]).
fn slots_of(medication: &Medication, date: Date, doses: &mut Vec<Dose>) -> Vec<ScheduledDose> {
    if !medication.active_on(date) || !medication.schedule.due_on(date) {
        return Vec::new();
    }
    let mut own: Vec<Dose> = Vec::new();
    doses.retain(|d| {
        if d.medication_id == medication.id {
            own.push(d.clone());
            false
        } else {
            true
        }
    });
    let times = &medication.schedule.times;
    let mut matched: Vec<Option<Dose>> = vec![None; times.len()];
    for (dose, slot) in match_to_times(times, own) {
        match slot {
            Some(slot) => matched[slot] = Some(dose),
            // Doses beyond the schedule go back to the unmatched ones.
            None => doses.push(dose),
        }
    }
    times
        .iter()
        .zip(matched)
        .map(|(time, matched)| ScheduledDose {
            medication_id: medication.id.clone(),
            medication_name: medication.name.clone(),
            time: time.clone(),
            dose: medication.dose,
            unit: medication.unit.clone(),
            status: match matched.as_ref().map(|d| d.status) {
                Some(DoseStatus::Taken) => SlotStatus::Taken,
                Some(DoseStatus::Skipped) => SlotStatus::Skipped,
                Some(DoseStatus::Missed) => SlotStatus::Missed,
                None => SlotStatus::NotLogged,
            },
            dose_id: matched.map(|d| d.id),
        })
        .collect()
}

fn figures(slots: &[ScheduledDose]) -> (u32, u32) {
    let scheduled = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    let taken = u32::try_from(
        slots
            .iter()
            .filter(|s| s.status == SlotStatus::Taken)
            .count(),
    )
    .unwrap_or(u32::MAX);
    (scheduled, taken)
}

pub fn day_view(
    date: Date,
    medications: &[Medication],
    mut doses: Vec<Dose>,
    mut symptoms: Vec<Symptom>,
    feeling: Option<Feeling>,
) -> DayView {
    let mut scheduled = Vec::new();
    for medication in medications {
        scheduled.extend(slots_of(medication, date, &mut doses));
    }
    scheduled.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then(a.medication_name.cmp(&b.medication_name))
    });
    doses.sort_by(|a, b| local_time(&a.taken_at).cmp(local_time(&b.taken_at)));
    symptoms.sort_by(|a, b| local_time(&a.occurred_at).cmp(local_time(&b.occurred_at)));
    let (s, t) = figures(&scheduled);
    DayView {
        date: date.to_string(),
        scheduled_doses: scheduled,
        other_doses: doses,
        symptoms,
        feeling,
        adherence: AdherenceFigures::new(s, t),
    }
}

/// Adherence of one medication over a range.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct MedicationAdherence {
    pub medication_id: String,
    pub name: String,
    pub as_needed: bool,
    #[serde(flatten)]
    pub figures: AdherenceFigures,
    /// Doses logged as taken, scheduled or not.
    pub doses_taken: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Adherence {
    pub from: String,
    pub to: String,
    pub medications: Vec<MedicationAdherence>,
    pub overall: AdherenceFigures,
}

/// Scheduled versus taken per medication from `from` to `to` (both included).
pub fn adherence(from: Date, to: Date, medications: &[Medication], doses: &[Dose]) -> Adherence {
    // Each day's doses of each medication, by reference and in their stored order (the order
    // the matching breaks ties in), so no dose is copied and each day is matched once.
    let mut by_day: HashMap<(&str, &str), Vec<&Dose>> = HashMap::new();
    for dose in doses {
        let day = dose.taken_at.get(..10).unwrap_or("");
        by_day
            .entry((day, dose.medication_id.as_str()))
            .or_default()
            .push(dose);
    }
    let range: Vec<(Date, String)> = days(from, to).map(|day| (day, day.to_string())).collect();
    let mut rows = Vec::new();
    let (mut all_scheduled, mut all_taken) = (0u32, 0u32);
    for medication in medications {
        let (mut scheduled, mut taken) = (0u32, 0u32);
        let times = &medication.schedule.times;
        for (day, key) in &range {
            if !medication.active_on_day(key) || !medication.schedule.due_on(*day) {
                continue;
            }
            let own = by_day
                .get(&(key.as_str(), medication.id.as_str()))
                .cloned()
                .unwrap_or_default();
            let taken_times = match_to_times(times, own)
                .into_iter()
                .filter(|(dose, slot)| slot.is_some() && dose.status == DoseStatus::Taken)
                .count();
            scheduled = scheduled.saturating_add(u32::try_from(times.len()).unwrap_or(u32::MAX));
            taken = taken.saturating_add(u32::try_from(taken_times).unwrap_or(u32::MAX));
        }
        let doses_taken = u32::try_from(
            doses
                .iter()
                .filter(|d| d.medication_id == medication.id && d.status == DoseStatus::Taken)
                .count(),
        )
        .unwrap_or(u32::MAX);
        if scheduled == 0 && doses_taken == 0 && !in_range(medication, from, to) {
            continue;
        }
        all_scheduled += scheduled;
        all_taken += taken;
        rows.push(MedicationAdherence {
            medication_id: medication.id.clone(),
            name: medication.name.clone(),
            as_needed: medication.schedule.as_needed,
            figures: AdherenceFigures::new(scheduled, taken),
            doses_taken,
        });
    }
    Adherence {
        from: from.to_string(),
        to: to.to_string(),
        medications: rows,
        overall: AdherenceFigures::new(all_scheduled, all_taken),
    }
}

fn in_range(medication: &Medication, from: Date, to: Date) -> bool {
    let (from, to) = (from.to_string(), to.to_string());
    !medication.archived
        && medication.start_date <= to
        && medication.end_date.as_ref().is_none_or(|end| *end >= from)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Better,
    Same,
    Worse,
    Unknown,
}

impl From<std::cmp::Ordering> for Trend {
    fn from(today_vs_yesterday: std::cmp::Ordering) -> Self {
        match today_vs_yesterday {
            std::cmp::Ordering::Greater => Self::Better,
            std::cmp::Ordering::Equal => Self::Same,
            std::cmp::Ordering::Less => Self::Worse,
        }
    }
}

/// How one symptom's worst severity changed from yesterday to today.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SymptomChange {
    pub name: String,
    pub yesterday: Option<u8>,
    pub today: Option<u8>,
    /// `today − yesterday` when both days have it.
    pub change: Option<i16>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FeelVsYesterday {
    pub date: String,
    pub yesterday: String,
    pub today_score: Option<u8>,
    pub yesterday_score: Option<u8>,
    /// `today_score − yesterday_score` when both are known.
    pub delta: Option<i16>,
    pub trend: Trend,
    /// Why the trend is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub symptoms: Vec<SymptomChange>,
}

pub fn feel_vs_yesterday(
    today: Date,
    yesterday: Date,
    feelings: &[Feeling],
    symptoms: &[Symptom],
) -> FeelVsYesterday {
    let score = |day: Date| {
        let day = day.to_string();
        feelings.iter().find(|f| f.date == day).map(|f| f.score)
    };
    let (today_score, yesterday_score) = (score(today), score(yesterday));
    let delta = today_score
        .zip(yesterday_score)
        .map(|(t, y)| i16::from(t) - i16::from(y));
    let (trend, reason) = match (today_score, yesterday_score) {
        (Some(t), Some(y)) => (t.cmp(&y).into(), None),
        (None, None) => (Trend::Unknown, Some("no score for today or yesterday")),
        (None, Some(_)) => (Trend::Unknown, Some("no score for today")),
        (Some(_), None) => (Trend::Unknown, Some("no score for yesterday")),
    };
    // Symptoms by name, case-insensitively; a day's severity is its worst entry.
    let mut worst: BTreeMap<String, (String, Option<u8>, Option<u8>)> = BTreeMap::new();
    let (t, y) = (today.to_string(), yesterday.to_string());
    for symptom in symptoms {
        let day = symptom.occurred_at.get(..10).unwrap_or("");
        let entry = worst
            .entry(symptom.name.to_lowercase())
            .or_insert_with(|| (symptom.name.clone(), None, None));
        let slot = if day == t {
            &mut entry.2
        } else if day == y {
            &mut entry.1
        } else {
            continue;
        };
        *slot = Some(slot.map_or(symptom.severity, |s| s.max(symptom.severity)));
    }
    FeelVsYesterday {
        date: t,
        yesterday: y,
        today_score,
        yesterday_score,
        delta,
        trend,
        reason: reason.map(str::to_owned),
        symptoms: worst
            .into_values()
            .map(|(name, yesterday, today)| SymptomChange {
                name,
                yesterday,
                today,
                change: today
                    .zip(yesterday)
                    .map(|(t, y)| i16::from(t) - i16::from(y)),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::model::Schedule;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn medication(id: &str, times: &[&str]) -> Medication {
        Medication {
            id: id.into(),
            catalog_id: None,
            name: id.to_uppercase(),
            generic_name: None,
            form: None,
            strength: None,
            dose: 1.0,
            unit: "tablet".into(),
            schedule: Schedule {
                times: times.iter().map(|t| (*t).to_owned()).collect(),
                ..Schedule::default()
            },
            start_date: "2026-03-01".into(),
            end_date: Some("2026-03-31".into()),
            notes: None,
            archived: false,
            updated_at: String::new(),
        }
    }

    fn dose(id: &str, medication: &str, at: &str, status: DoseStatus) -> Dose {
        Dose {
            id: id.into(),
            medication_id: medication.into(),
            taken_at: at.into(),
            dose: 1.0,
            status,
            note: None,
        }
    }

    #[test]
    fn a_day_matches_doses_to_scheduled_times() {
        let meds = [
            medication("a", &["08:00", "20:00"]),
            medication("b", &["12:00"]),
        ];
        let doses = vec![
            dose("1", "a", "2026-03-10T08:05:00+01:00", DoseStatus::Taken),
            dose("2", "b", "2026-03-10T12:00:00+01:00", DoseStatus::Skipped),
            dose("3", "b", "2026-03-10T13:00:00+01:00", DoseStatus::Taken),
        ];
        let view = day_view(date("2026-03-10"), &meds, doses, vec![], None);
        let statuses: Vec<_> = view
            .scheduled_doses
            .iter()
            .map(|s| (s.time.as_str(), s.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("08:00", SlotStatus::Taken),
                ("12:00", SlotStatus::Skipped),
                ("20:00", SlotStatus::NotLogged)
            ]
        );
        assert_eq!(view.other_doses.len(), 1, "the extra dose of b");
        assert_eq!(
            view.adherence,
            AdherenceFigures {
                scheduled: 3,
                taken: 1,
                percent: Some(33.3)
            }
        );
        let evening_only = vec![dose(
            "4",
            "a",
            "2026-03-10T19:45:00+01:00",
            DoseStatus::Taken,
        )];
        let view = day_view(date("2026-03-10"), &meds[..1], evening_only, vec![], None);
        let statuses: Vec<_> = view.scheduled_doses.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [SlotStatus::NotLogged, SlotStatus::Taken],
            "the nearest time"
        );
        let outside = day_view(date("2026-04-01"), &meds, vec![], vec![], None);
        assert!(outside.scheduled_doses.is_empty(), "after the end date");
        assert_eq!(outside.adherence.percent, None);
    }

    #[test]
    fn adherence_counts_each_day_of_the_range() {
        let meds = [medication("a", &["08:00", "20:00"])];
        let doses = vec![
            dose("1", "a", "2026-03-10T08:00:00Z", DoseStatus::Taken),
            dose("2", "a", "2026-03-10T20:00:00Z", DoseStatus::Taken),
            dose("3", "a", "2026-03-11T08:00:00Z", DoseStatus::Missed),
        ];
        let report = adherence(date("2026-03-10"), date("2026-03-12"), &meds, &doses);
        assert_eq!(
            report.medications[0].figures,
            AdherenceFigures {
                scheduled: 6,
                taken: 2,
                percent: Some(33.3)
            }
        );
        assert_eq!(report.overall.scheduled, 6);
    }

    /// Adherence over a range is, medication by medication, the sum of the day views' figures:
    /// checked on a month of varied doses (several a day, at the same minute, extra, skipped,
    /// missed, outside the medication's dates, on days it is not due, of an as-needed one).
    #[test]
    fn adherence_is_the_sum_of_the_day_views() {
        let mut meds = vec![
            medication("a", &["08:00", "20:00"]),
            medication("b", &["12:00"]),
            medication("c", &["07:30", "12:00", "18:45"]),
            medication("d", &[]),
        ];
        meds[1].start_date = "2026-03-05".into();
        meds[1].end_date = Some("2026-03-20".into());
        meds[2].schedule.days = vec![
            crate::tracker::model::Weekday::Mon,
            crate::tracker::model::Weekday::Thu,
        ];
        meds[3].schedule.as_needed = true;
        let statuses = [DoseStatus::Taken, DoseStatus::Skipped, DoseStatus::Missed];
        let times = [
            "07:31", "08:00", "08:00", "11:59", "12:00", "19:00", "20:15", "23:59",
        ];
        let mut doses = Vec::new();
        let mut seed = 7u32;
        for day in 1..=31 {
            for n in 0..6 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let pick = (seed >> 8) as usize;
                doses.push(dose(
                    &format!("{day}-{n}"),
                    ["a", "b", "c", "d"][pick % 4],
                    &format!("2026-03-{day:02}T{}:00Z", times[(pick / 4) % times.len()]),
                    statuses[(pick / 32) % 3],
                ));
            }
        }
        let (from, to) = (date("2026-03-01"), date("2026-03-31"));
        let report = adherence(from, to, &meds, &doses);
        assert!(report.overall.taken > 0 && report.overall.scheduled > report.overall.taken);
        for medication in &meds {
            let (mut scheduled, mut taken) = (0, 0);
            for day in days(from, to) {
                let of_day: Vec<Dose> = doses
                    .iter()
                    .filter(|d| d.taken_at.starts_with(&day.to_string()))
                    .cloned()
                    .collect();
                let view = day_view(day, std::slice::from_ref(medication), of_day, vec![], None);
                scheduled += view.adherence.scheduled;
                taken += view.adherence.taken;
            }
            let row = report
                .medications
                .iter()
                .find(|row| row.medication_id == medication.id)
                .expect("every medication has doses in the range");
            assert_eq!(
                (row.figures.scheduled, row.figures.taken),
                (scheduled, taken),
                "{}",
                medication.id
            );
        }
    }

    fn feeling(day: &str, score: u8) -> Feeling {
        Feeling {
            date: day.into(),
            score,
            note: None,
        }
    }

    #[test]
    fn feel_vs_yesterday_gives_a_trend_or_says_why_not() {
        let (t, y) = (date("2026-03-30"), date("2026-03-29"));
        let r = feel_vs_yesterday(
            t,
            y,
            &[feeling("2026-03-29", 4), feeling("2026-03-30", 7)],
            &[],
        );
        assert_eq!((r.delta, r.trend), (Some(3), Trend::Better));
        let r = feel_vs_yesterday(
            t,
            y,
            &[feeling("2026-03-29", 7), feeling("2026-03-30", 7)],
            &[],
        );
        assert_eq!(r.trend, Trend::Same);
        let r = feel_vs_yesterday(t, y, &[feeling("2026-03-29", 7)], &[]);
        assert_eq!(
            (r.trend, r.reason.as_deref()),
            (Trend::Unknown, Some("no score for today"))
        );
        let r = feel_vs_yesterday(t, y, &[], &[]);
        assert_eq!(r.reason.as_deref(), Some("no score for today or yesterday"));
        let symptom = |name: &str, severity, at: &str| Symptom {
            id: String::new(),
            name: name.into(),
            severity,
            occurred_at: at.into(),
            note: None,
        };
        let r = feel_vs_yesterday(
            t,
            y,
            &[],
            &[
                symptom("Headache", 6, "2026-03-29T09:00:00+02:00"),
                symptom("headache", 8, "2026-03-29T18:00:00+02:00"),
                symptom("Headache", 3, "2026-03-30T09:00:00+02:00"),
                symptom("Nausea", 2, "2026-03-30T10:00:00+02:00"),
            ],
        );
        assert_eq!(
            r.symptoms[0],
            SymptomChange {
                name: "Headache".into(),
                yesterday: Some(8),
                today: Some(3),
                change: Some(-5)
            }
        );
        assert_eq!(r.symptoms[1].change, None);
    }
}
