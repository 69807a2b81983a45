//! The audit log table: appends chained with `kiban-audit`, reads, and verification; and the signed head
//! anchor beside the database.
//!
//! Every write that appends audit entries also rewrites the signed head anchor `{data_dir}/audit-head`
//! (Ed25519 [`Checkpoint`]s by the key derived from the operator's master key), in two steps:
//! 1. before the commit, while the database's write lock is held: `committed` = the head before the write,
//!    `pending` = the head the write is about to commit;
//! 2. after the commit: `committed` = the new head, no `pending`.
//!
//! A crash (even `kill -9`) at any point leaves a log that ends at `committed` or at `pending`, and
//! [`kiban_audit::verify_log`] accepts exactly those two ends: a log cut shorter was truncated, a log
//! running past them was extended by someone without the signing key. Anchor updates are serialized
//! between processes by an exclusive lock on `{data_dir}/audit-head.lock`. Every [`CHECKPOINT_EVERY`]
//! entries the head's checkpoint is also appended to `{data_dir}/audit-checkpoints`, a history that
//! survives the anchor's rewrites.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use kiban_audit::{AuditEntry, AuditEvent, Checkpoint, HeadAnchor, Outcome, VerifiedLog};

use crate::convert::{time_text, to_i64};
use crate::db::{Row, Tx, params};
use crate::error::StoreError;
use crate::{Store, StoreKeys};

/// Every this many entries, the head checkpoint is also appended to the checkpoint history.
pub const CHECKPOINT_EVERY: u64 = 100;
const ANCHOR_FILE: &str = "audit-head";
const HISTORY_FILE: &str = "audit-checkpoints";
const LOCK_FILE: &str = "audit-head.lock";
const ANCHOR_HEADER: &str = "kiban-audit-head v1";

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

    /// Checks the audit log's hash chain from the first entry to the last, and every signed checkpoint
    /// (the head anchor and the history) against it, trusting the public key of this store's own keys.
    ///
    /// # Errors
    /// [`StoreError::VaultLocked`] without keys (use [`Store::verify_audit_with`]),
    /// otherwise as [`Store::verify_audit_with`].
    pub fn verify_audit(&self) -> Result<VerifiedLog, StoreError> {
        let trusted = self.keys()?.signer.public_key();
        self.verify_audit_with(&trusted)
    }

    /// Checks the chain and every checkpoint against the `trusted` Ed25519 public key (an auditor's copy
    /// of [`Store::audit_public_key`]).
    ///
    /// # Errors
    /// [`StoreError::AuditChain`] naming the first broken entry or checkpoint (edited, missing,
    /// reordered, inserted, forged, rewritten, or a truncated tail), [`StoreError::AuditAnchorMissing`]
    /// when the log has entries but the head anchor is gone, [`StoreError::AuditAnchor`] when an anchor
    /// file cannot be read, [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn verify_audit_with(&self, trusted: &[u8; 32]) -> Result<VerifiedLog, StoreError> {
        let entries = self.audit_entries()?;
        let history = read_history(&self.data_dir)?;
        let anchor = read_anchor(&self.data_dir)?;
        if anchor.is_none() && !entries.is_empty() {
            return Err(StoreError::AuditAnchorMissing);
        }
        Ok(kiban_audit::verify_log(&entries, &history, anchor.as_ref(), trusted)?)
    }

    /// The Ed25519 public key that verifies this store's audit checkpoints (needs the store's keys).
    ///
    /// # Errors
    /// [`StoreError::VaultLocked`].
    pub fn audit_public_key(&self) -> Result<[u8; 32], StoreError> {
        Ok(self.keys()?.signer.public_key())
    }
}

/// What a write does to the head anchor: found before the write's work, finished after its commit.
pub(crate) struct AnchorUpdate<'k> {
    keys: &'k StoreKeys,
    before: Option<AuditEntry>,
    after: Option<AuditEntry>,
}

impl<'k> AnchorUpdate<'k> {
    /// Notes the committed head; call with the write lock held, before the write's work.
    pub(crate) fn begin(db: &Tx<'_>, keys: &'k StoreKeys) -> Result<AnchorUpdate<'k>, StoreError> {
        Ok(AnchorUpdate { keys, before: head(db)?, after: None })
    }

    fn sign(&self, entry: &AuditEntry) -> Checkpoint {
        let signer = &self.keys.signer;
        Checkpoint::of(entry, entry.event.at, signer.public_key(), |message| signer.sign(message))
    }

    /// Step 1, after the work and before the commit: when the write appended entries, records the head it
    /// is about to commit as `pending`.
    pub(crate) fn prepare(&mut self, db: &Tx<'_>, data_dir: &Path) -> Result<(), StoreError> {
        let after = head(db)?;
        let before_seq = self.before.as_ref().map_or(0, |entry| entry.seq);
        let Some(after) = after.filter(|entry| entry.seq > before_seq) else { return Ok(()) };
        let anchor = HeadAnchor {
            committed: self.before.as_ref().map(|entry| self.sign(entry)),
            pending: Some(self.sign(&after)),
        };
        let _lock = lock_anchor(data_dir)?;
        write_anchor(data_dir, &anchor)?;
        self.after = Some(after);
        Ok(())
    }

    /// Step 2, after the commit: the new head becomes `committed`, unless another writer has since
    /// started a later one (its `committed` is already this head).
    pub(crate) fn finish(self, data_dir: &Path) -> Result<(), StoreError> {
        let Some(after) = &self.after else { return Ok(()) };
        let _lock = lock_anchor(data_dir)?;
        let current = read_anchor(data_dir)?;
        let later =
            current.as_ref().and_then(|anchor| anchor.pending.as_ref()).is_some_and(|p| p.seq > after.seq);
        if later {
            return Ok(());
        }
        let checkpoint = self.sign(after);
        let before_seq = self.before.as_ref().map_or(0, |entry| entry.seq);
        if after.seq / CHECKPOINT_EVERY > before_seq / CHECKPOINT_EVERY {
            append_history(data_dir, &checkpoint)?;
        }
        write_anchor(data_dir, &HeadAnchor { committed: Some(checkpoint), pending: None })
    }
}

