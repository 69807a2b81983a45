//! FHIR R4 / JP Core output: one NDJSON file per resource type (Patient, Coverage, Encounter, Condition,
//! MedicationRequest, Observation, Procedure), one resource per line.
//!
//! Conventions where JP Core leaves room:
//! - Patient.identifier system `urn:oid:1.2.392.100495.20.3.51.1{provider code}`, value the local ID.
//!   Names: kanji with the iso21090-EN-representation extension `IDE`, kana with `SYL`.
//! - Coverage: `payor[0].identifier` (system `urn:oid:1.2.392.100495.20.3.61`) is the insurer number,
//!   `class` of type `group` is the 記号, `subscriberId` the 番号 and `dependent` the 枝番; the same values
//!   also appear as JP Core's InsuredPersonSymbol/Number/SubNumber extensions and as the
//!   `JP_Insurance_memberID` identifier `insurer:symbol:number:branch` the JP Core examples use.
//! - Condition: ICD-10 under `http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10`, the MEDIS key number under
//!   both `http://medis.or.jp/CodeSystem/master-disease-keyNumber` (JP Core examples) and
//!   `http://medis.or.jp/CodeSystem/master-disease-code`; the main diagnosis has an extra category coding
//!   `http://jami.jp/SS-MIX2/CodeSystem/JHSD0007` code `1` (主診断), mirroring SS-MIX2's PRB-18.
//! - Prescriptions are written as one daily dose: doseQuantity is the daily amount, timing once a day.
//! - Procedure codes use `urn:kiban:code-system:JP-MHLW-FEE-SCHEDULE` (fee-schedule section numbers).

use std::io::Write;
use std::path::Path;

use chrono::Datelike;
use kiban_model::{DrugCodeSystem, LabValue, NaiveDate, PatientRecord, PersonName, Prefecture};
use serde_json::{Value, json};

use crate::clinical::{PROCEDURE_CODE_SYSTEM, department_code};
use crate::geo::MUNICIPALITIES;
use crate::write::{cpu_threads, create, finish, in_parallel, io_error};
use crate::{SynthError, SynthProvider};

const PROFILE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";
const FILES: [&str; 7] =
    ["Patient", "Coverage", "Encounter", "Condition", "MedicationRequest", "Observation", "Procedure"];

fn date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

fn meta(profile: &str) -> Value {
    json!({ "profile": [format!("{PROFILE}{profile}")] })
}

fn human_name(name: &PersonName, representation: &str) -> Value {
    let text =
        if name.given.is_empty() { name.family.clone() } else { format!("{} {}", name.family, name.given) };
    let mut value = json!({
        "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": representation }],
        "use": "official",
        "text": text,
        "family": name.family,
    });
    if !name.given.is_empty() {
        value["given"] = json!([name.given]);
    }
    value
}

fn patient(provider: &SynthProvider, record: &PatientRecord) -> Value {
    let person = &record.person;
    let id = person.local_id.as_str();
    let mut names = Vec::new();
    if let Some(kanji) = &person.name_kanji {
        names.push(human_name(kanji, "IDE"));
    }
    if let Some(kana) = &person.name_kana {
        names.push(human_name(kana, "SYL"));
    }
    let mut value = json!({
        "resourceType": "Patient",
        "id": id,
        "meta": meta("JP_Patient"),
        "identifier": [{ "system": format!("urn:oid:1.2.392.100495.20.3.51.1{}", provider.code), "value": id }],
        "name": names,
        "gender": person.sex.fhir_code(),
    });
    if let Some(birth) = person.birth_date {
        value["birthDate"] = json!(date(birth));
    }
    if let Some(address) = &person.address {
        let mut entry = json!({ "use": "home", "text": address });
        if let Some(postal) = &person.postal_code {
            entry["postalCode"] = json!(postal);
        }
        if let Some(prefecture) = Prefecture::of_address(address) {
            entry["state"] = json!(prefecture.name);
            let rest = &address[prefecture.name.len()..];
            if let Some(municipality) = MUNICIPALITIES.iter().find(|m| rest.starts_with(m.name)) {
                entry["city"] = json!(municipality.name);
            }
        }
        value["address"] = json!([entry]);
    }
    if let Some(phone) = &person.phone {
        let mobile = phone.starts_with("090") || phone.starts_with("080") || phone.starts_with("070");
        value["telecom"] =
            json!([{ "system": "phone", "value": phone, "use": if mobile { "mobile" } else { "home" } }]);
    }
    value
}

