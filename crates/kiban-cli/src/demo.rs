//! `kiban demo`: the whole pipeline once, on a synthetic cohort, on the embedded default store.
//!
//! generate (SS-MIX2, FHIR and CSV providers) → register providers → ingest each extract → link persons →
//! anonymized release (Parquet + CSV + manifest, kept sealed under its own key) with its ledger line and
//! audit entries → HTML report → the handover copy (`kiban release export`) in `handover/<release>`.
//! Running it again is safe: the cohort is the same bytes, so intake recognizes the extracts and stores
//! nothing twice; linkage is replaced; a new release (with its own ledger line) is made.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Args;
use kiban_model::NaiveDate;
use kiban_synth::{OutputFormat, SynthConfig};

use crate::ingest::{IngestFormat, IngestOutcome};
use crate::synth::clear_previous_cohort;
use crate::{
    Ctx, IngestArgs, LinkArgs, LinkOutcome, ProviderArgs, ReleaseArgs, ReleaseOutcome, audit, ingest, link,
    progress, register_provider, release,
};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Number of synthetic persons.
    #[arg(long, default_value_t = 10_000)]
    pub patients: usize,
    /// Number of providers; they alternate SS-MIX2, FHIR and CSV.
    #[arg(long, default_value_t = 3)]
    pub providers: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// k of the release's k-anonymity.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
}

/// Everything the demo made, and where.
#[derive(Debug)]
pub struct DemoOutcome {
    pub cohort_dir: PathBuf,
    pub ingests: Vec<IngestOutcome>,
    pub linkage: LinkOutcome,
    pub release: ReleaseOutcome,
    /// The handover copy of the release (`kiban release export`): what the recipient receives.
    pub handover: crate::ExportOutcome,
    pub ledger_export: PathBuf,
    pub audit_export: PathBuf,
    pub n_audit_entries: u64,
    pub steps: Vec<(String, f64)>,
}

const REFERENCE_DATE: (i32, u32, u32) = (2026, 4, 1);

/// Runs the pipeline.
///
/// # Errors
/// Any step's error, with the step named.
pub fn demo(ctx: &Ctx, args: &DemoArgs) -> Result<DemoOutcome> {
    let mut steps = Vec::new();
    let mut timer = Instant::now();
    let mut lap = |name: &str, steps: &mut Vec<(String, f64)>| {
        steps.push((name.to_owned(), timer.elapsed().as_secs_f64()));
        timer = Instant::now();
    };
    let reference_date = NaiveDate::from_ymd_opt(REFERENCE_DATE.0, REFERENCE_DATE.1, REFERENCE_DATE.2)
        .context("the demo's reference date")?;

    // 1. A synthetic cohort, one format per provider.
    let cohort_dir = ctx.data_dir.join("synthetic-cohort");
    clear_previous_cohort(&cohort_dir)?;
    let cfg = SynthConfig {
        n_patients: args.patients,
        n_providers: args.providers,
        seed: args.seed,
        format: OutputFormat::Mixed,
        reference_date,
    };
    let cohort = kiban_synth::generate(&cfg);
    let bar = progress::bar(ctx.progress, "synth");
    let summary =
        kiban_synth::write(&cohort, &cohort_dir, &mut |done, total| progress::update(&bar, done, total))
            .context("writing the synthetic cohort")?;
    bar.finish_and_clear();
    lap("generate synthetic cohort", &mut steps);

    // 2. Providers give notice and are published (Rule 36), then send their extracts.
    let notified_on = NaiveDate::from_ymd_opt(2026, 1, 15).context("demo notice date")?;
    let published_on = NaiveDate::from_ymd_opt(2026, 2, 2).context("demo publication date")?;
    let mut ingests = Vec::new();
    for provider in &cohort.providers {
        register_provider(
            ctx,
            &ProviderArgs {
                code: provider.code.as_str().to_owned(),
                name: provider.name.clone(),
                address: provider.address.clone(),
                notified_on,
                published_on: Some(published_on),
            },
        )
        .with_context(|| format!("registering provider {}", provider.code))?;
        let format = match provider.format {
            OutputFormat::Ssmix2 => IngestFormat::Ssmix2,
            OutputFormat::Fhir => IngestFormat::Fhir,
            OutputFormat::Csv | OutputFormat::Mixed => IngestFormat::Csv,
        };
        let outcome = ingest(
            ctx,
            &IngestArgs {
                provider: provider.code.as_str().to_owned(),
                format,
                path: cohort_dir.join(&provider.dir),
                mapping: None,
            },
        )
        .with_context(|| format!("ingesting provider {}", provider.code))?;
        ingests.push(outcome);
    }
    lap("ingest", &mut steps);

    // 3. 名寄せ, measured against the generator's ground truth.
    let linkage =
        link(ctx, &LinkArgs { truth: Some(summary.truth_path.clone()) }).context("linking persons")?;
    lap("link", &mut steps);

    // 4. An anonymized release for a (fictional) research institution.
    let release = release(
        ctx,
        &ReleaseArgs {
            recipient_name: Some("デモ大学 医学研究科 (demo recipient)".to_owned()),
            recipient_address: Some("東京都文京区本郷7-3-1 (demo address)".to_owned()),
            k: Some(args.k),
            suppression_limit: Some(0.05),
            reference_date: Some(reference_date),
            policy: None,
        },
    )
    .context("making the release")?;
    lap("anonymize and release", &mut steps);

    // 5. The handover copy: the sealed release opened and checked against its manifest.
    let handover_dir = ctx.data_dir.join("handover").join(&release.release_id);
    let handover = crate::export_release(ctx, &release.release_id, &handover_dir)
        .context("exporting the release for handover")?;
    lap("export for handover", &mut steps);

    let chain = ctx.store.verify_audit().context("verifying the audit log")?;
    let ledger_export = audit::export_ledger(ctx)?;
    let audit_export = audit::export_audit(ctx)?;
    Ok(DemoOutcome {
        cohort_dir,
        ingests,
        linkage,
        release,
        handover,
        ledger_export,
        audit_export,
        n_audit_entries: chain.chain.n_entries,
        steps,
    })
}

pub(crate) fn print_outcome(ctx: &Ctx, outcome: &DemoOutcome) {
    println!("kiban demo finished\n");
    for ingest in &outcome.ingests {
        ingest::print_outcome(ingest);
    }
    link::print_outcome(&outcome.linkage);
    release::print_outcome(&outcome.release);
    release::print_export(&outcome.handover);
    println!("\nwhere everything is:");
    println!("  synthetic cohort:   {}", outcome.cohort_dir.display());
    println!("  release (sealed):   {}", outcome.release.dir.display());
    println!("  handover copy:      {}", outcome.handover.to.display());
    println!("  report:             {}", outcome.release.report.display());
    println!("  ledger (Rule 12):   {}  (also `kiban ledger`)", outcome.ledger_export.display());
    println!(
        "  audit log:          {}  ({} entries, chain verified; also `kiban audit verify`)",
        outcome.audit_export.display(),
        outcome.n_audit_entries
    );
    println!("  database:           {}", ctx.data_dir.join("kiban.db").display());
    println!("\ntimings:");
    for (step, secs) in &outcome.steps {
        println!("  {step:<28} {secs:>7.2} s");
    }
}
