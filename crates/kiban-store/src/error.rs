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
    /// `path` is the SQLite file, or the PostgreSQL connection string without its password.
    #[error("opening database {path}: {source}")]
    Open { path: String, source: DbError },
    #[error(
        "the PostgreSQL connection string does not parse (it is not shown: it may hold a password); see \
         https://docs.rs/postgres/latest/postgres/config/struct.Config.html"
    )]
    DatabaseUrl,
    #[error(
        "database {database}: server encoding is {encoding}, expected UTF8: create the database with ENCODING 'UTF8'"
    )]
    NotUtf8 { database: String, encoding: String },
    #[error(
        "database {path}: journal mode stays {mode}, expected wal: put the data directory on a local disk"
    )]
    NoWal { path: String, mode: String },
    #[error("applying schema migration {version} ({name}): {source}")]
    Migration { version: i64, name: &'static str, source: DbError },
    #[error("the database has schema version {found}, newer than this kiban knows ({known}): upgrade kiban")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("{operation}: {source}")]
    Db { operation: &'static str, source: DbError },
    #[error("every database connection stayed busy for {waited_secs} s: try again")]
    Busy { waited_secs: u64 },
    #[error("{operation}: column {column} {problem}")]
    Column { operation: &'static str, column: &'static str, problem: &'static str },
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
    #[error(
        "pair {pair_id} is not in the review queue: it was decided already, or a later linkage run replaced the queue"
    )]
    ReviewPairNotFound { pair_id: String },
    #[error("user {user} does not exist")]
    UserNotFound { user: String },
    #[error("user {user} already exists")]
    DuplicateUser { user: String },
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

/// An error from either database backend. Like every store error it holds no stored value: of a
/// PostgreSQL error only the SQLSTATE code and the primary message are kept, never its DETAIL (which quotes
/// the offending key or row).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{message} (SQLSTATE {code})")]
    Postgres { code: String, message: String },
    /// A PostgreSQL client-side error (connecting, the protocol, converting a parameter or column).
    #[error("{0}")]
    PostgresClient(String),
    #[error("the query returned no row")]
    NoRow,
    #[error("column {column} has type {type_name}, which the store does not read")]
    UnsupportedType { column: String, type_name: String },
}

impl From<postgres::Error> for DbError {
    fn from(error: postgres::Error) -> DbError {
        if let Some(db) = error.as_db_error() {
            return DbError::Postgres { code: db.code().code().to_owned(), message: db.message().to_owned() };
        }
        // The client's own errors (I/O, authentication, conversions) carry no stored value; their causes
        // say what went wrong, e.g. "error connecting to server: Connection refused".
        let mut message = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            cause = inner.source();
        }
        DbError::PostgresClient(message)
    }
}

/// Maps a database error to [`StoreError::Db`] for `operation`.
pub(crate) fn db_error<E: Into<DbError>>(operation: &'static str) -> impl Fn(E) -> StoreError {
    move |source| StoreError::Db { operation, source: source.into() }
}