fn coverages(record: &PatientRecord, out: &mut Vec<Value>) {
    let id = record.person.local_id.as_str();
    for (idx, insurance) in record.person.insurances.iter().enumerate() {
        let symbol = insurance.symbol.as_deref().unwrap_or("");
        let number = insurance.number.as_deref().unwrap_or("");
        let branch = insurance.branch.as_deref().unwrap_or("");
        let ext = |name: &str, value: &str| json!({ "url": format!("http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_{name}"), "valueString": value });
        let mut extensions = Vec::new();
        if !symbol.is_empty() {
            extensions.push(ext("InsuredPersonSymbol", symbol));
        }
        extensions.push(ext("InsuredPersonNumber", number));
        if !branch.is_empty() {
            extensions.push(ext("InsuredPersonSubNumber", branch));
        }
        let mut value = json!({
            "resourceType": "Coverage",
            "id": format!("{id}-cov-{}", idx + 1),
            "meta": meta("JP_Coverage"),
            "extension": extensions,
            "identifier": [{
                "system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
                "value": format!("{}:{symbol}:{number}:{branch}", insurance.insurer_number),
            }],
            "status": if idx == 0 { "active" } else { "cancelled" },
            "subscriberId": number,
            "beneficiary": { "reference": format!("Patient/{id}") },
            "payor": [{ "identifier": { "system": "urn:oid:1.2.392.100495.20.3.61", "value": insurance.insurer_number } }],
        });
        if !branch.is_empty() {
            value["dependent"] = json!(branch);
        }
        if !symbol.is_empty() {
            value["class"] = json!([{
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group" }] },
                "value": symbol,
                "name": "記号",
            }]);
        }
        if let Some(from) = insurance.valid_from {
            value["period"] = json!({ "start": date(from) });
        }
        out.push(value);
    }
}

fn subject(id: &str) -> Value {
    json!({ "reference": format!("Patient/{id}") })
}

pub(crate) fn write_provider(
    provider: &SynthProvider,
    records: &[PatientRecord],
    dir: &Path,
    tick: &mut dyn FnMut(usize),
) -> Result<usize, SynthError> {
    let paths: Vec<_> = FILES.iter().map(|name| dir.join(format!("{name}.ndjson"))).collect();
    let mut writers = Vec::new();
    for path in &paths {
        writers.push(create(path)?);
    }
    // Serialising JSON is the cost here: chunks render on every core into memory, then are appended
    // in record order.
    let rendered = in_parallel(records, cpu_threads(), tick, |_, chunk| render(provider, chunk, &paths))?;
    for chunk in rendered {
        for ((writer, path), bytes) in writers.iter_mut().zip(&paths).zip(chunk) {
            writer.write_all(&bytes).map_err(io_error(path))?;
        }
    }
    for (writer, path) in writers.into_iter().zip(&paths) {
        finish(writer, path)?;
    }
    Ok(FILES.len())
}

