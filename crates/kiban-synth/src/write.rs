//! Writes a cohort: `providers.csv`, `truth.csv`, and each provider's folder in its format.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use kiban_model::PatientRecord;

use crate::style::ProviderStyle;
use crate::{Cohort, OutputFormat, SynthError, SynthSummary, csv_out, fhir, ssmix2};

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io { path: path.to_owned(), source }
}

/// Creates a file for buffered writing, with its parent folders.
pub(crate) fn create(path: &Path) -> Result<BufWriter<File>, SynthError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    Ok(BufWriter::with_capacity(64 * 1024, File::create(path).map_err(io_error(path))?))
}

pub(crate) fn csv_error(path: &Path) -> impl FnOnce(csv::Error) -> SynthError + '_ {
    move |source| SynthError::Csv { path: path.to_owned(), source }
}

pub(crate) fn write(
    cohort: &Cohort,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SynthSummary, SynthError> {
    fs::create_dir_all(out).map_err(io_error(out))?;
    let providers_path = out.join("providers.csv");
    {
        let mut writer = csv::Writer::from_writer(create(&providers_path)?);
        writer
            .write_record(["code", "name", "postal_code", "address", "format", "dir"])
            .map_err(csv_error(&providers_path))?;
        for provider in &cohort.providers {
            let dir = provider.dir.to_string_lossy();
            writer
                .write_record([
                    provider.code.as_str(),
                    &provider.name,
                    &provider.postal_code,
                    &provider.address,
                    provider.format.name(),
                    &dir,
                ])
                .map_err(csv_error(&providers_path))?;
        }
        writer.flush().map_err(io_error(&providers_path))?;
    }
    let truth_path = out.join("truth.csv");
    {
        let mut writer = csv::Writer::from_writer(create(&truth_path)?);
        writer.write_record(["provider_code", "patient_id", "person_id"]).map_err(csv_error(&truth_path))?;
        for row in &cohort.truth {
            writer
                .write_record([row.provider.as_str(), row.local_id.as_str(), &row.person.to_string()])
                .map_err(csv_error(&truth_path))?;
        }
        writer.flush().map_err(io_error(&truth_path))?;
    }

    let total: usize = cohort.records.iter().map(Vec::len).sum();
    let mut done = 0;
    let mut n_files = 2;
    for (provider, records) in cohort.providers.iter().zip(&cohort.records) {
        let dir: PathBuf = out.join(&provider.dir);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let style = ProviderStyle::new(provider.code.as_str(), provider.format);
        let mut tick = |n: usize| {
            done += n;
            progress(done, total);
        };
        n_files += match provider.format {
            OutputFormat::Ssmix2 | OutputFormat::Mixed => {
                ssmix2::write_provider(provider, records, &dir, &mut tick)?
            }
            OutputFormat::Fhir => fhir::write_provider(provider, records, &dir, &mut tick)?,
            OutputFormat::Csv => csv_out::write_provider(records, &style, &dir, &mut tick)?,
        };
    }
    Ok(SynthSummary {
        n_persons: cohort.truth.iter().map(|row| row.person).max().map_or(0, |max| max as usize),
        n_patient_records: total,
        n_files,
        truth_path,
        providers_path,
    })
}

/// Flushes a buffered file, naming it on failure.
pub(crate) fn finish(mut writer: BufWriter<File>, path: &Path) -> Result<(), SynthError> {
    writer.flush().map_err(io_error(path))
}

/// Threads for work bound by file creation rather than the CPU.
pub(crate) const IO_THREADS: usize = 8;

/// Records handed to one thread at a time.
const CHUNK: usize = 256;

/// Runs `work` over consecutive chunks of `records` on `threads` threads, a wave of chunks at a time,
/// and returns each chunk's result in record order, so output stays deterministic for a seed. `work`
/// receives the index of the chunk's first record. `tick` hears of every finished wave.
pub(crate) fn in_parallel<T: Send>(
    records: &[PatientRecord],
    threads: usize,
    tick: &mut dyn FnMut(usize),
    work: impl Fn(usize, &[PatientRecord]) -> Result<T, SynthError> + Sync,
) -> Result<Vec<T>, SynthError> {
    let threads = threads.max(1);
    let mut results = Vec::with_capacity(records.len().div_ceil(CHUNK));
    for (wave_no, wave) in records.chunks(CHUNK * threads).enumerate() {
        let first = wave_no * CHUNK * threads;
        let outcomes: Vec<Result<T, SynthError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = wave
                .chunks(CHUNK)
                .enumerate()
                .map(|(idx, chunk)| {
                    let work = &work;
                    scope.spawn(move || work(first + idx * CHUNK, chunk))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        for outcome in outcomes {
            results.push(outcome?);
        }
        tick(wave.len());
    }
    Ok(results)
}

/// Threads for CPU-bound rendering: one per core.
pub(crate) fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
