//! SS-MIX2 standardized storage (標準化ストレージ): the tree
//! `{root}/{id[0:3]}/{id[3:6]}/{id}/{date|-}/{datatype}/{id}_{date|-}_{datatype}_{order}_{timestamp}_{dept|-}_{0|1}`
//! of HL7 v2.5 messages, one message per file.
//!
//! Validation (a failure quarantines the file): the path levels agree with the patient id folder and the
//! file name; the condition flag is `0` (deleted: skipped with a warning) or `1`; the message parses and its
//! MSH-9 type fits the datatype folder (ADT-00 = ADT^A08/A28/A31, ADT-12 = ADT^A04, ADT-22 = ADT^A01,
//! ADT-52 = ADT^A03, PPR-01 = PPR^ZD1, OMP-01 = RDE^O11, OMP-11 = RAS^O17, OML-11 = OUL^R22, ...).
//! A PID-3 that differs from the folder's patient id is only a warning: the storage is organized by the
//! folder id (the published samples carry other ids in PID-3), so the folder id wins.
//!
//! Mapping:
//! - PID (every mapped message; the first file in path order wins, and `-/ADT-00` sorts first): PID-5
//!   repetitions by XPN-8 representation (`I` ideographic = kanji, `P` phonetic = kana), PID-7, PID-8,
//!   PID-11 (home address: XAD-5 postal code, XAD-8 full text or the street/city/state parts), PID-13 (XTN-12
//!   or XTN-1, the `PRN` repetition first). IN1 and the JAHIS ZI1: IN1-3 insurer number, IN1-10 symbol (記号),
//!   IN1-11 number (番号), IN1-12 valid from.
//! - ADT-12: outpatient (PV1-2 `E`: emergency) encounter, ADT-22: inpatient encounter; start PV1-44, else the
//!   date folder; department PV1-10, else PV1-3.1. ADT-52: closes the latest open stay that started on or
//!   before the discharge date (PV1-45, else EVN-6, else the date folder).
//! - PPR-01 PRB: PRB-3 (`MDCDX2` → MEDIS code, `I10` → ICD-10, also in the alternate components), PRB-10
//!   (ICD-10 when coded `I10`), name PRB-3.2 or PRB-17, onset PRB-16 (else PRB-7), main when PRB-18.1 is `1`
//!   (JHSD0007 主診断), suspected when PRB-13, PRB-14, PRB-19, the name or the JAHIS ZPR modifiers say 疑い.
//!   PRB-1 `DE` (deleted) is skipped.
//! - OMP-01 RXE (+TQ1): drug RXE-2 (HOT/YJ from the coding system, alternate components too), daily dose
//!   RXE-19, else RXE-3 with RXE-5 units; days TQ1-6; date from the date folder, else ORC-9, else TQ1-7.
//!   OMP-11 RXA: RXA-5 drug, RXA-6/RXA-7 amount and units, date RXA-3.
//! - OML-11 OBX: OBX-3 (JLAC10 `JC10` code, alternate components too, else the local code), OBX-2 `NM` →
//!   numeric, else text, OBX-6 unit, OBX-7 range, date OBX-14, else SPM-17, else OBR-7, else the folder.
//! - Every other datatype is counted in `unmapped`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use kiban_hl7v2::parse::{Field, Message, parse_message};
use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, PatientRecord, PersonName, Prescription, ProviderCode, Sex,
};

use crate::{
    Fingerprint, IngestError, IngestOutput, InputFile, Progress, Quarantined, is_kana, list_files,
    quarantine, read_and_map,
};

