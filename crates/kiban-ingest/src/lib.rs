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
//! - Files are listed, read and mapped on several threads per core (std threads; reading a large tree is
//!   mostly waiting on the disk), but handed to the assembly and the fingerprint in sorted path order, so
//!   the output does not depend on the number of threads or on timing.
//! - The [`IngestOutput::fingerprint`] hashes the sorted relative paths and bytes of every input file, so
//!   the same input always gives the same fingerprint and a re-ingest can be recognized.
//! - Types read but not mapped yet are counted in [`IngestOutput::unmapped`], not dropped silently.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::ScopedJoinHandle;

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

/// A folder to list: its absolute path and its path relative to the root (empty for the root itself).
struct Folder {
    absolute: PathBuf,
    relative: String,
}

/// Folders per thread to share the walk out in: many more than threads, so that a thread done early (a
/// folder of few patients) takes the next folder instead of idling.
const WALK_FOLDERS_PER_THREAD: usize = 64;

/// Lists every regular file under `root` that `keep` accepts, sorted by relative path.
///
/// The walk runs on [`threads`] threads: the top of the tree is listed level by level until there are enough
/// folders to share out, then each thread walks whole folders, taking the next one when it is done. The
/// final sort makes the order independent of which thread found what.
fn list_files(root: &Path, keep: &(dyn Fn(&str) -> bool + Sync)) -> Result<Vec<InputFile>, IngestError> {
    let metadata = std::fs::metadata(root)
        .map_err(|source| IngestError::Unreadable { path: root.to_owned(), source })?;
    if !metadata.is_dir() {
        return Err(IngestError::NotADirectory { path: root.to_owned() });
    }
    let enough_folders = threads() * WALK_FOLDERS_PER_THREAD;
    let mut files = Vec::new();
    let mut folders = vec![Folder { absolute: root.to_owned(), relative: String::new() }];
    while !folders.is_empty() && folders.len() < enough_folders {
        let mut subfolders = Vec::new();
        for folder in &folders {
            list_folder(folder, keep, &mut files, &mut subfolders)?;
        }
        folders = subfolders;
    }
    // In path order, so the walked parts come back nearly sorted and the final sort only checks them.
    folders.sort_unstable_by(|a, b| a.relative.cmp(&b.relative));
    for part in parallel_map(&folders, |folder| walk(folder, keep)) {
        files.extend(part?);
    }
    files.sort();
    Ok(files)
}

/// Walks the tree under one folder on the calling thread; the files come back sorted.
fn walk(folder: &Folder, keep: &(dyn Fn(&str) -> bool + Sync)) -> Result<Vec<InputFile>, IngestError> {
    let mut files = Vec::new();
    let mut pending = Vec::new();
    list_folder(folder, keep, &mut files, &mut pending)?;
    while let Some(folder) = pending.pop() {
        list_folder(&folder, keep, &mut files, &mut pending)?;
    }
    files.sort();
    Ok(files)
}

/// Lists one folder: the files `keep` accepts go to `files`, the subfolders to `subfolders`.
fn list_folder(
    folder: &Folder,
    keep: &(dyn Fn(&str) -> bool + Sync),
    files: &mut Vec<InputFile>,
    subfolders: &mut Vec<Folder>,
) -> Result<(), IngestError> {
    let unreadable = |source| IngestError::Unreadable { path: folder.absolute.clone(), source };
    for entry in std::fs::read_dir(&folder.absolute).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let relative = if folder.relative.is_empty() {
            name.into_owned()
        } else {
            format!("{}/{name}", folder.relative)
        };
        let file_type =
            entry.file_type().map_err(|source| IngestError::Unreadable { path: entry.path(), source })?;
        // Only real files and folders: a symbolic link (or a device, a pipe) could make intake read what
        // the extract does not hold.
        if file_type.is_dir() {
            subfolders.push(Folder { absolute: entry.path(), relative });
        } else if file_type.is_file() && keep(&relative) {
            files.push(InputFile { relative, absolute: entry.path() });
        }
    }
    Ok(())
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

