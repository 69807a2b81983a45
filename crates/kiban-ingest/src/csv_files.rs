//! CSV intake: the provider flat-file export of docs/formats/csv-intake.md (patients.csv plus optional
//! encounters, diagnoses, prescriptions, labs and procedures files, each with a header row).
//!
//! A bad row (wrong number of fields, a missing required value, a value that does not parse, a patient id
//! not in patients.csv) is quarantined with its file, line and column name, never its value; the rest goes
//! on. A record file without one of its required columns is quarantined whole. Unknown columns and files are
//! reported as warnings. Files are UTF-8 (a BOM is allowed); Shift_JIS is read with a warning.
//!
//! A provider with its own layout sends a column-mapping file ([`CsvMapping`], TOML): its file names,
//! column names, code values and date format, mapped onto the canonical ones ([`read_csv_with_mapping`]).
//! A mapping that names an unknown canonical file or column, or a column the provider's file does not
//! have, is an error naming the file and column: it is configuration, so nothing is stored until it is
//! fixed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

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

/// Reads a CSV export folder in the canonical layout.
///
/// # Errors
/// When `dir` is missing or unreadable, or has no patients.csv; bad rows and files are quarantined.
pub fn read_csv(
    dir: &Path,
    provider: &ProviderCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    read_mapped(dir, provider, &CsvMapping::canonical(), progress)
}

/// Reads a CSV export folder in a provider's own layout, described by `mapping`. The mapping is part of
/// the batch's fingerprint: the same files read under another mapping are another batch.
///
/// # Errors
/// As [`read_csv`], plus [`IngestError::MappedColumnMissing`] when a mapped file lacks a column the mapping
/// names or a required column.
pub fn read_csv_with_mapping(
    dir: &Path,
    provider: &ProviderCode,
    mapping: &CsvMapping,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    read_mapped(dir, provider, mapping, progress)
}

fn read_mapped(
    dir: &Path,
    provider: &ProviderCode,
    mapping: &CsvMapping,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    let files = list_files(dir, &|relative| relative.to_ascii_lowercase().ends_with(".csv"))?;
    let total = files.len();
    let mut fingerprint = Fingerprint::default();
    let contents = read_batch(&files, &mut fingerprint);
    if let Some(text) = &mapping.text {
        fingerprint.add("\0csv-mapping", text.as_bytes());
    }
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
        if let Some(file_mapping) = mapping.files.iter().find(|m| m.source_file == file.relative) {
            by_name.insert(file_mapping.layout.file, (file, bytes));
        } else {
            output.warnings.push(format!("{}: not a file of the CSV intake format, ignored", file.relative));
        }
    }
    let patients = mapping.file(PATIENTS);
    if !by_name.contains_key(PATIENTS) {
        return Err(IngestError::MissingFile {
            path: dir.to_owned(),
            file: patients.map_or(PATIENTS, |m| m.source_file.as_str()).to_owned(),
        });
    }
    let mut records: BTreeMap<String, PatientRecord> = BTreeMap::new();
    // Progress counts the intake files, read in dependency order (patients first).
    let known = by_name.len();
    progress(Progress { done: 0, total: known });
    let present = mapping.files.iter().filter_map(|file| Some((file, by_name.remove(file.layout.file)?.1)));
    for (done, (file, bytes)) in present.enumerate() {
        match bytes {
            Ok(bytes) => read_file(file, &bytes, provider, &mut records, &mut output)?,
            Err(reason) => output.quarantined.push(quarantine(&file.source_file, reason)),
        }
        progress(Progress { done: done + 1, total: known });
    }
    output.records = records.into_values().collect();
    output.fingerprint = fingerprint.finish();
    Ok(output)
}

/// How dates of a file are written.
#[derive(Clone, PartialEq, Eq, Debug)]
enum DateFormat {
    /// ISO, `YYYYMMDD`, `YYYY/MM/DD`, `YYYY年M月D日` or a Japanese era date (the `dates` module).
    Auto,
    /// Japanese era dates only (`S23.04.05`, `昭和23年4月5日`, ...).
    JapaneseEra,
    /// A chrono `strftime` pattern, e.g. `%Y/%m/%d`.
    Pattern(String),
}

