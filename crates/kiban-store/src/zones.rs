//! What the intake and release zones read and write: providers' upload credentials (only their SHA-256
//! is kept) and the releases handed over to recipients' accounts.

use chrono::{DateTime, Utc};
use kiban_audit::{AuditEntry, AuditEvent};
use kiban_model::ProviderCode;

use crate::convert::time_text;
use crate::db::{Row, params};
use crate::error::StoreError;
use crate::{Store, audit};

/// A release handed over to a recipient's account.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Handover {
    pub id: u64,
    pub release_id: String,
    pub recipient_user: String,
    /// The handover copy's folder (its files checked against the release's manifest when it was made).
    pub dir: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

const HANDOVER_COLUMNS: &str = "id, release_id, recipient_user, dir, created_at, created_by";

fn handover_from_row(row: &Row) -> Result<Handover, StoreError> {
    const TABLE: &str = "release_handovers";
    Ok(Handover {
        id: row.u64(TABLE, "id")?,
        release_id: row.text("release_id")?,
        recipient_user: row.text("recipient_user")?,
        dir: row.text("dir")?,
        created_at: row.time(TABLE, "created_at")?,
        created_by: row.text("created_by")?,
    })
}

impl Store {
    /// Puts a new upload credential (its SHA-256, hex) in force for `provider`, replacing any earlier one,
    /// or (`token_hash` `None`) revokes the provider's credential; with its audit entry, in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::ProviderNotRegistered`], [`StoreError::Db`].
    pub fn set_provider_credential(
        &self,
        provider: &ProviderCode,
        token_hash: Option<&str>,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "issuing a provider credential";
        self.write(OPERATION, |tx| {
            let registered = tx
                .query_opt(
                    OPERATION,
                    "SELECT code FROM providers WHERE code = ?1",
                    params![provider.as_str()],
                )?
                .is_some();
            if !registered {
                return Err(StoreError::ProviderNotRegistered { provider: provider.clone() });
            }
            let id = tx.next_id(OPERATION, "provider_credentials")?;
            tx.execute(
                OPERATION,
                "INSERT INTO provider_credentials (id, provider_code, token_hash, issued_at, issued_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    provider.as_str(),
                    token_hash.map(str::to_owned),
                    time_text(audit.at),
                    audit.actor.clone()
                ],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// The provider whose credential in force has the SHA-256 `token_hash`; `None` for an unknown,
    /// replaced or revoked credential.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn provider_of_credential(&self, token_hash: &str) -> Result<Option<ProviderCode>, StoreError> {
        const TABLE: &str = "provider_credentials";
        self.read(|db| {
            let row = db.query_opt(
                "checking a provider credential",
                "SELECT c.provider_code FROM provider_credentials c WHERE c.token_hash = ?1 \
                 AND c.id = (SELECT MAX(id) FROM provider_credentials l WHERE l.provider_code = c.provider_code)",
                params![token_hash],
            )?;
            row.map(|row| row.provider(TABLE, "provider_code")).transpose()
        })
    }

    /// Records that release `release_id` was handed over to `recipient_user` in `dir`, with its audit
    /// entry, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn record_handover(
        &self,
        release_id: &str,
        recipient_user: &str,
        dir: &str,
        audit: AuditEvent,
    ) -> Result<Handover, StoreError> {
        const OPERATION: &str = "recording a handover";
        self.write(OPERATION, |tx| {
            let known = tx
                .query_opt(OPERATION, "SELECT name FROM users WHERE name = ?1", params![recipient_user])?
                .is_some();
            if !known {
                return Err(StoreError::UserNotFound { user: recipient_user.to_owned() });
            }
            let id = tx.next_id(OPERATION, "release_handovers")?;
            let handover = Handover {
                id: u64::try_from(id).map_err(|_| StoreError::OutOfRange { what: "handover id" })?,
                release_id: release_id.to_owned(),
                recipient_user: recipient_user.to_owned(),
                dir: dir.to_owned(),
                created_at: audit.at,
                created_by: audit.actor.clone(),
            };
            tx.execute(
                OPERATION,
                &format!(
                    "INSERT INTO release_handovers ({HANDOVER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    id,
                    release_id,
                    recipient_user,
                    dir,
                    time_text(handover.created_at),
                    handover.created_by.clone()
                ],
            )?;
            audit::append_in(tx, audit)?;
            Ok(handover)
        })
    }

    /// The releases handed over to `recipient_user`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn handovers_to(&self, recipient_user: &str) -> Result<Vec<Handover>, StoreError> {
        self.read(|db| {
            db.query(
                "reading handovers",
                &format!(
                    "SELECT {HANDOVER_COLUMNS} FROM release_handovers WHERE recipient_user = ?1 ORDER BY id"
                ),
                params![recipient_user],
            )?
            .iter()
            .map(handover_from_row)
            .collect()
        })
    }
}
