//! `kiban linkage-material`: public-database linkage material (Rule 28 of the Guideline).
//!
//! `export` writes, per linked person, an opaque row ID and a keyed one-way value of the person's canonical
//! identity; `import` reads back the provision IDs (提供用ID) the public database assigned to those rows.
//!
//! The canonical identity of a person is, from the person's provider records in (provider, local ID)
//! order, the first kana name, birth date, known sex and insurance entitlement found:
//! `kana ␟ YYYYMMDD ␟ sex ␟ insurer ␟ symbol ␟ number ␟ branch` (␟ = U+001F), where the kana name is
//! `kiban_linkage::normalize::normalize_kana` of family + given name, sex is the JIS X 0303 code (1 male,
//! 2 female, 9 other, 0 unknown), the insurer number is the 8-digit canonical form and symbol, number and
//! branch are `normalize_symbol_number` (an absent part is empty). The ministry's algorithm is not
//! public, so the one-way function is chosen by name (`--algorithm`); the built-in one is
//! `kiban_crypto::LinkageHmac` (HMAC-SHA-256 under a key derived from the deployment key for this purpose).
//! Persons without a kana name or birth date are left out and counted; persons who opted out are never
//! exported.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_crypto::{LinkageHmac, LinkageOneWay};
use kiban_linkage::normalize::{normalize_insurer_number, normalize_kana, normalize_symbol_number};
use kiban_model::{LocalPatientId, PatientRecord, ProviderCode, Sex};
use kiban_store::{LinkageExport, LinkageExportRow};

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::link::load_vault;
use crate::optout::OptoutMatcher;

#[derive(Debug, Clone)]
pub struct LinkageExportRequest {
    /// Where to write the material (CSV: row_id,hash). Must not exist yet.
    pub out: PathBuf,
    /// The keyed one-way function, by name.
    pub algorithm: String,
}

#[derive(Debug, Clone)]
pub struct LinkageImportRequest {
    /// The answer file: CSV with the columns row_id and provision_id (提供用ID).
    pub file: PathBuf,
}

/// What an export wrote.
#[derive(Debug)]
pub struct LinkageExportOutcome {
    pub export_id: String,
    pub out: PathBuf,
    pub n_rows: usize,
    /// Linked persons left out for lack of a kana name or birth date.
    pub n_incomplete: usize,
    /// Linked persons left out because they opted out.
    pub n_opted_out: usize,
}

/// Picks the one-way function an operator named.
fn one_way_function(name: &str, ctx: &Ctx) -> Result<Box<dyn LinkageOneWay>> {
    match name {
        LinkageHmac::NAME => Ok(Box::new(LinkageHmac::derive_from(&ctx.store.keys()?.root))),
        other => {
            anyhow::bail!("unknown linkage algorithm {other:?}: the built-in one is {:?}", LinkageHmac::NAME)
        }
    }
}

fn sex_code(sex: Sex) -> char {
    match sex {
        Sex::Male => '1',
        Sex::Female => '2',
        Sex::Other => '9',
        Sex::Unknown => '0',
    }
}

/// The canonical identity of one person (module docs), or `None` without a kana name or birth date.
fn canonical_identity(records: &[&PatientRecord]) -> Option<String> {
    let persons = || records.iter().map(|record| &record.person);
    let kana = persons()
        .filter_map(|person| person.name_kana.as_ref())
        .map(|name| normalize_kana(&name.joined()))
        .find(|kana| !kana.is_empty())?;
    let birth_date = persons().find_map(|person| person.birth_date)?;
    let sex = persons().map(|person| person.sex).find(|sex| *sex != Sex::Unknown).unwrap_or(Sex::Unknown);
    let insurance = persons().find_map(|person| person.insurances.first());
    let part = |value: Option<&String>| value.map(|text| normalize_symbol_number(text)).unwrap_or_default();
    let (insurer, symbol, number, branch) = match insurance {
        Some(insurance) => (
            normalize_insurer_number(&insurance.insurer_number).unwrap_or_default(),
            part(insurance.symbol.as_ref()),
            part(insurance.number.as_ref()),
            part(insurance.branch.as_ref()),
        ),
        None => Default::default(),
    };
    Some(
        [
            kana,
            birth_date.format("%Y%m%d").to_string(),
            sex_code(sex).to_string(),
            insurer,
            symbol,
            number,
            branch,
        ]
        .join("\u{1f}"),
    )
}

