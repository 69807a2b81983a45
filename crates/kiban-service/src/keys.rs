//! The operator's key-encryption key (KEK), the one secret kiban does not keep: it wraps every key in the
//! key store (each vault object's data key, and the deployment key from which release, linkage and audit
//! keys are derived; see `kiban_store::StoreKeys`).
//!
//! It comes from `KIBAN_MASTER_KEY` (64 hex characters), or the key file named by `KIBAN_KEY_FILE`, or
//! the key file `{data_dir}/keys/master.key`, which is created with owner-only permissions on first use so
//! that a fresh machine runs without setup. In production the key belongs outside the data directory
//! (an environment secret or a mounted key file), so that whoever holds the disk or the database cannot
//! read the vault. It is never written to the database, the repository, a log or a release.

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

const FILE_ENV: &str = "KIBAN_KEY_FILE";

/// Where the KEK comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KekSource {
    Environment,
    File(std::path::PathBuf),
}

/// Where the KEK is read from, without reading it.
pub(crate) fn kek_source(data_dir: &Path) -> KekSource {
    if std::env::var_os(ENV).is_some() {
        return KekSource::Environment;
    }
    match std::env::var_os(FILE_ENV) {
        Some(path) if !path.is_empty() => KekSource::File(path.into()),
        _ => KekSource::File(data_dir.join("keys").join("master.key")),
    }
}

/// Reads a KEK from a key file (64 hex characters).
///
/// # Errors
/// An unreadable file, or one that is not 64 hex characters.
pub fn read_key_file(path: &Path) -> Result<SecretKey, crate::ServiceError> {
    read_key(path).map_err(crate::ServiceError::from)
}

pub(crate) fn read_key(path: &Path) -> Result<SecretKey> {
    let text =
        fs::read_to_string(path).with_context(|| format!("reading the key file {}", path.display()))?;
    SecretKey::from_hex(text.trim())
        .with_context(|| format!("the key file {} is not 64 hex characters", path.display()))
}

/// Replaces the key file at `path` with `key` (owner-only, written then renamed).
pub(crate) fn replace_key_file(path: &Path, key: &SecretKey) -> Result<()> {
    let temporary = path.with_extension("key.new");
    let _ = fs::remove_file(&temporary);
    write_owner_only(&temporary, key.to_hex_secret().expose_secret().as_bytes())
        .with_context(|| format!("writing {}", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

/// Loads the KEK, creating the default key file if no key is configured and none exists.
pub(crate) fn master_key(data_dir: &Path) -> Result<SecretKey> {
    if let Ok(text) = std::env::var(ENV) {
        return SecretKey::from_hex(text.trim())
            .with_context(|| format!("reading {ENV}: expected 64 hex characters"));
    }
    if let KekSource::File(path) = kek_source(data_dir)
        && std::env::var_os(FILE_ENV).is_some()
    {
        return read_key(&path);
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
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)
}
