//! Releases and the provision ledger (帳簿, Rule 12).

use chrono::{DateTime, Utc};
use kiban_audit::AuditEvent;
use kiban_model::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};

use crate::convert::{date_text, parse_date, parse_time, retain_until, time_text, to_i64, to_u64};
use crate::error::{StoreError, db_error};
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

fn next_release_number_in(db: &Connection) -> Result<u64, StoreError> {
    let next: i64 = db
        .query_row("SELECT COALESCE(MAX(release_number), 0) + 1 FROM releases", [], |row| row.get(0))
        .map_err(db_error("reading releases"))?;
    to_u64(next, "releases", "release_number")
}

fn ledger_items(db: &Connection, ledger_id: i64) -> Result<Vec<String>, StoreError> {
    load_items(
        db,
        "SELECT item FROM ledger_items WHERE ledger_id = ?1 ORDER BY item_idx",
        ledger_id,
        "reading the ledger",
    )
}

impl Store {
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
            let error = db_error(OPERATION);
            let exists = tx
                .query_row("SELECT 1 FROM releases WHERE release_id = ?1", [&release.release_id], |_| Ok(()))
                .optional()
                .map_err(&error)?;
            if exists.is_some() {
                return Err(StoreError::DuplicateRelease { release_id: release.release_id.clone() });
            }
            let release_number = next_release_number_in(tx)?;
            let n_persons = to_i64(release.n_persons, "number of persons")?;
            tx.execute(
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
            )
            .map_err(&error)?;
            let ledger_id: i64 = tx
                .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger", [], |row| row.get(0))
                .map_err(&error)?;
            let entry = LedgerEntry {
                id: to_u64(ledger_id, "ledger", "id")?,
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
            )
            .map_err(&error)?;
            insert_items(
                tx,
                "INSERT INTO ledger_items (ledger_id, item_idx, item) VALUES (?1, ?2, ?3)",
                ledger_id,
                &entry.items,
                OPERATION,
            )?;
            audit::append_in(tx, audit)?;
            Ok(entry)
        })
    }

    /// The whole ledger, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read(|db| {
            let error = db_error("reading the ledger");
            let mut statement = db
                .prepare(
                    "SELECT id, kind, release_id, recipient_name, recipient_address, provided_on, n_persons, \
                     retain_until, recorded_at FROM ledger ORDER BY id",
                )
                .map_err(&error)?;
            type LedgerRow = (i64, String, Option<String>, String, String, String, i64, String, String);
            let rows = statement
                .query_map([], |row| LedgerRow::try_from(row))
                .map_err(&error)?
                .collect::<Result<Vec<LedgerRow>, _>>()
                .map_err(&error)?;
            let table = "ledger";
            rows.into_iter()
                .map(|(id, kind, release_id, name, address, provided_on, n_persons, retain, at)| {
                    Ok(LedgerEntry {
                        id: to_u64(id, table, "id")?,
                        kind,
                        release_id,
                        recipient_name: name,
                        recipient_address: address,
                        provided_on: parse_date(&provided_on, table, "provided_on")?,
                        items: ledger_items(db, id)?,
                        n_persons: to_u64(n_persons, table, "n_persons")?,
                        retain_until: parse_date(&retain, table, "retain_until")?,
                        recorded_at: parse_time(&at, table, "recorded_at")?,
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
        self.read(|db| {
            let error = db_error("reading releases");
            let mut statement = db
                .prepare(
                    "SELECT r.release_id, r.release_number, r.recipient_name, r.recipient_address, \
                     r.provided_on, r.mode, r.n_persons, r.manifest_sha256, r.created_at, l.id \
                     FROM releases r LEFT JOIN ledger l ON l.release_id = r.release_id \
                     ORDER BY r.release_number",
                )
                .map_err(&error)?;
            type ReleaseRow = (String, i64, String, String, String, String, i64, String, String, Option<i64>);
            let rows = statement
                .query_map([], |row| ReleaseRow::try_from(row))
                .map_err(&error)?
                .collect::<Result<Vec<ReleaseRow>, _>>()
                .map_err(&error)?;
            let table = "releases";
            rows.into_iter()
                .map(
                    |(
                        release_id,
                        number,
                        name,
                        address,
                        provided_on,
                        mode,
                        n_persons,
                        manifest,
                        at,
                        ledger_id,
                    )| {
                        Ok(ReleaseInfo {
                            release_number: to_u64(number, table, "release_number")?,
                            record: ReleaseRecord {
                                release_id,
                                recipient_name: name,
                                recipient_address: address,
                                provided_on: parse_date(&provided_on, table, "provided_on")?,
                                mode,
                                items: ledger_id
                                    .map(|id| ledger_items(db, id))
                                    .transpose()?
                                    .unwrap_or_default(),
                                n_persons: to_u64(n_persons, table, "n_persons")?,
                                manifest_sha256: manifest,
                                created_at: parse_time(&at, table, "created_at")?,
                            },
                        })
                    },
                )
                .collect()
        })
    }
}
