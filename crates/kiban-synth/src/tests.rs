//! Tests through the public entry points: determinism, realism of the generated cohort, and the shape of
//! each output format.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use kiban_model::{Prefecture, insurer_number_is_valid};

use super::*;

fn config(seed: u64, format: OutputFormat) -> SynthConfig {
    SynthConfig { n_patients: 200, n_providers: 4, seed, format, ..SynthConfig::default() }
}

fn files_under(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.strip_prefix(root).unwrap().to_owned(), fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn same_seed_gives_identical_cohort_and_bytes() {
    let cfg = config(7, OutputFormat::Mixed);
    let (first, second) = (generate(&cfg), generate(&cfg));
    assert_eq!(first.records, second.records);
    assert_eq!(first.truth, second.truth);
    assert_eq!(first.providers, second.providers);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut last_done = 0;
    let summary = write(&first, dir_a.path(), &mut |done, total| {
        assert!(last_done < done && done <= total, "progress only moves forward");
        last_done = done;
    })
    .unwrap();
    write(&second, dir_b.path(), &mut |_, _| {}).unwrap();
    assert_eq!(last_done, summary.n_patient_records, "progress reaches every record");
    let (files_a, files_b) = (files_under(dir_a.path()), files_under(dir_b.path()));
    assert_eq!(files_a.len(), summary.n_files);
    assert!(files_a == files_b, "the same cohort must give byte-identical files");

    let other = generate(&config(8, OutputFormat::Mixed));
    assert_ne!(first.truth.len() + first.records[0].len(), 0);
    assert!(first.records != other.records, "a different seed gives a different cohort");
}

#[test]
fn cohort_looks_like_japan() {
    let cfg = SynthConfig { n_patients: 2000, n_providers: 6, ..config(3, OutputFormat::Mixed) };
    let cohort = generate(&cfg);
    let records: Vec<&kiban_model::PatientRecord> = cohort.records.iter().flatten().collect();
    assert_eq!(cohort.truth.len(), records.len(), "one truth row per patient record");

    // One age per person (the first record of each).
    let mut first_record = HashMap::new();
    for (row, record) in cohort.truth.iter().zip(cohort.records.iter().flatten().collect::<Vec<_>>()) {
        first_record.entry(row.person).or_insert(record);
    }
    assert_eq!(first_record.len(), cfg.n_patients);
    let ages: Vec<i32> = first_record
        .values()
        .map(|r| {
            let birth = r.person.birth_date.unwrap();
            cfg.reference_date.year() - birth.year()
        })
        .collect();
    let share =
        |pred: &dyn Fn(i32) -> bool| ages.iter().filter(|a| pred(**a)).count() as f64 / ages.len() as f64;
    let old = share(&|a| a >= 65);
    assert!((0.20..=0.40).contains(&old), "share of 65+ is {old}");
    assert!(
        share(&|a| (45..=80).contains(&a)) > share(&|a| a < 20),
        "more middle-aged and old than children"
    );
    assert!(ages.iter().all(|a| (0..=106).contains(a)));

    // Surname frequency skew.
    let mut surnames: HashMap<String, usize> = HashMap::new();
    for record in first_record.values() {
        let reading = crate::names::SURNAMES
            .iter()
            .find(|s| record.person.name_kanji.as_ref().unwrap().family.starts_with(s.0));
        *surnames.entry(reading.unwrap().0.to_owned()).or_default() += 1;
    }
    assert!(surnames.get("佐藤").copied().unwrap_or(0) > surnames.get("大島").copied().unwrap_or(0) + 20);

    // Persons at two or more providers, with the right identifiers everywhere.
    let mut providers_per_person: HashMap<u64, HashSet<&str>> = HashMap::new();
    for row in &cohort.truth {
        providers_per_person.entry(row.person).or_default().insert(row.provider.as_str());
    }
    let multi = providers_per_person.values().filter(|p| p.len() >= 2).count();
    assert!(multi > cfg.n_patients / 20, "{multi} persons at 2+ providers");
    let mut changed_insurer = 0;
    for record in &records {
        let person = &record.person;
        for insurance in &person.insurances {
            assert!(insurer_number_is_valid(&insurance.insurer_number));
        }
        let prefecture = Prefecture::of_address(person.address.as_deref().unwrap()).unwrap();
        assert!(crate::generate::postal_prefix_matches(
            prefecture.name,
            person.postal_code.as_deref().unwrap()
        ));
        let kana = person.name_kana.as_ref().unwrap();
        assert!(is_kana_text(&kana.joined()), "kana reading has non-kana characters");
        if person.insurances.len() > 1 {
            changed_insurer += 1;
        }
        assert!(!record.encounters.is_empty());
    }
    assert!(changed_insurer > 0);
    for provider in &cohort.providers {
        let code = provider.code.as_str();
        assert_eq!(code.len(), 10);
        assert_eq!(&code[2..3], "1");
        assert!(Prefecture::by_code(code[0..2].parse().unwrap()).is_some());
    }
    // Diagnoses fit age and sex: breast cancer only in women, more hypertension in the old.
    let has = |r: &kiban_model::PatientRecord, icd: &str| {
        r.diagnoses.iter().any(|d| d.icd10.as_deref() == Some(icd))
    };
    assert!(records.iter().filter(|r| has(r, "C509")).all(|r| r.person.sex == kiban_model::Sex::Female));
    let hypertension = |old: bool| {
        let group: Vec<_> = first_record
            .values()
            .filter(|r| (cfg.reference_date.year() - r.person.birth_date.unwrap().year() >= 65) == old)
            .collect();
        group.iter().filter(|r| has(r, "I10")).count() as f64 / group.len() as f64
    };
    assert!(hypertension(true) > 2.0 * hypertension(false));
    // Diabetics have high HbA1c on average.
    let hba1c: Vec<f64> = records
        .iter()
        .filter(|r| has(r, "E119"))
        .flat_map(|r| r.labs.iter())
        .filter(|l| l.code == "3D046000001906202")
        .filter_map(|l| match l.value {
            kiban_model::LabValue::Numeric(v) => Some(v),
            kiban_model::LabValue::Text(_) => None,
        })
        .collect();
    assert!(!hba1c.is_empty() && hba1c.iter().sum::<f64>() / hba1c.len() as f64 > 6.5);
}

#[test]
fn ssmix2_tree_matches_the_standard_layout() {
    let cohort = generate(&config(11, OutputFormat::Ssmix2));
    let dir = tempfile::tempdir().unwrap();
    write(&cohort, dir.path(), &mut |_, _| {}).unwrap();
    let mut types = HashSet::new();
    for provider in &cohort.providers {
        let files = files_under(&dir.path().join(&provider.dir));
        assert!(!files.is_empty());
        for (path, bytes) in files {
            let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            assert_eq!(parts.len(), 6, "{path:?}");
            let (id, date, data_type, name) = (&parts[2], &parts[3], &parts[4], &parts[5]);
            assert_eq!(&parts[0], &id[0..3]);
            assert_eq!(&parts[1], &id[3..6]);
            assert!(date == "-" || (date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())));
            let fields: Vec<&str> = name.split('_').collect();
            assert_eq!(fields.len(), 7, "{name}");
            assert_eq!((fields[0], fields[1], fields[2]), (id.as_str(), date.as_str(), data_type.as_str()));
            assert_eq!(fields[3].len(), 15);
            assert_eq!(fields[4].len(), 17);
            assert!(fields[5] == "-" || fields[5].len() == 2);
            assert_eq!(fields[6], "1");
            let (text, had_errors) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(&bytes);
            assert!(!had_errors, "{path:?} is not ISO-2022-JP");
            assert!(text.starts_with("MSH|^~\\&|"));
            assert!(text.ends_with('\r') && !text.contains('\n'));
            assert!(
                text.lines()
                    .next()
                    .unwrap()
                    .contains("|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^")
            );
            types.insert(data_type.clone());
        }
    }
    for expected in ["ADT-00", "ADT-12", "ADT-22", "PPR-01", "OMP-01", "OML-11"] {
        assert!(types.contains(expected), "no {expected} written");
    }
}

