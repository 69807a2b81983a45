//! Audit events and the hash chain that makes the audit log tamper-evident (Rule 6: a log of every
//! operation that cannot be altered, deleted or added to unnoticed).
//!
//! Main types: [`AuditEvent`] (who did what to which object, when, with which outcome), [`AuditEntry`]
//! (an event with its position `seq` in the log and its link to the previous entry) and [`verify`], which
//! walks a log and reports the first entry that was edited, deleted, reordered or forged.
//!
//! ```
//! use kiban_audit::{AuditEvent, Outcome, chain, genesis, verify};
//! # use chrono::{TimeZone, Utc};
//! let at = Utc.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).unwrap();
//! let event = |action: &str| AuditEvent {
//!     at,
//!     actor: "operator-1".to_owned(),
//!     action: action.to_owned(),
//!     object: "batch:1".to_owned(),
//!     outcome: Outcome::Success,
//!     detail: String::new(),
//! };
//! let first = genesis(event("ingest.batch"));
//! let second = chain(&first, event("release.write"));
//! assert_eq!(verify(&[first, second.clone()]).unwrap().head_hash, second.hash);
//! ```
//!
//! Design decisions:
//! - The crate is pure: no I/O, no clock. Times come in with the event; storage is `kiban-store`'s job.
//! - Each entry's hash covers its sequence number, the previous entry's hash and the whole event, so
//!   editing, deleting, reordering or inserting an entry breaks the chain from that point on. Deleting
//!   entries at the *end* of the log, or recomputing the whole chain, cannot be seen from the chain alone:
//!   signed [`Checkpoint`]s of the head hash (Ed25519; one kept outside the database as the head anchor)
//!   catch both ([`verify_log`]).
//! - Events never carry patient data: `object` names a batch, release or user, and `detail` says what
//!   happened in words and counts.
//!
//! # Hash encoding (version 1)
//! `hash = SHA-256(encoding)` where `encoding` is the concatenation of:
//! 1. the domain tag `kiban-audit-chain-v1` as a field (see below), so these hashes can never collide
//!    with hashes of anything else we compute;
//! 2. `seq` as 8 bytes, big-endian;
//! 3. `prev_hash`, 32 bytes (the genesis entry uses 32 zero bytes);
//! 4. `at` as seconds since the Unix epoch (8 bytes, big-endian, two's complement) and the sub-second
//!    nanoseconds (4 bytes, big-endian);
//! 5. `actor`, `action`, `object`, the outcome's name (`success`, `failure`, `denied`) and `detail`, each
//!    as a field.
//!
//! A *field* is its UTF-8 length as 8 bytes big-endian followed by its bytes. Length prefixes make the
//! encoding unambiguous: no two different events encode to the same bytes.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

mod checkpoint;

pub use checkpoint::{Checkpoint, HeadAnchor, VerifiedLog, checkpoint_message, verify_log};

/// The `prev_hash` of the first entry of every log.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The sequence number of the first entry of every log.
pub const FIRST_SEQ: u64 = 1;

const DOMAIN_TAG: &str = "kiban-audit-chain-v1";

/// How an audited operation ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Outcome {
    Success,
    Failure,
    /// Refused by an authorization or legal check (e.g. a provider not yet published, Rule 36).
    Denied,
}