impl DateFormat {
    fn parse(text: &str) -> Option<DateFormat> {
        use chrono::format::{Item, StrftimeItems};
        match text {
            "auto" => Some(DateFormat::Auto),
            "japanese-era" => Some(DateFormat::JapaneseEra),
            pattern
                if pattern.contains('%')
                    && StrftimeItems::new(pattern).all(|item| !matches!(item, Item::Error)) =>
            {
                Some(DateFormat::Pattern(pattern.to_owned()))
            }
            _ => None,
        }
    }

    fn read(&self, text: &str) -> Option<NaiveDate> {
        match self {
            DateFormat::Auto => dates::parse_date(text),
            DateFormat::JapaneseEra => {
                let first = text.trim_start().chars().next()?;
                if first.is_ascii_digit() || ('０'..='９').contains(&first) {
                    return None;
                }
                dates::parse_date(text)
            }
            DateFormat::Pattern(pattern) => NaiveDate::parse_from_str(text, pattern).ok(),
        }
    }
}

/// A provider's CSV layout mapped onto the canonical one of docs/formats/csv-intake.md: per canonical file,
/// the provider's file name, its column names, code values and date format. Read it with
/// [`CsvMapping::from_toml`] or [`CsvMapping::read`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CsvMapping {
    // Invariant: one entry per layout, in `LAYOUTS` order (patients first); source file names unique.
    files: Vec<FileMapping>,
    /// The mapping file's text, hashed into the batch fingerprint; `None` for the canonical layout.
    text: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct FileMapping {
    layout: &'static Layout,
    /// The provider's file name, relative to the export folder.
    source_file: String,
    /// Canonical column → the provider's column name, for every column the mapping names.
    columns: BTreeMap<&'static str, String>,
    /// Canonical column → (provider's value → canonical value).
    values: BTreeMap<&'static str, BTreeMap<String, String>>,
    date_format: DateFormat,
    /// True when the mapping file has a section for this file: then its columns must be there.
    strict: bool,
}

impl PartialEq for Layout {
    fn eq(&self, other: &Layout) -> bool {
        self.file == other.file
    }
}

impl Eq for Layout {}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file)
    }
}

/// The mapping file as written (TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingToml {
    date_format: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, FileToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    file: Option<String>,
    date_format: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

impl CsvMapping {
    /// The canonical layout: canonical file and column names, any date form `dates` reads.
    fn canonical() -> CsvMapping {
        CsvMapping {
            files: LAYOUTS
                .iter()
                .map(|layout| FileMapping {
                    layout,
                    source_file: layout.file.to_owned(),
                    columns: BTreeMap::new(),
                    values: BTreeMap::new(),
                    date_format: DateFormat::Auto,
                    strict: false,
                })
                .collect(),
            text: None,
        }
    }

    fn file(&self, canonical: &str) -> Option<&FileMapping> {
        self.files.iter().find(|file| file.layout.file == canonical)
    }