#[test]
fn ssmix2_matches_the_shared_sample_shape() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ssmix2/nho-testing-tool/999/901/9999013");
    if !sample.is_dir() {
        eprintln!("skipping: shared SS-MIX2 sample not found at {}", sample.display());
        return;
    }
    let cohort = generate(&config(12, OutputFormat::Ssmix2));
    let dir = tempfile::tempdir().unwrap();
    write(&cohort, dir.path(), &mut |_, _| {}).unwrap();
    let ours = files_under(&dir.path().join(&cohort.providers[0].dir));
    let theirs = files_under(&sample);
    let depth = |paths: Vec<&PathBuf>| paths.iter().map(|p| p.iter().count()).collect::<HashSet<_>>();
    assert_eq!(depth(ours.keys().collect()), HashSet::from([6]));
    assert_eq!(
        depth(theirs.keys().collect()),
        HashSet::from([3]),
        "the sample is rooted at the patient folder"
    );
    let msh = |bytes: &[u8]| {
        encoding_rs::ISO_2022_JP
            .decode_without_bom_handling(bytes)
            .0
            .split('\r')
            .next()
            .unwrap()
            .split('|')
            .count()
    };
    let adt00 = ours.iter().find(|(p, _)| p.to_string_lossy().contains("ADT-00")).unwrap().1;
    let sample_adt00 = theirs.iter().find(|(p, _)| p.to_string_lossy().contains("ADT-00")).unwrap().1;
    assert_eq!(msh(adt00), msh(sample_adt00), "MSH has the same number of fields as the sample");
}

