//! The release as FHIR R4 NDJSON (one file per resource type), for recipients whose tools read FHIR.
//!
//! Built from the released tables only, so it carries exactly what the Parquet and CSV files carry:
//! `persons` → Patient, `encounters` → Encounter, `diagnoses` → Condition, `prescriptions` →
//! MedicationRequest, `labs` → Observation, `procedures` → Procedure. Resources refer to their Patient by
//! the person pseudonym when the release has one. Generalized values stay generalized: a birth month is
//! a FHIR partial date (`1960-04`), an age band or a postal-code prefix is an extension, a prefecture is
//! `address.state`.

use std::io::Write;

use kiban_columnar::{ColumnData, Table};
use serde_json::{Map, Value, json};

/// Extensions kiban defines for generalized values FHIR has no element for.
const EXTENSION_BASE: &str = "https://kiban.invalid/fhir/StructureDefinition/";

/// The resource type each release table becomes.
pub(crate) fn resource_type(table: &str) -> Option<&'static str> {
    match table {
        "persons" => Some("Patient"),
        "encounters" => Some("Encounter"),
        "diagnoses" => Some("Condition"),
        "prescriptions" => Some("MedicationRequest"),
        "labs" => Some("Observation"),
        "procedures" => Some("Procedure"),
        _ => None,
    }
}

