//! The key store: each vault object's data key, wrapped by the operator's KEK, one small file per object
//! under `{keystore_dir}/{object}.key`.
//!
//! The database never holds a data key, wrapped or not. That is what makes deletion real: destroying an
//! object's key file (overwritten, synced, unlinked) leaves its sealed files undecryptable, even to someone
//! who copied the database and the vault beforehand and holds the KEK. The key store therefore belongs on
//! storage whose backups expire (or are not taken); the default, `{data_dir}/keystore`, is for a single
//! machine, and `KIBAN_KEYSTORE_DIR` moves it.
//!
//! File format (text, version 1):
//! ```text
//! kiban-wrapped-key v1
//! object batch:3
//! kek 0123456789abcdef
//! wrapped <hex of nonce || ciphertext || tag>
//! ```

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use kiban_crypto::{DataKey, Kek, WrappedKey};

use crate::error::StoreError;

const HEADER: &str = "kiban-wrapped-key v1";

/// Data keys of vault objects, wrapped by a KEK, in a directory of their own.
pub struct KeyStore {
    dir: PathBuf,
}

/// What [`KeyStore::rotate`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Rotation {
    /// Keys re-wrapped from the old KEK to the new one.
    pub rewrapped: usize,
    /// Keys already under the new KEK (an interrupted rotation run again).
    pub already_current: usize,
}

/// One key's entry, as [`KeyStore::list`] shows it: no key material.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyEntry {
    pub object: String,
    pub kek_id: String,
}

fn key_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::KeyStore { path: path.display().to_string(), source }
}

