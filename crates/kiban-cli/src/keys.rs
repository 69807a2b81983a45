//! The producer's master key, from which every release's pseudonym and date-shift keys are derived.
//!
//! It comes from `KIBAN_MASTER_KEY` (64 hex characters) or the key file `{data_dir}/keys/master.key`,
//! which is created with owner-only permissions on first use. It is never written to the database, the
//! repository, a log or a release. (Operator-held key-encryption keys and rotation come with the security
//! issue.)

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use kiban_crypto::SecretKey;

const ENV: &str = "KIBAN_MASTER_KEY";
const KEYSTORE_ENV: &str = "KIBAN_KEYSTORE_DIR";

/// Where the wrapped data keys of vault objects live: `KIBAN_KEYSTORE_DIR`, or `{data_dir}/keystore`.
/// Deleting a batch destroys its key there, so this folder should not be in long-lived backups.
pub(crate) fn keystore_dir(data_dir: &Path) -> std::path::PathBuf {
    match std::env::var_os(KEYSTORE_ENV) {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => data_dir.join("keystore"),
    }
}

/// Loads the master key, creating the key file if there is neither a file nor the environment variable.
pub(crate) fn master_key(data_dir: &Path) -> Result<SecretKey> {
    if let Ok(text) = std::env::var(ENV) {
        return SecretKey::from_hex(text.trim())
            .with_context(|| format!("reading {ENV}: expected 64 hex characters"));
    }
    let dir = data_dir.join("keys");
    let path = dir.join("master.key");
    if path.exists() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading the key file {}", path.display()))?;
        return SecretKey::from_hex(text.trim())
            .with_context(|| format!("the key file {} is not 64 hex characters", path.display()));
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = SecretKey::generate().context("generating a master key")?;
    write_owner_only(&path, key.to_hex_secret().expose_secret().as_bytes())
        .with_context(|| format!("writing the key file {}", path.display()))?;
    Ok(key)
}

#[cfg(unix)]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)
}
