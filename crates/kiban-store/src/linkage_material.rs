//! Public-database linkage material (Rule 28 of the Guideline): which opaque row ID of an export stands for
//! which person, and the provision IDs (提供用ID) the public database sent back.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kiban_audit::AuditEvent;

use crate::convert::{time_text, to_i64};
use crate::db::{ToValue, Tx, params};
use crate::error::StoreError;
use crate::{Store, audit};

/// One export of linkage material: the row IDs written to the file and the persons they stand for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkageExport {
    /// e.g. `LX0001`.
    pub export_id: String,
    /// The name of the one-way function the file was made with, e.g. `hmac-sha256`.
    pub algorithm: String,
    /// Invariant (checked by [`Store::record_linkage_export`]): row IDs are unique.
    pub rows: Vec<LinkageExportRow>,
    pub created_at: DateTime<Utc>,
}

/// One row of an export: an opaque row ID (never the person ID) and the person it stands for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkageExportRow {
    pub row_id: String,
    /// The producer's internal person ID; it stays in the store.
    pub person_id: String,
}

/// A provision ID (提供用ID) received for a person.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProvisionId {
    pub person_id: String,
    pub provision_id: String,
    /// The export row it answered.
    pub row_id: String,
    pub imported_at: DateTime<Utc>,
}

fn next_export_number_in(db: &Tx<'_>) -> Result<u64, StoreError> {
    db.query_one(
        "reading linkage exports",
        "SELECT COALESCE(MAX(export_number), 0) + 1 AS next FROM linkage_exports",
        params![],
    )?
    .u64("linkage_exports", "next")
}

impl Store {
    /// The number the next linkage export will get (1 for the first). Advisory: [`Store::record_linkage_export`]
    /// refuses an export ID already used.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn next_linkage_export_number(&self) -> Result<u64, StoreError> {
        self.read(next_export_number_in)
    }

    /// Records an export (its rows) and `audit` in one transaction; call it before the file is handed over.
    ///
    /// # Errors
    /// [`StoreError::DuplicateLinkageExport`] when the export ID is taken, [`StoreError::Db`] (e.g. a row ID
    /// used twice).
    pub fn record_linkage_export(
        &self,
        export: &LinkageExport,
        audit: AuditEvent,
    ) -> Result<u64, StoreError> {
        const OPERATION: &str = "recording a linkage export";
        self.write(OPERATION, |tx| {
            let exists = tx.query_opt(
                OPERATION,
                "SELECT 1 AS found FROM linkage_exports WHERE export_id = ?1",
                params![export.export_id],
            )?;
            if exists.is_some() {
                return Err(StoreError::DuplicateLinkageExport { export_id: export.export_id.clone() });
            }
            let number = next_export_number_in(tx)?;
            tx.execute(
                OPERATION,
                "INSERT INTO linkage_exports (export_id, export_number, algorithm, n_rows, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    export.export_id,
                    to_i64(number, "linkage export number")?,
                    export.algorithm,
                    to_i64(export.rows.len() as u64, "number of rows")?,
                    time_text(export.created_at),
                ],
            )?;
            tx.insert_many(
                OPERATION,
                "linkage_export_rows",
                ["row_id", "export_id", "person_id"],
                export.rows.iter().map(|row| {
                    [row.row_id.to_value(), export.export_id.to_value(), row.person_id.to_value()]
                }),
            )?;
            audit::append_in(tx, audit)?;
            Ok(number)
        })
    }

    /// Stores the provision IDs returned for export rows, `(row_id, provision_id)`, replacing any earlier
    /// one of the same person, and records `audit` — all or nothing.
    ///
    /// # Errors
    /// [`StoreError::UnknownLinkageRow`] when a row ID was never exported, [`StoreError::DuplicateLinkageRow`]
    /// when one appears twice, [`StoreError::Db`].
    pub fn import_provision_ids(
        &self,
        pairs: &[(String, String)],
        imported_at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<usize, StoreError> {
        const OPERATION: &str = "importing provision IDs";
        self.write(OPERATION, |tx| {
            let mut seen = HashSet::with_capacity(pairs.len());
            for (row_id, provision_id) in pairs {
                if !seen.insert(row_id.as_str()) {
                    return Err(StoreError::DuplicateLinkageRow { row_id: row_id.clone() });
                }
                let person_id = tx
                    .query_opt(
                        OPERATION,
                        "SELECT person_id FROM linkage_export_rows WHERE row_id = ?1",
                        params![row_id],
                    )?
                    .ok_or_else(|| StoreError::UnknownLinkageRow { row_id: row_id.clone() })?
                    .text("person_id")?;
                tx.execute(
                    OPERATION,
                    "INSERT INTO provision_ids (person_id, provision_id, row_id, imported_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (person_id) DO UPDATE SET \
                     provision_id = excluded.provision_id, row_id = excluded.row_id, \
                     imported_at = excluded.imported_at",
                    params![person_id, provision_id, row_id, time_text(imported_at)],
                )?;
            }
            audit::append_in(tx, audit)?;
            Ok(pairs.len())
        })
    }

    /// Every stored provision ID, by person ID.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn provision_ids(&self) -> Result<Vec<ProvisionId>, StoreError> {
        self.read(|db| {
            db.query(
                "reading provision IDs",
                "SELECT person_id, provision_id, row_id, imported_at FROM provision_ids ORDER BY person_id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(ProvisionId {
                    person_id: row.text("person_id")?,
                    provision_id: row.text("provision_id")?,
                    row_id: row.text("row_id")?,
                    imported_at: row.time("provision_ids", "imported_at")?,
                })
            })
            .collect()
        })
    }
}