/// Writes one NDJSON line per row of `table`; `first_row` numbers resources without a pseudonym.
///
/// # Errors
/// The writer's I/O error.
pub(crate) fn write_rows(table: &Table, first_row: usize, out: &mut impl Write) -> std::io::Result<()> {
    let Some(kind) = resource_type(table.name()) else { return Ok(()) };
    for row in 0..table.n_rows() {
        let cell = |name: &str| table.column(name).and_then(|column| text(&column.data, row));
        let mut resource = Map::new();
        resource.insert("resourceType".to_owned(), json!(kind));
        let id = format!("{}-{}", table.name(), first_row + row + 1);
        match kind {
            "Patient" => patient(&mut resource, &cell, &id),
            _ => {
                resource.insert("id".to_owned(), json!(id));
                if let Some(person) = cell("person") {
                    resource
                        .insert("subject".to_owned(), json!({ "reference": format!("Patient/{person}") }));
                }
                event(kind, &mut resource, &cell, table, row);
            }
        }
        serde_json::to_writer(&mut *out, &Value::Object(resource))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn text(data: &ColumnData, row: usize) -> Option<String> {
    data.text_at(row).filter(|value| !value.is_empty())
}

fn extension(name: &str, value: String) -> Value {
    json!({ "url": format!("{EXTENSION_BASE}{name}"), "valueString": value })
}

fn patient(resource: &mut Map<String, Value>, cell: &dyn Fn(&str) -> Option<String>, id: &str) {
    resource.insert("id".to_owned(), json!(cell("person").unwrap_or_else(|| id.to_owned())));
    if let Some(sex) = cell("sex") {
        let gender = match sex.as_str() {
            "M" => "male",
            "F" => "female",
            "O" => "other",
            _ => "unknown",
        };
        resource.insert("gender".to_owned(), json!(gender));
    }
    // A birth year or month is a valid FHIR partial date; a top-coded one (`≤1936`) is not, so it becomes
    // an extension like the age band.
    let mut extensions = Vec::new();
    for name in ["birth_year", "birth_month"] {
        match cell(name) {
            Some(value) if value.starts_with(|c: char| c.is_ascii_digit()) => {
                resource.insert("birthDate".to_owned(), json!(value));
            }
            Some(value) => extensions.push(extension("birth-date-top-coded", value)),
            None => {}
        }
    }
    for (column, name) in
        [("age_band", "age-band"), ("age", "age"), ("postal_code_prefix", "postal-code-prefix")]
    {
        if let Some(value) = cell(column) {
            extensions.push(extension(name, value));
        }
    }
    if let Some(id) = cell("provision_id") {
        resource.insert(
            "identifier".to_owned(),
            json!([{ "system": format!("{EXTENSION_BASE}provision-id"), "value": id }]),
        );
    }
    if let Some(prefecture) = cell("prefecture") {
        resource.insert("address".to_owned(), json!([{ "state": prefecture, "country": "JP" }]));
    }
    if !extensions.is_empty() {
        resource.insert("extension".to_owned(), Value::Array(extensions));
    }
}

fn coding(system: &str, code: String) -> Value {
    json!({ "system": system, "code": code })
}

fn event(
    kind: &str,
    resource: &mut Map<String, Value>,
    cell: &dyn Fn(&str) -> Option<String>,
    table: &Table,
    row: usize,
) {
    let number = |name: &str| match table.column(name).map(|column| &column.data) {
        Some(ColumnData::Float64(values)) => values[row],
        #[allow(clippy::cast_precision_loss)]
        Some(ColumnData::Int64(values)) => values[row].map(|value| value as f64),
        _ => None,
    };
    let mut insert = |key: &str, value: Value| {
        resource.insert(key.to_owned(), value);
    };
    match kind {
        "Encounter" => {
            insert("status", json!("finished"));
            let class = match cell("class").as_deref() {
                Some("inpatient") => "IMP",
                Some("emergency") => "EMER",
                Some("home") => "HH",
                _ => "AMB",
            };
            insert("class", coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", class.to_owned()));
            let mut period = Map::new();
            if let Some(start) = cell("start_date") {
                period.insert("start".to_owned(), json!(start));
            }
            if let Some(end) = cell("end_date") {
                period.insert("end".to_owned(), json!(end));
            }
            if !period.is_empty() {
                insert("period", Value::Object(period));
            }
            if let Some(department) = cell("department") {
                insert("serviceType", json!({ "text": department }));
            }
        }
        "Condition" => {
            let mut codings = Vec::new();
            if let Some(code) = cell("icd10") {
                codings.push(coding("http://hl7.org/fhir/sid/icd-10", code));
            }
            if let Some(code) = cell("medis_code") {
                codings.push(coding("urn:oid:1.2.392.200119.4.101.6", code));
            }
            insert("code", json!({ "coding": codings }));
            if let Some(onset) = cell("onset_date") {
                insert("onsetDateTime", json!(onset));
            }
            if cell("suspected").as_deref() == Some("true") {
                insert(
                    "verificationStatus",
                    json!({ "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "provisional".to_owned())] }),
                );
            }
        }
        "MedicationRequest" => {
            insert("status", json!("completed"));
            insert("intent", json!("order"));
            let system = match cell("code_system").as_deref() {
                Some("YJ") => "urn:oid:1.2.392.100495.20.2.74",
                Some("HOT") => "urn:oid:1.2.392.200119.4.403.1",
                _ => "urn:kiban:code-system:drug",
            };
            let mut medication = Map::new();
            if let Some(code) = cell("drug_code") {
                medication.insert("coding".to_owned(), json!([coding(system, code)]));
            }
            if let Some(name) = cell("drug_name") {
                medication.insert("text".to_owned(), json!(name));
            }
            insert("medicationCodeableConcept", Value::Object(medication));
            if let Some(date) = cell("date") {
                insert("authoredOn", json!(date));
            }
            let mut dose = Map::new();
            if let Some(value) = number("dose") {
                dose.insert("value".to_owned(), json!(value));
            }
            if let Some(unit) = cell("unit") {
                dose.insert("unit".to_owned(), json!(unit));
            }
            let mut dosage = Map::new();
            if !dose.is_empty() {
                dosage.insert("doseAndRate".to_owned(), json!([{ "doseQuantity": dose }]));
            }
            if let Some(days) = number("days") {
                dosage.insert(
                    "timing".to_owned(),
                    json!({ "repeat": { "boundsDuration": { "value": days, "unit": "d" } } }),
                );
            }
            if !dosage.is_empty() {
                insert("dosageInstruction", json!([dosage]));
            }
        }
        "Observation" => {
            insert("status", json!("final"));
            insert(
                "category",
                json!([{ "coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory".to_owned())] }]),
            );
            let mut code = Map::new();
            if let Some(value) = cell("code") {
                code.insert("coding".to_owned(), json!([coding("urn:oid:1.2.392.200119.4.504", value)]));
            }
            if let Some(name) = cell("name") {
                code.insert("text".to_owned(), json!(name));
            }
            insert("code", Value::Object(code));
            if let Some(date) = cell("date") {
                insert("effectiveDateTime", json!(date));
            }
            if let Some(value) = number("value_numeric") {
                let mut quantity = Map::new();
                quantity.insert("value".to_owned(), json!(value));
                if let Some(unit) = cell("unit") {
                    quantity.insert("unit".to_owned(), json!(unit));
                }
                insert("valueQuantity", Value::Object(quantity));
            } else if let Some(value) = cell("value_text") {
                insert("valueString", json!(value));
            }
            if let Some(range) = cell("reference_range") {
                insert("referenceRange", json!([{ "text": range }]));
            }
        }
        "Procedure" => {
            insert("status", json!("completed"));
            let mut code = Map::new();
            if let Some(value) = cell("code") {
                let system = match cell("code_system") {
                    Some(system) if system.starts_with("http") || system.starts_with("urn:") => system,
                    Some(system) => format!("urn:kiban:code-system:{system}"),
                    None => "urn:kiban:code-system:procedure".to_owned(),
                };
                code.insert("coding".to_owned(), json!([coding(&system, value)]));
            }
            if let Some(name) = cell("name") {
                code.insert("text".to_owned(), json!(name));
            }
            insert("code", Value::Object(code));
            if let Some(date) = cell("date") {
                insert("performedDateTime", json!(date));
            }
        }
        _ => {}
    }
}
