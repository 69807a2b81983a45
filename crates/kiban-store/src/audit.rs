//! The audit log table: appends chained with `kiban-audit`, reads, and verification.

use kiban_audit::{AuditEntry, AuditEvent, Outcome, VerifiedChain};

use crate::Store;
use crate::convert::{time_text, to_i64};
use crate::db::{Row, Tx, params};
use crate::error::StoreError;

const COLUMNS: &str = "seq, at, actor, action, object, outcome, detail, prev_hash, hash";
const TABLE: &str = "audit_log";

fn from_row(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.u64(TABLE, "seq")?,
        event: AuditEvent {
            at: row.time(TABLE, "at")?,
            actor: row.text("actor")?,
            action: row.text("action")?,
            object: row.text("object")?,
            outcome: Outcome::parse(&row.text("outcome")?)
                .ok_or(StoreError::Corrupt { table: TABLE, column: "outcome" })?,
            detail: row.text("detail")?,
        },
        prev_hash: row.hash(TABLE, "prev_hash")?,
        hash: row.hash(TABLE, "hash")?,
    })
}

/// Appends `event` after the current head. Must run inside a writing transaction (`Store::write`), which
/// holds the store's write lock from reading the head to inserting the entry, so the chain cannot fork.
pub(crate) fn append_in(db: &Tx<'_>, event: AuditEvent) -> Result<AuditEntry, StoreError> {
    const OPERATION: &str = "appending to the audit log";
    let head = db
        .query_opt(OPERATION, &format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY seq DESC LIMIT 1"), params![])?
        .as_ref()
        .map(from_row)
        .transpose()?;
    let entry = match &head {
        Some(head) => kiban_audit::chain(head, event),
        None => kiban_audit::genesis(event),
    };
    db.execute(
        OPERATION,
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
    )?;
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
            db.query(
                "reading the audit log",
                &format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY seq"),
                params![],
            )?
            .iter()
            .map(from_row)
            .collect()
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