impl Outcome {
    /// The stable lowercase name used in the hash encoding and in storage.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    /// Reads a name written by [`Outcome::name`].
    pub fn parse(name: &str) -> Option<Outcome> {
        match name {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// One audited operation (監査ログの記録): who did what to which object, when, and how it ended.
///
/// No field ever holds patient data, so the derived `Debug` is safe.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// The user or service that acted, e.g. `operator-1` or `kiban-cli`.
    pub actor: String,
    /// A dotted verb, e.g. `ingest.batch`, `release.write`, `linkage.replace`.
    pub action: String,
    /// What was acted on, e.g. `batch:3`, `release:R-0001`.
    pub object: String,
    pub outcome: Outcome,
    /// Free text with counts and reasons; never patient data.
    pub detail: String,
}

/// An event at position `seq` in the log, linked to the entry before it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditEntry {
    pub seq: u64,
    pub event: AuditEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl AuditEntry {
    /// The entry's hash as lowercase hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// The first entry of a log.
pub fn genesis(event: AuditEvent) -> AuditEntry {
    link(FIRST_SEQ, GENESIS_HASH, event)
}

/// The entry that follows `prev` in the log.
///
/// # Panics
/// When `prev.seq` is `u64::MAX` (a log cannot grow that long).
pub fn chain(prev: &AuditEntry, event: AuditEvent) -> AuditEntry {
    let seq = prev.seq.checked_add(1).expect("an audit log never reaches u64::MAX entries");
    link(seq, prev.hash, event)
}

fn link(seq: u64, prev_hash: [u8; 32], event: AuditEvent) -> AuditEntry {
    let hash = entry_hash(seq, &prev_hash, &event);
    AuditEntry { seq, event, prev_hash, hash }
}

/// The hash of an entry with these contents, as described in the crate documentation.
pub fn entry_hash(seq: u64, prev_hash: &[u8; 32], event: &AuditEvent) -> [u8; 32] {
    fn field(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    field(&mut hasher, DOMAIN_TAG.as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(prev_hash);
    hasher.update(event.at.timestamp().to_be_bytes());
    hasher.update(event.at.timestamp_subsec_nanos().to_be_bytes());
    field(&mut hasher, event.actor.as_bytes());
    field(&mut hasher, event.action.as_bytes());
    field(&mut hasher, event.object.as_bytes());
    field(&mut hasher, event.outcome.name().as_bytes());
    field(&mut hasher, event.detail.as_bytes());
    hasher.finalize().into()
}

/// A log that passed [`verify`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedChain {
    pub n_entries: u64,
    /// The last entry's hash, or [`GENESIS_HASH`] for an empty log. Comparing it with a checkpoint kept
    /// elsewhere detects entries deleted from the end.
    pub head_hash: [u8; 32],
}

/// What kind of tampering broke the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BreakKind {
    /// The entry's contents no longer match its hash: a field was edited.
    Edited,
    /// The entry with this `seq` is absent: it was deleted.
    Missing,
    /// The entry with this `seq` appears later in the log than it should.
    Reordered,
    /// An entry repeats an earlier `seq`: one was inserted.
    Inserted,
    /// The entry is self-consistent but does not link to the entry before it: it was forged or inserted
    /// with a recomputed hash.
    BrokenLink,
    /// A signed checkpoint covers entries that are no longer there: the log's tail was cut off. The `seq`
    /// is the first missing entry.
    Truncated,
    /// The chain verifies, but not against a signed checkpoint: it was recomputed from this entry on.
    Rewritten,
    /// A checkpoint's signature does not verify under the trusted key: the checkpoint was forged.
    ForgedCheckpoint,
    /// The entry lies past the signed head: it was appended by someone without the signing key.
    Unsigned,
}

impl BreakKind {
    fn describe(self) -> &'static str {
        match self {
            BreakKind::Edited => "the entry was edited after it was written",
            BreakKind::Missing => "the entry is missing (deleted)",
            BreakKind::Reordered => "the entry is out of order",
            BreakKind::Inserted => "an entry repeats this sequence number (inserted)",
            BreakKind::BrokenLink => "the entry does not link to the previous entry (forged or inserted)",
            BreakKind::Truncated => {
                "entries from here on are missing, though a signed checkpoint covers them (tail cut off)"
            }
            BreakKind::Rewritten => {
                "the entry's hash differs from the signed checkpoint (the chain was rewritten)"
            }
            BreakKind::ForgedCheckpoint => {
                "the checkpoint's signature does not verify under the trusted key (forged)"
            }
            BreakKind::Unsigned => "the entry lies past the signed head (appended without the signing key)",
        }
    }
}

/// The first place where a log fails verification.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {}", kind.describe())]
pub struct ChainBreak {
    pub seq: u64,
    pub kind: BreakKind,
}

/// Checks that `entries` form one unbroken chain starting at the genesis entry.
///
/// # Errors
/// The first [`ChainBreak`], in log order.
pub fn verify(entries: &[AuditEntry]) -> Result<VerifiedChain, ChainBreak> {
    let mut expected_prev = GENESIS_HASH;
    for (expected_seq, (idx, entry)) in (FIRST_SEQ..).zip(entries.iter().enumerate()) {
        if entry.seq != expected_seq {
            if entry.seq < expected_seq {
                return Err(ChainBreak { seq: entry.seq, kind: BreakKind::Inserted });
            }
            // The expected entry was skipped: later in the log means moved, nowhere means deleted.
            let appears_later = entries[idx + 1..].iter().any(|later| later.seq == expected_seq);
            let kind = if appears_later { BreakKind::Reordered } else { BreakKind::Missing };
            return Err(ChainBreak { seq: expected_seq, kind });
        }
        if entry_hash(entry.seq, &entry.prev_hash, &entry.event) != entry.hash {
            return Err(ChainBreak { seq: entry.seq, kind: BreakKind::Edited });
        }
        if entry.prev_hash != expected_prev {
            return Err(ChainBreak { seq: entry.seq, kind: BreakKind::BrokenLink });
        }
        expected_prev = entry.hash;
    }
    Ok(VerifiedChain { n_entries: entries.len() as u64, head_hash: expected_prev })
}

#[cfg(test)]
mod tests;
