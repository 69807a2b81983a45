//! CSV intake: the provider flat-file export of docs/formats/csv-intake.md (patients.csv plus optional
//! encounters, diagnoses, prescriptions, labs and procedures files, each with a header row).
//!
//! A bad row (wrong number of fields, a missing required value, a value that does not parse, a patient id
//! not in patients.csv) is quarantined with its file, line and column name, never its value; the rest goes
//! on. A record file without one of its required columns is quarantined whole. Unknown columns and files are
//! reported as warnings. Files are UTF-8 (a BOM is allowed); Shift_JIS is read with a warning.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, PatientRecord, PersonName, Prescription, Procedure, ProviderCode, Sex,
};

use crate::{
    Fingerprint, IngestError, IngestOutput, InputFile, Progress, dates, list_files, quarantine, read_batch,
};

const PATIENTS: &str = "patients.csv";

/// Each file's known columns; required ones first, `required` of them.
struct Layout {
    file: &'static str,
    columns: &'static [&'static str],
    required: usize,
}

const LAYOUTS: [Layout; 6] = [
    Layout {
        file: PATIENTS,
        columns: &[
            "patient_id",
            "name_kanji",
            "name_kana",
            "birth_date",
            "sex",
            "postal_code",
            "address",
            "phone",
            "insurer_number",
            "insurance_symbol",
            "insurance_number",
            "insurance_branch",
        ],
        required: 1,
    },
    Layout {
        file: "encounters.csv",
        columns: &["patient_id", "class", "start_date", "end_date", "department"],
        required: 3,
    },
    Layout {
        file: "diagnoses.csv",
        columns: &["patient_id", "icd10", "medis_code", "name", "onset_date", "suspected", "main"],
        required: 1,
    },
    Layout {
        file: "prescriptions.csv",
        columns: &["patient_id", "drug_code", "date", "code_system", "drug_name", "dose", "unit", "days"],
        required: 3,
    },
    Layout {
        file: "labs.csv",
        columns: &["patient_id", "code", "value", "date", "name", "unit", "reference_range"],
        required: 4,
    },
    Layout {
        file: "procedures.csv",
        columns: &["patient_id", "code", "date", "code_system", "name"],
        required: 3,
    },
];

/// Reads a CSV export folder.
///
/// # Errors
/// When `dir` is missing or unreadable, or has no patients.csv; bad rows and files are quarantined.
pub fn read_csv(
    dir: &Path,
    provider: &ProviderCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    let files = list_files(dir, &|relative| relative.to_ascii_lowercase().ends_with(".csv"))?;
    let total = files.len();
    let mut fingerprint = Fingerprint::default();
    let contents = read_batch(&files, &mut fingerprint);
    let mut output = IngestOutput {
        records: Vec::new(),
        quarantined: Vec::new(),
        unmapped: BTreeMap::new(),
        warnings: Vec::new(),
        n_files: total,
        fingerprint: String::new(),
    };
    let mut by_name: HashMap<&str, (&InputFile, Result<Vec<u8>, String>)> = HashMap::new();
    for (file, bytes) in files.iter().zip(contents) {
        if let Some(layout) = LAYOUTS.iter().find(|layout| layout.file == file.relative) {
            by_name.insert(layout.file, (file, bytes));
        } else {
            output.warnings.push(format!("{}: not a file of the CSV intake format, ignored", file.relative));
        }
    }
    if !by_name.contains_key(PATIENTS) {
        return Err(IngestError::MissingFile { path: dir.to_owned(), file: PATIENTS });
    }
    let mut records: BTreeMap<String, PatientRecord> = BTreeMap::new();
    // Progress counts the intake files, read in dependency order (patients first).
    let known = by_name.len();
    progress(Progress { done: 0, total: known });
    let present = LAYOUTS.iter().filter_map(|layout| Some((layout, by_name.remove(layout.file)?.1)));
    for (done, (layout, bytes)) in present.enumerate() {
        match bytes {
            Ok(bytes) => read_file(layout, &bytes, provider, &mut records, &mut output),
            Err(reason) => output.quarantined.push(quarantine(layout.file, reason)),
        }
        progress(Progress { done: done + 1, total: known });
    }
    output.records = records.into_values().collect();
    output.fingerprint = fingerprint.finish();
    Ok(output)
}

