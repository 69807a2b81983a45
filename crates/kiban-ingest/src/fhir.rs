//! FHIR R4 / JP Core intake: Bundles (any type), NDJSON (one resource per line) and single resources.
//!
//! Each resource is mapped as it is read; references to the patient are resolved once every file is read,
//! so a Condition may come before its Patient. A subject resolves through `Patient/{id}`, a Bundle entry's
//! `fullUrl` (`urn:uuid:…`), a contained Patient (`#id`), or a `subject.identifier` that matches exactly one
//! patient's identifier (the JP examples refer to the patient by insurance member id).
//!
//! Mapping choices:
//! - Patient local id: the identifier with system `urn:oid:1.2.392.100495.20.3.51.*` (JP Core patient id),
//!   else one whose system names a patient id, else the first identifier that is not an insurance number,
//!   else the resource id. Names by the iso21090-EN-representation extension (`IDE` kanji, `SYL` kana;
//!   without it, all-katakana names are kana). An identifier with system `…JP_Insurance_memberID`
//!   (`insurer:symbol:number:branch`) becomes an insurance entitlement.
//! - Coverage: insurer number from `payor` (identifier, or a contained Organization's identifier), symbol /
//!   number / branch from the JP Core extensions (`…InsuredPersonSymbol`, `…Number`, `…SubNumber`) or from
//!   `class` entries; linked by `beneficiary`.
//! - Condition: ICD-10 from a coding system containing `icd-10`/`ICD10`, the MEDIS code from a system
//!   containing `medis.or.jp/CodeSystem/master-disease` (the key number, else the exchange code) or `mdcdx2`;
//!   suspected when verificationStatus is provisional, differential or unconfirmed; main when a category
//!   or an extension says main/primary/主; partial dates (`2018`, `2022-05`) read as their first day.
//! - MedicationRequest: HOT first, then YJ, then any other code; dose per day from `rateRatio` per day,
//!   else `doseQuantity`; days from `dispenseRequest.expectedSupplyDuration`; date `authoredOn`.
//! - Observation (category laboratory only): JLAC10 code, else the first code; valueQuantity → numeric,
//!   valueString / valueCodeableConcept → text.
//! - Profile and terminology rules (`validate`: JP eCS required codes, general-name codes against the
//!   general-name master) run on every resource before it is mapped; a violation is a warning, or
//!   quarantines the resource when mapping it would store a code known to be wrong.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, PatientRecord, PersonName, Prescription, Procedure, ProviderCode, Sex,
};
use serde_json::Value;

mod validate;

use crate::{
    BATCH_SIZE, Fingerprint, IngestError, IngestOutput, InputFile, Progress, Quarantined, dates, is_kana,
    list_files, quarantine, read_batch,
};

/// Reads FHIR resources from `path`: a directory of `*.json` / `*.ndjson` files, or one such file.
///
/// # Errors
/// Only when `path` is missing or cannot be listed; bad files and resources are quarantined.
pub fn read_fhir(
    path: &Path,
    provider: &ProviderCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    let metadata = std::fs::metadata(path)
        .map_err(|source| IngestError::Unreadable { path: path.to_owned(), source })?;
    let files = if metadata.is_dir() {
        list_files(path, &|relative| relative.ends_with(".json") || relative.ends_with(".ndjson"))?
    } else {
        let name =
            path.file_name().map_or_else(|| "input".to_owned(), |name| name.to_string_lossy().into_owned());
        vec![InputFile { relative: name, absolute: path.to_owned() }]
    };
    let total = files.len();
    let mut fingerprint = Fingerprint::default();
    let mut reader = Reader::new(provider);
    let mut done = 0;
    progress(Progress { done, total });
    for batch in files.chunks(BATCH_SIZE) {
        let contents = read_batch(batch, &mut fingerprint);
        for (file, bytes) in batch.iter().zip(contents) {
            match bytes {
                Ok(bytes) => reader.read_file(&file.relative, &bytes),
                Err(reason) => reader.quarantined.push(quarantine(&file.relative, reason)),
            }
        }
        done += batch.len();
        progress(Progress { done, total });
    }
    Ok(reader.finish(total, fingerprint.finish()))
}

