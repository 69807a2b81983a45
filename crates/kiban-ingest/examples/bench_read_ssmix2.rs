//! Benchmark driver for `scripts/bench_intake.py`: reads an SS-MIX2 storage with `read_ssmix2` (on every
//! core) and prints counts, or with `--raw` only lists, reads and decodes ISO-2022-JP every file (the floor
//! for the same files on one thread). Prints one line of `key=value` pairs; the script times the whole
//! process.
//!
//! ```text
//! cargo run --release -p kiban-ingest --example bench_read_ssmix2 -- [--raw] ROOT
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use encoding_rs::ISO_2022_JP;
use kiban_ingest::read_ssmix2;
use kiban_model::ProviderCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (raw, root) = match args.as_slice() {
        [flag, root] if flag == "--raw" => (true, PathBuf::from(root)),
        [root] => (false, PathBuf::from(root)),
        _ => {
            eprintln!("usage: bench_read_ssmix2 [--raw] ROOT");
            return ExitCode::from(2);
        }
    };
    let result = if raw { read_raw(&root) } else { read_mapped(&root) };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn read_mapped(root: &Path) -> Result<String, String> {
    let provider = ProviderCode::new("1310000001").map_err(|error| error.to_string())?;
    let start = Instant::now();
    let output = read_ssmix2(root, &provider, &mut |_| {}).map_err(|error| error.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let n_unmapped: usize = output.unmapped.values().sum();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Ok(format!(
        "mode=read_ssmix2 threads={threads} files={} records={} quarantined={} unmapped={n_unmapped} warnings={} seconds={seconds:.3}",
        output.n_files,
        output.records.len(),
        output.quarantined.len(),
        output.warnings.len(),
    ))
}

fn read_raw(root: &Path) -> Result<String, String> {
    let start = Instant::now();
    let mut files = Vec::new();
    list(root, &mut files).map_err(|error| format!("listing {}: {error}", root.display()))?;
    files.sort();
    let (mut n_bytes, mut n_decoded_bytes, mut n_undecodable) = (0usize, 0usize, 0usize);
    for file in &files {
        let bytes = std::fs::read(file).map_err(|error| format!("reading {}: {error}", file.display()))?;
        n_bytes += bytes.len();
        match ISO_2022_JP.decode_without_bom_handling_and_without_replacement(&bytes) {
            Some(text) => n_decoded_bytes += text.len(),
            None => n_undecodable += 1,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(format!(
        "mode=raw files={} bytes={n_bytes} decoded_bytes={n_decoded_bytes} undecodable={n_undecodable} seconds={seconds:.3}",
        files.len()
    ))
}

fn list(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            list(&entry.path(), files)?;
        } else {
            files.push(entry.path());
        }
    }
    Ok(())
}
