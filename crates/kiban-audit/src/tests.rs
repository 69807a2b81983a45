//! Tests for the hash chain: a clean log verifies, and every kind of tampering is caught at the right seq.

use chrono::{TimeZone, Utc};

use super::*;

fn event(n: u32) -> AuditEvent {
    AuditEvent {
        at: Utc.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).unwrap() + chrono::TimeDelta::seconds(i64::from(n)),
        actor: "operator-1".to_owned(),
        action: "ingest.batch".to_owned(),
        object: format!("batch:{n}"),
        outcome: Outcome::Success,
        detail: format!("{n} persons"),
    }
}

fn log(n_entries: u32) -> Vec<AuditEntry> {
    let mut entries = vec![genesis(event(0))];
    for n in 1..n_entries {
        let next = chain(entries.last().unwrap(), event(n));
        entries.push(next);
    }
    entries
}

fn check(entries: &[AuditEntry], seq: u64, kind: BreakKind) {
    assert_eq!(verify(entries), Err(ChainBreak { seq, kind }));
}

#[test]
fn clean_log_verifies() {
    let entries = log(5);
    assert_eq!(entries.iter().map(|entry| entry.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    let verified = verify(&entries).unwrap();
    assert_eq!(verified, VerifiedChain { n_entries: 5, head_hash: entries[4].hash });
    assert_eq!(verify(&[]).unwrap(), VerifiedChain { n_entries: 0, head_hash: GENESIS_HASH });
}

#[test]
fn hash_covers_every_field() {
    let base = event(1);
    let hash = entry_hash(2, &GENESIS_HASH, &base);
    let variants = [
        AuditEvent { at: base.at + chrono::TimeDelta::nanoseconds(1), ..base.clone() },
        AuditEvent { actor: "operator-2".to_owned(), ..base.clone() },
        AuditEvent { action: "release.write".to_owned(), ..base.clone() },
        AuditEvent { object: "batch:2".to_owned(), ..base.clone() },
        AuditEvent { outcome: Outcome::Denied, ..base.clone() },
        AuditEvent { detail: String::new(), ..base.clone() },
    ];
    for variant in &variants {
        assert_ne!(entry_hash(2, &GENESIS_HASH, variant), hash);
    }
    assert_ne!(entry_hash(3, &GENESIS_HASH, &base), hash);
    assert_ne!(entry_hash(2, &[1; 32], &base), hash);
}

#[test]
fn length_prefixes_keep_field_boundaries() {
    let a = AuditEvent { actor: "ab".to_owned(), action: "c".to_owned(), ..event(1) };
    let b = AuditEvent { actor: "a".to_owned(), action: "bc".to_owned(), ..event(1) };
    assert_ne!(entry_hash(1, &GENESIS_HASH, &a), entry_hash(1, &GENESIS_HASH, &b));
}

#[test]
fn detects_edited_field() {
    let mut entries = log(5);
    entries[2].event.detail = "999 persons".to_owned();
    check(&entries, 3, BreakKind::Edited);

    let mut entries = log(5);
    entries[3].event.outcome = Outcome::Failure;
    check(&entries, 4, BreakKind::Edited);
}

#[test]
fn detects_deleted_entry() {
    let mut entries = log(5);
    entries.remove(2);
    check(&entries, 3, BreakKind::Missing);

    let mut entries = log(5);
    entries.remove(0);
    check(&entries, 1, BreakKind::Missing);
}

#[test]
fn detects_reordered_pair() {
    let mut entries = log(5);
    entries.swap(1, 2);
    check(&entries, 2, BreakKind::Reordered);
}

#[test]
fn detects_inserted_duplicate_seq() {
    let mut entries = log(5);
    let forged = chain(&entries[1], event(42));
    entries.insert(3, forged);
    check(&entries, 3, BreakKind::Inserted);
}

#[test]
fn detects_forged_entry_with_recomputed_hash() {
    // The forger rewrites entry 3 and recomputes its hash, but cannot fix entry 4's link without
    // rewriting every later entry.
    let mut entries = log(5);
    entries[2] = chain(&entries[1], event(77));
    check(&entries, 4, BreakKind::BrokenLink);

    // An entry appended with a made-up predecessor.
    let mut entries = log(3);
    let mut fake_prev = entries[2].clone();
    fake_prev.hash = [7; 32];
    entries.push(chain(&fake_prev, event(3)));
    check(&entries, 4, BreakKind::BrokenLink);

    // A first entry that does not start from the genesis hash.
    let entries = vec![link(FIRST_SEQ, [9; 32], event(0))];
    check(&entries, 1, BreakKind::BrokenLink);
}

#[test]
fn break_message_names_seq_and_kind() {
    let message = ChainBreak { seq: 12, kind: BreakKind::Missing }.to_string();
    assert_eq!(message, "audit chain broken at seq 12: the entry is missing (deleted)");
}

mod checkpoints {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;

    fn signer(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
    }

    fn checkpoint_of(entries: &[AuditEntry], seq: u64, key: &SigningKey) -> Checkpoint {
        let entry = &entries[usize::try_from(seq - 1).expect("small")];
        Checkpoint::of(entry, entry.event.at, key.verifying_key().to_bytes(), |message| {
            key.sign(message).to_bytes()
        })
    }

    fn trusted() -> [u8; 32] {
        signer(1).verifying_key().to_bytes()
    }

    #[test]
    fn a_clean_log_with_checkpoints_verifies() {
        let entries = log(10);
        let checkpoints = [checkpoint_of(&entries, 4, &signer(1)), checkpoint_of(&entries, 10, &signer(1))];
        let verified = verify_log(&entries, &checkpoints, None, &trusted()).expect("clean");
        assert_eq!(verified.chain.n_entries, 10);
        assert_eq!(verified.n_checkpoints, 2);
        assert_eq!(verified.signed_through, Some(10));
    }

    #[test]
    fn a_truncated_tail_is_detected_at_the_first_missing_entry() {
        let entries = log(10);
        let head = checkpoint_of(&entries, 10, &signer(1));
        // The chain alone cannot see it...
        assert!(verify(&entries[..7]).is_ok());
        // ...the signed head can.
        assert_eq!(
            verify_log(&entries[..7], &[head], None, &trusted()),
            Err(ChainBreak { seq: 8, kind: BreakKind::Truncated })
        );
    }

    #[test]
    fn a_recomputed_chain_is_detected_where_it_departs_from_the_checkpoint() {
        let entries = log(6);
        let checkpoints = [checkpoint_of(&entries, 3, &signer(1)), checkpoint_of(&entries, 6, &signer(1))];
        // Someone with write access edits entry 2 and recomputes every hash after it: the chain verifies.
        let mut rewritten = entries[..1].to_vec();
        for entry in &entries[1..] {
            let mut event = entry.event.clone();
            if entry.seq == 2 {
                event.detail = "0 persons".to_owned();
            }
            let next = chain(rewritten.last().expect("non-empty"), event);
            rewritten.push(next);
        }
        assert!(verify(&rewritten).is_ok());
        assert_eq!(
            verify_log(&rewritten, &checkpoints, None, &trusted()),
            Err(ChainBreak { seq: 3, kind: BreakKind::Rewritten })
        );
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_or_altered_is_forged() {
        let entries = log(5);
        // Signed by a key the verifier does not trust, even though it names itself honestly.
        let foreign = checkpoint_of(&entries, 5, &signer(2));
        assert_eq!(
            verify_log(&entries, &[foreign], None, &trusted()),
            Err(ChainBreak { seq: 5, kind: BreakKind::ForgedCheckpoint })
        );
        // A genuine checkpoint moved to claim a longer log.
        let mut moved = checkpoint_of(&entries, 5, &signer(1));
        moved.seq = 9;
        assert_eq!(
            verify_log(&entries, &[moved], None, &trusted()),
            Err(ChainBreak { seq: 9, kind: BreakKind::ForgedCheckpoint })
        );
    }

    #[test]
    fn chain_breaks_are_reported_before_checkpoints() {
        let mut entries = log(5);
        let head = checkpoint_of(&entries, 5, &signer(1));
        entries[1].event.actor = "someone-else".to_owned();
        assert_eq!(
            verify_log(&entries, &[head], None, &trusted()),
            Err(ChainBreak { seq: 2, kind: BreakKind::Edited })
        );
    }

    fn anchor(entries: &[AuditEntry], committed: u64, pending: Option<u64>) -> HeadAnchor {
        HeadAnchor {
            committed: Some(checkpoint_of(entries, committed, &signer(1))),
            pending: pending.map(|seq| checkpoint_of(entries, seq, &signer(1))),
        }
    }

    #[test]
    fn the_log_must_end_at_a_signed_head() {
        let entries = log(8);
        // Ends at the committed head, or at the pending one (crash after commit, before the anchor).
        assert!(verify_log(&entries[..5], &[], Some(&anchor(&entries, 5, None)), &trusted()).is_ok());
        assert!(verify_log(&entries[..5], &[], Some(&anchor(&entries, 5, Some(7))), &trusted()).is_ok());
        let at_pending = verify_log(&entries[..7], &[], Some(&anchor(&entries, 5, Some(7))), &trusted());
        assert_eq!(at_pending.expect("pending head reached").signed_through, Some(7));
        // A valid-looking entry appended by someone without the key.
        assert_eq!(
            verify_log(&entries[..6], &[], Some(&anchor(&entries, 5, None)), &trusted()),
            Err(ChainBreak { seq: 6, kind: BreakKind::Unsigned })
        );
        // Cut below the committed head.
        assert_eq!(
            verify_log(&entries[..4], &[], Some(&anchor(&entries, 5, Some(7))), &trusted()),
            Err(ChainBreak { seq: 5, kind: BreakKind::Truncated })
        );
        // The very first write crashed after its commit: no committed head yet, the pending one reached.
        let first = HeadAnchor { committed: None, pending: Some(checkpoint_of(&entries, 1, &signer(1))) };
        assert!(verify_log(&entries[..1], &[], Some(&first), &trusted()).is_ok());
        assert!(verify_log(&[], &[], Some(&first), &trusted()).is_ok());
        // A pending head that does not match what the log holds at that seq.
        let mut other = anchor(&entries, 5, Some(7));
        let pending = other.pending.as_mut().expect("set");
        pending.head_hash = entries[0].hash;
        pending.signature = signer(1).sign(&checkpoint_message(7, &pending.head_hash, pending.at)).to_bytes();
        assert_eq!(
            verify_log(&entries[..7], &[], Some(&other), &trusted()),
            Err(ChainBreak { seq: 7, kind: BreakKind::Rewritten })
        );
    }
}
