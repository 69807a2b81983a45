//! Writes a research release from the engine's output: one Parquet and one CSV file per table, a manifest
//! with row counts and SHA-256 checksums, and a report (HTML for people, JSON for machines).
//!
//! Invariants:
//! - The only input is [`kiban_engine::AnonymizedDataset`], which only the engine can build: nothing
//!   unprocessed can be written as a release.
//! - Files are written into a staging folder; the caller records the ledger line and the audit event and
//!   only then publishes the folder with [`publish`]. A release is never visible before its ledger line.
//! - The report holds counts and choices, never a record, a key or an offset.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use kiban_engine::AnonymizedDataset;
use serde::Serialize;
use sha2::{Digest, Sha256};

mod at_rest;
mod fhir;
pub mod measure;
mod report;
pub mod table_report;
pub use at_rest::{AtRest, Export, export_release};
pub use report::{Report, ReportContext, write_report};

use at_rest::DataFile;

/// Why writing a release failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Table(#[from] kiban_columnar::TableError),
    #[error("encoding {what}: {source}")]
    Json { what: &'static str, source: serde_json::Error },
    #[error("release folder {0} already exists: choose another release ID")]
    AlreadyPublished(PathBuf),
    #[error("{0} already exists: export into a new folder")]
    ExportTarget(PathBuf),
    #[error("{path} does not match the release manifest (size or SHA-256)")]
    Checksum { path: String },
    #[error("measuring the risk of the released table {table}: {reason}")]
    Measure { table: String, reason: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ReleaseError + '_ {
    move |source| ReleaseError::Io { path: path.to_owned(), source }
}

/// One file of a release, as listed in `manifest.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ManifestFile {
    /// Path relative to the release folder.
    pub path: String,
    pub table: String,
    pub format: String,
    pub rows: usize,
    pub bytes: u64,
    pub sha256: String,
}

/// The release manifest (`manifest.json`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Manifest {
    pub release_id: String,
    pub mode: String,
    pub n_persons: usize,
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// SHA-256 of the manifest's canonical JSON: the checksum the ledger records.
    ///
    /// # Errors
    /// Only if JSON encoding fails, which it does not for this type.
    pub fn sha256(&self) -> Result<String, ReleaseError> {
        let bytes = self.to_json()?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    fn to_json(&self) -> Result<Vec<u8>, ReleaseError> {
        serde_json::to_vec_pretty(self).map_err(|source| ReleaseError::Json { what: "manifest", source })
    }
}

/// Persons whose rows are built and written together: bounds the memory of a large release.
const PERSONS_PER_CHUNK: usize = 10_000;

/// Writes every table of `dataset` into `staging` as plain Parquet and CSV files, plus `manifest.json`:
/// [`write_release_at`] with [`AtRest::Plain`].
///
/// # Errors
/// [`ReleaseError`] naming the file that could not be written.
pub fn write_release(
    dataset: &AnonymizedDataset<'_>,
    release_id: &str,
    staging: &Path,
) -> Result<Manifest, ReleaseError> {
    write_release_at(dataset, release_id, staging, AtRest::Plain)
}

/// Writes every table of `dataset` into `staging` as Parquet and CSV (and FHIR NDJSON when the policy
/// asks), stored as `at_rest` says, plus `manifest.json` listing each file's plaintext size and SHA-256.
/// Tables are built and written a chunk of persons at a time, so memory stays flat however large the
/// release. Output is deterministic: the same dataset gives byte-identical plaintext.
///
/// # Errors
/// [`ReleaseError`] naming the file that could not be written.
pub fn write_release_at(
    dataset: &AnonymizedDataset<'_>,
    release_id: &str,
    staging: &Path,
    at_rest: AtRest<'_>,
) -> Result<Manifest, ReleaseError> {
    fs::create_dir_all(staging.join("parquet")).map_err(io_error(staging))?;
    fs::create_dir_all(staging.join("csv")).map_err(io_error(staging))?;
    let fhir = dataset.summary().fhir;
    if fhir {
        fs::create_dir_all(staging.join("fhir")).map_err(io_error(staging))?;
    }
    let mut writers: Vec<TableWriters> = Vec::new();
    for chunk in dataset.chunks(PERSONS_PER_CHUNK) {
        let tables = chunk?;
        if writers.is_empty() {
            for table in &tables {
                writers.push(TableWriters::create(staging, table, fhir, at_rest)?);
            }
        }
        for (table, writers) in tables.iter().zip(&mut writers) {
            writers.write(table)?;
        }
    }
    let mut files = Vec::new();
    for writers in writers {
        files.extend(writers.finish()?);
    }
    let manifest = Manifest {
        release_id: release_id.to_owned(),
        mode: dataset.summary().mode.name().to_owned(),
        n_persons: dataset.summary().n_persons_released,
        files,
    };
    let path = staging.join("manifest.json");
    fs::write(&path, manifest.to_json()?).map_err(io_error(&path))?;
    Ok(manifest)
}