/// Reads an SS-MIX2 standardized storage rooted at `root`.
///
/// # Errors
/// Only when `root` is missing, not a directory, or cannot be listed; bad files are quarantined.
pub fn read_ssmix2(
    root: &Path,
    provider: &ProviderCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestOutput, IngestError> {
    let files = list_files(root, &|_| true)?;
    let total = files.len();
    let mut fingerprint = Fingerprint::default();
    let mut assembly = Assembly::default();
    let mut done = 0;
    progress(Progress { done, total });
    let map = |file: &InputFile, bytes: Result<&[u8], String>| {
        let relative = file.relative.as_str();
        match bytes.and_then(|bytes| read_message(relative, bytes, provider)) {
            Ok(outcome) => outcome,
            Err(reason) => Outcome::Quarantined(quarantine(relative, reason)),
        }
    };
    read_and_map(&files, &mut fingerprint, &map, &mut |outcomes| {
        done += outcomes.len();
        for outcome in outcomes {
            assembly.add(outcome);
        }
        progress(Progress { done, total });
    });
    Ok(assembly.finish(total, fingerprint.finish()))
}

/// Reads one SS-MIX2 message already in memory, as [`read_ssmix2`] would read the file at `relative` (a
/// storage path, e.g. `000/000/0000001/-/ADT-00/0000001_-_ADT-00_…_1`, which decides the datatype and the
/// patient). Pure: no file-system access. Meant for callers that hold the bytes already (a queue, a
/// fuzzer); the output has at most one record and `n_files` 1.
pub fn read_ssmix2_message(relative: &str, bytes: &[u8], provider: &ProviderCode) -> IngestOutput {
    let mut fingerprint = Fingerprint::default();
    fingerprint.add(relative, bytes);
    let mut assembly = Assembly::default();
    assembly.add(match read_message(relative, bytes, provider) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Quarantined(quarantine(relative, reason)),
    });
    assembly.finish(1, fingerprint.finish())
}

/// What one file gave.
enum Outcome {
    Read(Box<FileRecord>),
    Unmapped { datatype: String, warnings: Vec<String> },
    Skipped { warning: String },
    Quarantined(Quarantined),
}

struct FileRecord {
    relative: String,
    record: PatientRecord,
    /// Discharge dates (ADT-52), applied to the stays once every file is read.
    discharges: Vec<NaiveDate>,
    warnings: Vec<String>,
}

/// The parts of a storage path.
struct StoragePath<'a> {
    id: &'a str,
    date: Option<NaiveDate>,
    datatype: &'a str,
    condition: &'a str,
}

/// Splits a storage path into its parts. It runs once per file, so it borrows rather than allocates (but for
/// an error's reason).
fn parse_path(relative: &str) -> Result<StoragePath<'_>, String> {
    let n_levels = relative.split('/').count();
    if n_levels != 6 {
        return Err(format!(
            "path has {n_levels} levels, expected 6: {{id[0:3]}}/{{id[3:6]}}/{{id}}/{{date|-}}/{{datatype}}/{{file}}"
        ));
    }
    let mut levels = relative.split('/');
    let mut level = || levels.next().unwrap_or_default();
    let (level1, level2, id, date_dir, datatype, name) =
        (level(), level(), level(), level(), level(), level());
    if LocalPatientId::new(id).is_err() {
        return Err("level 3 (patient id folder) is not a valid patient id".to_owned());
    }
    let (expected1, rest) = split_after_chars(id, 3);
    let (expected2, _) = split_after_chars(rest, 3);
    if level1 != expected1 || level2 != expected2 {
        return Err(
            "levels 1-2 are not the first and second three characters of the patient id folder".to_owned()
        );
    }
    let date = if date_dir == "-" {
        None
    } else {
        Some(hl7_date_exact(date_dir).ok_or("level 4 (date folder) is neither '-' nor a YYYYMMDD date")?)
    };
    let n_name_parts = name.split('_').count();
    if n_name_parts < 7 {
        return Err(format!(
            "file name has {n_name_parts} '_'-separated parts, expected 7: id_date_datatype_order_timestamp_dept_condition"
        ));
    }
    let mut name_parts = name.split('_');
    let mut name_part = || name_parts.next().unwrap_or_default();
    if name_part() != id {
        return Err("file name part 1 (patient id) does not match the patient id folder".to_owned());
    }
    if name_part() != date_dir {
        return Err("file name part 2 (date) does not match the date folder".to_owned());
    }
    if name_part() != datatype {
        return Err("file name part 3 (datatype) does not match the datatype folder".to_owned());
    }
    let condition = name.rsplit('_').next().unwrap_or_default();
    Ok(StoragePath { id, date, datatype, condition })
}