/// Reads one FHIR document already in memory, as [`read_fhir`] would read a file named `name`: NDJSON (one
/// resource per line) when `name` ends with `.ndjson`, else one JSON resource or Bundle. Pure: no
/// file-system access. References are resolved within this document only.
pub fn read_fhir_document(name: &str, bytes: &[u8], provider: &ProviderCode) -> IngestOutput {
    let mut fingerprint = Fingerprint::default();
    fingerprint.add(name, bytes);
    let mut reader = Reader::new(provider);
    reader.read_file(name, bytes);
    reader.finish(1, fingerprint.finish())
}

/// Where a resource came from: a file, and a line (NDJSON) or Bundle entry.
#[derive(Clone)]
struct Source {
    relative: String,
    place: String,
}

impl Source {
    fn quarantine(&self, reason: &str) -> Quarantined {
        let reason =
            if self.place.is_empty() { reason.to_owned() } else { format!("{}: {reason}", self.place) };
        Quarantined { path: PathBuf::from(&self.relative), reason }
    }

    fn warning(&self, text: &str) -> String {
        if self.place.is_empty() {
            format!("{}: {text}", self.relative)
        } else {
            format!("{} {}: {text}", self.relative, self.place)
        }
    }
}

/// How a clinical resource names its patient.
enum Subject {
    Local(String),
    Reference(String),
    Identifier { system: String, value: String },
}

enum Event {
    Encounter(Encounter),
    Diagnosis(Diagnosis),
    Prescription(Prescription),
    Lab(LabResult),
    Procedure(Procedure),
    Insurance(Insurance),
}

struct Pending {
    source: Source,
    resource_type: &'static str,
    subject: Subject,
    event: Event,
}

struct Reader<'a> {
    provider: &'a ProviderCode,
    records: BTreeMap<String, PatientRecord>,
    /// `Patient/{id}` and `fullUrl` → local id.
    references: HashMap<String, String>,
    /// `(system, value)` → local ids.
    identifiers: HashMap<(String, String), BTreeSet<String>>,
    pending: Vec<Pending>,
    quarantined: Vec<Quarantined>,
    unmapped: BTreeMap<String, usize>,
    warnings: Vec<String>,
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty())
}

fn array<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The codings of a CodeableConcept as `(system, code, display)`.
fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str, Option<&str>)> {
    array(concept, "coding").iter().filter_map(|coding| {
        let code = text(coding, "code")?;
        Some((text(coding, "system").unwrap_or(""), code, text(coding, "display")))
    })
}

/// A FHIR date or dateTime; partial dates (`YYYY`, `YYYY-MM`) read as their first day.
fn fhir_date(value: &str) -> Option<NaiveDate> {
    let date = value.get(0..10).unwrap_or(value);
    match date.len() {
        4 => NaiveDate::from_ymd_opt(date.parse().ok()?, 1, 1),
        7 => NaiveDate::from_ymd_opt(date.get(0..4)?.parse().ok()?, date.get(5..7)?.parse().ok()?, 1),
        _ => dates::parse_date(date),
    }
}

fn date_at(value: &Value, key: &str) -> Option<NaiveDate> {
    text(value, key).and_then(fhir_date)
}

fn has_profile(resource: &Value, fragment: &str) -> bool {
    array(resource.get("meta").unwrap_or(&Value::Null), "profile")
        .iter()
        .filter_map(Value::as_str)
        .any(|profile| profile.contains(fragment))
}

