//! `kiban synth`: write a synthetic cohort to disk.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use kiban_model::NaiveDate;
use kiban_synth::{OutputFormat, SynthConfig, SynthSummary};

use crate::progress;

#[derive(Debug, Clone)]
pub struct SynthRequest {
    /// Number of persons.
    pub patients: usize,
    /// Number of providers (hospitals and clinics).
    pub providers: usize,
    /// Random seed: the same seed gives byte-identical output.
    pub seed: u64,
    pub format: OutputFormat,
    /// The "today" of the synthetic data (YYYY-MM-DD).
    pub reference_date: NaiveDate,
    /// Output folder (replaced if it holds an earlier synthetic cohort).
    pub out: PathBuf,
}

/// Generates and writes a cohort.
///
/// # Errors
/// When the output folder cannot be written, or holds something other than an earlier cohort.
pub fn synth(args: &SynthRequest, show_progress: bool) -> Result<SynthSummary, crate::ServiceError> {
    Ok(write_cohort(args, show_progress)?)
}

fn write_cohort(args: &SynthRequest, show_progress: bool) -> Result<SynthSummary> {
    anyhow::ensure!(args.patients > 0, "--patients must be at least 1");
    anyhow::ensure!(args.providers > 0, "--providers must be at least 1");
    clear_previous_cohort(&args.out)?;
    let cfg = SynthConfig {
        n_patients: args.patients,
        n_providers: args.providers,
        seed: args.seed,
        format: args.format,
        reference_date: args.reference_date,
    };
    let cohort = kiban_synth::generate(&cfg);
    let bar = progress::bar(show_progress, "synth");
    let summary =
        kiban_synth::write(&cohort, &args.out, &mut |done, total| progress::update(&bar, done, total))
            .with_context(|| format!("writing the synthetic cohort to {}", args.out.display()))?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Removes an earlier cohort so that a smaller one does not leave stale files behind. Refuses to touch a
/// non-empty folder that does not look like one (no `truth.csv`).
pub(crate) fn clear_previous_cohort(out: &std::path::Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else { return Ok(()) };
    if entries.next().is_none() {
        return Ok(());
    }
    anyhow::ensure!(
        out.join("truth.csv").exists(),
        "{} is not empty and does not hold a synthetic cohort: choose an empty folder",
        out.display()
    );
    std::fs::remove_dir_all(out).with_context(|| format!("removing the earlier cohort in {}", out.display()))
}