impl KeyStore {
    /// Opens (creating if needed) the key store in `dir`, readable by its owner only.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`].
    pub fn open(dir: &Path) -> Result<KeyStore, StoreError> {
        fs::create_dir_all(dir).map_err(key_error(dir))?;
        restrict_to_owner(dir).map_err(key_error(dir))?;
        Ok(KeyStore { dir: dir.to_owned() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, object: &str) -> PathBuf {
        // Object names are ours (`batch:3`, `release:R-1`); keep only safe characters in the file name.
        let name: String =
            object.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        self.dir.join(format!("{name}.key"))
    }

    /// The data key of `object`, created (and wrapped under `kek`) if it has none yet. Running an
    /// interrupted write again finds the key it created the first time.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`], [`StoreError::Crypto`].
    pub fn get_or_create(&self, object: &str, kek: &Kek) -> Result<DataKey, StoreError> {
        if self.path(object).exists() {
            return self.load(object, kek);
        }
        let key = DataKey::generate()?;
        if self.write_new(object, &kek.wrap(&key, object)?)? {
            Ok(key)
        } else {
            // Another process created it first: use theirs.
            self.load(object, kek)
        }
    }

    /// The data key of `object`.
    ///
    /// # Errors
    /// [`StoreError::KeyDestroyed`] when the object has no key (never created, or shredded),
    /// [`StoreError::KeyStore`], [`StoreError::Crypto`] (wrong KEK, altered key file).
    pub fn load(&self, object: &str, kek: &Kek) -> Result<DataKey, StoreError> {
        let wrapped = self.read(object)?;
        Ok(kek.unwrap_key(&wrapped, object)?)
    }

    fn read(&self, object: &str) -> Result<WrappedKey, StoreError> {
        let path = self.path(object);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::KeyDestroyed { object: object.to_owned() });
            }
            Err(error) => return Err(key_error(&path)(error)),
        };
        parse(&text, object).ok_or_else(|| StoreError::KeyFileMalformed { path: path.display().to_string() })
    }

    /// Writes a complete key file under a temporary name of this process's own and returns its path.
    fn write_temporary(&self, object: &str, wrapped: &WrappedKey) -> Result<PathBuf, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let text = format!(
            "{HEADER}\nobject {object}\nkek {}\nwrapped {}\n",
            wrapped.kek_id,
            hex::encode(&wrapped.bytes)
        );
        let temporary = self.path(object).with_extension(format!(
            "key.{}.{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = File::create(&temporary).map_err(key_error(&temporary))?;
        file.write_all(text.as_bytes()).map_err(key_error(&temporary))?;
        file.sync_all().map_err(key_error(&temporary))?;
        Ok(temporary)
    }

    /// Replaces `object`'s key file.
    fn write(&self, object: &str, wrapped: &WrappedKey) -> Result<(), StoreError> {
        let path = self.path(object);
        let temporary = self.write_temporary(object, wrapped)?;
        fs::rename(&temporary, &path).map_err(key_error(&path))?;
        sync_dir(&self.dir).map_err(key_error(&self.dir))
    }

    /// Creates `object`'s key file unless one exists (then returns `false`): a hard link never replaces an
    /// existing name, so two processes creating the same key at once end with one key, not two.
    fn write_new(&self, object: &str, wrapped: &WrappedKey) -> Result<bool, StoreError> {
        let path = self.path(object);
        let temporary = self.write_temporary(object, wrapped)?;
        let linked = fs::hard_link(&temporary, &path);
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir).map_err(key_error(&self.dir))?;
                Ok(true)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(key_error(&path)(error)),
        }
    }

    /// Destroys `object`'s data key (crypto-shredding): the key file is overwritten with zeros, synced and
    /// removed. Destroying a key that is already gone succeeds, so an interrupted deletion can be re-run.
    /// Returns whether a key was there.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`].
    pub fn destroy(&self, object: &str) -> Result<bool, StoreError> {
        let path = self.path(object);
        let length = match fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(key_error(&path)(error)),
        };
        let mut file = fs::OpenOptions::new().write(true).open(&path).map_err(key_error(&path))?;
        let zeros = vec![0u8; usize::try_from(length).unwrap_or(0)];
        file.write_all(&zeros).map_err(key_error(&path))?;
        file.sync_all().map_err(key_error(&path))?;
        drop(file);
        fs::remove_file(&path).map_err(key_error(&path))?;
        sync_dir(&self.dir).map_err(key_error(&self.dir))?;
        Ok(true)
    }

    /// Every key's object and KEK, sorted by object. No key material.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`], [`StoreError::KeyFileMalformed`].
    pub fn list(&self) -> Result<Vec<KeyEntry>, StoreError> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(key_error(&self.dir))? {
            let path = item.map_err(key_error(&self.dir))?.path();
            if path.extension().is_none_or(|extension| extension != "key") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(key_error(&path))?;
            let malformed = || StoreError::KeyFileMalformed { path: path.display().to_string() };
            let object =
                text.lines().nth(1).and_then(|line| line.strip_prefix("object ")).ok_or_else(malformed)?;
            let wrapped = parse(&text, object).ok_or_else(malformed)?;
            entries.push(KeyEntry { object: object.to_owned(), kek_id: wrapped.kek_id });
        }
        entries.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(entries)
    }

    /// Re-wraps every data key under `new` (key rotation). The sealed vault files are not touched. Keys
    /// already under `new` are skipped, so an interrupted rotation can be run again to completion.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] when a key is under neither KEK, [`StoreError::KeyStore`].
    pub fn rotate(&self, old: &Kek, new: &Kek) -> Result<Rotation, StoreError> {
        let mut rotation = Rotation::default();
        for entry in self.list()? {
            if entry.kek_id == new.id() {
                rotation.already_current += 1;
                continue;
            }
            let key = old.unwrap_key(&self.read(&entry.object)?, &entry.object)?;
            self.write(&entry.object, &new.wrap(&key, &entry.object)?)?;
            rotation.rewrapped += 1;
        }
        Ok(rotation)
    }
}

fn parse(text: &str, object: &str) -> Option<WrappedKey> {
    let mut lines = text.lines();
    if lines.next()? != HEADER || lines.next()?.strip_prefix("object ")? != object {
        return None;
    }
    let kek_id = lines.next()?.strip_prefix("kek ")?.to_owned();
    let bytes = hex::decode(lines.next()?.strip_prefix("wrapped ")?).ok()?;
    Some(WrappedKey { kek_id, bytes })
}

#[cfg(unix)]
fn restrict_to_owner(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict_to_owner(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Syncs a directory so a rename or removal in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
