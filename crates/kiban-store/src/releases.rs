//! Releases and the provision ledger (帳簿, Rule 12).

use chrono::{DateTime, Utc};
use kiban_audit::AuditEvent;
use kiban_model::NaiveDate;

use crate::convert::{date_text, retain_until, time_text, to_i64};
use crate::db::{Tx, params};
use crate::error::StoreError;
use crate::intake::{insert_items, load_items};
use crate::{Store, audit};

/// A dataset provided to a recipient, as the release step reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReleaseRecord {
    pub release_id: String,
    /// 提供先の氏名又は名称.
    pub recipient_name: String,
    /// 提供先の住所.
    pub recipient_address: String,
    /// 提供年月日.
    pub provided_on: NaiveDate,
    /// `anonymized` or `pseudonymized`.
    pub mode: String,
    /// The data items provided (提供した医療情報の項目).
    pub items: Vec<String>,
    pub n_persons: u64,
    /// SHA-256 (hex) of the release manifest, which lists every file's checksum.
    pub manifest_sha256: String,
    pub created_at: DateTime<Utc>,
}

/// A stored release with the number the store gave it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReleaseInfo {
    pub release_number: u64,
    pub record: ReleaseRecord,
}

/// One ledger line (帳簿, Rule 12): who received what, when. Kept until `retain_until`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LedgerEntry {
    pub id: u64,
    /// `provision` (deletions and producer-to-producer transfers come later).
    pub kind: String,
    pub release_id: Option<String>,
    pub recipient_name: String,
    pub recipient_address: String,
    pub provided_on: NaiveDate,
    pub items: Vec<String>,
    pub n_persons: u64,
    pub retain_until: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

const PROVISION: &str = "provision";

fn next_release_number_in(db: &Tx<'_>) -> Result<u64, StoreError> {
    db.query_one(
        "reading releases",
        "SELECT COALESCE(MAX(n), 0) + 1 AS next FROM (SELECT MAX(release_number) AS n FROM releases \
         UNION ALL SELECT MAX(release_number) AS n FROM release_reservations) AS numbers",
        params![],
    )?
    .u64("releases", "next")
}

/// Where a release is in its lifecycle. The review workflow adds states between staged and published.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReleaseState {
    /// Its ID is reserved and its files are being written to the staging folder.
    Staged,
    /// Its ledger line is recorded and its folder published (kept sealed).
    Published,
    /// A handover copy was made.
    Exported,
    /// Processing or writing failed: nothing was published, no ledger line written.
    Failed,
}

impl ReleaseState {
    pub fn name(self) -> &'static str {
        match self {
            ReleaseState::Staged => "staged",
            ReleaseState::Published => "published",
            ReleaseState::Exported => "exported",
            ReleaseState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<ReleaseState> {
        [ReleaseState::Staged, ReleaseState::Published, ReleaseState::Exported, ReleaseState::Failed]
            .into_iter()
            .find(|state| state.name() == text)
    }
}

/// A reserved release ID with the state the release is in now.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReleaseStatus {
    pub release_number: u64,
    pub release_id: String,
    pub reserved_by: String,
    pub reserved_at: DateTime<Utc>,
    pub state: ReleaseState,
    pub state_at: DateTime<Utc>,
}

fn insert_state(
    tx: &Tx<'_>,
    release_id: &str,
    state: ReleaseState,
    actor: &str,
    at: DateTime<Utc>,
    operation: &'static str,
) -> Result<(), StoreError> {
    let id = tx.next_id(operation, "release_states")?;
    tx.execute(
        operation,
        "INSERT INTO release_states (id, release_id, state, at, actor) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, release_id, state.name(), time_text(at), actor],
    )?;
    Ok(())
}

fn ledger_items(db: &Tx<'_>, ledger_id: i64) -> Result<Vec<String>, StoreError> {
    load_items(
        db,
        "SELECT item FROM ledger_items WHERE ledger_id = ?1 ORDER BY item_idx",
        ledger_id,
        "reading the ledger",
    )
}

