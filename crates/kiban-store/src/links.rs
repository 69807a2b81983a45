//! Linkage results (名寄せ): which person each provider-local patient is.

use kiban_audit::{AuditEntry, AuditEvent};
use kiban_model::{LocalPatientId, ProviderCode};
use rusqlite::params;

use crate::error::{StoreError, db_error};
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
            let error = db_error(OPERATION);
            tx.execute("DELETE FROM person_links", []).map_err(&error)?;
            let mut statement = tx
                .prepare("INSERT INTO person_links (provider, local_id, person_id) VALUES (?1, ?2, ?3)")
                .map_err(&error)?;
            for link in links {
                statement
                    .execute(params![link.provider.as_str(), link.local_id.as_str(), link.person_id])
                    .map_err(&error)?;
            }
            audit::append_in(tx, audit)
        })
    }

    /// Every link, by provider and local ID.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn person_links(&self) -> Result<Vec<PersonLink>, StoreError> {
        self.read(|db| {
            let error = db_error("reading person links");
            let mut statement = db
                .prepare("SELECT provider, local_id, person_id FROM person_links ORDER BY provider, local_id")
                .map_err(&error)?;
            let rows = statement
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?)))
                .map_err(&error)?;
            rows.map(|row| {
                let (provider, local_id, person_id) = row.map_err(&error)?;
                let corrupt = |column| StoreError::Corrupt { table: "person_links", column };
                Ok(PersonLink {
                    provider: ProviderCode::new(&provider).map_err(|_| corrupt("provider"))?,
                    local_id: LocalPatientId::new(&local_id).map_err(|_| corrupt("local_id"))?,
                    person_id,
                })
            })
            .collect()
        })
    }
}
