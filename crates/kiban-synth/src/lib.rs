//! Synthetic Japanese EHR data: a deterministic cohort of persons seen at several providers, written as
//! SS-MIX2 standardized storage, FHIR R4 JP Core NDJSON, or the flat CSV intake format, with the ground
//! truth of who is who for measuring linkage.
//!
//! Main items: [`generate`] builds a [`Cohort`] from a [`SynthConfig`] (pure and deterministic: one
//! ChaCha8 stream seeded from `cfg.seed`, "today" is `cfg.reference_date`, never the clock); [`write`]
//! writes it under a directory and returns a [`SynthSummary`].
//!
//! ```no_run
//! use kiban_synth::{generate, write, OutputFormat, SynthConfig};
//! let cfg = SynthConfig { n_patients: 200, n_providers: 3, format: OutputFormat::Mixed, ..SynthConfig::default() };
//! let cohort = generate(&cfg);
//! let summary = write(&cohort, std::path::Path::new("/tmp/synth"), &mut |_, _| {}).expect("writable");
//! assert_eq!(summary.n_persons, 200);
//! ```
//!
//! Design decisions:
//! - `n_patients` counts persons; each person is seen at 1-3 providers, so there are more patient records
//!   than persons. `truth.csv` maps every (provider, local patient ID) to the person number.
//! - Each record holds the values exactly as that provider writes them (half-width kana, a name without a
//!   family/given split, an old address, a new insurer...), so reading the files back gives the same
//!   record. The only writer-side choices are presentation: the birth-date and event-date format, the sex
//!   code and the name separator in CSV.
//! - Every per-provider habit comes from [`ProviderStyle`]-like settings derived from the provider code, so
//!   the generator and the writers agree without storing extra state.
//! - Realism tables (names, geography, diseases, drugs, labs) are embedded; see the `names`, `geo` and
//!   `clinical` modules for what is real and what is illustrative.

use std::path::{Path, PathBuf};

use kiban_model::{LocalPatientId, NaiveDate, PatientRecord, ProviderCode};

mod clinical;
mod csv_out;
mod era;
mod fhir;
mod generate;
mod geo;
mod kana;
mod names;
mod ssmix2;
mod style;
mod write;

pub use kana::is_kana_text;

/// Which file format a provider exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// SS-MIX2 standardized storage (HL7 v2.5, ISO-2022-JP).
    Ssmix2,
    /// FHIR R4 JP Core, one NDJSON file per resource type.
    Fhir,
    /// The flat CSV intake format (docs/formats/csv-intake.md).
    Csv,
    /// Provider `i` uses `[Ssmix2, Fhir, Csv][i % 3]`.
    Mixed,
}

impl OutputFormat {
    /// `ssmix2`, `fhir`, `csv` or `mixed`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Ssmix2 => "ssmix2",
            OutputFormat::Fhir => "fhir",
            OutputFormat::Csv => "csv",
            OutputFormat::Mixed => "mixed",
        }
    }

    /// Reads a name written by [`OutputFormat::name`].
    pub fn parse(name: &str) -> Option<OutputFormat> {
        match name.trim() {
            "ssmix2" => Some(OutputFormat::Ssmix2),
            "fhir" => Some(OutputFormat::Fhir),
            "csv" => Some(OutputFormat::Csv),
            "mixed" => Some(OutputFormat::Mixed),
            _ => None,
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Number of distinct persons.
    pub n_patients: usize,
    pub n_providers: usize,
    pub seed: u64,
    pub format: OutputFormat,
    /// The "today" of the data: ages and visit dates are relative to it.
    pub reference_date: NaiveDate,
}

impl Default for SynthConfig {
    fn default() -> SynthConfig {
        SynthConfig {
            n_patients: 1000,
            n_providers: 3,
            seed: 1,
            format: OutputFormat::Mixed,
            reference_date: NaiveDate::from_ymd_opt(2026, 4, 1).expect("2026-04-01 is a valid date"),
        }
    }
}

/// One synthetic medical institution. Institution data, not patient data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthProvider {
    /// 10-digit 医療機関コード: 2-digit prefecture, `1` (医科), 7 digits.
    pub code: ProviderCode,
    /// e.g. 札幌市民病院.
    pub name: String,
    pub postal_code: String,
    pub address: String,
    /// Never [`OutputFormat::Mixed`]: the format this provider actually uses.
    pub format: OutputFormat,
    /// The provider's folder, relative to the output directory.
    pub dir: PathBuf,
}

/// A generated cohort.
#[derive(Clone, Debug)]
pub struct Cohort {
    pub providers: Vec<SynthProvider>,
    /// Patient records per provider, in provider order.
    pub records: Vec<Vec<PatientRecord>>,
    /// One row per patient record: who that record really is.
    pub truth: Vec<TruthRow>,
}

/// The true person behind one provider-local patient record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthRow {
    pub provider: ProviderCode,
    pub local_id: LocalPatientId,
    /// The true person number, 1-based.
    pub person: u64,
}

/// What [`write`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSummary {
    pub n_persons: usize,
    pub n_patient_records: usize,
    pub n_files: usize,
    pub truth_path: PathBuf,
    pub providers_path: PathBuf,
}

/// Errors from writing a cohort. They name the file, never patient values.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("encoding HL7 message {path}: {source}")]
    Hl7 { path: PathBuf, source: kiban_hl7v2::write::WriteError },
    #[error("writing CSV {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("writing JSON {path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
}

/// Generates a cohort. Pure: the same `cfg` always gives the same cohort.
pub fn generate(cfg: &SynthConfig) -> Cohort {
    generate::generate(cfg)
}

/// Writes `cohort` under `out`: `providers.csv`, `truth.csv` and one folder per provider in its format.
/// `progress(done, total)` is called after each patient record. The same cohort always gives the same bytes.
///
/// # Errors
/// Returns the first file that could not be created or written, or an HL7 message that could not be
/// encoded as ISO-2022-JP.
pub fn write(
    cohort: &Cohort,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SynthSummary, SynthError> {
    write::write(cohort, out, progress)
}

#[cfg(test)]
mod tests;
