//! The operational store: the project's data directory, its database (embedded SQLite in `kiban.db`, or
//! PostgreSQL) and the record vault.
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
//! use kiban_store::{DatabaseConfig, DatabaseUrl, Store};
//! let data_dir = std::path::Path::new("/var/lib/kiban");
//! // SQLite in /var/lib/kiban/kiban.db:
//! let store = Store::open(data_dir)?;
//! // Or PostgreSQL, with the vault still under /var/lib/kiban:
//! let url = DatabaseUrl::new("host=/run/postgresql user=kiban dbname=kiban");
//! let store = Store::open_with(data_dir, &DatabaseConfig::Postgres(url))?;
//! let chain = store.verify_audit()?;
//! println!("{} audit entries verified", chain.chain.n_entries);
//! # Ok(()) }
//! ```
//!
//! # Two backends, one interface
//! [`Store::open`] uses SQLite at `{data_dir}/kiban.db`; [`Store::open_with`] takes a [`DatabaseConfig`]
//! that may name a PostgreSQL database instead (it must exist with `ENCODING 'UTF8'`; `LC_COLLATE 'C'`
//! makes listings ordered by text keys come out in the same order as on SQLite). Every public method
//! behaves the same on both. Inside, the connection is a private `Backend` enum, and every module speaks
//! SQL through one small interface (`db.rs`: a transaction with `execute`, `query`, `query_one`,
//! `query_opt` and `insert_many`, a `Value` enum for parameters, rows read by column name). Each query is
//! written once, with `?N` placeholders that are rewritten to `$N` for PostgreSQL. Migrations are
//! versioned with the same numbers on both: portable SQL in `migrations/000N_*.sql` (TEXT and BIGINT only,
//! ids assigned in the writing transaction, `ON CONFLICT` upserts) plus a part per backend in
//! `migrations/sqlite/` and `migrations/postgres/` (the append-only triggers). The same test suite runs on
//! both (`KIBAN_TEST_DATABASE_URL`, see `src/tests.rs`).
//!
//! Design decisions:
//! - **The store never reads the clock.** Every time is passed in by the caller, so tests are
//!   deterministic and one operation has one time. The one exception is `schema_migrations.applied_at`,
//!   which the database fills with `CURRENT_TIMESTAMP`: it is bookkeeping, not a legal record.
//! - **A legal record is written in the same transaction as the operation it records.** Completing a
//!   batch writes its receipt, quarantine rows and audit entry together; recording a release writes the
//!   release, its ledger entry and its audit entry together. Either all of it is there or none of it.
//! - **Append-only by trigger, tamper-evident by hash chain.** UPDATE and DELETE on audit, receipt,
//!   ledger, release, quarantine, opt-out and linkage-export rows abort (SQLite triggers; on PostgreSQL
//!   one plpgsql trigger function, which also refuses TRUNCATE). Anyone who can write the database file,
//!   or owns the PostgreSQL tables, can drop the triggers, so the audit log is also a hash chain
//!   ([`kiban_audit`]) that [`Store::verify_audit`] checks; signed checkpoints of the chain head come later.
//! - **Writes are serialized.** Every writing transaction takes the store's write lock before its first
//!   read: SQLite's `BEGIN IMMEDIATE`, or on PostgreSQL a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`, which needs no table privilege). So a writer reads the audit chain's head
//!   only after the previous writer committed, and two processes appending at once cannot fork the chain.
//!   A writer waits up to 10 seconds for the lock on either backend.
//! - **Vault writes are atomic per file**: bytes go to `{name}.tmp`, are synced, then renamed. All vault
//!   bytes pass through one pair of functions (`vault::write_file` / `vault::read_file`): that is where
//!   encryption at rest will go.
//! - Errors name the operation, table and column, never a stored value: of a PostgreSQL error only the
//!   SQLSTATE and primary message are kept (its DETAIL quotes the offending row), and a connection string
//!   is shown without its password ([`DatabaseUrl`]).

use std::fs;
use std::path::{Path, PathBuf};

use db::{Access, Tx};

mod audit;
mod config;
mod convert;
mod db;
mod error;
mod intake;
mod keystore;
mod linkage_material;
mod links;
mod migrate;
mod optout;
mod pool;
mod releases;
mod security;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
mod vault;
mod zones;

pub use audit::CHECKPOINT_EVERY;
pub use config::{DatabaseConfig, DatabaseUrl};
pub use error::{DbError, StoreError};
pub use intake::{
    BatchCompletion, BatchId, BatchInfo, BatchStatus, NewBatch, ProviderRegistration, QuarantinedInput,
    Receipt,
};
pub use keystore::{KeyEntry, KeyStore, Rotation};
pub use linkage_material::{LinkageExport, LinkageExportRow, ProvisionId};
pub use links::{PersonLink, RecordKey, ReviewDecision, ReviewItem};
pub use optout::{OptoutInfo, OptoutRequest, OptoutSubject, RequesterKind};
pub use releases::{LedgerEntry, ReleaseInfo, ReleaseRecord, ReleaseState, ReleaseStatus};
pub use security::{
    Activity, DeletionRecord, Enrollment, NewUser, SecondFactorUse, SessionRecord, UserRecord,
};
pub use zones::Handover;

/// How long receipt and ledger records are kept (Rule 12, Rule 35 via 38): 3 years.
pub const RETENTION_MONTHS: u32 = 36;

