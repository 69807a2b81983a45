//! Linkage results (名寄せ): which person each provider-local patient is.

use kiban_audit::{AuditEntry, AuditEvent};
use kiban_model::{LocalPatientId, ProviderCode};

use crate::db::{ToValue, params};
use crate::error::StoreError;
use crate::{Store, audit};

/// One provider-local patient assigned to a linked person.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PersonLink {
    pub provider: ProviderCode,
    pub local_id: LocalPatientId,
    /// The producer's internal person ID (never released as is).
    pub person_id: String,
}

impl Store {
    /// Replaces every link with `links` (the result of a fresh linkage run) and records `audit`, in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::Db`], for instance when one provider-local patient appears twice.
    pub fn replace_person_links(
        &self,
        links: &[PersonLink],
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "replacing person links";
        self.write(OPERATION, |tx| {
            tx.execute(OPERATION, "DELETE FROM person_links", params![])?;
            tx.insert_many(
                OPERATION,
                "person_links",
                ["provider", "local_id", "person_id"],
                links.iter().map(|link| {
                    [
                        link.provider.as_str().to_value(),
                        link.local_id.as_str().to_value(),
                        link.person_id.to_value(),
                    ]
                }),
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// Every link, by provider and local ID.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn person_links(&self) -> Result<Vec<PersonLink>, StoreError> {
        const TABLE: &str = "person_links";
        self.read(|db| {
            db.query(
                "reading person links",
                "SELECT provider, local_id, person_id FROM person_links ORDER BY provider, local_id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(PersonLink {
                    provider: row.provider(TABLE, "provider")?,
                    local_id: LocalPatientId::new(&row.text("local_id")?)
                        .map_err(|_| StoreError::Corrupt { table: TABLE, column: "local_id" })?,
                    person_id: row.text("person_id")?,
                })
            })
            .collect()
        })
    }
}