/// An exclusive lock on the anchor between processes, released on drop.
fn lock_anchor(data_dir: &Path) -> Result<File, StoreError> {
    let path = data_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(anchor_error(&path))?;
    file.lock().map_err(anchor_error(&path))?;
    Ok(file)
}

fn head(db: &Tx<'_>) -> Result<Option<AuditEntry>, StoreError> {
    db.query_opt(
        "reading the audit head",
        &format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY seq DESC LIMIT 1"),
        params![],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

fn anchor_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::AuditAnchor { path: path.display().to_string(), source }
}

pub(crate) fn checkpoint_line(checkpoint: &Checkpoint) -> String {
    format!(
        "{} {} {} {} {}",
        checkpoint.seq,
        hex::encode(checkpoint.head_hash),
        time_text(checkpoint.at),
        hex::encode(checkpoint.public_key),
        hex::encode(checkpoint.signature)
    )
}

fn parse_checkpoint_line(line: &str) -> Option<Checkpoint> {
    let mut parts = line.split(' ');
    let seq = parts.next()?.parse().ok()?;
    let mut head_hash = [0u8; 32];
    hex::decode_to_slice(parts.next()?, &mut head_hash).ok()?;
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(parts.next()?).ok()?.with_timezone(&Utc);
    let mut public_key = [0u8; 32];
    hex::decode_to_slice(parts.next()?, &mut public_key).ok()?;
    let mut signature = [0u8; 64];
    hex::decode_to_slice(parts.next()?, &mut signature).ok()?;
    parts.next().is_none().then_some(Checkpoint { seq, head_hash, at, public_key, signature })
}

fn malformed(path: &Path) -> StoreError {
    StoreError::AuditAnchor {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a signed checkpoint"),
    }
}

fn read_anchor(data_dir: &Path) -> Result<Option<HeadAnchor>, StoreError> {
    let path = data_dir.join(ANCHOR_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(anchor_error(&path)(error)),
    };
    let mut lines = text.lines();
    let field = |line: Option<&str>, name: &str| -> Option<Option<Checkpoint>> {
        match line?.strip_prefix(name)?.strip_prefix(' ')? {
            "none" => Some(None),
            checkpoint => parse_checkpoint_line(checkpoint).map(Some),
        }
    };
    if lines.next() != Some(ANCHOR_HEADER) {
        return Err(malformed(&path));
    }
    let committed = field(lines.next(), "committed").ok_or_else(|| malformed(&path))?;
    let pending = field(lines.next(), "pending").ok_or_else(|| malformed(&path))?;
    Ok(Some(HeadAnchor { committed, pending }))
}

fn write_anchor(data_dir: &Path, anchor: &HeadAnchor) -> Result<(), StoreError> {
    let line =
        |checkpoint: &Option<Checkpoint>| checkpoint.as_ref().map_or("none".to_owned(), checkpoint_line);
    let text = format!(
        "{ANCHOR_HEADER}\ncommitted {}\npending {}\n",
        line(&anchor.committed),
        line(&anchor.pending)
    );
    let path = data_dir.join(ANCHOR_FILE);
    let temporary: PathBuf = data_dir.join(format!("{ANCHOR_FILE}.tmp"));
    let mut file = File::create(&temporary).map_err(anchor_error(&temporary))?;
    file.write_all(text.as_bytes()).map_err(anchor_error(&temporary))?;
    file.sync_all().map_err(anchor_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, &path).map_err(anchor_error(&path))
}

fn append_history(data_dir: &Path, checkpoint: &Checkpoint) -> Result<(), StoreError> {
    let path = data_dir.join(HISTORY_FILE);
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(anchor_error(&path))?;
    file.write_all(format!("{}\n", checkpoint_line(checkpoint)).as_bytes()).map_err(anchor_error(&path))?;
    file.sync_all().map_err(anchor_error(&path))
}

fn read_history(data_dir: &Path) -> Result<Vec<Checkpoint>, StoreError> {
    let path = data_dir.join(HISTORY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(anchor_error(&path)(error)),
    };
    // A line cut short by a crash while appending is ignored; any other bad line is tampering.
    let complete = if text.ends_with('\n') {
        text.as_str()
    } else {
        text.rsplit_once('\n').map_or("", |(done, _)| done)
    };
    complete.lines().map(|line| parse_checkpoint_line(line).ok_or_else(|| malformed(&path))).collect()
}