/// `text` split after its first `n` characters (all of it when it is shorter).
fn split_after_chars(text: &str, n: usize) -> (&str, &str) {
    text.split_at(text.char_indices().nth(n).map_or(text.len(), |(idx, _)| idx))
}

/// The MSH-9 types a datatype folder may hold; `None` for folders checked only by family (or not at all).
fn expected_types(datatype: &str) -> Option<&'static [&'static str]> {
    Some(match datatype {
        "ADT-00" => &["ADT^A08", "ADT^A28", "ADT^A31"],
        "ADT-12" => &["ADT^A04"],
        "ADT-22" => &["ADT^A01"],
        "ADT-42" => &["ADT^A02"],
        "ADT-52" => &["ADT^A03"],
        "ADT-61" => &["ADT^A60"],
        "PPR-01" => &["PPR^ZD1"],
        "OMD" => &["OMD^O03"],
        "OMP-01" | "OMP-02" => &["RDE^O11"],
        "OMP-11" | "OMP-12" => &["RAS^O17"],
        "OML-01" => &["OML^O33"],
        "OML-11" => &["OUL^R22"],
        _ => return None,
    })
}

fn check_type(datatype: &str, message: &Message) -> Result<(), String> {
    let message_type = message.message_type();
    let code = message.segment("MSH").field(9).component(1).as_str();
    let fits = match expected_types(datatype) {
        Some(types) => types.contains(&message_type.as_str()),
        None if datatype.starts_with("ADT-") => code == "ADT",
        None if datatype.starts_with("OMG-") => ["OMG", "OMI", "ORU"].contains(&code),
        None => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("MSH-9 message type {message_type} does not fit the datatype folder {datatype}"))
    }
}

fn read_message(relative: &str, bytes: &[u8], provider: &ProviderCode) -> Result<Outcome, String> {
    let path = parse_path(relative)?;
    match path.condition {
        "1" => {}
        "0" => {
            return Ok(Outcome::Skipped {
                warning: format!("{relative}: condition flag 0 (deleted), skipped"),
            });
        }
        _ => return Err("file name part 7 (condition flag) is neither 0 nor 1".to_owned()),
    }
    let message = parse_message(bytes).map_err(|error| format!("not a readable HL7 message: {error}"))?;
    check_type(path.datatype, &message)?;
    let mut warnings: Vec<String> = message.warnings().iter().map(|w| format!("{relative}: {w}")).collect();
    if !matches!(
        path.datatype,
        "ADT-00" | "ADT-12" | "ADT-22" | "ADT-52" | "PPR-01" | "OMP-01" | "OMP-11" | "OML-11"
    ) {
        return Ok(Outcome::Unmapped { datatype: path.datatype.to_owned(), warnings });
    }
    let pid3 = message.segment("PID").field(3);
    if pid3.is_empty() {
        warnings.push(format!("{relative}: PID-3 is empty; the patient id folder is used"));
    } else if !pid3.repetitions().iter().any(|rep| rep.as_str() == path.id) {
        warnings
            .push(format!("{relative}: PID-3 does not match the patient id folder; the folder's id is used"));
    }
    let local_id = LocalPatientId::new(path.id).map_err(|error| error.to_string())?;
    let mut record = PatientRecord::new(person(&message, provider, local_id));
    let mut discharges = Vec::new();
    let fallback_date = path.date.or_else(|| hl7_date(message.get("MSH", 7, 1, 1)));
    match path.datatype {
        "ADT-12" => {
            let class = EncounterClass::parse(message.get("PV1", 2, 1, 1))
                .filter(|class| *class == EncounterClass::Emergency)
                .unwrap_or(EncounterClass::Outpatient);
            record.encounters.push(encounter(&message, class, path.date)?);
        }
        "ADT-22" => record.encounters.push(encounter(&message, EncounterClass::Inpatient, path.date)?),
        "ADT-52" => {
            let date = hl7_date(message.get("PV1", 45, 1, 1))
                .or_else(|| hl7_date(message.get("EVN", 6, 1, 1)))
                .or(path.date)
                .ok_or("ADT-52 has no discharge date (PV1-45, EVN-6) and no date folder")?;
            discharges.push(date);
        }
        "PPR-01" => record.diagnoses = diagnoses(&message, relative, &mut warnings),
        "OMP-01" => record.prescriptions = rxe_prescriptions(&message, path.date, relative, &mut warnings),
        "OMP-11" => {
            record.prescriptions = rxa_prescriptions(&message, fallback_date, relative, &mut warnings)
        }
        "OML-11" => record.labs = labs(&message, fallback_date, relative, &mut warnings),
        _ => {}
    }
    Ok(Outcome::Read(Box::new(FileRecord { relative: relative.to_owned(), record, discharges, warnings })))
}

