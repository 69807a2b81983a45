//! How a release's data files are kept at rest, and the handover copy made from them.
//!
//! The producer keeps each release's data files (Parquet, CSV, FHIR NDJSON) sealed under the release's own
//! data key ([`AtRest::Sealed`]): they are written through the sealing writer, so no plaintext data file
//! ever touches the producer's disk, and destroying the key shreds the release. `manifest.json` and the
//! report hold counts, choices and checksums only, and stay readable, so a reviewer can read the report
//! and an auditor can check the ledger's manifest checksum without the key. [`export_release`] makes the
//! plaintext copy that is handed over, checking every file against the manifest as it goes.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use kiban_crypto::{DataKey, SealWriter};
use sha2::{Digest, Sha256};

use crate::{ReleaseError, io_error};

/// How the data files of a release are stored.
#[derive(Clone, Copy, Debug)]
pub enum AtRest<'a> {
    /// Plain files (the recipient's copy; tests and benchmarks).
    Plain,
    /// Sealed under `key`, each file under the label `{object}/{relative path}` (e.g.
    /// `release:R0001/csv/persons.csv`), so files cannot be swapped between releases or tables.
    Sealed { key: &'a DataKey, object: &'a str },
}

impl AtRest<'_> {
    fn label(object: &str, relative: &str) -> String {
        format!("{object}/{relative}")
    }
}

/// A data file being written: plain or sealed, with the size and SHA-256 of its plaintext, which is what
/// the manifest lists and what the recipient checks.
pub(crate) struct DataFile {
    sink: Sink,
    hasher: Sha256,
    bytes: u64,
    path: PathBuf,
}

enum Sink {
    Plain(BufWriter<fs::File>),
    Sealed(SealWriter<BufWriter<fs::File>>),
}

impl DataFile {
    /// Creates `dir/relative`.
    pub(crate) fn create(dir: &Path, relative: &str, at_rest: AtRest<'_>) -> Result<DataFile, ReleaseError> {
        let path = dir.join(relative);
        let file = BufWriter::new(owner_only_file(&path).map_err(io_error(&path))?);
        let sink = match at_rest {
            AtRest::Plain => Sink::Plain(file),
            AtRest::Sealed { key, object } => Sink::Sealed(
                key.seal_writer(&AtRest::label(object, relative), file).map_err(io_error(&path))?,
            ),
        };
        Ok(DataFile { sink, hasher: Sha256::new(), bytes: 0, path })
    }

    /// Ends the file; returns the size and hex SHA-256 of its plaintext.
    pub(crate) fn finish(self) -> Result<(u64, String), ReleaseError> {
        let path = self.path;
        let file = match self.sink {
            Sink::Plain(mut file) => {
                file.flush().map_err(io_error(&path))?;
                file
            }
            Sink::Sealed(writer) => writer.finish().map_err(io_error(&path))?,
        };
        file.into_inner()
            .map_err(|err| io_error(&path)(err.into_error()))?
            .sync_all()
            .map_err(io_error(&path))?;
        Ok((self.bytes, hex::encode(self.hasher.finalize())))
    }
}

impl Write for DataFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Plain(file) => file.write(bytes)?,
            Sink::Sealed(writer) => writer.write(bytes)?,
        };
        self.hasher.update(&bytes[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(file) => file.flush(),
            Sink::Sealed(writer) => writer.flush(),
        }
    }
}

/// Creates a new file readable by its owner only (on Unix), failing if it exists.
fn owner_only_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates a new folder readable by its owner only (on Unix), failing if it exists.
fn owner_only_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// What [`export_release`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Data files written, each checked against the manifest.
    pub n_files: usize,
    /// Plaintext bytes of the data files.
    pub bytes: u64,
    /// Files copied beside them: the manifest and the report.
    pub copied: Vec<String>,
}