impl<'a> Reader<'a> {
    fn new(provider: &'a ProviderCode) -> Reader<'a> {
        Reader {
            provider,
            records: BTreeMap::new(),
            references: HashMap::new(),
            identifiers: HashMap::new(),
            pending: Vec::new(),
            quarantined: Vec::new(),
            unmapped: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    fn read_file(&mut self, relative: &str, bytes: &[u8]) {
        let Ok(content) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) else {
            self.quarantined.push(quarantine(relative, "not UTF-8 (FHIR JSON must be UTF-8)"));
            return;
        };
        if relative.ends_with(".ndjson") {
            for (line_idx, line) in content.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let source =
                    Source { relative: relative.to_owned(), place: format!("line {}", line_idx + 1) };
                match serde_json::from_str::<Value>(line) {
                    Ok(resource) => self.read_resource(&source, None, &resource),
                    Err(error) => self.quarantined.push(source.quarantine(&json_error(&error))),
                }
            }
        } else {
            let source = Source { relative: relative.to_owned(), place: String::new() };
            match serde_json::from_str::<Value>(content) {
                Ok(resource) => self.read_resource(&source, None, &resource),
                Err(error) => self.quarantined.push(source.quarantine(&json_error(&error))),
            }
        }
    }

    fn read_resource(&mut self, source: &Source, full_url: Option<&str>, resource: &Value) {
        let Some(resource_type) = text(resource, "resourceType") else {
            self.quarantined.push(source.quarantine("not a FHIR resource: no resourceType"));
            return;
        };
        let mut quarantined = false;
        for problem in validate::check(resource_type, resource) {
            match problem.severity {
                validate::Severity::Warning => self.warnings.push(source.warning(&problem.describe())),
                validate::Severity::Quarantine => {
                    self.quarantined.push(source.quarantine(&problem.describe()));
                    quarantined = true;
                }
            }
        }
        if quarantined {
            return;
        }
        let result = match resource_type {
            "Bundle" => {
                for (entry_idx, entry) in array(resource, "entry").iter().enumerate() {
                    let place = if source.place.is_empty() {
                        format!("entry {}", entry_idx + 1)
                    } else {
                        format!("{} entry {}", source.place, entry_idx + 1)
                    };
                    let entry_source = Source { relative: source.relative.clone(), place };
                    match entry.get("resource") {
                        Some(inner) => self.read_resource(&entry_source, text(entry, "fullUrl"), inner),
                        None => self.warnings.push(entry_source.warning("Bundle entry without a resource")),
                    }
                }
                Ok(())
            }
            "Patient" => self.read_patient(source, full_url, resource).map(|_| ()),
            "Coverage" => self.read_clinical(source, resource, "Coverage", "beneficiary", coverage),
            "Encounter" => self.read_clinical(source, resource, "Encounter", "subject", encounter),
            "Condition" => self.read_clinical(source, resource, "Condition", "subject", condition),
            "MedicationRequest" => {
                self.read_clinical(source, resource, "MedicationRequest", "subject", medication_request)
            }
            "Observation" => {
                let laboratory = array(resource, "category")
                    .iter()
                    .any(|category| codings(category).any(|(_, code, _)| code == "laboratory"));
                if !laboratory {
                    *self.unmapped.entry("Observation (not laboratory)".to_owned()).or_default() += 1;
                    return;
                }
                self.read_clinical(source, resource, "Observation", "subject", observation)
            }
            "Procedure" => self.read_clinical(source, resource, "Procedure", "subject", procedure),
            other => {
                *self.unmapped.entry(other.to_owned()).or_default() += 1;
                Ok(())
            }
        };
        if let Err(reason) = result {
            self.quarantined.push(source.quarantine(&format!("{resource_type}: {reason}")));
        }
    }

    /// Maps a Patient, registers its references and identifiers, and returns its local id.
    fn read_patient(
        &mut self,
        source: &Source,
        full_url: Option<&str>,
        resource: &Value,
    ) -> Result<String, String> {
        let provider = self.provider.clone();
        let identifiers: Vec<(&str, &str)> = array(resource, "identifier")
            .iter()
            .filter_map(|identifier| {
                Some((text(identifier, "system").unwrap_or(""), text(identifier, "value")?))
            })
            .collect();
        let is_insurance = |system: &str| system.contains("Insurance") || system.contains("insurance");
        let local = identifiers
            .iter()
            .find(|(system, _)| system.starts_with("urn:oid:1.2.392.100495.20.3.51."))
            .or_else(|| {
                identifiers.iter().find(|(system, _)| {
                    let folded = system.to_ascii_lowercase().replace(['-', '_'], "");
                    folded.contains("patientid") || folded.ends_with("/patient")
                })
            })
            .or_else(|| identifiers.iter().find(|(system, _)| !is_insurance(system)))
            .map(|(_, value)| *value)
            .or_else(|| text(resource, "id"))
            .ok_or("no identifier and no id to take the local patient id from")?;
        let local_id = LocalPatientId::new(local).map_err(|error| format!("patient id: {error}"))?;
        let key = local_id.as_str().to_owned();
        let mut person = IdentifiedPerson::new(provider, local_id);

        for name in array(resource, "name") {
            let representation = array(name, "extension")
                .iter()
                .find(|extension| {
                    text(extension, "url").is_some_and(|url| url.ends_with("iso21090-EN-representation"))
                })
                .and_then(|extension| text(extension, "valueCode"));
            let given: Vec<&str> = array(name, "given").iter().filter_map(Value::as_str).collect();
            let mut parsed = PersonName::new(text(name, "family").unwrap_or(""), &given.concat());
            if parsed.family.is_empty() && parsed.given.is_empty() {
                let Some(full) = text(name, "text") else { continue };
                let mut parts = full.splitn(2, [' ', '　']);
                parsed = PersonName::new(parts.next().unwrap_or(""), parts.next().unwrap_or("").trim());
            }
            let kana = match representation {
                Some("SYL") => true,
                Some("IDE") => false,
                Some(_) => continue,
                None => is_kana(&parsed.joined()),
            };
            let slot = if kana { &mut person.name_kana } else { &mut person.name_kanji };
            if slot.is_none() {
                *slot = Some(parsed);
            }
        }
        person.birth_date = date_at(resource, "birthDate");
        person.sex = text(resource, "gender").map_or(Sex::Unknown, Sex::parse_lenient);
        let addresses = array(resource, "address");
        if let Some(address) =
            addresses.iter().find(|address| text(address, "use") == Some("home")).or(addresses.first())
        {
            person.postal_code = text(address, "postalCode").map(str::to_owned);
            let lines: Vec<&str> = array(address, "line").iter().filter_map(Value::as_str).collect();
            person.address = text(address, "text").map(str::to_owned).or_else(|| {
                let joined = [
                    text(address, "state").unwrap_or(""),
                    text(address, "city").unwrap_or(""),
                    &lines.concat(),
                ]
                .concat();
                (!joined.is_empty()).then_some(joined)
            });
        }
        person.phone = array(resource, "telecom")
            .iter()
            .filter(|telecom| text(telecom, "system") == Some("phone"))
            .find_map(|telecom| text(telecom, "value"))
            .map(str::to_owned);
        for (system, value) in &identifiers {
            if system.ends_with("JP_Insurance_memberID") {
                let parts: Vec<&str> = value.split(':').collect();
                if let Some(insurer) = parts.first().filter(|insurer| !insurer.is_empty()) {
                    let part = |idx: usize| {
                        parts.get(idx).filter(|part| !part.is_empty()).map(|part| (*part).to_owned())
                    };
                    person.insurances.push(Insurance {
                        insurer_number: (*insurer).to_owned(),
                        symbol: part(1),
                        number: part(2),
                        branch: part(3),
                        valid_from: None,
                    });
                }
            }
        }

        if let Some(id) = text(resource, "id") {
            self.register(source, format!("Patient/{id}"), &key);
        }
        if let Some(url) = full_url {
            self.register(source, url.to_owned(), &key);
        }
        for (system, value) in identifiers {
            self.identifiers.entry((system.to_owned(), value.to_owned())).or_default().insert(key.clone());
        }
        let record = PatientRecord::new(person);
        match self.records.get_mut(&key) {
            Some(existing) => existing.merge(record),
            None => {
                self.records.insert(key.clone(), record);
            }
        }
        Ok(key)
    }

    fn register(&mut self, source: &Source, reference: String, key: &str) {
        match self.references.get(&reference) {
            Some(existing) if existing != key => self
                .warnings
                .push(source.warning("a Patient reference already names another patient; the first is kept")),
            Some(_) => {}
            None => {
                self.references.insert(reference, key.to_owned());
            }
        }
    }

    fn read_clinical(
        &mut self,
        source: &Source,
        resource: &Value,
        resource_type: &'static str,
        subject_key: &str,
        map: fn(&Value) -> Result<Event, String>,
    ) -> Result<(), String> {
        let event = map(resource)?;
        let reference =
            resource.get(subject_key).ok_or(format!("no {subject_key}: the patient cannot be resolved"))?;
        let subject = if let Some(target) = text(reference, "reference") {
            if let Some(contained_id) = target.strip_prefix('#') {
                let contained = array(resource, "contained")
                    .iter()
                    .find(|item| {
                        text(item, "resourceType") == Some("Patient")
                            && text(item, "id") == Some(contained_id)
                    })
                    .ok_or(format!("{subject_key} refers to a contained Patient that is not there"))?;
                Subject::Local(self.read_patient(source, None, contained)?)
            } else {
                Subject::Reference(target.to_owned())
            }
        } else if let Some(identifier) = reference.get("identifier") {
            Subject::Identifier {
                system: text(identifier, "system").unwrap_or("").to_owned(),
                value: text(identifier, "value")
                    .ok_or(format!("{subject_key}.identifier has no value"))?
                    .to_owned(),
            }
        } else {
            return Err(format!("{subject_key} has neither a reference nor an identifier"));
        };
        self.pending.push(Pending { source: source.clone(), resource_type, subject, event });
        Ok(())
    }

    fn resolve(&self, subject: &Subject) -> Result<String, &'static str> {
        match subject {
            Subject::Local(key) => Ok(key.clone()),
            Subject::Reference(reference) => self
                .references
                .get(reference)
                .cloned()
                .ok_or("the subject reference names no Patient in the input"),
            Subject::Identifier { system, value } => {
                let keys = self
                    .identifiers
                    .get(&(system.clone(), value.clone()))
                    .ok_or("the subject identifier matches no Patient in the input")?;
                match keys.iter().collect::<Vec<_>>()[..] {
                    [key] => Ok(key.clone()),
                    _ => Err("the subject identifier matches more than one patient"),
                }
            }
        }
    }