    /// Reads a mapping file.
    ///
    /// # Errors
    /// [`IngestError::MappingUnreadable`], or [`IngestError::Mapping`] as [`CsvMapping::from_toml`].
    pub fn read(path: &Path) -> Result<CsvMapping, IngestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| IngestError::MappingUnreadable { path: path.to_owned(), source })?;
        CsvMapping::from_toml(&text, path)
    }

    /// Parses a mapping file's text; `path` names it in errors.
    ///
    /// # Errors
    /// [`IngestError::Mapping`] naming the section and column when the TOML does not parse, a section or
    /// column is not canonical, a date format is not understood, or two files map to one name.
    pub fn from_toml(text: &str, path: &Path) -> Result<CsvMapping, IngestError> {
        let error = |reason: String| IngestError::Mapping { path: path.to_owned(), reason };
        let parsed: MappingToml =
            toml::from_str(text).map_err(|e| error(format!("not a valid mapping file: {}", e.message())))?;
        let default_format = match &parsed.date_format {
            Some(format) => DateFormat::parse(format).ok_or_else(|| error(bad_date_format("date_format")))?,
            None => DateFormat::Auto,
        };
        for name in parsed.files.keys() {
            if !LAYOUTS.iter().any(|layout| layout_key(layout) == name) {
                let known: Vec<&str> = LAYOUTS.iter().map(layout_key).collect();
                return Err(error(format!(
                    "[files.{name}]: not a file of the CSV intake format (known: {})",
                    known.join(", ")
                )));
            }
        }
        let mut mapping = CsvMapping::canonical();
        mapping.text = Some(text.to_owned());
        for file in &mut mapping.files {
            file.date_format = default_format.clone();
            let key = layout_key(file.layout);
            let Some(section) = parsed.files.get(key) else { continue };
            file.strict = true;
            if let Some(source_file) = &section.file {
                file.source_file = source_file.trim().to_owned();
            }
            if let Some(format) = &section.date_format {
                file.date_format = DateFormat::parse(format)
                    .ok_or_else(|| error(bad_date_format(&format!("[files.{key}] date_format"))))?;
            }
            for (canonical, source) in &section.columns {
                let column = canonical_column(file.layout, canonical).ok_or_else(|| {
                    error(format!(
                        "[files.{key}.columns]: {canonical} is not a column of {} (known: {})",
                        file.layout.file,
                        file.layout.columns.join(", ")
                    ))
                })?;
                file.columns.insert(column, source.trim().to_owned());
            }
            for (canonical, values) in &section.values {
                let column = canonical_column(file.layout, canonical).ok_or_else(|| {
                    error(format!(
                        "[files.{key}.values]: {canonical} is not a column of {}",
                        file.layout.file
                    ))
                })?;
                file.values.insert(column, values.clone());
            }
        }
        let mut names: Vec<&str> = mapping.files.iter().map(|file| file.source_file.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(error(format!("two files are mapped to the same file name {}", pair[0])));
        }
        Ok(mapping)
    }
}

/// The section name of a layout in a mapping file: the canonical file name without `.csv`.
fn layout_key(layout: &Layout) -> &'static str {
    layout.file.trim_end_matches(".csv")
}

fn canonical_column(layout: &Layout, name: &str) -> Option<&'static str> {
    layout.columns.iter().find(|column| **column == name).copied()
}

fn bad_date_format(key: &str) -> String {
    format!("{key}: expected \"auto\", \"japanese-era\" or a strftime pattern such as \"%Y/%m/%d\"")
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

/// One row's values by canonical column name.
struct Row<'a> {
    values: HashMap<&'static str, &'a str>,
    mapping: &'a FileMapping,
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        let value = self.values.get(column).map(|value| value.trim()).filter(|value| !value.is_empty())?;
        // A provider's code value (e.g. 外来) mapped onto the canonical one (outpatient).
        match self.mapping.values.get(column).and_then(|values| values.get(value)) {
            Some(canonical) => Some(canonical.as_str()),
            None => Some(value),
        }
    }

    /// The column as messages name it: the canonical name, and the provider's name when mapped.
    fn label(&self, column: &str) -> String {
        match self.mapping.columns.get(column) {
            Some(source) => format!("{source} ({column})"),
            None => column.to_owned(),
        }
    }

    fn required(&self, column: &str) -> Result<&str, String> {
        self.get(column).ok_or_else(|| format!("column {}: required value is empty", self.label(column)))
    }

    fn date(&self, column: &str) -> Result<Option<NaiveDate>, String> {
        self.get(column)
            .map(|text| {
                self.mapping
                    .date_format
                    .read(text)
                    .ok_or_else(|| format!("column {}: not a date", self.label(column)))
            })
            .transpose()
    }

    fn required_date(&self, column: &str) -> Result<NaiveDate, String> {
        self.date(column)?.ok_or_else(|| format!("column {}: required value is empty", self.label(column)))
    }

    fn number(&self, column: &str) -> Result<Option<f64>, String> {
        self.get(column)
            .map(|text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| format!("column {}: not a number", self.label(column)))
            })
            .transpose()
    }

    fn flag(&self, column: &str) -> Result<bool, String> {
        match self.get(column).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "n") => Ok(false),
            Some("true" | "1" | "yes" | "y") => Ok(true),
            Some(_) => Err(format!("column {}: expected true/false or 1/0", self.label(column))),
        }
    }

    fn text(&self, column: &str) -> Option<String> {
        self.get(column).map(str::to_owned)
    }
}

