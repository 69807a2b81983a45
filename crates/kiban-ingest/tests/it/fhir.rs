//! FHIR: the JP clinical-core examples and synthetic NDJSON.

use std::path::Path;

use kiban_ingest::{read_fhir, read_fhir_document};
use kiban_model::{DrugCodeSystem, EncounterClass, LabValue, NaiveDate, PersonName, Sex};

use crate::{provider, shared_data};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn clinical_core_examples_are_read_without_a_crash() {
    let Some(dir) = shared_data("fhir-jp/clinical-core-examples") else { return };
    let output = read_fhir(&dir, &provider(), &mut |_| {}).unwrap();
    assert_eq!(output.n_files, 61);

    // Every example patient carries the same hospital patient id, so they merge into one record.
    assert_eq!(output.records.len(), 1);
    let record = &output.records[0];
    let person = &record.person;
    assert_eq!(person.local_id.as_str(), "000999739");
    assert_eq!(person.name_kanji, Some(PersonName::new("牧野", "爛漫")));
    assert_eq!(person.name_kana, Some(PersonName::new("マキノ", "ランマン")));
    assert_eq!(person.birth_date, Some(date(1930, 6, 28)));
    assert_eq!(person.sex, Sex::Female);
    assert_eq!(person.postal_code.as_deref(), Some("781-8125"));
    assert_eq!(person.address.as_deref(), Some("高知県高知市五台山4200-6"));
    assert_eq!(person.phone.as_deref(), Some("03-123-1234"));
    // The Bundle's patient (read first) has branch 01, the Patient examples branch 05.
    let branches: Vec<_> = person.insurances.iter().map(|i| i.branch.as_deref()).collect();
    assert_eq!(branches, [Some("01"), Some("05")]);
    let insurance = &person.insurances[1];
    assert_eq!(insurance.insurer_number, "00012345");
    assert_eq!((insurance.symbol.as_deref(), insurance.number.as_deref()), (Some("あいう"), Some("１８７")));

    let cancer =
        record.diagnoses.iter().find(|d| d.icd10.as_deref() == Some("C169")).expect("gastric cancer");
    assert_eq!(cancer.medis_code.as_deref(), Some("20054178"));
    assert_eq!(cancer.onset, Some(date(2020, 4, 10)));
    let cardia =
        record.diagnoses.iter().find(|d| d.medis_code.as_deref() == Some("20075639")).expect("噴門癌");
    assert!(cardia.suspected, "verificationStatus unconfirmed");

    let amlodipine = record.prescriptions.iter().find(|p| p.drug_code == "121431401").expect("amlodipine");
    assert_eq!(amlodipine.code_system, DrugCodeSystem::Hot);
    assert_eq!(
        (amlodipine.dose, amlodipine.unit.as_deref(), amlodipine.days),
        (Some(1.0), Some("錠"), Some(90))
    );
    assert_eq!(amlodipine.date, date(2023, 9, 14));
    let yj_only = record.prescriptions.iter().find(|p| p.drug_code == "3219100F1020").expect("YJ-coded drug");
    assert_eq!(yj_only.code_system, DrugCodeSystem::Yj);

    let potassium = record.labs.iter().find(|lab| lab.code == "3H015000002326101").expect("potassium");
    assert_eq!(potassium.value, LabValue::Numeric(3.5));
    assert_eq!(potassium.unit.as_deref(), Some("mEq/L"));
    assert_eq!(potassium.date, date(2021, 7, 5));

    // The deliberately invalid examples are flagged.
    let warned = |file: &str| output.warnings.iter().any(|w| w.starts_with(file));
    assert!(warned("MedicationRequest-ErrorExample-JP-MedReq-ExtEye-Total1.json"), "{:#?}", output.warnings);
    assert!(warned("Observation-ErrorExample-ObsLabo-eGFR.json"), "{:#?}", output.warnings);
    assert!(!warned("MedicationRequest-Example-JP-MedReq-ExtSkin-Total2.json"));

    // Standalone Encounters name no patient or no start: quarantined with the reason.
    let encounter = output
        .quarantined
        .iter()
        .find(|q| q.path == Path::new("Encounter-Example-Contained-JP-Encounter-IMP.json"))
        .expect("a subjectless Encounter is quarantined");
    assert_eq!(encounter.reason, "Encounter: no subject: the patient cannot be resolved");
    assert!(output.unmapped["Practitioner"] >= 9);
    assert!(output.unmapped.contains_key("AllergyIntolerance"));
}

