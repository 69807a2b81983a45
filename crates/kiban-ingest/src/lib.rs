//! Intake: reads a provider's SS-MIX2 standardized storage, FHIR R4 JP Core resources or CSV export into
//! the canonical record model, one [`PatientRecord`] per provider-local patient.
//!
//! Main entry points: [`read_ssmix2`], [`read_fhir`], [`read_csv`] (and [`read_csv_with_mapping`] for a
//! provider's own CSV layout, see [`CsvMapping`]), all returning an [`IngestOutput`].
//!
//! Design decisions:
//! - A bad file, resource or row never fails the batch: it is quarantined with a reason that names the
//!   file, line, segment or field position (never a value), and the rest goes on. [`IngestError`] is only
//!   for whole-input failures (the root is missing or unreadable).
//! - The file list is read once and sorted, so the output is deterministic: records are sorted by local
//!   patient id, and messages of one patient are merged in path order (for SS-MIX2 the `-` date folder,
//!   which holds ADT-00, comes first, so its demographics win).
//! - The [`IngestOutput::fingerprint`] hashes the sorted relative paths and bytes of every input file, so
//!   the same input always gives the same fingerprint and a re-ingest can be recognized.
//! - Types read but not mapped yet are counted in [`IngestOutput::unmapped`], not dropped silently.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use kiban_model::PatientRecord;
use sha2::{Digest, Sha256};

mod csv_files;
pub mod dates;
mod fhir;
mod ssmix2;

pub use csv_files::{CsvMapping, read_csv, read_csv_with_mapping};
pub use fhir::{read_fhir, read_fhir_document};
pub use ssmix2::{read_ssmix2, read_ssmix2_message};

/// How far a reader has got, in files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// One input set aside, with the reason (what and where, never a value).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Quarantined {
    /// Relative to the input root.
    pub path: PathBuf,
    pub reason: String,
}

/// What a reader produced from one provider's input.
#[derive(Clone, PartialEq)]
pub struct IngestOutput {
    /// One per provider-local patient, sorted by local patient id.
    pub records: Vec<PatientRecord>,
    pub quarantined: Vec<Quarantined>,
    /// Message or resource types read but not mapped yet (e.g. `OMG-01`, `AllergyIntolerance`), with counts.
    pub unmapped: BTreeMap<String, usize>,
    /// Tolerated problems, e.g. `a/b/c: decoded as Shift_JIS, not ISO-2022-JP`.
    pub warnings: Vec<String>,
    pub n_files: usize,
    /// Hex SHA-256 over the sorted relative paths and bytes of all input files.
    pub fingerprint: String,
}

impl fmt::Debug for IngestOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestOutput")
            .field("n_records", &self.records.len())
            .field("quarantined", &self.quarantined)
            .field("unmapped", &self.unmapped)
            .field("n_warnings", &self.warnings.len())
            .field("n_files", &self.n_files)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// A failure of the whole input. A bad file is quarantined instead.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input {path} does not exist or is not accessible: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("input {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("input {path} has no {file}: the CSV export needs it (see docs/formats/csv-intake.md)")]
    MissingFile { path: PathBuf, file: String },
    #[error("CSV mapping file {path} cannot be read: {source}")]
    MappingUnreadable { path: PathBuf, source: std::io::Error },
    #[error("CSV mapping file {path}: {reason}")]
    Mapping { path: PathBuf, reason: String },
    #[error(
        "{file}: column {column} (mapped to {canonical}) is not in the header row: fix the mapping file or the export"
    )]
    MappedColumnMissing { file: String, column: String, canonical: String },
}

/// One input file: its path relative to the root (with `/` separators) and its absolute path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct InputFile {
    relative: String,
    absolute: PathBuf,
}

/// Lists every regular file under `root` that `keep` accepts, sorted by relative path.
fn list_files(root: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<InputFile>, IngestError> {
    let metadata = std::fs::metadata(root)
        .map_err(|source| IngestError::Unreadable { path: root.to_owned(), source })?;
    if !metadata.is_dir() {
        return Err(IngestError::NotADirectory { path: root.to_owned() });
    }
    let mut files = Vec::new();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|source| IngestError::Unreadable { path: dir.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| IngestError::Unreadable { path: dir.clone(), source })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let file_type =
                entry.file_type().map_err(|source| IngestError::Unreadable { path: entry.path(), source })?;
            if file_type.is_dir() {
                pending.push((entry.path(), relative));
            } else if keep(&relative) {
                files.push(InputFile { relative, absolute: entry.path() });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Hashes the sorted input files: each as its path length, path, byte length and bytes.
#[derive(Default)]
struct Fingerprint(Sha256);

impl Fingerprint {
    fn add(&mut self, relative: &str, bytes: &[u8]) {
        self.0.update((relative.len() as u64).to_le_bytes());
        self.0.update(relative.as_bytes());
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Files read per batch: enough to amortize the per-batch work, small enough to keep memory flat.
const BATCH_SIZE: usize = 512;

/// Reads one batch of files in order, feeding the fingerprint; an unreadable file becomes `Err(reason)`.
/// Reads a batch of files and maps each with `map`, spread over the machine's cores; the results come back
/// in file order and the fingerprint takes the files in that order, so the output is the same as reading
/// them one by one.
fn read_and_map_batch<T, F>(files: &[InputFile], fingerprint: &mut Fingerprint, map: &F) -> Vec<T>
where
    T: Send,
    F: Fn(&InputFile, Result<&[u8], String>) -> T + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).max(1);
    let chunk = files.len().div_ceil(threads).max(1);
    let read_one = |file: &InputFile| {
        let bytes =
            std::fs::read(&file.absolute).map_err(|error| format!("cannot read the file: {}", error.kind()));
        let mapped = map(file, bytes.as_deref().map_err(Clone::clone));
        (bytes.ok(), mapped)
    };
    let parts: Vec<Vec<(Option<Vec<u8>>, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut out = Vec::with_capacity(files.len());
    for (file, (bytes, mapped)) in files.iter().zip(parts.into_iter().flatten()) {
        if let Some(bytes) = bytes {
            fingerprint.add(&file.relative, &bytes);
        }
        out.push(mapped);
    }
    out
}

fn read_batch(files: &[InputFile], fingerprint: &mut Fingerprint) -> Vec<Result<Vec<u8>, String>> {
    files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(&file.absolute)
                .map_err(|error| format!("cannot read the file: {}", error.kind()));
            if let Ok(bytes) = &bytes {
                fingerprint.add(&file.relative, bytes);
            }
            bytes
        })
        .collect()
}

fn quarantine(relative: &str, reason: impl Into<String>) -> Quarantined {
    Quarantined { path: PathBuf::from(relative), reason: reason.into() }
}

/// Whether a name is written in katakana (full- or half-width), the form of a kana name (カナ氏名).
fn is_kana(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| matches!(c, 'ァ'..='ヿ' | 'ｦ'..='ﾟ' | ' ' | '　'))
}