    fn finish(mut self, n_files: usize, fingerprint: String) -> IngestOutput {
        let pending = std::mem::take(&mut self.pending);
        for item in pending {
            let key = match self.resolve(&item.subject) {
                Ok(key) => key,
                Err(reason) => {
                    self.quarantined
                        .push(item.source.quarantine(&format!("{}: {reason}", item.resource_type)));
                    continue;
                }
            };
            let Some(record) = self.records.get_mut(&key) else { continue };
            match item.event {
                Event::Encounter(event) => record.encounters.push(event),
                Event::Diagnosis(event) => record.diagnoses.push(event),
                Event::Prescription(event) => record.prescriptions.push(event),
                Event::Lab(event) => record.labs.push(event),
                Event::Procedure(event) => record.procedures.push(event),
                Event::Insurance(insurance) => {
                    if !record.person.insurances.contains(&insurance) {
                        record.person.insurances.push(insurance);
                    }
                }
            }
        }
        IngestOutput {
            records: self.records.into_values().collect(),
            quarantined: self.quarantined,
            unmapped: self.unmapped,
            warnings: self.warnings,
            n_files,
            fingerprint,
        }
    }
}

fn json_error(error: &serde_json::Error) -> String {
    format!("not valid JSON (line {}, column {}): {:?}", error.line(), error.column(), error.classify())
}