/// `YYYYMMDD…` (an HL7 DT or TS) to a date.
fn hl7_date(text: &str) -> Option<NaiveDate> {
    hl7_date_exact(text.get(0..8)?)
}

fn hl7_date_exact(text: &str) -> Option<NaiveDate> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(text[0..4].parse().ok()?, text[4..6].parse().ok()?, text[6..8].parse().ok()?)
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn person(message: &Message, provider: &ProviderCode, local_id: LocalPatientId) -> IdentifiedPerson {
    let mut person = IdentifiedPerson::new(provider.clone(), local_id);
    let pid = message.segment("PID");
    for name in pid.field(5).repetitions() {
        let family = name.component(1).as_str();
        let given = name.component(2).as_str();
        if family.is_empty() && given.is_empty() {
            continue;
        }
        let kana = match name.component(8).as_str() {
            "I" => false,
            "P" => true,
            "" => is_kana(&format!("{family}{given}")),
            _ => continue,
        };
        let slot = if kana { &mut person.name_kana } else { &mut person.name_kanji };
        if slot.is_none() {
            *slot = Some(PersonName::new(family, given));
        }
    }
    person.birth_date = hl7_date(pid.field(7).as_str());
    person.sex = Sex::parse_lenient(pid.field(8).as_str());
    let addresses = pid.field(11).repetitions();
    let address = addresses
        .iter()
        .find(|rep| rep.component(7).as_str() == "H")
        .or_else(|| addresses.iter().find(|rep| !rep.is_empty()));
    if let Some(address) = address {
        person.postal_code = non_empty(address.component(5).as_str());
        person.address = non_empty(address.component(8).as_str()).or_else(|| {
            let parts = [4, 3, 1, 2].map(|n| address.component(n).as_str());
            non_empty(&parts.concat())
        });
    }
    let phones = pid.field(13).repetitions();
    let number = |rep: &kiban_hl7v2::parse::Repetition| {
        non_empty(rep.component(12).as_str()).or_else(|| non_empty(rep.component(1).as_str()))
    };
    person.phone = phones
        .iter()
        .filter(|rep| rep.component(2).as_str() == "PRN")
        .find_map(number)
        .or_else(|| phones.iter().find_map(number));
    for segment in message.segments().iter().filter(|segment| matches!(segment.id(), "IN1" | "ZI1")) {
        let Some(insurer_number) = non_empty(segment.field(3).as_str()) else { continue };
        let insurance = Insurance {
            insurer_number,
            symbol: non_empty(segment.field(10).as_str()),
            number: non_empty(segment.field(11).as_str()),
            branch: None,
            valid_from: hl7_date(segment.field(12).as_str()),
        };
        if !person.insurances.contains(&insurance) {
            person.insurances.push(insurance);
        }
    }
    person
}

fn encounter(message: &Message, class: EncounterClass, date: Option<NaiveDate>) -> Result<Encounter, String> {
    let pv1 = message.segment("PV1");
    let start = hl7_date(pv1.field(44).as_str())
        .or(date)
        .ok_or("no admit date (PV1-44) and no date folder for the encounter")?;
    let department = non_empty(pv1.field(10).as_str()).or_else(|| non_empty(pv1.field(3).as_str()));
    Ok(Encounter { class, start, end: None, department })
}

fn is_icd10_system(system: &str) -> bool {
    matches!(system, "I10" | "ICD10" | "ICD-10") || system.starts_with("I10")
}

