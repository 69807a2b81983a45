//! Providers (Rule 36), intake batches, records of receipt (Rule 37) and quarantined inputs.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use kiban_audit::AuditEvent;
use kiban_model::{NaiveDate, ProviderCode};

use crate::convert::{date_text, retain_until, time_text, to_i64};
use crate::db::{Row, ToValue, Tx, params};
use crate::error::StoreError;
use crate::{Store, audit};

/// A provider's notice (Rule 36): the provider may send data once the notice has been published.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderRegistration {
    pub code: ProviderCode,
    pub name: String,
    pub address: String,
    /// The day the provider's notice was received.
    pub notified_on: NaiveDate,
    /// The day the notice was published; `None` until then, and no data is accepted before it.
    pub published_on: Option<NaiveDate>,
}

/// The store's number for an intake batch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BatchId(pub u64);

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a batch is in intake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BatchStatus {
    /// Begun, not yet completed: an interrupted run left it here, and running again resumes it.
    Receiving,
    /// Completed with a record of receipt; it never changes again.
    Complete,
}

impl BatchStatus {
    pub fn name(self) -> &'static str {
        match self {
            BatchStatus::Receiving => "receiving",
            BatchStatus::Complete => "complete",
        }
    }

    fn parse(name: &str) -> Option<BatchStatus> {
        match name {
            "receiving" => Some(BatchStatus::Receiving),
            "complete" => Some(BatchStatus::Complete),
            _ => None,
        }
    }
}

/// The start of an intake run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewBatch {
    pub provider: ProviderCode,
    /// A digest of the extract (e.g. SHA-256 of its file list and contents): the same extract is the
    /// same batch.
    pub fingerprint: String,
    /// `ss-mix2`, `fhir`, `csv`, ...
    pub format: String,
    /// The input path as the operator gave it.
    pub source: String,
    pub started_at: DateTime<Utc>,
}

/// A batch as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BatchInfo {
    pub id: BatchId,
    pub provider: ProviderCode,
    pub fingerprint: String,
    pub format: String,
    pub source: String,
    pub status: BatchStatus,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What a finished intake run received.
#[derive(Clone, PartialEq, Eq)]
pub struct BatchCompletion {
    /// The number of persons (provider-local patients) the batch covers.
    pub n_persons: u64,
    /// Persons (provider-local patients) in the extract left out because they match an opt-out request
    /// (提供停止の求め); not counted in `n_persons`, and none of their records is stored.
    pub n_persons_excluded: u64,
    /// Records per kind, e.g. `encounters` → 120.
    pub n_records_by_kind: BTreeMap<String, u64>,
    /// The data items received (e.g. 氏名, 生年月日, 病名, 処方, 検査結果), as written on the receipt.
    pub items: Vec<String>,
    /// Inputs set aside: (path, reason). Reasons never hold patient data.
    pub quarantined: Vec<(String, String)>,
    pub completed_at: DateTime<Utc>,
}

impl fmt::Debug for BatchCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Input paths can contain patient IDs (SS-MIX2 folders are named after them): show counts only.
        f.debug_struct("BatchCompletion")
            .field("n_persons", &self.n_persons)
            .field("n_persons_excluded", &self.n_persons_excluded)
            .field("n_records_by_kind", &self.n_records_by_kind)
            .field("items", &self.items)
            .field("n_quarantined", &self.quarantined.len())
            .field("completed_at", &self.completed_at)
            .finish()
    }
}

/// The record of receipt (受領の記録, Rule 37), kept until `retain_until`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Receipt {
    pub batch: BatchId,
    pub received_on: NaiveDate,
    pub provider: ProviderCode,
    pub provider_name: String,
    pub provider_address: String,
    pub notified_on: NaiveDate,
    /// The publication of the provider's notice, confirmed when the batch completed.
    pub published_on: NaiveDate,
    pub n_persons: u64,
    /// Persons left out because they opted out (a count; who is never recorded here).
    pub n_persons_excluded: u64,
    pub n_records_by_kind: BTreeMap<String, u64>,
    pub items: Vec<String>,
    pub retain_until: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// One input file set aside during intake.
#[derive(Clone, PartialEq, Eq)]
pub struct QuarantinedInput {
    pub batch: BatchId,
    pub path: String,
    pub reason: String,
}

impl fmt::Debug for QuarantinedInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The path can contain a patient ID.
        f.debug_struct("QuarantinedInput").field("batch", &self.batch).field("reason", &self.reason).finish()
    }
}