/// The SQLite database's file name in the data directory.
const SQLITE_FILE: &str = "kiban.db";

/// The project's data directory (the `vault/` folder, and `kiban.db` on SQLite) and its database.
pub struct Store {
    data_dir: PathBuf,
    db: pool::Pool,
    keys: Option<StoreKeys>,
}

/// The keys the store works with. The operator holds one secret, the key-encryption key (KEK); everything
/// else lives in the [`KeyStore`], wrapped by it:
/// - each vault object's data key;
/// - the deployment key (key-store object `deployment`, made on first use), from which the root of every
///   other key is derived: release pseudonym and date-shift keys, the linkage-material key, the audit
///   checkpoint signer, the key that seals TOTP secrets in the database.
///
/// Rotating the KEK re-wraps the key store and changes nothing derived from the deployment key, so old
/// checkpoints still verify and pseudonyms stay as they were.
pub struct StoreKeys {
    pub kek: kiban_crypto::Kek,
    pub keystore: KeyStore,
    /// The deployment's root secret, from which working keys are derived (`SecretKey::derive`).
    pub root: kiban_crypto::SecretKey,
    pub signer: kiban_crypto::CheckpointSigner,
}

impl StoreKeys {
    /// The key-store object holding the deployment key.
    pub const DEPLOYMENT: &'static str = "deployment";

    /// Opens the key store in `keystore_dir` under the operator's KEK secret `kek`, creating the deployment
    /// key on first use.
    ///
    /// # Errors
    /// [`StoreError::KeyStore`], [`StoreError::Crypto`] (e.g. the key store was made under another KEK).
    pub fn open(kek: &kiban_crypto::SecretKey, keystore_dir: &Path) -> Result<StoreKeys, StoreError> {
        let kek = kiban_crypto::Kek::from_master(kek);
        let keystore = KeyStore::open(keystore_dir)?;
        let root = keystore.get_or_create(Self::DEPLOYMENT, &kek)?.derive("kiban/deployment-root");
        let signer = kiban_crypto::CheckpointSigner::derive_from(&root);
        Ok(StoreKeys { kek, keystore, root, signer })
    }
}

impl Store {
    /// Opens (creating if needed) `{data_dir}/kiban.db` (SQLite) and `{data_dir}/vault/`, and brings the
    /// schema up to date. Opening an up-to-date store again changes nothing.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::Open`], [`StoreError::Migration`] or
    /// [`StoreError::SchemaTooNew`].
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, &DatabaseConfig::Sqlite)
    }

    /// Opens the store with its database where `database` says: SQLite in the data directory, or an
    /// existing PostgreSQL database (kiban creates its tables). The vault is under `data_dir` either way.
    /// Brings the schema up to date; opening an up-to-date store again changes nothing.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::DatabaseUrl`], [`StoreError::Open`] (the connection string
    /// shown without its password), [`StoreError::NotUtf8`], [`StoreError::Migration`] or
    /// [`StoreError::SchemaTooNew`].
    pub fn open_with(data_dir: &Path, database: &DatabaseConfig) -> Result<Store, StoreError> {
        let vault = data_dir.join(vault::VAULT_DIR);
        fs::create_dir_all(&vault)
            .map_err(|source| StoreError::CreateDir { path: vault.display().to_string(), source })?;
        let opener = match database {
            DatabaseConfig::Sqlite => pool::Opener::Sqlite(data_dir.join(SQLITE_FILE)),
            DatabaseConfig::Postgres(url) => pool::Opener::Postgres(url.clone()),
        };
        let mut db = opener.open()?;
        migrate::apply(&mut db)?;
        Ok(Store { data_dir: data_dir.to_owned(), db: pool::Pool::new(opener, db), keys: None })
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
        self.read(migrate::applied_versions)
    }

    /// A connection from the pool (a panic mid-transaction cannot leave it half-applied: both drivers roll
    /// back an uncommitted transaction on drop).
    fn lock(&self) -> Result<pool::Conn<'_>, StoreError> {
        self.db.get()
    }

    /// Runs `work` in one writing transaction, holding the store's write lock (SQLite's `BEGIN IMMEDIATE`,
    /// PostgreSQL's advisory lock) from the start, and commits it, or rolls back on error.
    fn write<T>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut db = self.lock()?;
        let tx = db.begin(Access::Write).map_err(error::db_error(operation))?;
        // The signed head anchor brackets the commit (see `audit.rs`), so a crash anywhere leaves a log
        // that ends at a signed head.
        let mut anchor = self.keys.as_ref().map(|keys| audit::AnchorUpdate::begin(&tx, keys)).transpose()?;
        let value = work(&tx)?;
        if let Some(anchor) = &mut anchor {
            anchor.prepare(&tx, &self.data_dir)?;
        }
        tx.commit().map_err(error::db_error(operation))?;
        if let Some(anchor) = anchor {
            anchor.finish(&self.data_dir)?;
        }
        Ok(value)
    }

    /// Runs read-only `work` in one read transaction, so a listing that takes several queries (rows and
    /// their items) sees one consistent snapshot.
    fn read<T>(&self, work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut db = self.lock()?;
        let tx = db.begin(Access::Read).map_err(error::db_error("reading"))?;
        let value = work(&tx)?;
        tx.commit().map_err(error::db_error("reading"))?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
