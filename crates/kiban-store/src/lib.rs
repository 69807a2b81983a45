//! The operational store: the project's data directory, its database (`kiban.db`) and the record vault.
//!
//! This is the only crate that speaks SQL. [`Store`] holds the legal records the Act demands and the
//! state that ties the pipeline together:
//! - providers that gave notice and were published (Rule 36) — [`Store::register_provider`];
//! - intake batches and their records of receipt (Rule 37, kept 3 years) — [`Store::begin_batch`],
//!   [`Store::complete_batch`], plus quarantined inputs;
//! - the vault: each batch's identified [`kiban_model::PatientRecord`]s as Parquet files under
//!   `{data_dir}/vault/batches/{batch_id}/` — [`Store::write_batch_records`];
//! - linkage results (名寄せ) — [`Store::replace_person_links`];
//! - opt-out requests (提供停止の求め, Rules 27, 31, 32) with who they are about and the notice kept 3
//!   years — [`Store::record_optout`];
//! - public-database linkage material (Rule 28): export rows and the provision IDs (提供用ID) that come
//!   back — [`Store::record_linkage_export`], [`Store::import_provision_ids`];
//! - releases and the provision ledger (帳簿, Rule 12, kept 3 years) — [`Store::record_release`];
//! - the hash-chained audit log (Rule 6) — [`Store::append_audit`], [`Store::verify_audit`].
//!
//! ```no_run
//! # fn main() -> Result<(), kiban_store::StoreError> {
//! let store = kiban_store::Store::open(std::path::Path::new("/var/lib/kiban"))?;
//! let chain = store.verify_audit()?;
//! println!("{} audit entries verified", chain.chain.n_entries);
//! # Ok(()) }
//! ```
//!
//! Design decisions:
//! - **The store never reads the clock.** Every time is passed in by the caller, so tests are
//!   deterministic and one operation has one time. The one exception is `schema_migrations.applied_at`,
//!   which the database fills with `CURRENT_TIMESTAMP`: it is bookkeeping, not a legal record.
//! - **A legal record is written in the same transaction as the operation it records.** Completing a
//!   batch writes its receipt, quarantine rows and audit entry together; recording a release writes the
//!   release, its ledger entry and its audit entry together. Either all of it is there or none of it.
//! - **Append-only by trigger, tamper-evident by hash chain.** UPDATE and DELETE on audit, receipt,
//!   ledger and release rows abort (SQLite triggers). Anyone who can write the database file can drop
//!   the triggers, so the audit log is also a hash chain ([`kiban_audit`]) that [`Store::verify_audit`]
//!   checks; signed checkpoints of the chain head come later.
//! - **Audit appends are serialized.** Every write runs in `BEGIN IMMEDIATE`, which takes the database's
//!   write lock before reading the chain head, so two processes appending at once cannot fork the chain.
//! - **Vault writes are atomic per file**: bytes go to `{name}.tmp`, are synced, then renamed. All vault
//!   bytes pass through one pair of functions (`vault::write_file` / `vault::read_file`): that is where
//!   encryption at rest will go.
//! - Errors name the operation, table and column, never a stored value.
//!
//! # A PostgreSQL backend later
//! The schema in `migrations/0001_init.sql` (and every later `migrations/000N_*.sql`) is portable SQL (TEXT/BIGINT, ids assigned in the writing
//! transaction, `ON CONFLICT` upserts); backend-specific parts (the append-only triggers) live in
//! `migrations/{backend}/`. Queries use numbered placeholders (`?1`), which map one-to-one onto
//! PostgreSQL's `$1`. To add PostgreSQL, put the connection behind a private `enum Backend { Sqlite,
//! Postgres }` inside [`Store`] (the public API stays as it is), add `migrations/postgres/` with a plpgsql
//! trigger function for the append-only rules, and replace `BEGIN IMMEDIATE` with
//! `LOCK TABLE audit_log IN EXCLUSIVE MODE` at the start of each writing transaction. The test suite then
//! runs against both (`KIBAN_TEST_DATABASE_URL`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

mod audit;
mod convert;
mod error;
mod intake;
mod keystore;
mod linkage_material;
mod links;
mod migrate;
mod optout;
mod releases;
mod vault;