const NDJSON: &[(&str, &str)] = &[
    (
        "Patient.ndjson",
        r#"{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:oid:1.2.392.100495.20.3.51.11310000001","value":"A001"}],"name":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"IDE"}],"family":"山田","given":["花子"]},{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"SYL"}],"family":"ヤマダ","given":["ハナコ"]}],"gender":"female","birthDate":"1950-05-06"}
{"resourceType":"Patient","id":"p2"}
{"resourceType":"Patient", broken
"#,
    ),
    (
        "Coverage.ndjson",
        r#"{"resourceType":"Coverage","beneficiary":{"reference":"Patient/p1"},"payor":[{"identifier":{"value":"06131234"}}],"extension":[{"url":"http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol","valueString":"記号1"},{"url":"http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber","valueString":"番号2"},{"url":"http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber","valueString":"01"}],"period":{"start":"2020-04-01"}}
"#,
    ),
    (
        "Encounter.ndjson",
        r#"{"resourceType":"Encounter","subject":{"reference":"Patient/p1"},"class":{"code":"IMP"},"period":{"start":"2023-01-10","end":"2023-01-20"}}
{"resourceType":"Encounter","subject":{"reference":"Patient/nobody"},"class":{"code":"AMB"},"period":{"start":"2023-01-10"}}
"#,
    ),
    (
        "Condition.ndjson",
        r#"{"resourceType":"Condition","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10","code":"E11.9"},{"system":"http://medis.or.jp/CodeSystem/master-disease-keyNumber","code":"20057432"}],"text":"2型糖尿病"},"verificationStatus":{"coding":[{"code":"provisional"}]},"category":[{"coding":[{"code":"main"}]}],"onsetDateTime":"2022-03-04"}
"#,
    ),
    (
        "MedicationRequest.ndjson",
        r#"{"resourceType":"MedicationRequest","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"coding":[{"system":"urn:oid:1.2.392.100495.20.2.74","code":"1141007F1063"},{"system":"http://medis.or.jp/CodeSystem/master-HOT9","code":"110626901","display":"薬"}]},"authoredOn":"2023-02-01","dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":2,"unit":"錠"}}]}],"dispenseRequest":{"expectedSupplyDuration":{"value":14,"code":"d"}}}
"#,
    ),
    (
        "Observation.ndjson",
        r#"{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"urn:oid:1.2.392.200119.4.504","code":"3D010000001926101","display":"グルコース"}]},"valueQuantity":{"value":98.5,"unit":"mg/dL"},"referenceRange":[{"low":{"value":70},"high":{"value":109}}],"effectiveDateTime":"2023-02-01T09:00:00+09:00"}
{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"code":"x"}]}}
"#,
    ),
    (
        "Procedure.ndjson",
        r#"{"resourceType":"Procedure","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"urn:oid:1.2.392.100495.20.2.32","code":"K6151","display":"処置"}]},"performedDateTime":"2023-01-12"}
"#,
    ),
];

#[test]
fn ndjson_resources_map_and_bad_lines_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in NDJSON {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let output = read_fhir(dir.path(), &provider(), &mut |_| {}).unwrap();
    assert_eq!(output.n_files, NDJSON.len());
    assert_eq!(output.records.len(), 2, "A001 and p2 (its id as local id)");
    let record = &output.records[0];
    assert_eq!(record.person.local_id.as_str(), "A001");
    assert_eq!(record.person.name_kana, Some(PersonName::new("ヤマダ", "ハナコ")));
    let insurance = &record.person.insurances[0];
    assert_eq!(insurance.insurer_number, "06131234");
    assert_eq!(
        (insurance.symbol.as_deref(), insurance.number.as_deref(), insurance.branch.as_deref()),
        (Some("記号1"), Some("番号2"), Some("01"))
    );
    assert_eq!(insurance.valid_from, Some(date(2020, 4, 1)));
    assert_eq!(record.encounters.len(), 1);
    assert_eq!(record.encounters[0].class, EncounterClass::Inpatient);
    assert_eq!(record.encounters[0].end, Some(date(2023, 1, 20)));
    let diagnosis = &record.diagnoses[0];
    assert_eq!(diagnosis.icd10.as_deref(), Some("E119"));
    assert_eq!(diagnosis.medis_code.as_deref(), Some("20057432"));
    assert!(diagnosis.suspected && diagnosis.main);
    let prescription = &record.prescriptions[0];
    assert_eq!(
        (prescription.drug_code.as_str(), prescription.code_system),
        ("110626901", DrugCodeSystem::Hot)
    );
    assert_eq!((prescription.dose, prescription.days), (Some(2.0), Some(14)));
    assert_eq!(record.labs[0].value, LabValue::Numeric(98.5));
    assert_eq!(record.labs[0].reference_range.as_deref(), Some("70-109"));
    assert_eq!(record.procedures[0].code, "K6151");
    assert_eq!(output.unmapped.get("Observation (not laboratory)"), Some(&1));

    let reasons: Vec<String> =
        output.quarantined.iter().map(|q| format!("{}: {}", q.path.display(), q.reason)).collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(reasons[0].starts_with("Patient.ndjson: line 3: not valid JSON"), "{reasons:#?}");
    assert_eq!(
        reasons[1],
        "Encounter.ndjson: line 2: Encounter: the subject reference names no Patient in the input"
    );
}