fn mentions_suspected(text: &str) -> bool {
    text.contains('疑')
}

fn diagnoses(message: &Message, relative: &str, warnings: &mut Vec<String>) -> Vec<Diagnosis> {
    let mut diagnoses: Vec<Diagnosis> = Vec::new();
    let mut last_was_prb = false;
    for (segment_idx, segment) in message.segments().iter().enumerate() {
        match segment.id() {
            "PRB" if segment.field(1).as_str() == "DE" => last_was_prb = false,
            "PRB" => {
                let mut diagnosis = Diagnosis {
                    icd10: None,
                    medis_code: None,
                    name: None,
                    onset: None,
                    suspected: false,
                    main: false,
                };
                for field in [segment.field(3), segment.field(10)] {
                    for triple in [1, 4] {
                        let code = field.component(triple).as_str().trim();
                        let system = field.component(triple + 2).as_str();
                        if code.is_empty() {
                            continue;
                        }
                        if system == "MDCDX2" && diagnosis.medis_code.is_none() {
                            diagnosis.medis_code = Some(code.to_owned());
                        } else if is_icd10_system(system) && diagnosis.icd10.is_none() {
                            diagnosis.icd10 = Some(code.replace('.', ""));
                        }
                    }
                }
                diagnosis.name = non_empty(segment.field(3).component(2).as_str())
                    .or_else(|| non_empty(segment.field(17).as_str()));
                diagnosis.onset =
                    hl7_date(segment.field(16).as_str()).or_else(|| hl7_date(segment.field(7).as_str()));
                diagnosis.main = segment.field(18).component(1).as_str() == "1";
                let texts = [
                    segment.field(3).component(2).as_str(),
                    segment.field(13).component(2).as_str(),
                    segment.field(14).component(2).as_str(),
                    segment.field(17).as_str(),
                    segment.field(19).component(2).as_str(),
                ];
                diagnosis.suspected = texts.iter().any(|text| mentions_suspected(text));
                if diagnosis.icd10.is_none() && diagnosis.medis_code.is_none() && diagnosis.name.is_none() {
                    warnings.push(format!(
                        "{relative}: segment {} (PRB) has no code or name in PRB-3/PRB-10/PRB-17, skipped",
                        segment_idx + 1
                    ));
                    last_was_prb = false;
                    continue;
                }
                diagnoses.push(diagnosis);
                last_was_prb = true;
            }
            "ZPR" if last_was_prb => {
                // JAHIS ZPR carries the disease name's modifiers (接頭語・接尾語), e.g. "の疑い".
                let suspected = (1..=segment.n_fields()).any(|n| {
                    segment
                        .field(n)
                        .repetitions()
                        .iter()
                        .any(|rep| rep.components().iter().any(|c| mentions_suspected(c.as_str())))
                });
                if suspected && let Some(last) = diagnoses.last_mut() {
                    last.suspected = true;
                }
            }
            _ => last_was_prb = false,
        }
    }
    diagnoses
}

/// A drug code from a CWE field: the primary triple when it is HOT or YJ, else the alternate triple when it
/// is, else the primary code as `Other`.
fn drug(field: &Field) -> Option<(String, DrugCodeSystem, Option<String>)> {
    let triple = |first: usize| {
        let code = field.component(first).as_str().trim();
        let system = DrugCodeSystem::parse(field.component(first + 2).as_str());
        (!code.is_empty()).then(|| (code.to_owned(), system, non_empty(field.component(first + 1).as_str())))
    };
    let primary = triple(1);
    let alternate = triple(4);
    match (primary, alternate) {
        (Some(p), _) if p.1 != DrugCodeSystem::Other => Some(p),
        (_, Some(a)) if a.1 != DrugCodeSystem::Other => Some(a),
        (p, a) => p.or(a),
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|value| value.is_finite())
}

/// Units from a CWE component: the text (subcomponent or component 2) first, else the code.
fn unit_text(code: &str, text: &str) -> Option<String> {
    non_empty(text).or_else(|| non_empty(code))
}