/// Renders a chunk of records as NDJSON, one buffer per resource file.
fn render(
    provider: &SynthProvider,
    records: &[PatientRecord],
    paths: &[std::path::PathBuf],
) -> Result<Vec<Vec<u8>>, SynthError> {
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); FILES.len()];
    let mut resources: [Vec<Value>; 7] = Default::default();
    for record in records {
        let id = record.person.local_id.as_str();
        resources[0].push(patient(provider, record));
        coverages(record, &mut resources[1]);
        for (idx, encounter) in record.encounters.iter().enumerate() {
            let mut period = json!({ "start": date(encounter.start) });
            if let Some(end) = encounter.end {
                period["end"] = json!(date(end));
            }
            let ongoing =
                encounter.class == kiban_model::EncounterClass::Inpatient && encounter.end.is_none();
            let mut value = json!({
                "resourceType": "Encounter",
                "id": format!("{id}-enc-{}", idx + 1),
                "meta": meta("JP_Encounter"),
                "status": if ongoing { "in-progress" } else { "finished" },
                "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": encounter.class.fhir_code() },
                "subject": subject(id),
                "period": period,
            });
            if let Some(department) = &encounter.department {
                value["serviceType"] = json!({
                    "coding": [{
                        "system": "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment",
                        "code": department_code(department).unwrap_or("01"),
                        "display": department,
                    }],
                    "text": department,
                });
            }
            resources[2].push(value);
        }
        for (idx, diagnosis) in record.diagnoses.iter().enumerate() {
            let name = diagnosis.name.as_deref().unwrap_or("");
            let mut codings = Vec::new();
            if let Some(icd10) = &diagnosis.icd10 {
                codings.push(json!({ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10", "code": icd10, "display": name }));
            }
            if let Some(medis) = &diagnosis.medis_code {
                codings.push(json!({ "system": "http://medis.or.jp/CodeSystem/master-disease-keyNumber", "code": medis, "display": name }));
                codings.push(json!({ "system": "http://medis.or.jp/CodeSystem/master-disease-code", "code": medis, "display": name }));
            }
            let mut categories = vec![
                json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis" }] }),
            ];
            if diagnosis.main {
                categories.push(json!({ "coding": [{ "system": "http://jami.jp/SS-MIX2/CodeSystem/JHSD0007", "code": "1", "display": "主診断" }] }));
            }
            let (status, status_display) =
                if diagnosis.suspected { ("provisional", "Provisional") } else { ("confirmed", "Confirmed") };
            let mut value = json!({
                "resourceType": "Condition",
                "id": format!("{id}-cond-{}", idx + 1),
                "meta": meta("JP_Condition"),
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" }] },
                "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": status, "display": status_display }] },
                "category": categories,
                "code": { "coding": codings, "text": name },
                "subject": subject(id),
            });
            if let Some(onset) = diagnosis.onset {
                value["onsetDateTime"] = json!(date(onset));
            }
            resources[3].push(value);
        }
        for (idx, prescription) in record.prescriptions.iter().enumerate() {
            let name = prescription.drug_name.as_deref().unwrap_or("");
            let codings = match prescription.code_system {
                DrugCodeSystem::Yj => vec![
                    json!({ "system": "urn:oid:1.2.392.100495.20.1.73", "code": prescription.drug_code, "display": name }),
                    json!({ "system": "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code", "code": prescription.drug_code, "display": name }),
                ],
                _ => vec![
                    json!({ "system": "urn:oid:1.2.392.100495.20.2.74", "code": prescription.drug_code, "display": name }),
                    json!({ "system": "http://medis.or.jp/CodeSystem/master-HOT9", "code": prescription.drug_code, "display": name }),
                ],
            };
            let unit = prescription.unit.as_deref().unwrap_or("");
            let mut dosage = json!({ "text": "1日量", "timing": { "repeat": { "frequency": 1, "period": 1, "periodUnit": "d" } } });
            if let Some(dose) = prescription.dose {
                dosage["doseAndRate"] = json!([{ "doseQuantity": { "value": dose, "unit": unit } }]);
            }
            let mut value = json!({
                "resourceType": "MedicationRequest",
                "id": format!("{id}-rx-{}", idx + 1),
                "meta": meta("JP_MedicationRequest"),
                "status": "completed",
                "intent": "order",
                "medicationCodeableConcept": { "coding": codings, "text": name },
                "subject": subject(id),
                "authoredOn": date(prescription.date),
                "dosageInstruction": [dosage],
            });
            if let Some(days) = prescription.days {
                value["dispenseRequest"] = json!({
                    "expectedSupplyDuration": { "value": days, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d" }
                });
            }
            resources[4].push(value);
        }
        for (idx, lab) in record.labs.iter().enumerate() {
            let name = lab.name.as_deref().unwrap_or("");
            let mut value = json!({
                "resourceType": "Observation",
                "id": format!("{id}-obs-{}", idx + 1),
                "meta": meta("JP_Observation_LabResult"),
                "status": "final",
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }] }],
                "code": { "coding": [{ "system": "urn:oid:1.2.392.200119.4.504", "code": lab.code, "display": name }], "text": name },
                "subject": subject(id),
                "effectiveDateTime": date(lab.date),
            });
            match &lab.value {
                LabValue::Numeric(number) => {
                    let mut quantity = json!({ "value": number });
                    if let Some(unit) = &lab.unit {
                        quantity["unit"] = json!(unit);
                    }
                    value["valueQuantity"] = quantity;
                }
                LabValue::Text(text) => value["valueString"] = json!(text),
            }
            if let Some(range) = &lab.reference_range
                && let Some((low, high)) = range.split_once('-')
            {
                let bound = |text: &str| text.trim().parse::<f64>().ok();
                let mut entry = json!({ "text": range });
                if let Some(low) = bound(low) {
                    entry["low"] = json!({ "value": low, "unit": lab.unit });
                }
                if let Some(high) = bound(high) {
                    entry["high"] = json!({ "value": high, "unit": lab.unit });
                }
                value["referenceRange"] = json!([entry]);
            }
            resources[5].push(value);
        }
        for (idx, procedure) in record.procedures.iter().enumerate() {
            let system =
                procedure.code_system.as_deref().map_or(PROCEDURE_CODE_SYSTEM.to_owned(), str::to_owned);
            resources[6].push(json!({
                "resourceType": "Procedure",
                "id": format!("{id}-proc-{}", idx + 1),
                "meta": meta("JP_Procedure"),
                "status": "completed",
                "code": {
                    "coding": [{ "system": format!("urn:kiban:code-system:{system}"), "code": procedure.code, "display": procedure.name }],
                    "text": procedure.name,
                },
                "subject": subject(id),
                "performedDateTime": date(procedure.date),
            }));
        }
        for (buffer, (path, lines)) in out.iter_mut().zip(paths.iter().zip(resources.iter_mut())) {
            for line in lines.drain(..) {
                serde_json::to_writer(&mut *buffer, &line)
                    .map_err(|source| SynthError::Json { path: path.clone(), source })?;
                buffer.push(b'\n');
            }
        }
    }
    Ok(out)
}