/// Reading threads per core. Reading a large tree is mostly waiting on the disk (at 100,000 patients the
/// tree does not stay in the page cache), so several requests in flight per core keep the disk busy while
/// the cores parse.
const READ_THREADS_PER_CORE: usize = 4;

/// Threads to walk and read with: `KIBAN_INGEST_THREADS`, or [`READ_THREADS_PER_CORE`] per core.
fn threads() -> usize {
    std::env::var("KIBAN_INGEST_THREADS")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, NonZeroUsize::get) * READ_THREADS_PER_CORE
        })
}

/// Maps `items` on [`threads`] threads (the calling thread too) and returns the results in item order. Each thread
/// takes the next item when done with one, so items of uneven cost even out.
fn parallel_map<T: Sync, R: Send>(items: &[T], map: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut results = Vec::new();
        loop {
            let idx = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(idx) else { return results };
            results.push((idx, map(item)));
        }
    };
    let mut results = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads().min(items.len())).map(|_| scope.spawn(work)).collect();
        let mut results = work();
        for helper in helpers {
            results.extend(join(helper));
        }
        results
    });
    results.sort_unstable_by_key(|&(idx, _)| idx);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Waits for a scoped thread and passes its panic on with the original message (reading never panics on
/// input, so this is a bug's message, not a patient value).
fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Reads one file; an unreadable file becomes `Err(reason)`, the error kind only.
fn read_file(file: &InputFile) -> Result<Vec<u8>, String> {
    std::fs::read(&file.absolute).map_err(|error| format!("cannot read the file: {}", error.kind()))
}

/// Files read per batch: enough to amortize the per-batch work, small enough to keep memory flat.
const BATCH_SIZE: usize = 512;

/// Batches a reading thread may have ready before the calling thread takes them: enough to ride out an
/// uneven batch, few enough to keep memory flat.
const BATCHES_AHEAD: usize = 2;

/// Reads `files` and maps each with `map` on [`threads`] threads, while the calling thread feeds the
/// fingerprint and hands each batch's results to `consume`, both in file order: the output is the same as
/// reading the files one by one, and the calling thread's share overlaps the reading.
///
/// Reading thread `k` of `n` takes batches `k`, `k + n`, `k + 2n`, … and sends each down its own bounded
/// channel, and the calling thread takes batch `i` from channel `i % n`. So the batches arrive in order
/// without a reorder buffer, and at most [`BATCHES_AHEAD`] per thread wait in memory.
fn read_and_map<T, F>(
    files: &[InputFile],
    fingerprint: &mut Fingerprint,
    map: &F,
    consume: &mut dyn FnMut(Vec<T>),
) where
    T: Send,
    F: Fn(&InputFile, Result<&[u8], String>) -> T + Sync,
{
    // Zero only when there are no batches, and then nothing below divides by it.
    let n_threads = threads().min(files.len().div_ceil(BATCH_SIZE));
    let read_one = |file: &InputFile| {
        let bytes = read_file(file);
        let mapped = map(file, bytes.as_deref().map_err(Clone::clone));
        (bytes.ok(), mapped)
    };
    std::thread::scope(|scope| {
        let (receivers, readers): (Vec<_>, Vec<_>) = (0..n_threads)
            .map(|k| {
                let (sender, receiver) = mpsc::sync_channel(BATCHES_AHEAD);
                let reader = scope.spawn(move || {
                    for batch in files.chunks(BATCH_SIZE).skip(k).step_by(n_threads) {
                        let results: Vec<_> = batch.iter().map(read_one).collect();
                        if sender.send(results).is_err() {
                            return; // The calling thread stopped taking batches.
                        }
                    }
                });
                (receiver, reader)
            })
            .collect();
        for (idx, batch) in files.chunks(BATCH_SIZE).enumerate() {
            // A closed channel means its reading thread panicked: joining it below passes the panic on.
            let Ok(results) = receivers[idx % n_threads].recv() else { break };
            let mut mapped = Vec::with_capacity(batch.len());
            for (file, (bytes, result)) in batch.iter().zip(results) {
                if let Some(bytes) = bytes {
                    fingerprint.add(&file.relative, &bytes);
                }
                mapped.push(result);
            }
            consume(mapped);
        }
        // Unblocks any reading thread still sending, so that the joins return.
        drop(receivers);
        for reader in readers {
            join(reader);
        }
    });
}

/// Reads a batch of files on [`threads`] threads, then feeds the fingerprint in file order; an unreadable file
/// becomes `Err(reason)`.
fn read_batch(files: &[InputFile], fingerprint: &mut Fingerprint) -> Vec<Result<Vec<u8>, String>> {
    let contents = parallel_map(files, read_file);
    for (file, bytes) in files.iter().zip(&contents) {
        if let Ok(bytes) = bytes {
            fingerprint.add(&file.relative, bytes);
        }
    }
    contents
}

fn quarantine(relative: &str, reason: impl Into<String>) -> Quarantined {
    Quarantined { path: PathBuf::from(relative), reason: reason.into() }
}

/// Whether a name is written in katakana (full- or half-width), the form of a kana name (カナ氏名).
fn is_kana(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| matches!(c, 'ァ'..='ヿ' | 'ｦ'..='ﾟ' | ' ' | '　'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 × 60 folders of 10 files: more folders than the walk shares out at once on a few cores, and more
    /// files than three batches. Plus a file at the top and a dangling link (never listed: links are not read); `a-b`
    /// sorts before `a/…` by path though after `a` by folder name.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for top in ["a", "a-b", "b"] {
            for sub in 0..60 {
                let folder = dir.path().join(top).join(format!("{sub:02}"));
                std::fs::create_dir_all(&folder).unwrap();
                for file in 0..10 {
                    std::fs::write(folder.join(format!("{file}.txt")), format!("{top}{sub}{file}")).unwrap();
                }
            }
        }
        std::fs::write(dir.path().join("top.txt"), "top").unwrap();
        std::os::unix::fs::symlink("missing", dir.path().join("a/00/dangling.txt")).unwrap();
        dir
    }

    fn walk_on_one_thread(root: &Path, prefix: &str, relatives: &mut Vec<String>) {
        for entry in std::fs::read_dir(root.join(prefix)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if entry.file_type().unwrap().is_dir() {
                walk_on_one_thread(root, &relative, relatives);
            } else if entry.file_type().unwrap().is_file() {
                // Links (the tree's dangling one) are never read.
                relatives.push(relative);
            }
        }
    }

    #[test]
    fn the_walk_on_every_core_lists_what_one_thread_lists_in_path_order() {
        let dir = tree();
        let mut expected = Vec::new();
        walk_on_one_thread(dir.path(), "", &mut expected);
        expected.sort();
        let files = list_files(dir.path(), &|_| true).unwrap();
        let listed: Vec<String> = files.into_iter().map(|file| file.relative).collect();
        // Every file and `top.txt`; the dangling link is left out.
        assert_eq!(listed.len(), 3 * 60 * 10 + 1);
        assert!(!listed.iter().any(|relative| relative.ends_with("dangling.txt")));
        assert_eq!(listed, expected);
    }

    #[test]
    fn batches_read_on_every_core_come_back_in_file_order_with_the_one_thread_fingerprint() {
        let dir = tree();
        let files = list_files(dir.path(), &|relative| relative != "top.txt").unwrap();
        let mut expected = Fingerprint::default();
        for file in &files {
            if let Ok(bytes) = std::fs::read(&file.absolute) {
                expected.add(&file.relative, &bytes);
            }
        }
        let expected_results: Vec<(String, bool)> = files
            .iter()
            .map(|file| (file.relative.clone(), !file.relative.ends_with("dangling.txt")))
            .collect();
        let mut fingerprint = Fingerprint::default();
        let mut results = Vec::new();
        let map = |file: &InputFile, bytes: Result<&[u8], String>| (file.relative.clone(), bytes.is_ok());
        read_and_map(&files, &mut fingerprint, &map, &mut |batch| results.extend(batch));
        assert_eq!(results, expected_results);
        assert_eq!(fingerprint.finish(), expected.finish());
    }
}