fn coverage(resource: &Value) -> Result<Event, String> {
    let contained = array(resource, "contained");
    let insurer_number = array(resource, "payor")
        .iter()
        .find_map(|payor| {
            payor.get("identifier").and_then(|identifier| text(identifier, "value")).or_else(|| {
                let id = text(payor, "reference")?.strip_prefix('#')?;
                let organization = contained.iter().find(|item| text(item, "id") == Some(id))?;
                array(organization, "identifier").iter().find_map(|identifier| text(identifier, "value"))
            })
        })
        .ok_or("no insurer number in payor (identifier or contained Organization)")?;
    let extension = |suffix: &str| {
        array(resource, "extension")
            .iter()
            .find(|extension| text(extension, "url").is_some_and(|url| url.ends_with(suffix)))
            .and_then(|extension| text(extension, "valueString"))
            .map(str::to_owned)
    };
    let class = |names: &[&str]| {
        array(resource, "class").iter().find_map(|class| {
            let kind = class.get("type").unwrap_or(&Value::Null);
            let matches = codings(kind).any(|(_, code, _)| names.contains(&code))
                || text(kind, "text").is_some_and(|kind_text| names.contains(&kind_text));
            if matches { text(class, "value").map(str::to_owned) } else { None }
        })
    };
    Ok(Event::Insurance(Insurance {
        insurer_number: insurer_number.to_owned(),
        symbol: extension("InsuredPersonSymbol").or_else(|| class(&["symbol", "記号", "group"])),
        number: extension("InsuredPersonNumber")
            .or_else(|| class(&["number", "番号", "plan"]))
            .or_else(|| text(resource, "subscriberId").map(str::to_owned)),
        branch: extension("InsuredPersonSubNumber")
            .or_else(|| class(&["branch", "枝番", "subplan"]))
            .or_else(|| text(resource, "dependent").map(str::to_owned)),
        valid_from: resource.get("period").and_then(|period| date_at(period, "start")),
    }))
}