/// Header names compare trimmed and with ASCII letters lower-cased.
fn header_key(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

/// Which canonical column each header position holds (`None` for a column the layout does not know).
///
/// Errors: in a strict (mapped) file, a column the mapping names or a required column that is not in the
/// header. Otherwise `Ok(Err(missing))` lists the required columns missing, to quarantine the file.
fn header_columns(
    file: &FileMapping,
    headers: &[String],
) -> Result<Result<Vec<Option<&'static str>>, Vec<&'static str>>, IngestError> {
    let source_of =
        |column: &'static str| header_key(file.columns.get(column).map_or(column, String::as_str));
    if file.strict {
        for (column, source) in &file.columns {
            if !headers.contains(&header_key(source)) {
                return Err(IngestError::MappedColumnMissing {
                    file: file.source_file.clone(),
                    column: source.clone(),
                    canonical: format!("{}.{column}", layout_key(file.layout)),
                });
            }
        }
    }
    let missing: Vec<&'static str> = file.layout.columns[..file.layout.required]
        .iter()
        .filter(|column| !headers.contains(&source_of(column)))
        .copied()
        .collect();
    if let Some(column) = missing.first()
        && file.strict
    {
        return Err(IngestError::MappedColumnMissing {
            file: file.source_file.clone(),
            column: source_of(column),
            canonical: format!("{}.{column}", layout_key(file.layout)),
        });
    }
    if !missing.is_empty() {
        return Ok(Err(missing));
    }
    Ok(Ok(headers
        .iter()
        .map(|header| file.layout.columns.iter().find(|column| source_of(column) == *header).copied())
        .collect()))
}

fn read_file(
    file: &FileMapping,
    bytes: &[u8],
    provider: &ProviderCode,
    records: &mut BTreeMap<String, PatientRecord>,
    output: &mut IngestOutput,
) -> Result<(), IngestError> {
    let name = file.source_file.as_str();
    let Some(text) = decode(name, bytes, &mut output.warnings) else {
        output.quarantined.push(quarantine(name, "neither UTF-8 nor Shift_JIS"));
        return Ok(());
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(headers) => headers.iter().map(header_key).collect(),
        Err(_) => {
            output.quarantined.push(quarantine(name, "line 1: the header row cannot be read"));
            return Ok(());
        }
    };
    let columns = match header_columns(file, &headers)? {
        Ok(columns) => columns,
        Err(missing) => {
            output
                .quarantined
                .push(quarantine(name, format!("missing required columns: {}", missing.join(", "))));
            return Ok(());
        }
    };
    for (header, column) in headers.iter().zip(&columns) {
        if column.is_none() {
            output.warnings.push(format!("{name}: unknown column {header} ignored"));
        }
    }
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                output
                    .quarantined
                    .push(quarantine(name, format!("line {line}: the row cannot be read as CSV")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            output.quarantined.push(quarantine(
                name,
                format!("line {line}: {} fields, the header has {}", record.len(), headers.len()),
            ));
            continue;
        }
        let values =
            columns.iter().zip(record.iter()).filter_map(|(column, value)| Some(((*column)?, value)));
        let row = Row { values: values.collect(), mapping: file };
        if let Err(reason) = read_row(file.layout.file, &row, provider, records) {
            output.quarantined.push(quarantine(name, format!("line {line}: {reason}")));
        }
    }
    Ok(())
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
        let local_id = LocalPatientId::new(patient_id)
            .map_err(|_| format!("column {}: not a valid patient id", row.label("patient_id")))?;
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
            let class = EncounterClass::parse(row.required("class")?).ok_or_else(|| {
                format!("column {}: expected outpatient/inpatient/emergency or O/I/E", row.label("class"))
            })?;
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
                    text.parse::<u32>()
                        .map_err(|_| format!("column {}: not a whole number of days", row.label("days")))
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
    let record = records
        .get_mut(patient_id)
        .ok_or_else(|| format!("column {}: not in patients.csv", row.label("patient_id")))?;
    apply(record);
    Ok(())
}
