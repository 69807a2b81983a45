//! `kiban provider` and `kiban ingest`: register providers (Rule 36) and receive their extracts into the
//! vault with a record of receipt (Rule 37).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_ingest::{CsvMapping, IngestOutput, Progress};
use kiban_model::{NaiveDate, PatientRecord, ProviderCode};
use kiban_store::{BatchCompletion, BatchId, BatchStatus, NewBatch, ProviderRegistration};

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::optout::OptoutMatcher;
use crate::progress;

#[derive(Debug, Clone)]
pub struct ProviderRequest {
    /// 医療機関コード (10 digits) or another stable code.
    pub code: String,
    pub name: String,
    pub address: String,
    /// The day the provider's notice (通知) was received.
    pub notified_on: NaiveDate,
    /// The day the notice was published (公表); no data is accepted before.
    pub published_on: Option<NaiveDate>,
}

/// Registers or updates a provider.
///
/// # Errors
/// An invalid code, or a store failure.
pub(crate) fn register_provider(ctx: &Ctx, args: &ProviderRequest) -> Result<()> {
    let code = ProviderCode::new(&args.code).with_context(|| format!("provider code {:?}", args.code))?;
    ctx.store.register_provider(&ProviderRegistration {
        code: code.clone(),
        name: args.name.clone(),
        address: args.address.clone(),
        notified_on: args.notified_on,
        published_on: args.published_on,
    })?;
    let detail = match args.published_on {
        Some(day) => format!("notified {}, published {day}", args.notified_on),
        None => format!("notified {}, not yet published", args.notified_on),
    };
    ctx.store.append_audit(ctx.event(
        AuditAction::ProviderRegister,
        &ObjectRef::Provider(code.to_string()),
        Outcome::Success,
        detail,
    ))?;
    Ok(())
}

/// Input formats `kiban ingest` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestFormat {
    /// SS-MIX2 standardized storage (HL7 v2.5).
    Ssmix2,
    /// FHIR R4 / JP Core: Bundles or NDJSON.
    Fhir,
    /// CSV per docs/formats/csv-intake.md.
    Csv,
}