fn encounter(resource: &Value) -> Result<Event, String> {
    let class = resource
        .get("class")
        .and_then(|class| text(class, "code"))
        .and_then(EncounterClass::parse)
        .ok_or("class.code is not AMB, IMP or EMER")?;
    let period = resource.get("period").unwrap_or(&Value::Null);
    let start = date_at(period, "start").ok_or("no period.start")?;
    let department = array(resource, "serviceType")
        .iter()
        .chain(resource.get("serviceType"))
        .find_map(|concept| {
            text(concept, "text").or_else(|| codings(concept).next().map(|(_, code, _)| code))
        })
        .map(str::to_owned);
    Ok(Event::Encounter(Encounter { class, start, end: date_at(period, "end"), department }))
}

fn condition(resource: &Value) -> Result<Event, String> {
    let concept = resource.get("code").ok_or("no code")?;
    let mut icd10 = None;
    let mut key_number = None;
    let mut exchange_code = None;
    for (system, code, _) in codings(concept) {
        let lower = system.to_ascii_lowercase();
        if lower.contains("icd-10") || lower.contains("icd10") {
            icd10.get_or_insert_with(|| code.replace('.', ""));
        } else if lower.contains("master-disease-keynumber") || lower.contains("mdcdx2") {
            key_number.get_or_insert_with(|| code.to_owned());
        } else if lower.contains("medis.or.jp/codesystem/master-disease") && !lower.contains("mod") {
            exchange_code.get_or_insert_with(|| code.to_owned());
        }
    }
    let name = text(concept, "text")
        .or_else(|| codings(concept).find_map(|(_, _, display)| display))
        .map(str::to_owned);
    let verification = resource.get("verificationStatus").unwrap_or(&Value::Null);
    let suspected = codings(verification)
        .any(|(_, code, _)| matches!(code, "provisional" | "differential" | "unconfirmed"));
    let says_main = |code: &str| {
        let lower = code.to_ascii_lowercase();
        lower.contains("main")
            || lower.contains("primary")
            || lower.contains("principal")
            || code.contains('主')
    };
    let main = array(resource, "category")
        .iter()
        .any(|category| codings(category).any(|(_, code, _)| says_main(code)))
        || array(resource, "extension").iter().any(|extension| {
            text(extension, "url").is_some_and(says_main)
                && (extension.get("valueBoolean") == Some(&Value::Bool(true))
                    || extension.get("valueCodeableConcept").is_some_and(|c| codings(c).next().is_some()))
        });
    if icd10.is_none() && key_number.is_none() && exchange_code.is_none() && name.is_none() {
        return Err("code has no ICD-10 or MEDIS coding and no text".to_owned());
    }
    Ok(Event::Diagnosis(Diagnosis {
        icd10,
        medis_code: key_number.or(exchange_code),
        name,
        onset: date_at(resource, "onsetDateTime")
            .or_else(|| resource.get("onsetPeriod").and_then(|period| date_at(period, "start")))
            .or_else(|| date_at(resource, "recordedDate")),
        suspected,
        main,
    }))
}

fn quantity(value: &Value) -> Option<(f64, Option<String>)> {
    let number = value.get("value").and_then(Value::as_f64)?;
    let unit = text(value, "unit").or_else(|| text(value, "code")).map(str::to_owned);
    Some((number, unit))
}