#[test]
fn fhir_lines_are_json_resources() {
    let cohort = generate(&config(13, OutputFormat::Fhir));
    let dir = tempfile::tempdir().unwrap();
    write(&cohort, dir.path(), &mut |_, _| {}).unwrap();
    let folder = dir.path().join(&cohort.providers[0].dir);
    let mut kinds = HashSet::new();
    for (path, bytes) in files_under(&folder) {
        let text = String::from_utf8(bytes).unwrap();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let kind = value["resourceType"].as_str().unwrap().to_owned();
            assert!(path.to_string_lossy().starts_with(&kind));
            assert!(value["id"].is_string() && value["meta"]["profile"][0].is_string());
            if kind == "Patient" {
                assert_eq!(value["name"][0]["extension"][0]["valueCode"], "IDE");
                assert_eq!(value["name"][1]["extension"][0]["valueCode"], "SYL");
                let system = value["identifier"][0]["system"].as_str().unwrap();
                assert_eq!(system, format!("urn:oid:1.2.392.100495.20.3.51.1{}", cohort.providers[0].code));
            }
            kinds.insert(kind);
        }
    }
    for expected in ["Patient", "Coverage", "Encounter", "Condition", "MedicationRequest", "Observation"] {
        assert!(kinds.contains(expected), "no {expected}");
    }
}

#[test]
fn csv_files_have_the_specified_headers() {
    let cohort = generate(&config(14, OutputFormat::Csv));
    let dir = tempfile::tempdir().unwrap();
    let summary = write(&cohort, dir.path(), &mut |_, _| {}).unwrap();
    let truth = fs::read_to_string(&summary.truth_path).unwrap();
    assert!(truth.starts_with("provider_code,patient_id,person_id\n"));
    assert_eq!(truth.lines().count(), cohort.truth.len() + 1);
    let providers = fs::read_to_string(&summary.providers_path).unwrap();
    assert!(providers.starts_with("code,name,postal_code,address,format,dir\n"));
    for provider in &cohort.providers {
        for (name, header) in crate::csv_out::headers() {
            let text = fs::read_to_string(dir.path().join(&provider.dir).join(name)).unwrap();
            assert_eq!(text.lines().next().unwrap(), header.join(","));
        }
        let patients = fs::read_to_string(dir.path().join(&provider.dir).join("patients.csv")).unwrap();
        assert_eq!(
            patients.lines().count(),
            cohort.records[cohort.providers.iter().position(|p| p == provider).unwrap()].len() + 1
        );
    }
}
