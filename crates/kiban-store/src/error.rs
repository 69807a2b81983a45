//! The store's error type. Messages name the operation, table and column, never a stored value.

use std::io;

use kiban_audit::ChainBreak;
use kiban_columnar::TableError;
use kiban_model::{NaiveDate, ProviderCode};

use crate::intake::BatchId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("creating data directory {path}: {source}")]
    CreateDir { path: String, source: io::Error },
    #[error("opening database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error(
        "database {path}: journal mode stays {mode}, expected wal: put the data directory on a local disk"
    )]
    NoWal { path: String, mode: String },
    #[error("applying schema migration {version} ({name}): {source}")]
    Migration { version: i64, name: &'static str, source: rusqlite::Error },
    #[error("the database has schema version {found}, newer than this kiban knows ({known}): upgrade kiban")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("{operation}: {source}")]
    Db { operation: &'static str, source: rusqlite::Error },
    #[error(
        "provider {provider} is not registered: record its notice (Rule 36) with register_provider before accepting its data"
    )]
    ProviderNotRegistered { provider: ProviderCode },
    #[error(
        "provider {provider} is not published as of {on} (Rule 36): record the publication date before accepting its data"
    )]
    ProviderNotPublished { provider: ProviderCode, on: NaiveDate },
    #[error("batch {batch} does not exist")]
    BatchNotFound { batch: BatchId },
    #[error("batch {batch} is already complete and cannot change: a new extract needs a new batch")]
    BatchComplete { batch: BatchId },
    #[error("release {release_id} is already recorded")]
    DuplicateRelease { release_id: String },
    #[error("opt-out request {request_id} is already recorded")]
    DuplicateOptout { request_id: String },
    #[error("linkage export {export_id} is already recorded")]
    DuplicateLinkageExport { export_id: String },
    #[error("row {row_id} was never exported as linkage material: check the file answers one of our exports")]
    UnknownLinkageRow { row_id: String },
    #[error("row {row_id} appears more than once")]
    DuplicateLinkageRow { row_id: String },
    #[error("vault file {path}: {source}")]
    Vault { path: String, source: io::Error },
    #[error("vault batch {batch}: {source}")]
    VaultTable { batch: BatchId, source: TableError },
    #[error("table {table}, column {column}: a stored value is malformed")]
    Corrupt { table: &'static str, column: &'static str },
    #[error("{what} is out of range")]
    OutOfRange { what: &'static str },
    #[error(transparent)]
    AuditChain(#[from] ChainBreak),
    #[error("the vault is locked: the operator's key (KIBAN_MASTER_KEY or the key file) was not given")]
    VaultLocked,
    #[error("audit anchor {path}: {source}")]
    AuditAnchor { path: String, source: io::Error },
    #[error("the audit log has entries but its signed head anchor (audit-head) is missing: it was deleted")]
    AuditAnchorMissing,
    #[error("key store {path}: {source}")]
    KeyStore { path: String, source: io::Error },
    #[error("key file {path} is malformed")]
    KeyFileMalformed { path: String },
    #[error("{object} has no data key: it was deleted (crypto-shredded) or never written")]
    KeyDestroyed { object: String },
    #[error("vault file {path}: {source}")]
    VaultSeal { path: String, source: kiban_crypto::CryptoError },
    #[error(transparent)]
    Crypto(#[from] kiban_crypto::CryptoError),
}

/// Maps a database error to [`StoreError::Db`] for `operation`.
pub(crate) fn db_error(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Db { operation, source }
}