fn provider_from_row(row: &Row) -> Result<ProviderRegistration, StoreError> {
    const TABLE: &str = "providers";
    Ok(ProviderRegistration {
        code: row.provider(TABLE, "code")?,
        name: row.text("name")?,
        address: row.text("address")?,
        notified_on: row.date(TABLE, "notified_on")?,
        published_on: row.opt_date(TABLE, "published_on")?,
    })
}

const PROVIDER_COLUMNS: &str = "code, name, address, notified_on, published_on";

fn load_provider(db: &Tx<'_>, code: &ProviderCode) -> Result<Option<ProviderRegistration>, StoreError> {
    db.query_opt(
        "reading providers",
        &format!("SELECT {PROVIDER_COLUMNS} FROM providers WHERE code = ?1"),
        params![code.as_str()],
    )?
    .as_ref()
    .map(provider_from_row)
    .transpose()
}

/// The provider's registration, checked to be published on `on` (Rule 36).
fn published_provider(
    db: &Tx<'_>,
    code: &ProviderCode,
    on: NaiveDate,
) -> Result<(ProviderRegistration, NaiveDate), StoreError> {
    let provider = load_provider(db, code)?
        .ok_or_else(|| StoreError::ProviderNotRegistered { provider: code.clone() })?;
    match provider.published_on {
        Some(published_on) if published_on <= on => Ok((provider, published_on)),
        _ => Err(StoreError::ProviderNotPublished { provider: code.clone(), on }),
    }
}

const BATCH_COLUMNS: &str = "id, provider, fingerprint, format, source, status, started_at, completed_at";

fn batch_from_row(row: &Row) -> Result<BatchInfo, StoreError> {
    const TABLE: &str = "batches";
    Ok(BatchInfo {
        id: BatchId(row.u64(TABLE, "id")?),
        provider: row.provider(TABLE, "provider")?,
        fingerprint: row.text("fingerprint")?,
        format: row.text("format")?,
        source: row.text("source")?,
        status: BatchStatus::parse(&row.text("status")?)
            .ok_or(StoreError::Corrupt { table: TABLE, column: "status" })?,
        started_at: row.time(TABLE, "started_at")?,
        completed_at: row.opt_time(TABLE, "completed_at")?,
    })
}

pub(crate) fn load_batch(db: &Tx<'_>, batch: BatchId) -> Result<BatchInfo, StoreError> {
    let row = db.query_opt(
        "reading batches",
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
        params![to_i64(batch.0, "batch id")?],
    )?;
    batch_from_row(&row.ok_or(StoreError::BatchNotFound { batch })?)
}

fn find_batch_in(
    db: &Tx<'_>,
    provider: &ProviderCode,
    fingerprint: &str,
) -> Result<Option<BatchInfo>, StoreError> {
    db.query_opt(
        "reading batches",
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE provider = ?1 AND fingerprint = ?2"),
        params![provider.as_str(), fingerprint],
    )?
    .as_ref()
    .map(batch_from_row)
    .transpose()
}

/// Inserts `items` as rows `(parent, item_idx, item)` with `sql`.
pub(crate) fn insert_items(
    db: &Tx<'_>,
    sql: &str,
    parent: i64,
    items: &[String],
    operation: &'static str,
) -> Result<(), StoreError> {
    for (item_idx, item) in (0_i64..).zip(items) {
        db.execute(operation, sql, params![parent, item_idx, item])?;
    }
    Ok(())
}

/// The `item` column of `sql`'s rows, for `parent`.
pub(crate) fn load_items(
    db: &Tx<'_>,
    sql: &str,
    parent: i64,
    operation: &'static str,
) -> Result<Vec<String>, StoreError> {
    db.query(operation, sql, params![parent])?.iter().map(|row| row.text("item")).collect()
}

