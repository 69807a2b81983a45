//! The record vault: each batch's identified records as Parquet files under
//! `{data_dir}/vault/batches/{batch_id}/{table}.parquet`, each sealed (encrypted and authenticated) under
//! the batch's own data key from the [`KeyStore`](crate::KeyStore). Without the store's keys
//! ([`Store::set_keys`]) the vault can be neither written nor read.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use kiban_columnar::{
    CompactRecords, RECORD_TABLES, decode_parquet, decode_parquet_chunks, encode_parquet, records_to_tables,
    tables_to_records,
};
use kiban_model::PatientRecord;

use crate::Store;
use crate::error::StoreError;
use crate::intake::{BatchId, BatchStatus, load_batch};

pub(crate) const VAULT_DIR: &str = "vault";

fn vault_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Vault { path: path.display().to_string(), source }
}

/// Writes one vault file so that the final name only ever holds a complete file: the bytes go to
/// `{name}.tmp`, are synced to disk, and the temporary file is renamed over the final name.
///
/// This and [`read_file`] are the only places vault bytes touch the disk; `bytes` arrive sealed.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut temporary_name = path.file_name().unwrap_or_default().to_owned();
    temporary_name.push(".tmp");
    let temporary = path.with_file_name(temporary_name);
    let mut file = File::create(&temporary).map_err(vault_error(&temporary))?;
    file.write_all(bytes).map_err(vault_error(&temporary))?;
    file.sync_all().map_err(vault_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, path).map_err(vault_error(path))
}

/// Reads one vault file written by [`write_file`], still sealed.
fn read_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(vault_error(path))
}

/// The key-store object naming `batch`'s data key.
pub(crate) fn batch_object(batch: BatchId) -> String {
    format!("batch:{batch}")
}

/// The label a batch file is sealed under: its object and file name, so files cannot be swapped between
/// batches or tables unnoticed.
fn file_label(batch: BatchId, table: &str) -> String {
    format!("batch:{batch}/{table}.parquet")
}

impl Store {
    /// The folder holding `batch`'s vault files.
    pub fn batch_vault_dir(&self, batch: BatchId) -> PathBuf {
        self.data_dir.join(VAULT_DIR).join("batches").join(batch.to_string())
    }

    /// Writes `batch`'s records to the vault, one Parquet file per record table, replacing any files a
    /// previous (interrupted) run left.
    ///
    /// # Errors
    /// [`StoreError::BatchNotFound`], [`StoreError::BatchComplete`] (a complete batch never changes),
    /// [`StoreError::Vault`] or [`StoreError::VaultTable`].
    pub fn write_batch_records(&self, batch: BatchId, records: &[PatientRecord]) -> Result<(), StoreError> {
        if self.read(|db| load_batch(db, batch))?.status == BatchStatus::Complete {
            return Err(StoreError::BatchComplete { batch });
        }
        let keys = self.keys()?;
        let data_key = keys.keystore.get_or_create(&batch_object(batch), &keys.kek)?;
        let dir = self.batch_vault_dir(batch);
        fs::create_dir_all(&dir).map_err(vault_error(&dir))?;
        for table in records_to_tables(records) {
            let path = dir.join(format!("{}.parquet", table.name()));
            let bytes = encode_parquet(&table, &path.display().to_string())
                .map_err(|source| StoreError::VaultTable { batch, source })?;
            write_file(&path, &data_key.seal(&file_label(batch, table.name()), &bytes)?)?;
        }
        Ok(())
    }

    /// Reads `batch`'s records back from the vault.
    ///
    /// # Errors
    /// [`StoreError::BatchNotFound`], [`StoreError::VaultLocked`], [`StoreError::KeyDestroyed`] (the batch
    /// was deleted), [`StoreError::Vault`] (e.g. a file is missing), [`StoreError::VaultSeal`] (a file was
    /// altered or swapped) or [`StoreError::VaultTable`].
    pub fn read_batch_records(&self, batch: BatchId) -> Result<Vec<PatientRecord>, StoreError> {
        self.read(|db| load_batch(db, batch))?;
        let keys = self.keys()?;
        let data_key = keys.keystore.load(&batch_object(batch), &keys.kek)?;
        let dir = self.batch_vault_dir(batch);
        let tables = RECORD_TABLES
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}.parquet"));
                let bytes = data_key
                    .open(&file_label(batch, name), &read_file(&path)?)
                    .map_err(|source| StoreError::VaultSeal { path: path.display().to_string(), source })?;
                decode_parquet(bytes, name, &path.display().to_string())
                    .map_err(|source| StoreError::VaultTable { batch, source })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        tables_to_records(&tables).map_err(|source| StoreError::VaultTable { batch, source })
    }

    /// Reads `batch`'s records from the vault into `records`, one file and one chunk of rows at a time,
    /// so that neither the batch's tables nor its records are ever whole in memory (see
    /// [`CompactRecords`]).
    ///
    /// # Errors
    /// As [`Store::read_batch_records`]. On error nothing of the batch is added to `records`.
    pub fn read_batch_into(&self, batch: BatchId, records: &mut CompactRecords) -> Result<(), StoreError> {
        self.read(|db| load_batch(db, batch))?;
        let keys = self.keys()?;
        let data_key = keys.keystore.load(&batch_object(batch), &keys.kek)?;
        let dir = self.batch_vault_dir(batch);
        let mut decoder = records.batch();
        for name in RECORD_TABLES {
            let path = dir.join(format!("{name}.parquet"));
            let bytes = data_key
                .open(&file_label(batch, name), &read_file(&path)?)
                .map_err(|source| StoreError::VaultSeal { path: path.display().to_string(), source })?;
            decode_parquet_chunks(bytes, name, &path.display().to_string(), |chunk| decoder.append(chunk))
                .map_err(|source| StoreError::VaultTable { batch, source })?;
        }
        decoder.finish().map_err(|source| StoreError::VaultTable { batch, source })
    }
}