/// The open files of one table: Parquet, CSV and, when asked, FHIR NDJSON.
struct TableWriters {
    table: String,
    parquet: (String, kiban_columnar::ParquetWriter<DataFile>),
    csv: (String, kiban_columnar::CsvWriter<DataFile>),
    fhir: Option<(String, DataFile)>,
    rows: usize,
}

impl TableWriters {
    fn create(
        staging: &Path,
        shape: &kiban_columnar::Table,
        fhir: bool,
        at_rest: AtRest<'_>,
    ) -> Result<TableWriters, ReleaseError> {
        let table = shape.name().to_owned();
        let relative = format!("parquet/{table}.parquet");
        let file = DataFile::create(staging, &relative, at_rest)?;
        let label = |relative: &str| staging.join(relative).display().to_string();
        let parquet = kiban_columnar::ParquetWriter::new(file, shape, &label(&relative))?;
        let parquet = (relative, parquet);
        let relative = format!("csv/{table}.csv");
        let file = DataFile::create(staging, &relative, at_rest)?;
        let csv = (relative.clone(), kiban_columnar::CsvWriter::from_writer(file, shape, &label(&relative))?);
        let fhir = match fhir.then(|| fhir::resource_type(&table)).flatten() {
            Some(resource) => {
                let relative = format!("fhir/{resource}.ndjson");
                let file = DataFile::create(staging, &relative, at_rest)?;
                Some((relative, file))
            }
            None => None,
        };
        Ok(TableWriters { table, parquet, csv, fhir, rows: 0 })
    }

    fn write(&mut self, chunk: &kiban_columnar::Table) -> Result<(), ReleaseError> {
        self.parquet.1.write(chunk)?;
        self.csv.1.write(chunk)?;
        if let Some((relative, out)) = &mut self.fhir {
            let path = PathBuf::from(relative.as_str());
            fhir::write_rows(chunk, self.rows, out).map_err(io_error(&path))?;
        }
        self.rows += chunk.n_rows();
        Ok(())
    }

    /// Closes the files and lists them with their plaintext sizes and checksums.
    fn finish(self) -> Result<Vec<ManifestFile>, ReleaseError> {
        let mut written = vec![
            (self.parquet.0, "parquet", self.parquet.1.finish()?.finish()?),
            (self.csv.0, "csv", self.csv.1.finish()?.finish()?),
        ];
        if let Some((relative, out)) = self.fhir {
            written.push((relative, "fhir-ndjson", out.finish()?));
        }
        Ok(written
            .into_iter()
            .map(|(path, format, (bytes, sha256))| ManifestFile {
                path,
                table: self.table.clone(),
                format: format.to_owned(),
                rows: self.rows,
                bytes,
                sha256,
            })
            .collect())
    }
}

/// Moves a staged release to its final folder. Call it only after the ledger line and audit event are
/// committed.
///
/// # Errors
/// [`ReleaseError::AlreadyPublished`] if the final folder exists; [`ReleaseError::Io`] if the rename fails.
pub fn publish(staging: &Path, final_dir: &Path) -> Result<(), ReleaseError> {
    if final_dir.exists() {
        return Err(ReleaseError::AlreadyPublished(final_dir.to_owned()));
    }
    fs::rename(staging, final_dir).map_err(io_error(final_dir))
}

/// Size and hex SHA-256 of a file, read in blocks.
///
/// # Errors
/// [`ReleaseError::Io`] when the file cannot be read.
pub fn hash_file(path: &Path) -> Result<(u64, String), ReleaseError> {
    let mut file = fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Checks every file listed in a release folder's manifest against its size and checksum; returns the
/// paths that differ or are missing. Recipients and auditors run this on what they received.
///
/// # Errors
/// [`ReleaseError`] when the manifest itself cannot be read.
pub fn verify_release(dir: &Path) -> Result<Vec<String>, ReleaseError> {
    let path = dir.join("manifest.json");
    let text = fs::read(&path).map_err(io_error(&path))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| ReleaseError::Json { what: "manifest", source })?;
    let mut bad = Vec::new();
    for file in manifest["files"].as_array().into_iter().flatten() {
        let relative = file["path"].as_str().unwrap_or_default();
        let expected = file["sha256"].as_str().unwrap_or_default();
        match hash_file(&dir.join(relative)) {
            Ok((_, actual)) if actual == expected => {}
            _ => bad.push(relative.to_owned()),
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests;