#[test]
fn a_single_file_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Patient.ndjson");
    std::fs::write(&path, NDJSON[0].1).unwrap();
    let output = read_fhir(&path, &provider(), &mut |_| {}).unwrap();
    assert_eq!((output.n_files, output.records.len(), output.quarantined.len()), (1, 2, 1));
}

/// Each `*ErrorExample*` file of the JP clinical-core examples, with the one problem it illustrates:
/// `(file, "warning" | "quarantine", element path, rule id)`. Found by reading each file and its note.
const ERROR_EXAMPLES: &[(&str, &str, &str, &str)] = &[
    // HOT and a local code only: eCS wants YJ, a general-name code or NOCODED.
    (
        "MedicationRequest-ErrorExample-JP-MedReq-ExtEye-Total1.json",
        "warning",
        "MedicationRequest.medicationCodeableConcept.coding",
        "ecs-medication-standard-code",
    ),
    // General-name code 2124030F2ZZZ for クアゼパム錠２０ｍｇ, whose code is 1124030F2ZZZ.
    (
        "MedicationRequest-ErrorExample-JP-MedReq-PO-SID-28days.json",
        "quarantine",
        "MedicationRequest.medicationCodeableConcept.coding",
        "general-name-code-master",
    ),
    // eGFR with a JLAC10 code but no local code.
    (
        "Observation-ErrorExample-ObsLabo-eGFR.json",
        "warning",
        "Observation.code.coding",
        "ecs-lab-local-code",
    ),
];

#[test]
fn each_error_example_yields_its_problem_and_valid_examples_none() {
    let Some(dir) = shared_data("fhir-jp/clinical-core-examples") else { return };
    let output = read_fhir(&dir, &provider(), &mut |_| {}).unwrap();
    // Every validation problem as (file, kind, text); validation problems are the ones naming a rule.
    let mut problems: Vec<(String, &str, String)> = Vec::new();
    for warning in &output.warnings {
        if let Some((file, text)) = warning.split_once(": ") {
            problems.push((file.to_owned(), "warning", text.to_owned()));
        }
    }
    for quarantined in &output.quarantined {
        problems.push((quarantined.path.display().to_string(), "quarantine", quarantined.reason.clone()));
    }
    problems.retain(|(_, _, text)| text.contains("(rule "));

    let mut error_files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("ErrorExample"))
        .collect();
    error_files.sort();
    let listed: Vec<&str> = ERROR_EXAMPLES.iter().map(|(file, ..)| *file).collect();
    assert_eq!(error_files, listed, "every ErrorExample file has its expected problem here");

    for (file, kind, element, rule) in ERROR_EXAMPLES {
        let found: Vec<_> = problems.iter().filter(|(f, _, _)| f == file).collect();
        assert_eq!(found.len(), 1, "{file}: {problems:#?}");
        let (_, found_kind, text) = found[0];
        assert_eq!(found_kind, kind, "{file}");
        assert!(text.starts_with(&format!("{element}: ")), "{file}: {text}");
        assert!(text.ends_with(&format!("(rule {rule})")), "{file}: {text}");
    }
    let others: Vec<_> = problems.iter().filter(|(file, _, _)| !file.contains("ErrorExample")).collect();
    assert!(others.is_empty(), "valid examples break no rule: {others:#?}");

    // The miscoded drug is set aside, not mapped under a wrong code; the valid twin is mapped.
    let codes: Vec<&str> = output.records[0].prescriptions.iter().map(|p| p.drug_code.as_str()).collect();
    assert!(!codes.contains(&"2124030F2ZZZ"), "{codes:?}");
    assert!(codes.contains(&"1124030F2ZZZ"), "{codes:?}");
    // No problem text carries a code or a name.
    for (_, _, text) in &problems {
        assert!(!text.contains("2124030") && !text.contains("クアゼパム"), "{text}");
    }
}

#[test]
fn one_document_in_memory_reads_as_its_file_would() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Patient.ndjson");
    std::fs::write(&path, NDJSON[0].1).unwrap();
    let from_disk = read_fhir(&path, &provider(), &mut |_| {}).unwrap();
    let from_memory = read_fhir_document("Patient.ndjson", NDJSON[0].1.as_bytes(), &provider());
    assert_eq!(from_memory, from_disk);
    // Named .json, the same bytes are one (invalid) JSON document.
    let as_json = read_fhir_document("Patient.json", NDJSON[0].1.as_bytes(), &provider());
    assert_eq!((as_json.records.len(), as_json.quarantined.len()), (0, 1));
}
