//! The flat CSV intake format (docs/formats/csv-intake.md): six UTF-8 files with a header row. Birth
//! dates, event dates, sex codes and the name separator follow the provider's habits.

use std::path::Path;

use kiban_model::{LabValue, PatientRecord, PersonName, Sex};

use crate::SynthError;
use crate::era::format_date;
use crate::style::{ProviderStyle, SexStyle};
use crate::write::{create, csv_error, finish};

const FILES: [(&str, &[&str]); 6] = [
    (
        "patients.csv",
        &[
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
    ),
    ("encounters.csv", &["patient_id", "class", "start_date", "end_date", "department"]),
    ("diagnoses.csv", &["patient_id", "icd10", "medis_code", "name", "onset_date", "suspected", "main"]),
    (
        "prescriptions.csv",
        &["patient_id", "drug_code", "code_system", "drug_name", "dose", "unit", "days", "date"],
    ),
    ("labs.csv", &["patient_id", "code", "name", "value", "unit", "reference_range", "date"]),
    ("procedures.csv", &["patient_id", "code", "code_system", "name", "date"]),
];

/// The header of each CSV file, for tests and readers.
#[cfg(test)]
pub(crate) fn headers() -> &'static [(&'static str, &'static [&'static str])] {
    &FILES
}

fn name_text(name: Option<&PersonName>, separator: &str) -> String {
    match name {
        Some(name) if name.given.is_empty() => name.family.clone(),
        Some(name) => format!("{}{separator}{}", name.family, name.given),
        None => String::new(),
    }
}

fn sex_text(sex: Sex, style: SexStyle) -> &'static str {
    match (style, sex) {
        (SexStyle::Hl7, sex) => sex.hl7_code(),
        (SexStyle::Kanji, Sex::Male) => "男",
        (SexStyle::Kanji, Sex::Female) => "女",
        (SexStyle::Digit, Sex::Male) => "1",
        (SexStyle::Digit, Sex::Female) => "2",
        (_, _) => "",
    }
}

pub(crate) fn format_number(value: f64) -> String {
    // Shortest representation that reads back as the same f64; integers without a fraction.
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

pub(crate) fn write_provider(
    records: &[PatientRecord],
    style: &ProviderStyle,
    dir: &Path,
    tick: &mut dyn FnMut(usize),
) -> Result<usize, SynthError> {
    let paths: Vec<_> = FILES.iter().map(|(name, _)| dir.join(name)).collect();
    let mut writers = Vec::new();
    for ((_, header), path) in FILES.iter().zip(&paths) {
        let mut writer = csv::Writer::from_writer(create(path)?);
        writer.write_record(*header).map_err(csv_error(path))?;
        writers.push(writer);
    }
    let date = |d| format_date(d, style.event_date);
    for record in records {
        let person = &record.person;
        let id = person.local_id.as_str();
        let insurance = person.insurances.first();
        let field = |value: Option<&String>| value.cloned().unwrap_or_default();
        writers[0]
            .write_record([
                id.to_owned(),
                name_text(person.name_kanji.as_ref(), style.csv_name_separator),
                name_text(
                    person.name_kana.as_ref(),
                    if style.csv_name_separator == " " { " " } else { "　" },
                ),
                person.birth_date.map(|d| format_date(d, style.birth_date)).unwrap_or_default(),
                sex_text(person.sex, style.sex).to_owned(),
                field(person.postal_code.as_ref()),
                field(person.address.as_ref()),
                field(person.phone.as_ref()),
                insurance.map(|i| i.insurer_number.clone()).unwrap_or_default(),
                field(insurance.and_then(|i| i.symbol.as_ref())),
                field(insurance.and_then(|i| i.number.as_ref())),
                field(insurance.and_then(|i| i.branch.as_ref())),
            ])
            .map_err(csv_error(&paths[0]))?;
        for encounter in &record.encounters {
            writers[1]
                .write_record([
                    id.to_owned(),
                    encounter.class.name().to_owned(),
                    date(encounter.start),
                    encounter.end.map(date).unwrap_or_default(),
                    encounter.department.clone().unwrap_or_default(),
                ])
                .map_err(csv_error(&paths[1]))?;
        }
        for diagnosis in &record.diagnoses {
            writers[2]
                .write_record([
                    id.to_owned(),
                    field(diagnosis.icd10.as_ref()),
                    field(diagnosis.medis_code.as_ref()),
                    field(diagnosis.name.as_ref()),
                    diagnosis.onset.map(date).unwrap_or_default(),
                    diagnosis.suspected.to_string(),
                    diagnosis.main.to_string(),
                ])
                .map_err(csv_error(&paths[2]))?;
        }
        for prescription in &record.prescriptions {
            writers[3]
                .write_record([
                    id.to_owned(),
                    prescription.drug_code.clone(),
                    prescription.code_system.name().to_owned(),
                    field(prescription.drug_name.as_ref()),
                    prescription.dose.map(format_number).unwrap_or_default(),
                    field(prescription.unit.as_ref()),
                    prescription.days.map(|days| days.to_string()).unwrap_or_default(),
                    date(prescription.date),
                ])
                .map_err(csv_error(&paths[3]))?;
        }
        for lab in &record.labs {
            let value = match &lab.value {
                LabValue::Numeric(value) => format_number(*value),
                LabValue::Text(text) => text.clone(),
            };
            writers[4]
                .write_record([
                    id.to_owned(),
                    lab.code.clone(),
                    field(lab.name.as_ref()),
                    value,
                    field(lab.unit.as_ref()),
                    field(lab.reference_range.as_ref()),
                    date(lab.date),
                ])
                .map_err(csv_error(&paths[4]))?;
        }
        for procedure in &record.procedures {
            writers[5]
                .write_record([
                    id.to_owned(),
                    procedure.code.clone(),
                    field(procedure.code_system.as_ref()),
                    field(procedure.name.as_ref()),
                    date(procedure.date),
                ])
                .map_err(csv_error(&paths[5]))?;
        }
        tick(1);
    }
    for (writer, path) in writers.into_iter().zip(&paths) {
        let inner = writer
            .into_inner()
            .map_err(|error| SynthError::Io { path: path.clone(), source: error.into_error() })?;
        finish(inner, path)?;
    }
    Ok(FILES.len())
}