/// Exports the linkage material of every linked person.
///
/// # Errors
/// No linked persons, an unknown algorithm, an existing `--out`, or a store or file failure. The export
/// is on record (rows and audit entry) before the file takes its name.
pub(crate) fn export_linkage_material(
    ctx: &Ctx,
    args: &LinkageExportRequest,
) -> Result<LinkageExportOutcome> {
    anyhow::ensure!(
        !args.out.exists(),
        "{} exists: choose another --out (an export is never overwritten)",
        args.out.display()
    );
    let function = one_way_function(&args.algorithm, ctx)?;
    let links = ctx.store.person_links()?;
    anyhow::ensure!(!links.is_empty(), "no persons are linked yet: run `kiban link` first");
    let records = load_vault(ctx)?;
    let by_patient: HashMap<(&ProviderCode, &LocalPatientId), &PatientRecord> =
        records.iter().map(|record| ((&record.person.provider, &record.person.local_id), record)).collect();
    // Person ID order: the IDs are hashes, so the row order says nothing about providers or patients.
    let mut persons: BTreeMap<&str, Vec<&PatientRecord>> = BTreeMap::new();
    for link in &links {
        if let Some(record) = by_patient.get(&(&link.provider, &link.local_id)) {
            persons.entry(link.person_id.as_str()).or_default().push(record);
        }
    }
    let matcher = OptoutMatcher::load(ctx)?;

    let export_id = format!("LX{:04}", ctx.store.next_linkage_export_number()?);
    let mut rows = Vec::new();
    let mut hashes = Vec::new();
    let (mut n_incomplete, mut n_opted_out) = (0, 0);
    for (person_id, members) in &persons {
        if members.iter().any(|record| matcher.matches(&record.person)) {
            n_opted_out += 1;
            continue;
        }
        let Some(identity) = canonical_identity(members) else {
            n_incomplete += 1;
            continue;
        };
        let row_id = format!("{export_id}-{:06}", rows.len() + 1);
        hashes.push(function.apply(identity.as_bytes()));
        rows.push(LinkageExportRow { row_id, person_id: (*person_id).to_owned() });
    }

    let staging = staging_path(&args.out);
    write_material(&staging, &rows, &hashes).with_context(|| format!("writing {}", staging.display()))?;
    let detail = format!(
        "{} rows, algorithm {}; {} persons without kana name or birth date, {} opted out, left out",
        rows.len(),
        function.name(),
        n_incomplete,
        n_opted_out
    );
    let n_rows = rows.len();
    let export = LinkageExport {
        export_id: export_id.clone(),
        algorithm: function.name().to_owned(),
        rows,
        created_at: ctx.now(),
    };
    let object = ObjectRef::LinkageExport(export_id.clone());
    if let Err(error) = ctx.store.record_linkage_export(
        &export,
        ctx.event(AuditAction::LinkageMaterialExport, &object, Outcome::Success, detail),
    ) {
        let _ = fs::remove_file(&staging);
        let error = anyhow::Error::new(error).context(format!("recording linkage export {export_id}"));
        ctx.audit_failure(AuditAction::LinkageMaterialExport, &object, Outcome::Failure, &error);
        return Err(error);
    }
    fs::rename(&staging, &args.out).with_context(|| format!("publishing {}", args.out.display()))?;
    Ok(LinkageExportOutcome { export_id, out: args.out.clone(), n_rows, n_incomplete, n_opted_out })
}

fn staging_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    out.with_file_name(name)
}

fn write_material(path: &Path, rows: &[LinkageExportRow], hashes: &[String]) -> Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(["row_id", "hash"])?;
    for (row, hash) in rows.iter().zip(hashes) {
        writer.write_record([row.row_id.as_str(), hash.as_str()])?;
    }
    writer.flush()?;
    Ok(())
}

/// Imports provision IDs (提供用ID): all or nothing, audited either way.
///
/// # Errors
/// An unreadable file, a missing column or empty value (named by line), a row ID never exported or
/// given twice, or a store failure.
pub(crate) fn import_linkage_material(ctx: &Ctx, args: &LinkageImportRequest) -> Result<usize> {
    let object = &ObjectRef::ProvisionIds;
    let result = read_answers(&args.file).and_then(|pairs| {
        let detail = format!("{} provision IDs from {}", pairs.len(), args.file.display());
        ctx.store
            .import_provision_ids(
                &pairs,
                ctx.now(),
                ctx.event(AuditAction::LinkageMaterialImport, object, Outcome::Success, detail),
            )
            .map_err(anyhow::Error::new)
    });
    result.inspect_err(|error| {
        ctx.audit_failure(AuditAction::LinkageMaterialImport, object, Outcome::Failure, error)
    })
}

fn read_answers(path: &Path) -> Result<Vec<(String, String)>> {
    let name = path.display();
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {name}"))?;
    let headers =
        reader.headers().with_context(|| format!("{name}: line 1: the header row cannot be read"))?;
    let position = |column: &str| {
        headers.iter().position(|header| header.trim() == column).with_context(|| {
            format!("{name}: the header has no column {column} (expected row_id,provision_id)")
        })
    };
    let (row_column, provision_column) = (position("row_id")?, position("provision_id")?);
    let mut pairs = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{name}: a row cannot be read as CSV"))?;
        let line = record.position().map_or(0, csv::Position::line);
        let value = |column: usize, label: &str| {
            record
                .get(column)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .with_context(|| format!("{name}: line {line}: column {label} is empty"))
        };
        pairs.push((value(row_column, "row_id")?, value(provision_column, "provision_id")?));
    }
    Ok(pairs)
}