fn rxe_prescriptions(
    message: &Message,
    date_folder: Option<NaiveDate>,
    relative: &str,
    warnings: &mut Vec<String>,
) -> Vec<Prescription> {
    let mut prescriptions: Vec<Prescription> = Vec::new();
    let mut order_date = None;
    let mut last_was_rxe = false;
    for (segment_idx, segment) in message.segments().iter().enumerate() {
        match segment.id() {
            "ORC" => {
                order_date = hl7_date(segment.field(9).as_str());
                last_was_rxe = false;
            }
            "RXE" => {
                last_was_rxe = false;
                let Some((drug_code, code_system, drug_name)) = drug(segment.field(2)) else {
                    warnings.push(format!(
                        "{relative}: segment {} (RXE) has no drug code in RXE-2, skipped",
                        segment_idx + 1
                    ));
                    continue;
                };
                let daily = segment.field(19);
                let (dose, unit) = match number(daily.component(1).as_str()) {
                    Some(dose) => {
                        let units = daily.component(2);
                        (Some(dose), unit_text(units.subcomponent(1), units.subcomponent(2)))
                    }
                    None => (
                        number(segment.field(3).as_str()),
                        unit_text(
                            segment.field(5).component(1).as_str(),
                            segment.field(5).component(2).as_str(),
                        ),
                    ),
                };
                let Some(date) = date_folder.or(order_date).or_else(|| hl7_date(message.get("MSH", 7, 1, 1)))
                else {
                    warnings.push(format!(
                        "{relative}: segment {} (RXE) has no date (folder, ORC-9, MSH-7), skipped",
                        segment_idx + 1
                    ));
                    continue;
                };
                prescriptions.push(Prescription {
                    drug_code,
                    code_system,
                    drug_name,
                    dose,
                    unit,
                    days: None,
                    date,
                });
                last_was_rxe = true;
            }
            "TQ1" if last_was_rxe => {
                let duration = segment.field(6);
                let factor = match duration.component(2).as_str() {
                    "" | "d" | "D" => Some(1),
                    "wk" | "W" | "w" => Some(7),
                    _ => None,
                };
                let days = duration.component(1).as_str().trim().parse::<u32>().ok();
                if let (Some(last), Some(days), Some(factor)) = (prescriptions.last_mut(), days, factor)
                    && last.days.is_none()
                {
                    last.days = days.checked_mul(factor);
                }
            }
            "RXR" | "RXC" | "NTE" => {}
            _ => last_was_rxe = false,
        }
    }
    prescriptions
}

fn rxa_prescriptions(
    message: &Message,
    fallback_date: Option<NaiveDate>,
    relative: &str,
    warnings: &mut Vec<String>,
) -> Vec<Prescription> {
    let mut prescriptions = Vec::new();
    for (segment_idx, segment) in message.segments().iter().enumerate() {
        if segment.id() != "RXA" || matches!(segment.field(20).as_str(), "NA" | "RE") {
            continue;
        }
        let Some((drug_code, code_system, drug_name)) = drug(segment.field(5)) else {
            warnings.push(format!(
                "{relative}: segment {} (RXA) has no drug code in RXA-5, skipped",
                segment_idx + 1
            ));
            continue;
        };
        let Some(date) = hl7_date(segment.field(3).as_str()).or(fallback_date) else {
            warnings
                .push(format!("{relative}: segment {} (RXA) has no date in RXA-3, skipped", segment_idx + 1));
            continue;
        };
        prescriptions.push(Prescription {
            drug_code,
            code_system,
            drug_name,
            dose: number(segment.field(6).as_str()),
            unit: unit_text(segment.field(7).component(1).as_str(), segment.field(7).component(2).as_str()),
            days: None,
            date,
        });
    }
    prescriptions
}

fn is_jlac10_system(system: &str) -> bool {
    matches!(system, "JC10" | "JLAC10")
}