fn medication_request(resource: &Value) -> Result<Event, String> {
    let concept = resource
        .get("medicationCodeableConcept")
        .or_else(|| {
            let id = text(resource.get("medicationReference")?, "reference")?.strip_prefix('#')?;
            array(resource, "contained").iter().find(|item| text(item, "id") == Some(id))?.get("code")
        })
        .ok_or("no medicationCodeableConcept (or contained Medication)")?;
    let all: Vec<(&str, &str, Option<&str>)> = codings(concept).collect();
    let system_of = |system: &str| {
        let upper = system.to_ascii_uppercase();
        if upper.contains("HOT") {
            DrugCodeSystem::Hot
        } else if upper.contains("YJ") {
            DrugCodeSystem::Yj
        } else {
            DrugCodeSystem::Other
        }
    };
    let chosen = all
        .iter()
        .find(|(system, _, _)| system_of(system) == DrugCodeSystem::Hot)
        .or_else(|| all.iter().find(|(system, _, _)| system_of(system) == DrugCodeSystem::Yj))
        .or_else(|| all.first())
        .ok_or("medication has no coded drug")?;
    let drug_name = text(concept, "text").or(chosen.2).map(str::to_owned);
    let dosage = array(resource, "dosageInstruction").first().unwrap_or(&Value::Null);
    let dose_and_rate = array(dosage, "doseAndRate").first().unwrap_or(&Value::Null);
    let per_day = dose_and_rate.get("rateRatio").and_then(|ratio| {
        let denominator = ratio.get("denominator")?;
        let per_one_day = denominator.get("value").and_then(Value::as_f64) == Some(1.0)
            && matches!(text(denominator, "code"), Some("d") | None);
        if per_one_day { quantity(ratio.get("numerator")?) } else { None }
    });
    let (dose, unit) = per_day
        .or_else(|| dose_and_rate.get("doseQuantity").and_then(quantity))
        .map_or((None, None), |(dose, unit)| (Some(dose), unit));
    let days = resource
        .get("dispenseRequest")
        .and_then(|request| request.get("expectedSupplyDuration"))
        .or_else(|| dosage.get("timing")?.get("repeat")?.get("boundsDuration"))
        .and_then(|duration| {
            let value = duration.get("value").and_then(Value::as_f64)?;
            let factor = match text(duration, "code").or_else(|| text(duration, "unit")) {
                Some("wk") => 7.0,
                Some("d") | Some("日") | None => 1.0,
                Some(_) => return None,
            };
            let days = (value * factor).round();
            (days >= 0.0 && days <= f64::from(u32::MAX)).then_some(days as u32)
        });
    let date = date_at(resource, "authoredOn").ok_or("no authoredOn date")?;
    Ok(Event::Prescription(Prescription {
        drug_code: chosen.1.to_owned(),
        code_system: system_of(chosen.0),
        drug_name,
        dose,
        unit,
        days,
        date,
    }))
}

fn observation(resource: &Value) -> Result<Event, String> {
    let concept = resource.get("code").ok_or("no code")?;
    let all: Vec<(&str, &str, Option<&str>)> = codings(concept).collect();
    let chosen = all
        .iter()
        .find(|(system, _, _)| system.to_ascii_lowercase().contains("jlac10"))
        .or_else(|| all.first())
        .ok_or("code has no coding")?;
    let (value, unit) = if let Some((number, unit)) = resource.get("valueQuantity").and_then(quantity) {
        (LabValue::Numeric(number), unit)
    } else if let Some(value) = text(resource, "valueString") {
        (LabValue::Text(value.to_owned()), None)
    } else if let Some(concept) = resource.get("valueCodeableConcept") {
        let value = text(concept, "text")
            .or_else(|| codings(concept).next().map(|(_, code, display)| display.unwrap_or(code)))
            .ok_or("valueCodeableConcept has no text or coding")?;
        (LabValue::Text(value.to_owned()), None)
    } else if let Some(number) = resource.get("valueInteger").and_then(Value::as_f64) {
        (LabValue::Numeric(number), None)
    } else {
        return Err("no value (valueQuantity, valueString, valueCodeableConcept)".to_owned());
    };
    let reference_range = array(resource, "referenceRange").first().and_then(|range| {
        text(range, "text").map(str::to_owned).or_else(|| {
            let bound = |key: &str| range.get(key).and_then(|q| q.get("value")).map(ToString::to_string);
            match (bound("low"), bound("high")) {
                (None, None) => None,
                (low, high) => Some(format!("{}-{}", low.unwrap_or_default(), high.unwrap_or_default())),
            }
        })
    });
    let date = date_at(resource, "effectiveDateTime")
        .or_else(|| resource.get("effectivePeriod").and_then(|period| date_at(period, "start")))
        .or_else(|| date_at(resource, "issued"))
        .ok_or("no effectiveDateTime, effectivePeriod.start or issued date")?;
    Ok(Event::Lab(LabResult {
        code: chosen.1.to_owned(),
        name: chosen.2.or_else(|| text(concept, "text")).map(str::to_owned),
        value,
        unit,
        reference_range,
        date,
    }))
}

fn procedure(resource: &Value) -> Result<Event, String> {
    let concept = resource.get("code").ok_or("no code")?;
    let (system, code, display) = codings(concept).next().ok_or("code has no coding")?;
    let date = date_at(resource, "performedDateTime")
        .or_else(|| resource.get("performedPeriod").and_then(|period| date_at(period, "start")))
        .ok_or("no performedDateTime or performedPeriod.start")?;
    Ok(Event::Procedure(Procedure {
        code: code.to_owned(),
        code_system: (!system.is_empty()).then(|| system.to_owned()),
        name: display.or_else(|| text(concept, "text")).map(str::to_owned),
        date,
    }))
}