fn decode(file: &str, bytes: &[u8], warnings: &mut Vec<String>) -> Option<String> {
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Some(text.to_owned());
    }
    let text = encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)?;
    warnings.push(format!("{file}: decoded as Shift_JIS, not UTF-8"));
    Some(text.into_owned())
}

/// One row's values by column name.
struct Row<'a> {
    values: HashMap<&'a str, &'a str>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.values.get(column).map(|value| value.trim()).filter(|value| !value.is_empty())
    }

    fn required(&self, column: &str) -> Result<&str, String> {
        self.get(column).ok_or_else(|| format!("column {column}: required value is empty"))
    }

    fn date(&self, column: &str) -> Result<Option<NaiveDate>, String> {
        self.get(column)
            .map(|text| dates::parse_date(text).ok_or_else(|| format!("column {column}: not a date")))
            .transpose()
    }

    fn required_date(&self, column: &str) -> Result<NaiveDate, String> {
        self.date(column)?.ok_or_else(|| format!("column {column}: required value is empty"))
    }

    fn number(&self, column: &str) -> Result<Option<f64>, String> {
        self.get(column)
            .map(|text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| format!("column {column}: not a number"))
            })
            .transpose()
    }

    fn flag(&self, column: &str) -> Result<bool, String> {
        match self.get(column).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "n") => Ok(false),
            Some("true" | "1" | "yes" | "y") => Ok(true),
            Some(_) => Err(format!("column {column}: expected true/false or 1/0")),
        }
    }

    fn text(&self, column: &str) -> Option<String> {
        self.get(column).map(str::to_owned)
    }
}

fn read_file(
    layout: &Layout,
    bytes: &[u8],
    provider: &ProviderCode,
    records: &mut BTreeMap<String, PatientRecord>,
    output: &mut IngestOutput,
) {
    let Some(text) = decode(layout.file, bytes, &mut output.warnings) else {
        output.quarantined.push(quarantine(layout.file, "neither UTF-8 nor Shift_JIS"));
        return;
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(headers) => headers.iter().map(|header| header.trim().to_ascii_lowercase()).collect(),
        Err(_) => {
            output.quarantined.push(quarantine(layout.file, "line 1: the header row cannot be read"));
            return;
        }
    };
    let missing: Vec<&str> = layout.columns[..layout.required]
        .iter()
        .filter(|column| !headers.iter().any(|h| h == *column))
        .copied()
        .collect();
    if !missing.is_empty() {
        output
            .quarantined
            .push(quarantine(layout.file, format!("missing required columns: {}", missing.join(", "))));
        return;
    }
    for header in &headers {
        if !layout.columns.contains(&header.as_str()) {
            output.warnings.push(format!("{}: unknown column {header} ignored", layout.file));
        }
    }
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                output
                    .quarantined
                    .push(quarantine(layout.file, format!("line {line}: the row cannot be read as CSV")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            output.quarantined.push(quarantine(
                layout.file,
                format!("line {line}: {} fields, the header has {}", record.len(), headers.len()),
            ));
            continue;
        }
        let row = Row { values: headers.iter().map(String::as_str).zip(record.iter()).collect() };
        if let Err(reason) = read_row(layout.file, &row, provider, records) {
            output.quarantined.push(quarantine(layout.file, format!("line {line}: {reason}")));
        }
    }
}

fn split_name(text: &str) -> PersonName {
    let mut parts = text.trim().splitn(2, [' ', '　']);
    PersonName::new(parts.next().unwrap_or(""), parts.next().unwrap_or("").trim())
}