/// Makes the handover copy of the release kept in `dir` in the new folder `to` (owner-only): every data
/// file the manifest lists, opened (when sealed) and checked against the manifest's size and SHA-256 as
/// it is written, then the manifest and the report. When `manifest_sha256` is given (the ledger's), the
/// manifest itself is checked first, so files cannot be dropped from it unnoticed. The copy verifies
/// with [`crate::verify_release`].
///
/// # Errors
/// [`ReleaseError::ExportTarget`] when `to` exists; [`ReleaseError::Checksum`] when the manifest or a
/// file does not match; [`ReleaseError::Io`] naming the file that could not be read, opened (wrong key,
/// altered or cut) or written. On error the partial copy is removed.
pub fn export_release(
    dir: &Path,
    at_rest: AtRest<'_>,
    manifest_sha256: Option<&str>,
    to: &Path,
) -> Result<Export, ReleaseError> {
    if let Some(parent) = to.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    owner_only_dir(to).map_err(|error| match error.kind() {
        io::ErrorKind::AlreadyExists => ReleaseError::ExportTarget(to.to_owned()),
        _ => io_error(to)(error),
    })?;
    let result = copy_release(dir, at_rest, manifest_sha256, to);
    if result.is_err() {
        // Best effort: the error being reported matters more than a failure to clean up.
        let _ = fs::remove_dir_all(to);
    }
    result
}

fn copy_release(
    dir: &Path,
    at_rest: AtRest<'_>,
    manifest_sha256: Option<&str>,
    to: &Path,
) -> Result<Export, ReleaseError> {
    let manifest_path = dir.join("manifest.json");
    let text = fs::read(&manifest_path).map_err(io_error(&manifest_path))?;
    if manifest_sha256.is_some_and(|expected| hex::encode(Sha256::digest(&text)) != expected) {
        return Err(ReleaseError::Checksum { path: "manifest.json".to_owned() });
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| ReleaseError::Json { what: "manifest", source })?;
    let mut export = Export { n_files: 0, bytes: 0, copied: Vec::new() };
    for file in manifest["files"].as_array().into_iter().flatten() {
        let relative = file["path"].as_str().unwrap_or_default();
        if !is_release_path(relative) {
            return Err(ReleaseError::Checksum { path: relative.to_owned() });
        }
        let source = dir.join(relative);
        let target = to.join(relative);
        if let Some(parent) = target.parent().filter(|parent| !parent.exists()) {
            owner_only_dir(parent).map_err(io_error(parent))?;
        }
        let input = fs::File::open(&source).map_err(io_error(&source))?;
        let mut output = DataFile::create(to, relative, AtRest::Plain)?;
        match at_rest {
            AtRest::Plain => io::copy(&mut io::BufReader::new(input), &mut output),
            AtRest::Sealed { key, object } => key
                .open_reader(&AtRest::label(object, relative), io::BufReader::new(input))
                .and_then(|mut reader| io::copy(&mut reader, &mut output)),
        }
        .map_err(io_error(&source))?;
        let (bytes, sha256) = output.finish()?;
        if Some(sha256.as_str()) != file["sha256"].as_str() || Some(bytes) != file["bytes"].as_u64() {
            return Err(ReleaseError::Checksum { path: relative.to_owned() });
        }
        export.n_files += 1;
        export.bytes += bytes;
    }
    for name in ["manifest.json", "report.html", "report.json"] {
        let source = dir.join(name);
        if source.exists() {
            let target = to.join(name);
            let mut input = fs::File::open(&source).map_err(io_error(&source))?;
            let mut output = owner_only_file(&target).map_err(io_error(&target))?;
            io::copy(&mut input, &mut output).map_err(io_error(&target))?;
            export.copied.push(name.to_owned());
        }
    }
    Ok(export)
}

/// A manifest path a release writes: `parquet/`, `csv/` or `fhir/` and a plain file name, so a forged
/// manifest cannot make the export read or write outside the two folders.
fn is_release_path(relative: &str) -> bool {
    let mut parts = relative.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("parquet" | "csv" | "fhir"), Some(name), None)
            if !name.is_empty() && name != ".." && name != "." && !name.contains('\\')
    )
}

/// Opens a data file of the release kept in `dir` for reading its plaintext: through the opening reader
/// when sealed, which authenticates every segment before handing out its bytes.
///
/// # Errors
/// [`ReleaseError::Io`] naming the file when it cannot be opened (missing, wrong key, altered).
pub(crate) fn open_data_file<'k>(
    dir: &Path,
    relative: &str,
    at_rest: AtRest<'k>,
) -> Result<Box<dyn io::Read + 'k>, ReleaseError> {
    let path = dir.join(relative);
    let file = io::BufReader::new(fs::File::open(&path).map_err(io_error(&path))?);
    Ok(match at_rest {
        AtRest::Plain => Box::new(file),
        AtRest::Sealed { key, object } => {
            Box::new(key.open_reader(&AtRest::label(object, relative), file).map_err(io_error(&path))?)
        }
    })
}