pub use audit::CHECKPOINT_EVERY;
pub use error::StoreError;
pub use intake::{
    BatchCompletion, BatchId, BatchInfo, BatchStatus, NewBatch, ProviderRegistration, QuarantinedInput,
    Receipt,
};
pub use keystore::{KeyEntry, KeyStore, Rotation};
pub use linkage_material::{LinkageExport, LinkageExportRow, ProvisionId};
pub use links::PersonLink;
pub use optout::{OptoutInfo, OptoutRequest, OptoutSubject, RequesterKind};
pub use releases::{LedgerEntry, ReleaseInfo, ReleaseRecord};

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long receipt and ledger records are kept (Rule 12, Rule 35 via 38): 3 years.
pub const RETENTION_MONTHS: u32 = 36;

/// The project's data directory: `kiban.db` plus the `vault/` folder.
pub struct Store {
    data_dir: PathBuf,
    db: Mutex<Connection>,
    keys: Option<StoreKeys>,
}

/// The operator's keys as the store uses them: the KEK that wraps every vault object's data key, the key
/// store holding those wrapped keys, and the signer of audit checkpoints. All derived from the master key,
/// which the store never keeps.
pub struct StoreKeys {
    pub kek: kiban_crypto::Kek,
    pub keystore: KeyStore,
    pub signer: kiban_crypto::CheckpointSigner,
}

impl StoreKeys {
    /// The keys of the deployment whose master key is `master`, with the key store in `keystore_dir`.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`].
    pub fn from_master(
        master: &kiban_crypto::SecretKey,
        keystore_dir: &Path,
    ) -> Result<StoreKeys, StoreError> {
        Ok(StoreKeys {
            kek: kiban_crypto::Kek::from_master(master),
            keystore: KeyStore::open(keystore_dir)?,
            signer: kiban_crypto::CheckpointSigner::derive_from(master),
        })
    }
}

impl Store {
    /// Opens (creating if needed) `{data_dir}/kiban.db` and `{data_dir}/vault/`, and brings the schema up to
    /// date. Opening an up-to-date store again changes nothing.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::Open`], [`StoreError::Migration`] or
    /// [`StoreError::SchemaTooNew`].
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let vault = data_dir.join(vault::VAULT_DIR);
        fs::create_dir_all(&vault)
            .map_err(|source| StoreError::CreateDir { path: vault.display().to_string(), source })?;
        let db_path = data_dir.join("kiban.db");
        let open_error = |source| StoreError::Open { path: db_path.display().to_string(), source };
        let mut db = Connection::open(&db_path).map_err(open_error)?;
        db.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let mode: String =
            db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { path: db_path.display().to_string(), mode });
        }
        db.pragma_update(None, "foreign_keys", "ON").map_err(open_error)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(open_error)?;
        migrate::apply(&mut db)?;
        Ok(Store { data_dir: data_dir.to_owned(), db: Mutex::new(db), keys: None })
    }

    /// Gives the store the operator's keys: the vault and signed audit checkpoints need them.
    pub fn set_keys(&mut self, keys: StoreKeys) {
        self.keys = Some(keys);
    }

    /// The operator's keys.
    ///
    /// # Errors
    /// [`StoreError::VaultLocked`] when [`Store::set_keys`] was not called.
    pub fn keys(&self) -> Result<&StoreKeys, StoreError> {
        self.keys.as_ref().ok_or(StoreError::VaultLocked)
    }

    /// The data directory this store was opened on.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The schema versions applied, in order.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn schema_versions(&self) -> Result<Vec<i64>, StoreError> {
        let db = self.lock();
        migrate::applied_versions(&db)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (rusqlite rolls back on
        // drop), so a poisoned connection is still consistent.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction and commits it, or rolls back on error.
    fn write<T>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut db = self.lock();
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Db { operation, source })?;
        // The signed head anchor brackets the commit (see `audit.rs`), so a crash anywhere leaves a log
        // that ends at a signed head.
        let mut anchor = self.keys.as_ref().map(|keys| audit::AnchorUpdate::begin(&tx, keys)).transpose()?;
        let value = work(&tx)?;
        if let Some(anchor) = &mut anchor {
            anchor.prepare(&tx, &self.data_dir)?;
        }
        tx.commit().map_err(|source| StoreError::Db { operation, source })?;
        if let Some(anchor) = anchor {
            anchor.finish(&self.data_dir)?;
        }
        Ok(value)
    }

    /// Runs read-only `work` in one read transaction, so a listing that takes several queries (rows and
    /// their items) sees one consistent snapshot.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let db = self.lock();
        let tx =
            db.unchecked_transaction().map_err(|source| StoreError::Db { operation: "reading", source })?;
        let value = work(&tx)?;
        tx.commit().map_err(|source| StoreError::Db { operation: "reading", source })?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