fn labs(
    message: &Message,
    fallback_date: Option<NaiveDate>,
    relative: &str,
    warnings: &mut Vec<String>,
) -> Vec<LabResult> {
    let mut labs = Vec::new();
    let mut specimen_date = None;
    let mut observation_date = None;
    for (segment_idx, segment) in message.segments().iter().enumerate() {
        match segment.id() {
            "SPM" => specimen_date = hl7_date(segment.field(17).as_str()),
            "OBR" => observation_date = hl7_date(segment.field(7).as_str()),
            "OBX" => {
                if matches!(segment.field(11).as_str(), "D" | "X") {
                    continue;
                }
                let identifier = segment.field(3);
                let first = if is_jlac10_system(identifier.component(3).as_str()) {
                    1
                } else if is_jlac10_system(identifier.component(6).as_str()) {
                    4
                } else {
                    1
                };
                let Some(code) = non_empty(identifier.component(first).as_str()) else {
                    warnings.push(format!(
                        "{relative}: segment {} (OBX) has no code in OBX-3, skipped",
                        segment_idx + 1
                    ));
                    continue;
                };
                let raw = segment.field(5).repetition(1);
                let value = match segment.field(2).as_str() {
                    "NM" => match number(raw.as_str()) {
                        Some(value) => Some(LabValue::Numeric(value)),
                        None => non_empty(raw.as_str()).map(LabValue::Text),
                    },
                    "CWE" | "CE" | "CNE" => non_empty(raw.component(2).as_str())
                        .or_else(|| non_empty(raw.as_str()))
                        .map(LabValue::Text),
                    _ => non_empty(raw.as_str()).map(LabValue::Text),
                };
                let Some(value) = value else {
                    warnings.push(format!(
                        "{relative}: segment {} (OBX) has no value in OBX-5, skipped",
                        segment_idx + 1
                    ));
                    continue;
                };
                let Some(date) = hl7_date(segment.field(14).as_str())
                    .or(specimen_date)
                    .or(observation_date)
                    .or(fallback_date)
                else {
                    warnings
                        .push(format!("{relative}: segment {} (OBX) has no date, skipped", segment_idx + 1));
                    continue;
                };
                let unit = segment.field(6);
                labs.push(LabResult {
                    code,
                    name: non_empty(identifier.component(first + 1).as_str()),
                    value,
                    unit: unit_text(unit.component(1).as_str(), "")
                        .or_else(|| non_empty(unit.component(2).as_str())),
                    reference_range: non_empty(segment.field(7).as_str()),
                    date,
                });
            }
            _ => {}
        }
    }
    labs
}

/// Gathers file outcomes into per-patient records.
#[derive(Default)]
struct Assembly {
    records: BTreeMap<String, PatientRecord>,
    discharges: BTreeMap<String, Vec<(NaiveDate, String)>>,
    quarantined: Vec<Quarantined>,
    unmapped: BTreeMap<String, usize>,
    warnings: Vec<String>,
}

impl Assembly {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Read(file) => {
                let FileRecord { relative, record, discharges, warnings } = *file;
                self.warnings.extend(warnings);
                let key = record.person.local_id.as_str().to_owned();
                for date in discharges {
                    self.discharges.entry(key.clone()).or_default().push((date, relative.clone()));
                }
                match self.records.get_mut(&key) {
                    Some(existing) => existing.merge(record),
                    None => {
                        self.records.insert(key, record);
                    }
                }
            }
            Outcome::Unmapped { datatype, warnings } => {
                self.warnings.extend(warnings);
                *self.unmapped.entry(datatype).or_default() += 1;
            }
            Outcome::Skipped { warning } => self.warnings.push(warning),
            Outcome::Quarantined(quarantined) => self.quarantined.push(quarantined),
        }
    }

    fn finish(mut self, n_files: usize, fingerprint: String) -> IngestOutput {
        for (key, mut discharges) in self.discharges {
            discharges.sort();
            let Some(record) = self.records.get_mut(&key) else { continue };
            for (date, relative) in discharges {
                let open = record
                    .encounters
                    .iter_mut()
                    .filter(|e| e.class == EncounterClass::Inpatient && e.end.is_none() && e.start <= date)
                    .max_by_key(|e| e.start);
                match open {
                    Some(stay) => stay.end = Some(date),
                    None => self
                        .warnings
                        .push(format!("{relative}: discharge matches no open admission (ADT-22)")),
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
