//! Signed checkpoints of the chain head: what detects entries deleted from the *end* of the log, and a
//! chain recomputed wholesale by someone who can write the database but does not hold the signing key.
//!
//! A [`Checkpoint`] says "the entry at `seq` had hash `head_hash`", signed with Ed25519 by the key derived
//! from the operator's master key (`kiban_crypto::CheckpointSigner`). [`verify_log`] checks the chain, then
//! every checkpoint against it:
//! - a checkpoint whose signature does not verify under the trusted public key was forged;
//! - a checkpoint past the last entry means entries were cut from the tail;
//! - a checkpoint whose hash differs from the entry's means the chain was rewritten from that point.
//!
//! # Signed message (version 1)
//! The domain tag `kiban-audit-checkpoint-v1` as a field (8-byte big-endian length, then the bytes), `seq`
//! (8 bytes BE), `head_hash` (32 bytes), and `at` as seconds (8 bytes BE) and nanoseconds (4 bytes BE).

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

use crate::{AuditEntry, BreakKind, ChainBreak, VerifiedChain, verify};

const DOMAIN_TAG: &str = "kiban-audit-checkpoint-v1";

/// A signed statement of the chain head at one point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    pub seq: u64,
    pub head_hash: [u8; 32],
    pub at: DateTime<Utc>,
    /// The Ed25519 public key the signer claims; verification uses the *trusted* key, not this one.
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(seq: u64, head_hash: &[u8; 32], at: DateTime<Utc>) -> Vec<u8> {
    let mut message = Vec::with_capacity(8 + DOMAIN_TAG.len() + 8 + 32 + 12);
    message.extend_from_slice(&(DOMAIN_TAG.len() as u64).to_be_bytes());
    message.extend_from_slice(DOMAIN_TAG.as_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(head_hash);
    message.extend_from_slice(&at.timestamp().to_be_bytes());
    message.extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    message
}

impl Checkpoint {
    /// Builds a checkpoint of `entry`, signed by `sign` (which returns the Ed25519 signature of its
    /// argument, made with the key whose public half is `public_key`).
    pub fn of(
        entry: &AuditEntry,
        at: DateTime<Utc>,
        public_key: [u8; 32],
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Checkpoint {
        let signature = sign(&checkpoint_message(entry.seq, &entry.hash, at));
        Checkpoint { seq: entry.seq, head_hash: entry.hash, at, public_key, signature }
    }

    /// Whether the signature verifies under `trusted`.
    pub fn signed_by(&self, trusted: &[u8; 32]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(trusted) else { return false };
        key.verify(
            &checkpoint_message(self.seq, &self.head_hash, self.at),
            &Signature::from_bytes(&self.signature),
        )
        .is_ok()
    }
}

/// The signed head of the log, kept outside the database and rewritten with every write: the last
/// committed head, and while a write is in flight the head it is about to commit. A crash between the two
/// leaves both, and the log ends at one of them; a log that ends anywhere else was cut or extended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HeadAnchor {
    /// `None` only before the first entry was committed.
    pub committed: Option<Checkpoint>,
    pub pending: Option<Checkpoint>,
}

/// A log whose chain and checkpoints all verified.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedLog {
    pub chain: VerifiedChain,
    /// Checkpoints checked (the history and the head anchor's).
    pub n_checkpoints: usize,
    /// The highest `seq` covered by a signature: with a head anchor, the last entry.
    pub signed_through: Option<u64>,
}

/// Verifies the chain of `entries`, then every checkpoint of `history` and of the head `anchor` against
/// it and against the `trusted` public key.
///
/// # Errors
/// The first [`ChainBreak`] of the chain (see [`verify`]); otherwise the first bad checkpoint, in `seq`
/// order: [`BreakKind::ForgedCheckpoint`], [`BreakKind::Truncated`] (its `seq` is the first missing entry)
/// or [`BreakKind::Rewritten`]; finally [`BreakKind::Unsigned`] when, with an anchor, the log runs past
/// the signed head (an entry appended by someone without the signing key).
pub fn verify_log(
    entries: &[AuditEntry],
    history: &[Checkpoint],
    anchor: Option<&HeadAnchor>,
    trusted: &[u8; 32],
) -> Result<VerifiedLog, ChainBreak> {
    let chain = verify(entries)?;
    let n = chain.n_entries;
    let mut covered: Vec<&Checkpoint> = history.iter().collect();
    if let Some(anchor) = anchor {
        covered.extend(&anchor.committed);
        if let Some(pending) = &anchor.pending {
            if !pending.signed_by(trusted) {
                return Err(ChainBreak { seq: pending.seq, kind: BreakKind::ForgedCheckpoint });
            }
            // A pending head the log has not reached was never committed; one it has reached must match.
            if pending.seq <= n {
                covered.push(pending);
            }
        }
    }
    covered.sort_by_key(|checkpoint| checkpoint.seq);
    for checkpoint in &covered {
        if !checkpoint.signed_by(trusted) {
            return Err(ChainBreak { seq: checkpoint.seq, kind: BreakKind::ForgedCheckpoint });
        }
        if checkpoint.seq > n {
            return Err(ChainBreak { seq: n + 1, kind: BreakKind::Truncated });
        }
        let index = usize::try_from(checkpoint.seq.saturating_sub(1)).unwrap_or(usize::MAX);
        if checkpoint.seq == 0 || entries.get(index).is_none_or(|entry| entry.hash != checkpoint.head_hash) {
            return Err(ChainBreak { seq: checkpoint.seq, kind: BreakKind::Rewritten });
        }
    }
    let signed_through = covered.last().map(|checkpoint| checkpoint.seq);
    if anchor.is_some() {
        let signed_end = signed_through.unwrap_or(0);
        if n > signed_end {
            return Err(ChainBreak { seq: signed_end + 1, kind: BreakKind::Unsigned });
        }
    }
    Ok(VerifiedLog { chain, n_checkpoints: covered.len(), signed_through })
}