impl IngestFormat {
    fn name(self) -> &'static str {
        match self {
            IngestFormat::Ssmix2 => "ss-mix2",
            IngestFormat::Fhir => "fhir",
            IngestFormat::Csv => "csv",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// The sending provider's code (must be registered and published).
    pub provider: String,
    pub format: IngestFormat,
    /// The extract: an SS-MIX2 storage root, a FHIR file or folder, or a CSV folder.
    pub path: PathBuf,
    /// With --format csv: a TOML file mapping the provider's file and column names, codes and date format
    /// onto the canonical layout (docs/formats/csv-intake.md).
    pub mapping: Option<PathBuf>,
}

/// What one ingest did.
#[derive(Debug)]
pub struct IngestOutcome {
    pub batch: BatchId,
    pub provider: ProviderCode,
    /// True when this extract had been received before: nothing new was stored.
    pub already_received: bool,
    pub n_files: usize,
    pub n_persons: usize,
    /// Persons in the extract left out because they opted out (none of their records was stored).
    pub n_persons_excluded: usize,
    pub n_records_by_kind: BTreeMap<String, u64>,
    pub n_quarantined: usize,
    pub unmapped: BTreeMap<String, usize>,
    pub n_warnings: usize,
}

/// Receives one provider extract: checks the provider (Rule 36), reads and maps the files, quarantines
/// what cannot be read, leaves out every person who opted out (提供停止の求め), stores the rest in the
/// vault, and writes the record of receipt (Rule 37, with the number left out) with its audit entry. Receiving the same extract again stores nothing twice; a run interrupted before the
/// receipt is resumed by running it again.
///
/// # Errors
/// An unknown or unpublished provider, an unreadable input root, or a store failure. Bad files are not
/// errors: they are quarantined.
pub(crate) fn ingest(ctx: &Ctx, args: &IngestRequest) -> Result<IngestOutcome> {
    let provider =
        ProviderCode::new(&args.provider).with_context(|| format!("provider code {:?}", args.provider))?;
    let object = ObjectRef::Provider(provider.to_string());
    if let Err(error) = check_provider(ctx, &provider) {
        ctx.audit_failure(AuditAction::IngestBatch, &object, Outcome::Denied, &error);
        return Err(error);
    }
    let mapping = match &args.mapping {
        Some(path) => {
            anyhow::ensure!(args.format == IngestFormat::Csv, "--mapping applies to --format csv only");
            Some(CsvMapping::read(path)?)
        }
        None => None,
    };
    let bar = progress::bar(ctx.progress, "ingest");
    let mut on_progress = |p: Progress| progress::update(&bar, p.done, p.total);
    let mut output = match (args.format, &mapping) {
        (IngestFormat::Ssmix2, _) => kiban_ingest::read_ssmix2(&args.path, &provider, &mut on_progress),
        (IngestFormat::Fhir, _) => kiban_ingest::read_fhir(&args.path, &provider, &mut on_progress),
        (IngestFormat::Csv, None) => kiban_ingest::read_csv(&args.path, &provider, &mut on_progress),
        (IngestFormat::Csv, Some(mapping)) => {
            kiban_ingest::read_csv_with_mapping(&args.path, &provider, mapping, &mut on_progress)
        }
    }
    .with_context(|| format!("reading {} extract {}", args.format.name(), args.path.display()))?;
    bar.finish_and_clear();

    // Opt-out (提供停止の求め): persons who asked are never stored; only their number is recorded.
    let matcher = OptoutMatcher::load(ctx)?;
    let n_before = output.records.len();
    output.records.retain(|record| !matcher.matches(&record.person));
    let n_excluded = n_before - output.records.len();

    let counts = count_records(&output.records);
    if let Some(existing) = ctx.store.find_batch(&provider, &output.fingerprint)?
        && existing.status == BatchStatus::Complete
    {
        return Ok(outcome(existing.id, provider, true, &output, n_excluded, counts));
    }
    let batch = ctx.store.begin_batch(&NewBatch {
        provider: provider.clone(),
        fingerprint: output.fingerprint.clone(),
        format: args.format.name().to_owned(),
        source: args.path.display().to_string(),
        started_at: ctx.now(),
    })?;
    ctx.store
        .write_batch_records(batch, &output.records)
        .with_context(|| format!("storing batch {batch}"))?;
    let completion = BatchCompletion {
        n_persons: output.records.len() as u64,
        n_persons_excluded: n_excluded as u64,
        n_records_by_kind: counts.clone(),
        items: received_items(&output.records),
        quarantined: output
            .quarantined
            .iter()
            .map(|q| (q.path.display().to_string(), q.reason.clone()))
            .collect(),
        completed_at: ctx.now(),
    };
    let detail = format!(
        "{} files, {} persons, {} excluded by opt-out, {} quarantined, format {}{}",
        output.n_files,
        output.records.len(),
        n_excluded,
        output.quarantined.len(),
        args.format.name(),
        if mapping.is_some() { " with a column mapping" } else { "" }
    );
    let audit = ctx.event(AuditAction::IngestBatch, &ObjectRef::Batch(batch.0), Outcome::Success, detail);
    ctx.store.complete_batch(batch, &completion, audit)?;
    Ok(outcome(batch, provider, false, &output, n_excluded, counts))
}

fn check_provider(ctx: &Ctx, provider: &ProviderCode) -> Result<()> {
    let registration = ctx.store.provider(provider)?.with_context(|| {
        format!("provider {provider} is not registered: register its notice with `kiban provider add` first (Rule 36)")
    })?;
    anyhow::ensure!(
        registration.published_on.is_some(),
        "provider {provider} has given notice but it is not published yet: data is accepted only after publication (Rule 36)"
    );
    Ok(())
}

fn outcome(
    batch: BatchId,
    provider: ProviderCode,
    already_received: bool,
    output: &IngestOutput,
    n_persons_excluded: usize,
    n_records_by_kind: BTreeMap<String, u64>,
) -> IngestOutcome {
    IngestOutcome {
        batch,
        provider,
        already_received,
        n_files: output.n_files,
        n_persons: output.records.len(),
        n_persons_excluded,
        n_records_by_kind,
        n_quarantined: output.quarantined.len(),
        unmapped: output.unmapped.clone(),
        n_warnings: output.warnings.len(),
    }
}

fn count_records(records: &[PatientRecord]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut add = |kind: &str, n: usize| *counts.entry(kind.to_owned()).or_insert(0) += n as u64;
    for record in records {
        add("encounters", record.encounters.len());
        add("diagnoses", record.diagnoses.len());
        add("prescriptions", record.prescriptions.len());
        add("labs", record.labs.len());
        add("procedures", record.procedures.len());
    }
    counts
}

/// The data items a batch holds, named as on a record of receipt (Rule 37 ④).
fn received_items(records: &[PatientRecord]) -> Vec<String> {
    let any = |f: &dyn Fn(&PatientRecord) -> bool| records.iter().any(f);
    let items: [(&str, bool); 11] = [
        ("氏名", any(&|r| r.person.name_kanji.is_some() || r.person.name_kana.is_some())),
        ("生年月日", any(&|r| r.person.birth_date.is_some())),
        ("性別", any(&|r| r.person.sex != kiban_model::Sex::Unknown)),
        ("住所", any(&|r| r.person.address.is_some() || r.person.postal_code.is_some())),
        ("電話番号", any(&|r| r.person.phone.is_some())),
        ("被保険者資格", any(&|r| !r.person.insurances.is_empty())),
        ("受診歴", any(&|r| !r.encounters.is_empty())),
        ("病名", any(&|r| !r.diagnoses.is_empty())),
        ("処方", any(&|r| !r.prescriptions.is_empty())),
        ("検体検査結果", any(&|r| !r.labs.is_empty())),
        ("処置", any(&|r| !r.procedures.is_empty())),
    ];
    items.iter().filter(|(_, present)| *present).map(|(name, _)| (*name).to_owned()).collect()
}
