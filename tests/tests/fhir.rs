//! The FHIR export against an independent FHIR R4 implementation: a bundle of every kind of
//! tracker item must pass `tests/fhir/validate.py` (fhir.resources' R4 models and a strict walk
//! of the JSON), and bundles broken on purpose must not, so a validator that accepts everything
//! cannot pass this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use shared::testkit::workspace_root;
use shared::tracker::export::{Export, Patient};
use shared::tracker::fhir;
use shared::tracker::model::{
    Allergy, AllergySeverity, ConditionStatus, Doctor, Dose, DoseStatus, EmergencyContact, Feeling,
    MedicalCondition, Medication, Schedule, Symptom, Weekday,
};

/// The Python of the validator's virtualenv (`scripts/install-tools.sh test` makes it).
fn python() -> PathBuf {
    let python = workspace_root().join(".tools/fhir/bin/python");
    assert!(
        python.is_file(),
        "the FHIR validator is not installed at {}: run `make deps` (scripts/install-tools.sh test)",
        python.display()
    );
    python
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(python())
        .arg(workspace_root().join("tests/fhir/validate.py"))
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the validator starts");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The bundle of `export` as JSON, to look into and to break.
fn bundle_json(export: &Export) -> Value {
    serde_json::to_value(fhir::bundle(export)).unwrap()
}

/// Runs the validator on `bundle`, written to `target/fhir-tests/<name>.json` (kept, to look at
/// when a test fails).
fn validate(name: &str, bundle: &Value) -> (bool, String, String) {
    let dir = workspace_root().join("target/fhir-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let out = run(&[file.to_str().unwrap()], None);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn medication(id: &str, name: &str) -> Medication {
    Medication {
        id: id.into(),
        catalog_id: Some("0123456789abcdef".into()),
        name: name.into(),
        generic_name: Some("metformin".into()),
        form: Some("tablet".into()),
        strength: Some("500 mg".into()),
        dose: 1.5,
        unit: "tablet".into(),
        schedule: Schedule {
            times: vec!["08:00".into(), "20:30".into()],
            days: vec![Weekday::Mon, Weekday::Wed, Weekday::Sun],
            as_needed: false,
        },
        start_date: "2026-01-01".into(),
        end_date: None,
        notes: Some("with food\nnot with alcohol".into()),
        archived: false,
        updated_at: "2026-03-01T09:15:00.123456Z".into(),
    }
}

fn doctor(id: &str, name: &str, specialty: Option<&str>) -> Doctor {
    Doctor {
        id: id.into(),
        name: name.into(),
        specialty: specialty.map(Into::into),
        phone: Some("+49 (30) 123-4567".into()),
        email: Some("praxis@example.com".into()),
        address: Some("Hauptstraße 1\n10115 Berlin".into()),
        note: Some("closed on Wednesdays".into()),
    }
}

/// One of everything the tracker holds.
fn export() -> Export {
    let ibuprofen = Medication {
        schedule: Schedule {
            as_needed: true,
            ..Schedule::default()
        },
        dose: 400.0,
        unit: "mg".into(),
        generic_name: None,
        ..medication("2222222222222222", "Ibuprofen")
    };
    Export {
        exported_at: "2026-03-29T10:00:00.5Z".into(),
        patient: Patient {
            id: "0000000000000001".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            timezone: "Europe/Berlin".into(),
        },
        medications: vec![
            medication("1111111111111111", "Glucophage"),
            ibuprofen,
            Medication {
                archived: true,
                ..medication("3333333333333333", "Old pill")
            },
            Medication {
                end_date: Some("2026-02-28".into()),
                ..medication("4444444444444444", "Antibiotic")
            },
            Medication {
                start_date: "2026-05-01".into(),
                ..medication("5555555555555555", "Next month")
            },
        ],
        doses: vec![
            Dose {
                id: "20260329-aaaaaaaaaaaaaaa1".into(),
                medication_id: "1111111111111111".into(),
                taken_at: "2026-03-29T08:02:00+02:00".into(),
                dose: 1.5,
                status: DoseStatus::Taken,
                note: None,
            },
            Dose {
                id: "20260328-aaaaaaaaaaaaaaa2".into(),
                medication_id: "1111111111111111".into(),
                taken_at: "2026-03-28T20:30:00+01:00".into(),
                dose: 1.5,
                status: DoseStatus::Skipped,
                note: Some("felt sick".into()),
            },
            Dose {
                id: "20260327-aaaaaaaaaaaaaaa3".into(),
                medication_id: "1111111111111111".into(),
                taken_at: "2026-03-27T08:00:00Z".into(),
                dose: 1.5,
                status: DoseStatus::Missed,
                note: None,
            },
            Dose {
                id: "20260327-aaaaaaaaaaaaaaa4".into(),
                medication_id: "2222222222222222".into(),
                taken_at: "2026-03-27T13:45:10.25-05:30".into(),
                dose: 400.0,
                status: DoseStatus::Taken,
                note: Some("headache".into()),
            },
        ],
        symptoms: vec![Symptom {
            id: "20260327-bbbbbbbbbbbbbbb1".into(),
            name: "Headache".into(),
            severity: 0,
            occurred_at: "2026-03-27T13:30:00-05:30".into(),
            note: Some("after lunch".into()),
        }],
        feelings: vec![
            Feeling {
                date: "2026-03-28".into(),
                score: 1,
                note: Some("bad day".into()),
            },
            Feeling {
                date: "2026-03-29".into(),
                score: 10,
                note: None,
            },
        ],
        conditions: vec![
            MedicalCondition {
                id: "cccccccccccccc01".into(),
                name: "Type 2 diabetes mellitus".into(),
                icd10: Some("E11.9".into()),
                diagnosed_on: Some("2019-06-15".into()),
                status: ConditionStatus::Resolved,
                note: Some("in remission with diet".into()),
                doctor_ids: vec!["dddddddddddddd01".into(), "dddddddddddddd02".into()],
            },
            MedicalCondition {
                id: "cccccccccccccc02".into(),
                name: "Asthma".into(),
                icd10: None,
                diagnosed_on: None,
                status: ConditionStatus::Active,
                note: None,
                doctor_ids: vec![],
            },
        ],
        allergies: vec![
            Allergy {
                id: "eeeeeeeeeeeeee01".into(),
                substance: "Penicillin".into(),
                reaction: Some("Anaphylaxis".into()),
                severity: AllergySeverity::Severe,
                note: Some("carries an EpiPen".into()),
            },
            Allergy {
                id: "eeeeeeeeeeeeee02".into(),
                substance: "Birch pollen".into(),
                reaction: None,
                severity: AllergySeverity::Mild,
                note: None,
            },
        ],
        doctors: vec![
            doctor(
                "dddddddddddddd01",
                "Dr. Grace Hopper",
                Some("Endocrinology"),
            ),
            Doctor {
                phone: None,
                email: None,
                address: None,
                ..doctor("dddddddddddddd02", "Dr. Alan Turing", None)
            },
        ],
        emergency_contact: Some(EmergencyContact {
            name: "Charles Babbage".into(),
            relationship: Some("partner".into()),
            phone: "+44 20 7946 0000".into(),
            email: Some("charles@example.com".into()),
        }),
    }
}

fn resource<'a>(bundle: &'a mut Value, kind: &str) -> &'a mut Value {
    bundle["entry"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|e| &mut e["resource"])
        .find(|r| r["resourceType"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the bundle"))
}

#[test]
fn a_bundle_of_everything_is_valid_fhir_r4() {
    let bundle = bundle_json(&export());
    let (ok, stdout, stderr) = validate("everything", &bundle);
    assert!(ok, "the validator refused the bundle:\n{stderr}{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    for counted in [
        "20 entries",
        "2 AllergyIntolerance",
        "2 Condition",
        "4 MedicationAdministration",
        "5 MedicationStatement",
        "3 Observation",
        "1 Patient",
        "2 Practitioner,",
        "1 PractitionerRole",
    ] {
        assert!(stdout.contains(counted), "{counted} missing from: {stdout}");
    }
    assert!(stdout.contains("R4 (4.0.1)"), "{stdout}");
}

#[test]
fn a_bundle_of_a_patient_alone_is_valid() {
    let mut empty = export();
    empty.medications.clear();
    empty.doses.clear();
    empty.symptoms.clear();
    empty.feelings.clear();
    empty.conditions.clear();
    empty.allergies.clear();
    empty.doctors.clear();
    empty.emergency_contact = None;
    let bundle = bundle_json(&empty);
    let (ok, stdout, stderr) = validate("patient-alone", &bundle);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 entries: 1 Patient"), "{stdout}");
}

#[test]
fn the_validator_reads_stdin_too() {
    let bundle = serde_json::to_string(&fhir::bundle(&export())).unwrap();
    let out = run(&[], Some(&bundle));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["-"], Some("{not json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read a JSON document"));
}

/// Each breakage, applied alone to a valid bundle, must be refused with a message naming it.
#[test]
fn the_validator_refuses_broken_bundles() {
    type Break = fn(&mut Value);
    let breaks: &[(&str, Break, &str)] = &[
        (
            "observation-status",
            |b| resource(b, "Observation")["status"] = json!("bogus"),
            "'bogus' is not one of",
        ),
        (
            "statement-status",
            |b| resource(b, "MedicationStatement")["status"] = json!("taking"),
            "'taking' is not one of",
        ),
        (
            "administration-status",
            |b| resource(b, "MedicationAdministration")["status"] = json!("taken"),
            "'taken' is not one of",
        ),
        (
            "criticality",
            |b| resource(b, "AllergyIntolerance")["criticality"] = json!("severe"),
            "criticality",
        ),
        (
            "no-seconds",
            |b| resource(b, "Observation")["effectiveDateTime"] = json!("2026-03-27T13:30-05:30"),
            "effectiveDateTime",
        ),
        (
            "offset-too-far",
            |b| {
                resource(b, "Observation")["effectiveDateTime"] = json!("2026-03-27T13:30:00+15:00")
            },
            "effectiveDateTime",
        ),
        (
            "bad-date",
            |b| {
                resource(b, "MedicationStatement")["effectivePeriod"]["start"] = json!("2026-02-30")
            },
            "start",
        ),
        (
            "time-without-seconds",
            |b| {
                resource(b, "MedicationStatement")["dosage"][0]["timing"]["repeat"]["timeOfDay"]
                    [0] = json!("08:00")
            },
            "timeOfDay",
        ),
        (
            "weekday",
            |b| {
                resource(b, "MedicationStatement")["dosage"][0]["timing"]["repeat"]["dayOfWeek"]
                    [0] = json!("monday")
            },
            "dayOfWeek",
        ),
        (
            "fractional-integer",
            |b| resource(b, "Observation")["valueInteger"] = json!(6.5),
            "valueInteger",
        ),
        (
            "string-number",
            |b| resource(b, "MedicationAdministration")["dosage"]["dose"]["value"] = json!("1.5"),
            "value",
        ),
        (
            "unknown-element",
            |b| resource(b, "Patient")["favouriteColour"] = json!("blue"),
            "favouriteColour",
        ),
        (
            "missing-code",
            |b| {
                drop(
                    resource(b, "Observation")
                        .as_object_mut()
                        .unwrap()
                        .remove("code"),
                )
            },
            "code",
        ),
        (
            "missing-subject",
            |b| {
                drop(
                    resource(b, "MedicationAdministration")
                        .as_object_mut()
                        .unwrap()
                        .remove("subject"),
                )
            },
            "subject",
        ),
        (
            "two-values",
            |b| resource(b, "Observation")["valueString"] = json!("six"),
            "value",
        ),
        (
            "empty-string",
            |b| resource(b, "Condition")["code"]["text"] = json!(""),
            "empty",
        ),
        (
            "null",
            |b| resource(b, "Condition")["note"] = json!(null),
            "note",
        ),
        (
            "dangling-reference",
            |b| {
                resource(b, "Observation")["subject"]["reference"] =
                    json!("urn:uuid:00000000-0000-4000-8000-000000000000")
            },
            "is not the fullUrl of any entry",
        ),
        (
            "wrong-reference-type",
            |b| {
                let allergy = resource(b, "AllergyIntolerance")["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                resource(b, "Condition")["asserter"] =
                    json!({ "reference": format!("urn:uuid:{allergy}") });
            },
            "refers to a resource of type AllergyIntolerance",
        ),
        (
            "duplicate-full-url",
            |b| {
                let first = b["entry"][0]["fullUrl"].clone();
                b["entry"][1]["fullUrl"] = first;
            },
            "not unique",
        ),
        // R5's shape of a MedicationStatement: not R4.
        (
            "r5-medication",
            |b| {
                let statement = resource(b, "MedicationStatement").as_object_mut().unwrap();
                let concept = statement.remove("medicationCodeableConcept").unwrap();
                statement.insert("medication".into(), json!({ "concept": concept }));
            },
            "medication",
        ),
        // The same change undone: a control that the breakages above are what is refused.
        (
            "control",
            |b| resource(b, "Observation")["status"] = json!("amended"),
            "",
        ),
    ];
    let valid = bundle_json(&export());
    for (name, breaking, expected) in breaks {
        let mut bundle = valid.clone();
        breaking(&mut bundle);
        let (ok, stdout, stderr) = validate(&format!("broken-{name}"), &bundle);
        if expected.is_empty() {
            assert!(
                ok,
                "{name}: a change that keeps the bundle valid was refused:\n{stderr}"
            );
            continue;
        }
        assert!(
            !ok,
            "{name}: the validator accepted a broken bundle:\n{stdout}"
        );
        assert!(stdout.is_empty(), "{name}: {stdout}");
        assert!(stderr.contains("not a valid FHIR R4"), "{name}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in:\n{stderr}"
        );
    }
}
