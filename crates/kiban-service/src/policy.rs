//! Reading a release policy from a file, with the ARX hierarchy files it names (the engine does no I/O).

use std::path::Path;

use anyhow::{Context as _, Result};
use kiban_engine::ReleasePolicy;

/// Reads and parses the release policy at `path`, attaching the hierarchy files it names (relative to the
/// policy file).
///
/// # Errors
/// An unreadable file, or every problem in it (line and key named).
pub fn load_policy_file(path: &Path) -> Result<ReleasePolicy, crate::ServiceError> {
    load(path).map_err(crate::ServiceError::from)
}

/// Parses a release policy given as text (a form, an API body). A policy that names hierarchy files is
/// refused: those are read beside a policy file, so such a policy runs from the CLI.
///
/// # Errors
/// [`crate::ErrorCode::InvalidRequest`] naming every problem (line and key).
pub fn parse_policy_text(text: &str) -> Result<ReleasePolicy, crate::ServiceError> {
    let invalid = |message: String| crate::ServiceError::new(crate::ErrorCode::InvalidRequest, message);
    let policy = ReleasePolicy::parse(text).map_err(|errors| invalid(format!("release policy: {errors}")))?;
    let files = policy.hierarchy_files();
    if !files.is_empty() {
        return Err(invalid(format!(
            "release policy: it names hierarchy files ({}); run it with `kiban release --policy FILE`, which reads them beside the policy",
            files.join(", ")
        )));
    }
    Ok(policy)
}

fn load(path: &Path) -> Result<ReleasePolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the release policy {}", path.display()))?;
    let mut policy =
        ReleasePolicy::parse(&text).with_context(|| format!("release policy {}", path.display()))?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    for file in policy.hierarchy_files() {
        let rows =
            read_arx_rows(&base.join(&file)).with_context(|| format!("release policy {}", path.display()))?;
        policy
            .attach_hierarchy(&file, &rows)
            .with_context(|| format!("release policy {}", path.display()))?;
    }
    Ok(policy)
}

/// The rows of an ARX hierarchy file, as written.
///
/// # Errors
/// An unreadable file, or a malformed line (named).
pub fn read_arx_rows(path: &Path) -> Result<Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening hierarchy {}", path.display()))?;
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{} line {}", path.display(), line + 1))?;
        rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
    }
    Ok(rows)
}
