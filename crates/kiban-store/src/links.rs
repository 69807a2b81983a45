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

/// One provider-local patient, as a review pair names it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordKey {
    pub provider: ProviderCode,
    pub local_id: LocalPatientId,
}

/// A pair of the linkage review queue: two provider-local patients that may be one person.
#[derive(Clone, PartialEq, Debug)]
pub struct ReviewItem {
    /// An opaque ID of the pair (what the audit log names, never the patients).
    pub pair_id: String,
    pub a: RecordKey,
    pub b: RecordKey,
    pub score: f64,
    /// Which fields agree (`kana_family=exact birth_date=similar …`): field names and agreement levels only.
    pub agreement: String,
    pub reason: String,
}

/// A reviewer's decision on a pair.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewDecision {
    pub pair_id: String,
    pub a: RecordKey,
    pub b: RecordKey,
    pub same_person: bool,
    pub reason: String,
    pub decided_by: String,
    pub decided_at: chrono::DateTime<chrono::Utc>,
}

fn record_key(row: &crate::db::Row, table: &'static str, side: &str) -> Result<RecordKey, StoreError> {
    let (provider, local) =
        if side == "a" { ("a_provider", "a_local_id") } else { ("b_provider", "b_local_id") };
    Ok(RecordKey {
        provider: row.provider(table, provider)?,
        local_id: LocalPatientId::new(&row.text(local)?)
            .map_err(|_| StoreError::Corrupt { table, column: local })?,
    })
}

impl Store {
    /// Replaces the review queue with `items` (the pairs a fresh linkage run left undecided). The queue is
    /// derived from the vault and the decisions, so it is written beside the links, not with them.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn replace_review_queue(&self, items: &[ReviewItem]) -> Result<(), StoreError> {
        const OPERATION: &str = "replacing the review queue";
        self.write(OPERATION, |tx| {
            tx.execute(OPERATION, "DELETE FROM link_review_queue", params![])?;
            tx.insert_many(
                OPERATION,
                "link_review_queue",
                [
                    "pair_id",
                    "a_provider",
                    "a_local_id",
                    "b_provider",
                    "b_local_id",
                    "score",
                    "agreement",
                    "reason",
                ],
                items.iter().map(|item| {
                    [
                        item.pair_id.to_value(),
                        item.a.provider.as_str().to_value(),
                        item.a.local_id.as_str().to_value(),
                        item.b.provider.as_str().to_value(),
                        item.b.local_id.as_str().to_value(),
                        item.score.to_value(),
                        item.agreement.to_value(),
                        item.reason.to_value(),
                    ]
                }),
            )?;
            Ok(())
        })
    }

    /// The review queue, highest score first.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>, StoreError> {
        const TABLE: &str = "link_review_queue";
        self.read(|db| {
            db.query(
                "reading the review queue",
                "SELECT pair_id, a_provider, a_local_id, b_provider, b_local_id, score, agreement, reason \
                 FROM link_review_queue ORDER BY score DESC, pair_id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(ReviewItem {
                    pair_id: row.text("pair_id")?,
                    a: record_key(row, TABLE, "a")?,
                    b: record_key(row, TABLE, "b")?,
                    score: row
                        .opt_f64("score")?
                        .ok_or(StoreError::Corrupt { table: TABLE, column: "score" })?,
                    agreement: row.text("agreement")?,
                    reason: row.text("reason")?,
                })
            })
            .collect()
        })
    }

    /// Records a decision on the queued pair `pair_id`, with its audit entry, and takes the pair off the
    /// queue (the next linkage run applies the decision).
    ///
    /// # Errors
    /// [`StoreError::ReviewPairNotFound`] when the pair is not in the queue; [`StoreError::Db`].
    pub fn decide_review_pair(
        &self,
        pair_id: &str,
        same_person: bool,
        reason: &str,
        audit: AuditEvent,
    ) -> Result<ReviewDecision, StoreError> {
        const OPERATION: &str = "recording a review decision";
        const TABLE: &str = "link_review_queue";
        self.write(OPERATION, |tx| {
            let Some(row) = tx.query_opt(
                OPERATION,
                "SELECT a_provider, a_local_id, b_provider, b_local_id FROM link_review_queue WHERE pair_id = ?1",
                params![pair_id],
            )?
            else {
                return Err(StoreError::ReviewPairNotFound { pair_id: pair_id.to_owned() });
            };
            let decision = ReviewDecision {
                pair_id: pair_id.to_owned(),
                a: record_key(&row, TABLE, "a")?,
                b: record_key(&row, TABLE, "b")?,
                same_person,
                reason: reason.to_owned(),
                decided_by: audit.actor.clone(),
                decided_at: audit.at,
            };
            let id = tx.next_id(OPERATION, "link_review_decisions")?;
            tx.execute(
                OPERATION,
                "INSERT INTO link_review_decisions (id, pair_id, a_provider, a_local_id, b_provider, b_local_id, \
                 same_person, reason, decided_by, decided_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    pair_id,
                    decision.a.provider.as_str(),
                    decision.a.local_id.as_str(),
                    decision.b.provider.as_str(),
                    decision.b.local_id.as_str(),
                    i64::from(same_person),
                    reason,
                    decision.decided_by.clone(),
                    crate::convert::time_text(decision.decided_at),
                ],
            )?;
            tx.execute(OPERATION, "DELETE FROM link_review_queue WHERE pair_id = ?1", params![pair_id])?;
            audit::append_in(tx, audit)?;
            Ok(decision)
        })
    }

    /// The decision in force on every decided pair (the latest on each), in the order they were made.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn review_decisions(&self) -> Result<Vec<ReviewDecision>, StoreError> {
        const TABLE: &str = "link_review_decisions";
        self.read(|db| {
            db.query(
                "reading review decisions",
                "SELECT d.pair_id, d.a_provider, d.a_local_id, d.b_provider, d.b_local_id, d.same_person, d.reason, \
                 d.decided_by, d.decided_at FROM link_review_decisions d \
                 WHERE d.id = (SELECT MAX(id) FROM link_review_decisions l WHERE l.pair_id = d.pair_id) ORDER BY d.id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(ReviewDecision {
                    pair_id: row.text("pair_id")?,
                    a: record_key(row, TABLE, "a")?,
                    b: record_key(row, TABLE, "b")?,
                    same_person: row.i64("same_person")? != 0,
                    reason: row.text("reason")?,
                    decided_by: row.text("decided_by")?,
                    decided_at: row.time(TABLE, "decided_at")?,
                })
            })
            .collect()
        })
    }
}