impl Store {
    /// Reserves the next release number and its ID (`R0001`, ...) for `actor`, in one writing transaction,
    /// and records the release as [`ReleaseState::Staged`]. Two concurrent callers never get the same ID.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn reserve_release(&self, actor: &str, at: DateTime<Utc>) -> Result<(u64, String), StoreError> {
        const OPERATION: &str = "reserving a release ID";
        self.write(OPERATION, |tx| {
            let number = next_release_number_in(tx)?;
            let release_id = format!("R{number:04}");
            tx.execute(
                OPERATION,
                "INSERT INTO release_reservations (release_number, release_id, reserved_by, reserved_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![to_i64(number, "release number")?, release_id, actor, time_text(at)],
            )?;
            insert_state(tx, &release_id, ReleaseState::Staged, actor, at, OPERATION)?;
            Ok((number, release_id))
        })
    }

    /// Records that a reserved release entered `state` (exported, failed).
    ///
    /// # Errors
    /// [`StoreError::Db`] (also when the release ID was never reserved).
    pub fn set_release_state(
        &self,
        release_id: &str,
        state: ReleaseState,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("recording a release state", |tx| {
            insert_state(tx, release_id, state, actor, at, "recording a release state")
        })
    }

    /// Every reserved release with its current state, by number.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn release_statuses(&self) -> Result<Vec<ReleaseStatus>, StoreError> {
        const TABLE: &str = "release_states";
        self.read(|db| {
            db.query(
                "reading release states",
                "SELECT r.release_number, r.release_id, r.reserved_by, r.reserved_at, s.state, s.at \
                 FROM release_reservations r JOIN release_states s ON s.release_id = r.release_id \
                 WHERE s.id = (SELECT MAX(id) FROM release_states t WHERE t.release_id = r.release_id) \
                 ORDER BY r.release_number",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(ReleaseStatus {
                    release_number: row.u64("release_reservations", "release_number")?,
                    release_id: row.text("release_id")?,
                    reserved_by: row.text("reserved_by")?,
                    reserved_at: row.time("release_reservations", "reserved_at")?,
                    state: ReleaseState::parse(&row.text("state")?)
                        .ok_or(StoreError::Corrupt { table: TABLE, column: "state" })?,
                    state_at: row.time(TABLE, "at")?,
                })
            })
            .collect()
        })
    }

    /// The number the next recorded release will get (1 for the first). Advisory: [`Store::record_release`]
    /// assigns the number, and two concurrent releases may see the same value here.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn next_release_number(&self) -> Result<u64, StoreError> {
        self.read(next_release_number_in)
    }

    /// Records a provision: the release, its ledger entry (Rule 12, "without delay") and `audit`, in one
    /// transaction. Call it before the dataset is handed over.
    ///
    /// # Errors
    /// [`StoreError::DuplicateRelease`] when `release_id` is already recorded, [`StoreError::Db`].
    pub fn record_release(
        &self,
        release: &ReleaseRecord,
        audit: AuditEvent,
    ) -> Result<LedgerEntry, StoreError> {
        const OPERATION: &str = "recording a release";
        self.write(OPERATION, |tx| {
            let exists = tx.query_opt(
                OPERATION,
                "SELECT 1 AS found FROM releases WHERE release_id = ?1",
                params![release.release_id],
            )?;
            if exists.is_some() {
                return Err(StoreError::DuplicateRelease { release_id: release.release_id.clone() });
            }
            let reserved = tx
                .query_opt(
                    OPERATION,
                    "SELECT release_number FROM release_reservations WHERE release_id = ?1",
                    params![release.release_id],
                )?
                .map(|row| row.u64("release_reservations", "release_number"))
                .transpose()?;
            let release_number = match reserved {
                Some(number) => number,
                None => next_release_number_in(tx)?,
            };
            let n_persons = to_i64(release.n_persons, "number of persons")?;
            tx.execute(
                OPERATION,
                "INSERT INTO releases (release_id, release_number, recipient_name, recipient_address, \
                 provided_on, mode, n_persons, manifest_sha256, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    release.release_id,
                    to_i64(release_number, "release number")?,
                    release.recipient_name,
                    release.recipient_address,
                    date_text(release.provided_on),
                    release.mode,
                    n_persons,
                    release.manifest_sha256,
                    time_text(release.created_at),
                ],
            )?;
            let id = tx
                .query_one(OPERATION, "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM ledger", params![])?
                .u64("ledger", "next")?;
            let ledger_id = to_i64(id, "ledger id")?;
            let entry = LedgerEntry {
                id,
                kind: PROVISION.to_owned(),
                release_id: Some(release.release_id.clone()),
                recipient_name: release.recipient_name.clone(),
                recipient_address: release.recipient_address.clone(),
                provided_on: release.provided_on,
                items: release.items.clone(),
                n_persons: release.n_persons,
                retain_until: retain_until(release.provided_on)?,
                recorded_at: release.created_at,
            };
            tx.execute(
                OPERATION,
                "INSERT INTO ledger (id, kind, release_id, recipient_name, recipient_address, provided_on, \
                 n_persons, retain_until, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    ledger_id,
                    entry.kind,
                    entry.release_id,
                    entry.recipient_name,
                    entry.recipient_address,
                    date_text(entry.provided_on),
                    n_persons,
                    date_text(entry.retain_until),
                    time_text(entry.recorded_at),
                ],
            )?;
            insert_items(
                tx,
                "INSERT INTO ledger_items (ledger_id, item_idx, item) VALUES (?1, ?2, ?3)",
                ledger_id,
                &entry.items,
                OPERATION,
            )?;
            if reserved.is_some() {
                insert_state(
                    tx,
                    &release.release_id,
                    ReleaseState::Published,
                    &audit.actor,
                    release.created_at,
                    OPERATION,
                )?;
            }
            audit::append_in(tx, audit)?;
            Ok(entry)
        })
    }

    /// The whole ledger, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        const TABLE: &str = "ledger";
        self.read(|db| {
            db.query(
                "reading the ledger",
                "SELECT id, kind, release_id, recipient_name, recipient_address, provided_on, n_persons, \
                 retain_until, recorded_at FROM ledger ORDER BY id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(LedgerEntry {
                    id: row.u64(TABLE, "id")?,
                    kind: row.text("kind")?,
                    release_id: row.opt_text("release_id")?,
                    recipient_name: row.text("recipient_name")?,
                    recipient_address: row.text("recipient_address")?,
                    provided_on: row.date(TABLE, "provided_on")?,
                    items: ledger_items(db, row.i64("id")?)?,
                    n_persons: row.u64(TABLE, "n_persons")?,
                    retain_until: row.date(TABLE, "retain_until")?,
                    recorded_at: row.time(TABLE, "recorded_at")?,
                })
            })
            .collect()
        })
    }

    /// Every recorded release, by number. Items come from the release's ledger entry.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn releases(&self) -> Result<Vec<ReleaseInfo>, StoreError> {
        const TABLE: &str = "releases";
        self.read(|db| {
            db.query(
                "reading releases",
                "SELECT r.release_id, r.release_number, r.recipient_name, r.recipient_address, \
                 r.provided_on, r.mode, r.n_persons, r.manifest_sha256, r.created_at, l.id AS ledger_id \
                 FROM releases r LEFT JOIN ledger l ON l.release_id = r.release_id \
                 ORDER BY r.release_number",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(ReleaseInfo {
                    release_number: row.u64(TABLE, "release_number")?,
                    record: ReleaseRecord {
                        release_id: row.text("release_id")?,
                        recipient_name: row.text("recipient_name")?,
                        recipient_address: row.text("recipient_address")?,
                        provided_on: row.date(TABLE, "provided_on")?,
                        mode: row.text("mode")?,
                        items: row
                            .opt_i64("ledger_id")?
                            .map(|id| ledger_items(db, id))
                            .transpose()?
                            .unwrap_or_default(),
                        n_persons: row.u64(TABLE, "n_persons")?,
                        manifest_sha256: row.text("manifest_sha256")?,
                        created_at: row.time(TABLE, "created_at")?,
                    },
                })
            })
            .collect()
        })
    }
}
