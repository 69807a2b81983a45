//! The audit log table: appends chained with `kiban-audit`, reads, and verification.

use kiban_audit::{AuditEntry, AuditEvent, Outcome, VerifiedChain};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::Store;
use crate::convert::{parse_hash, parse_time, time_text, to_i64, to_u64};
use crate::error::{StoreError, db_error};

const COLUMNS: &str = "seq, at, actor, action, object, outcome, detail, prev_hash, hash";
const TABLE: &str = "audit_log";

type AuditRow = (i64, String, String, String, String, String, String, String, String);

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditRow> {
    AuditRow::try_from(row)
}

fn from_text(
    (seq, at, actor, action, object, outcome, detail, prev_hash, hash): AuditRow,
) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: to_u64(seq, TABLE, "seq")?,
        event: AuditEvent {
            at: parse_time(&at, TABLE, "at")?,
            actor,
            action,
            object,
            outcome: Outcome::parse(&outcome)
                .ok_or(StoreError::Corrupt { table: TABLE, column: "outcome" })?,
            detail,
        },
        prev_hash: parse_hash(&prev_hash, TABLE, "prev_hash")?,
        hash: parse_hash(&hash, TABLE, "hash")?,
    })
}

/// Appends `event` after the current head. Must run inside a writing (`BEGIN IMMEDIATE`) transaction,
/// which holds the write lock from reading the head to inserting the entry, so the chain cannot fork.
pub(crate) fn append_in(db: &Connection, event: AuditEvent) -> Result<AuditEntry, StoreError> {
    let error = db_error("appending to the audit log");
    let head = db
        .query_row(&format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY seq DESC LIMIT 1"), [], from_row)
        .optional()
        .map_err(&error)?
        .map(from_text)
        .transpose()?;
    let entry = match &head {
        Some(head) => kiban_audit::chain(head, event),
        None => kiban_audit::genesis(event),
    };
    db.execute(
        &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            to_i64(entry.seq, "audit seq")?,
            time_text(entry.event.at),
            entry.event.actor,
            entry.event.action,
            entry.event.object,
            entry.event.outcome.name(),
            entry.event.detail,
            hex::encode(entry.prev_hash),
            hex::encode(entry.hash),
        ],
    )
    .map_err(&error)?;
    Ok(entry)
}

impl Store {
    /// Appends one event to the audit log.
    ///
    /// # Errors
    /// [`StoreError::Db`], or [`StoreError::Corrupt`] when the current head cannot be read.
    pub fn append_audit(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        self.write("appending to the audit log", |tx| append_in(tx, event))
    }

    /// The whole audit log, by sequence number.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|db| {
            let error = db_error("reading the audit log");
            let mut statement =
                db.prepare(&format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY seq")).map_err(&error)?;
            let rows = statement.query_map([], from_row).map_err(&error)?;
            rows.map(|row| from_text(row.map_err(&error)?)).collect()
        })
    }

    /// Checks the audit log's hash chain from the first entry to the last.
    ///
    /// # Errors
    /// [`StoreError::AuditChain`] naming the first broken entry, [`StoreError::Corrupt`] when a stored
    /// field cannot be read at all, [`StoreError::Db`].
    pub fn verify_audit(&self) -> Result<VerifiedChain, StoreError> {
        Ok(kiban_audit::verify(&self.audit_entries()?)?)
    }
}