fn read_row(
    file: &str,
    row: &Row<'_>,
    provider: &ProviderCode,
    records: &mut BTreeMap<String, PatientRecord>,
) -> Result<(), String> {
    let patient_id = row.required("patient_id")?;
    if file == PATIENTS {
        let local_id =
            LocalPatientId::new(patient_id).map_err(|_| "column patient_id: not a valid patient id")?;
        let mut person = IdentifiedPerson::new(provider.clone(), local_id);
        person.name_kanji = row.get("name_kanji").map(split_name);
        person.name_kana = row.get("name_kana").map(split_name);
        person.birth_date = row.date("birth_date")?;
        person.sex = row.get("sex").map_or(Sex::Unknown, Sex::parse_lenient);
        person.postal_code = row.text("postal_code");
        person.address = row.text("address");
        person.phone = row.text("phone");
        if let Some(insurer_number) = row.text("insurer_number") {
            person.insurances.push(Insurance {
                insurer_number,
                symbol: row.text("insurance_symbol"),
                number: row.text("insurance_number"),
                branch: row.text("insurance_branch"),
                valid_from: None,
            });
        }
        let record = PatientRecord::new(person);
        match records.get_mut(patient_id) {
            Some(existing) => existing.merge(record),
            None => {
                records.insert(patient_id.to_owned(), record);
            }
        }
        return Ok(());
    }
    // Map the row fully before looking the patient up, so a bad value is reported as such.
    let apply: Box<dyn FnOnce(&mut PatientRecord)> = match file {
        "encounters.csv" => {
            let class = EncounterClass::parse(row.required("class")?)
                .ok_or("column class: expected outpatient/inpatient/emergency or O/I/E")?;
            let encounter = Encounter {
                class,
                start: row.required_date("start_date")?,
                end: row.date("end_date")?,
                department: row.text("department"),
            };
            Box::new(move |record| record.encounters.push(encounter))
        }
        "diagnoses.csv" => {
            let diagnosis = Diagnosis {
                icd10: row.get("icd10").map(|code| code.replace('.', "")),
                medis_code: row.text("medis_code"),
                name: row.text("name"),
                onset: row.date("onset_date")?,
                suspected: row.flag("suspected")?,
                main: row.flag("main")?,
            };
            if diagnosis.icd10.is_none() && diagnosis.medis_code.is_none() && diagnosis.name.is_none() {
                return Err("columns icd10, medis_code, name: all empty".to_owned());
            }
            Box::new(move |record| record.diagnoses.push(diagnosis))
        }
        "prescriptions.csv" => {
            let days = row
                .get("days")
                .map(|text| {
                    text.parse::<u32>().map_err(|_| "column days: not a whole number of days".to_owned())
                })
                .transpose()?;
            let prescription = Prescription {
                drug_code: row.required("drug_code")?.to_owned(),
                code_system: row.get("code_system").map_or(DrugCodeSystem::Other, DrugCodeSystem::parse),
                drug_name: row.text("drug_name"),
                dose: row.number("dose")?,
                unit: row.text("unit"),
                days,
                date: row.required_date("date")?,
            };
            Box::new(move |record| record.prescriptions.push(prescription))
        }
        "labs.csv" => {
            let raw = row.required("value")?;
            let value = match raw.parse::<f64>() {
                Ok(number) if number.is_finite() => LabValue::Numeric(number),
                _ => LabValue::Text(raw.to_owned()),
            };
            let lab = LabResult {
                code: row.required("code")?.to_owned(),
                name: row.text("name"),
                value,
                unit: row.text("unit"),
                reference_range: row.text("reference_range"),
                date: row.required_date("date")?,
            };
            Box::new(move |record| record.labs.push(lab))
        }
        "procedures.csv" => {
            let procedure = Procedure {
                code: row.required("code")?.to_owned(),
                code_system: row.text("code_system"),
                name: row.text("name"),
                date: row.required_date("date")?,
            };
            Box::new(move |record| record.procedures.push(procedure))
        }
        _ => return Ok(()),
    };
    let record = records.get_mut(patient_id).ok_or("column patient_id: not in patients.csv")?;
    apply(record);
    Ok(())
}