impl Store {
    /// Records a provider's notice, or updates it (e.g. to add the publication date).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn register_provider(&self, provider: &ProviderRegistration) -> Result<(), StoreError> {
        const OPERATION: &str = "registering a provider";
        self.write(OPERATION, |tx| {
            tx.execute(
                OPERATION,
                &format!(
                    "INSERT INTO providers ({PROVIDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, address = excluded.address, \
                     notified_on = excluded.notified_on, published_on = excluded.published_on"
                ),
                params![
                    provider.code.as_str(),
                    provider.name,
                    provider.address,
                    date_text(provider.notified_on),
                    provider.published_on.map(date_text),
                ],
            )?;
            Ok(())
        })
    }

    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn provider(&self, code: &ProviderCode) -> Result<Option<ProviderRegistration>, StoreError> {
        self.read(|db| load_provider(db, code))
    }

    /// Every registered provider, by code.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn providers(&self) -> Result<Vec<ProviderRegistration>, StoreError> {
        self.read(|db| {
            db.query(
                "reading providers",
                &format!("SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY code"),
                params![],
            )?
            .iter()
            .map(provider_from_row)
            .collect()
        })
    }

    /// The batch already made from this extract, if any.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn find_batch(
        &self,
        provider: &ProviderCode,
        fingerprint: &str,
    ) -> Result<Option<BatchInfo>, StoreError> {
        self.read(|db| find_batch_in(db, provider, fingerprint))
    }

    /// Starts a batch, or resumes the one an interrupted run left `receiving` for the same provider and
    /// fingerprint (the caller then writes its vault files again).
    ///
    /// # Errors
    /// [`StoreError::ProviderNotRegistered`] or [`StoreError::ProviderNotPublished`] when the provider may
    /// not send data yet (Rule 36), [`StoreError::BatchComplete`] when this extract was already received,
    /// [`StoreError::Db`].
    pub fn begin_batch(&self, batch: &NewBatch) -> Result<BatchId, StoreError> {
        const OPERATION: &str = "beginning a batch";
        self.write(OPERATION, |tx| {
            if let Some(existing) = find_batch_in(tx, &batch.provider, &batch.fingerprint)? {
                return match existing.status {
                    BatchStatus::Receiving => Ok(existing.id),
                    BatchStatus::Complete => Err(StoreError::BatchComplete { batch: existing.id }),
                };
            }
            published_provider(tx, &batch.provider, batch.started_at.date_naive())?;
            let id = tx
                .query_one(OPERATION, "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM batches", params![])?
                .u64("batches", "next")?;
            tx.execute(
                OPERATION,
                &format!("INSERT INTO batches ({BATCH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)"),
                params![
                    to_i64(id, "batch id")?,
                    batch.provider.as_str(),
                    batch.fingerprint,
                    batch.format,
                    batch.source,
                    BatchStatus::Receiving.name(),
                    time_text(batch.started_at),
                ],
            )?;
            Ok(BatchId(id))
        })
    }

    /// Completes a batch: writes its record of receipt (Rule 37), its quarantined inputs and `audit`, and
    /// marks it complete — all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::BatchNotFound`], [`StoreError::BatchComplete`], [`StoreError::ProviderNotPublished`]
    /// (the publication is confirmed again at receipt), [`StoreError::Db`].
    pub fn complete_batch(
        &self,
        batch: BatchId,
        completion: &BatchCompletion,
        audit: AuditEvent,
    ) -> Result<Receipt, StoreError> {
        const OPERATION: &str = "completing a batch";
        self.write(OPERATION, |tx| {
            let info = load_batch(tx, batch)?;
            if info.status == BatchStatus::Complete {
                return Err(StoreError::BatchComplete { batch });
            }
            let received_on = completion.completed_at.date_naive();
            let (provider, published_on) = published_provider(tx, &info.provider, received_on)?;
            let receipt = Receipt {
                batch,
                received_on,
                provider: provider.code,
                provider_name: provider.name,
                provider_address: provider.address,
                notified_on: provider.notified_on,
                published_on,
                n_persons: completion.n_persons,
                n_persons_excluded: completion.n_persons_excluded,
                n_records_by_kind: completion.n_records_by_kind.clone(),
                items: completion.items.clone(),
                retain_until: retain_until(received_on)?,
                recorded_at: completion.completed_at,
            };
            let batch_id = to_i64(batch.0, "batch id")?;
            tx.execute(
                OPERATION,
                "INSERT INTO receipts (batch_id, received_on, provider, provider_name, provider_address, \
                 notified_on, published_on, n_persons, retain_until, recorded_at, n_persons_excluded) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    batch_id,
                    date_text(receipt.received_on),
                    receipt.provider.as_str(),
                    receipt.provider_name,
                    receipt.provider_address,
                    date_text(receipt.notified_on),
                    date_text(receipt.published_on),
                    to_i64(receipt.n_persons, "number of persons")?,
                    date_text(receipt.retain_until),
                    time_text(receipt.recorded_at),
                    to_i64(receipt.n_persons_excluded, "number of persons excluded")?,
                ],
            )?;
            insert_items(
                tx,
                "INSERT INTO receipt_items (batch_id, item_idx, item) VALUES (?1, ?2, ?3)",
                batch_id,
                &receipt.items,
                OPERATION,
            )?;
            for (kind, n_records) in &receipt.n_records_by_kind {
                tx.execute(
                    OPERATION,
                    "INSERT INTO receipt_record_counts (batch_id, kind, n_records) VALUES (?1, ?2, ?3)",
                    params![batch_id, kind, to_i64(*n_records, "number of records")?],
                )?;
            }
            tx.insert_many(
                OPERATION,
                "quarantine",
                ["batch_id", "item_idx", "path", "reason"],
                (0_i64..).zip(&completion.quarantined).map(|(item_idx, (path, reason))| {
                    [batch_id.to_value(), item_idx.to_value(), path.to_value(), reason.to_value()]
                }),
            )?;
            tx.execute(
                OPERATION,
                "UPDATE batches SET status = ?1, completed_at = ?2 WHERE id = ?3",
                params![BatchStatus::Complete.name(), time_text(completion.completed_at), batch_id],
            )?;
            audit::append_in(tx, audit)?;
            Ok(receipt)
        })
    }

    /// # Errors
    /// [`StoreError::BatchNotFound`], [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn batch(&self, batch: BatchId) -> Result<BatchInfo, StoreError> {
        self.read(|db| load_batch(db, batch))
    }

    /// Every batch, by id.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn batches(&self) -> Result<Vec<BatchInfo>, StoreError> {
        self.read(|db| {
            db.query(
                "reading batches",
                &format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id"),
                params![],
            )?
            .iter()
            .map(batch_from_row)
            .collect()
        })
    }

    /// Every record of receipt, by batch.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn receipts(&self) -> Result<Vec<Receipt>, StoreError> {
        const OPERATION: &str = "reading receipts";
        const TABLE: &str = "receipts";
        self.read(|db| {
            let rows = db.query(
                OPERATION,
                "SELECT batch_id, received_on, provider, provider_name, provider_address, notified_on, \
                 published_on, n_persons, retain_until, recorded_at, n_persons_excluded \
                 FROM receipts ORDER BY batch_id",
                params![],
            )?;
            rows.iter()
                .map(|row| {
                    let batch_id = row.i64("batch_id")?;
                    let n_records_by_kind = db
                        .query(
                            OPERATION,
                            "SELECT kind, n_records FROM receipt_record_counts WHERE batch_id = ?1 ORDER BY kind",
                            params![batch_id],
                        )?
                        .iter()
                        .map(|count| Ok((count.text("kind")?, count.u64("receipt_record_counts", "n_records")?)))
                        .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
                    Ok(Receipt {
                        batch: BatchId(row.u64(TABLE, "batch_id")?),
                        received_on: row.date(TABLE, "received_on")?,
                        provider: row.provider(TABLE, "provider")?,
                        provider_name: row.text("provider_name")?,
                        provider_address: row.text("provider_address")?,
                        notified_on: row.date(TABLE, "notified_on")?,
                        published_on: row.date(TABLE, "published_on")?,
                        n_persons: row.u64(TABLE, "n_persons")?,
                        n_persons_excluded: row.u64(TABLE, "n_persons_excluded")?,
                        n_records_by_kind,
                        items: load_items(
                            db,
                            "SELECT item FROM receipt_items WHERE batch_id = ?1 ORDER BY item_idx",
                            batch_id,
                            OPERATION,
                        )?,
                        retain_until: row.date(TABLE, "retain_until")?,
                        recorded_at: row.time(TABLE, "recorded_at")?,
                    })
                })
                .collect()
        })
    }

    /// The inputs quarantined in `batch`, in the order they were reported.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn quarantine(&self, batch: BatchId) -> Result<Vec<QuarantinedInput>, StoreError> {
        self.read(|db| {
            db.query(
                "reading quarantine",
                "SELECT path, reason FROM quarantine WHERE batch_id = ?1 ORDER BY item_idx",
                params![to_i64(batch.0, "batch id")?],
            )?
            .iter()
            .map(|row| Ok(QuarantinedInput { batch, path: row.text("path")?, reason: row.text("reason")? }))
            .collect()
        })
    }
}
