//! Store tests on fresh SQLite databases in temporary directories.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use kiban_audit::{AuditEvent, BreakKind, ChainBreak, Outcome};
use kiban_model::{
    Encounter, EncounterClass, IdentifiedPerson, LabResult, LabValue, LocalPatientId, NaiveDate,
    PatientRecord, PersonName, ProviderCode, Sex,
};
use tempfile::TempDir;

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A fixed instant on 2024-04-01 plus `secs`, with a sub-second part to check nanosecond round trips.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 4, 1, 9, 0, 0).unwrap()
        + TimeDelta::seconds(secs)
        + TimeDelta::nanoseconds(123_456_789)
}

fn code(value: &str) -> ProviderCode {
    ProviderCode::new(value).unwrap()
}

fn registration(code_text: &str, published_on: Option<NaiveDate>) -> ProviderRegistration {
    ProviderRegistration {
        code: code(code_text),
        name: "テスト病院".to_owned(),
        address: "東京都千代田区1-1".to_owned(),
        notified_on: date(2024, 1, 5),
        published_on,
    }
}

fn event(action: &str, object: &str) -> AuditEvent {
    AuditEvent {
        at: at(0),
        actor: "operator-1".to_owned(),
        action: action.to_owned(),
        object: object.to_owned(),
        outcome: Outcome::Success,
        detail: "2 persons".to_owned(),
    }
}

fn new_batch(fingerprint: &str) -> NewBatch {
    NewBatch {
        provider: code("1310000001"),
        fingerprint: fingerprint.to_owned(),
        format: "ss-mix2".to_owned(),
        source: "/import/hospital-a".to_owned(),
        started_at: at(0),
    }
}

fn completion() -> BatchCompletion {
    BatchCompletion {
        n_persons: 2,
        n_persons_excluded: 1,
        n_records_by_kind: BTreeMap::from([("encounters".to_owned(), 3), ("labs".to_owned(), 5)]),
        items: vec!["氏名".to_owned(), "生年月日".to_owned(), "検査結果".to_owned()],
        quarantined: vec![
            ("000/000/0000001/-/OML-11/a.hl7".to_owned(), "line 3: MSH-9 missing".to_owned()),
            ("000/000/0000002/-/ADT-00/b.hl7".to_owned(), "not ISO-2022-JP".to_owned()),
        ],
        completed_at: at(60),
    }
}

/// The store keys of master key `[byte; 32]`, with the key store in `{dir}/keystore`.
fn keys(dir: &Path, byte: u8) -> StoreKeys {
    StoreKeys::from_master(&kiban_crypto::SecretKey::from_bytes([byte; 32]), &dir.join("keystore")).unwrap()
}

/// A fresh store with one published provider.
fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.set_keys(keys(dir.path(), 7));
    store.register_provider(&registration("1310000001", Some(date(2024, 2, 1)))).unwrap();
    (dir, store)
}

/// A second, independent connection to the store's database, as another process (or an attacker with
/// file access) would have.
fn raw_connection(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("kiban.db")).unwrap()
}

fn records() -> Vec<PatientRecord> {
    let mut person = IdentifiedPerson::new(code("1310000001"), LocalPatientId::new("0000123").unwrap());
    person.name_kana = Some(PersonName::new("ヤマダ", "ハナコ"));
    person.birth_date = Some(date(1950, 5, 6));
    person.sex = Sex::Female;
    let mut first = PatientRecord::new(person);
    first.encounters.push(Encounter {
        class: EncounterClass::Outpatient,
        start: date(2024, 3, 1),
        end: None,
        department: Some("内科".to_owned()),
    });
    first.labs.push(LabResult {
        code: "3D010000001926101".to_owned(),
        name: None,
        value: LabValue::Numeric(7.1),
        unit: Some("%".to_owned()),
        reference_range: None,
        date: date(2024, 3, 1),
    });
    first.labs.push(LabResult {
        code: "LOCAL-UA".to_owned(),
        name: None,
        value: LabValue::Text("(+)".to_owned()),
        unit: None,
        reference_range: None,
        date: date(2024, 3, 1),
    });
    let second = PatientRecord::new(IdentifiedPerson::new(
        code("1310000001"),
        LocalPatientId::new("0000124").unwrap(),
    ));
    vec![first, second]
}

fn release(release_id: &str) -> ReleaseRecord {
    ReleaseRecord {
        release_id: release_id.to_owned(),
        recipient_name: "国立研究所".to_owned(),
        recipient_address: "大阪府大阪市1-2".to_owned(),
        provided_on: date(2024, 4, 2),
        mode: "anonymized".to_owned(),
        items: vec!["年齢階級".to_owned(), "病名".to_owned()],
        n_persons: 120,
        manifest_sha256: "ab".repeat(32),
        created_at: at(3600),
    }
}

#[test]
fn migrations_apply_from_empty_and_reopen_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_versions().unwrap(), [1, 2]);
    assert!(dir.path().join("kiban.db").is_file());
    assert!(dir.path().join("vault").is_dir());
    store.register_provider(&registration("1310000001", None)).unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_versions().unwrap(), [1, 2]);
    assert_eq!(store.providers().unwrap(), [registration("1310000001", None)], "data survives re-open");
    let raw = raw_connection(dir.path());
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let n_migrations: i64 =
        raw.query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| row.get(0)).unwrap();
    assert_eq!(n_migrations, 2);
    let foreign_keys: i64 = store.lock().query_row("PRAGMA foreign_keys", [], |row| row.get(0)).unwrap();
    assert_eq!(foreign_keys, 1);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    raw_connection(dir.path())
        .execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')", [])
        .unwrap();
    assert!(matches!(Store::open(dir.path()), Err(StoreError::SchemaTooNew { found: 99, known: 2 })));
}

#[test]
fn providers_upsert_and_list() {
    let (_dir, store) = store();
    store.register_provider(&registration("2710000002", None)).unwrap();
    let mut updated = registration("2710000002", Some(date(2024, 3, 1)));
    updated.name = "改称病院".to_owned();
    store.register_provider(&updated).unwrap();
    assert_eq!(store.provider(&code("2710000002")).unwrap(), Some(updated.clone()));
    assert_eq!(store.provider(&code("9999999999")).unwrap(), None);
    let codes: Vec<String> = store.providers().unwrap().into_iter().map(|p| p.code.to_string()).collect();
    assert_eq!(codes, ["1310000001", "2710000002"]);
}

#[test]
fn begin_batch_refuses_providers_not_registered_or_not_published() {
    let (_dir, store) = store();
    let mut batch = new_batch("f1");
    batch.provider = code("2710000002");
    assert!(matches!(store.begin_batch(&batch), Err(StoreError::ProviderNotRegistered { .. })));

    store.register_provider(&registration("2710000002", None)).unwrap();
    let refused = store.begin_batch(&batch).unwrap_err();
    assert!(matches!(refused, StoreError::ProviderNotPublished { .. }));
    assert!(refused.to_string().contains("Rule 36"), "{refused}");

    // Published only after the batch started: still refused.
    store.register_provider(&registration("2710000002", Some(date(2024, 4, 2)))).unwrap();
    assert!(matches!(store.begin_batch(&batch), Err(StoreError::ProviderNotPublished { .. })));
    assert!(store.batches().unwrap().is_empty(), "a refused batch leaves no row");

    store.register_provider(&registration("2710000002", Some(date(2024, 4, 1)))).unwrap();
    assert_eq!(store.begin_batch(&batch).unwrap(), BatchId(1));
}

#[test]
fn begin_batch_again_resumes_the_same_batch() {
    let (_dir, store) = store();
    let first = store.begin_batch(&new_batch("f1")).unwrap();
    let mut again = new_batch("f1");
    again.started_at = at(500);
    assert_eq!(store.begin_batch(&again).unwrap(), first);
    assert_eq!(store.batches().unwrap().len(), 1, "no duplicate batch");
    let other = store.begin_batch(&new_batch("f2")).unwrap();
    assert_eq!((first, other), (BatchId(1), BatchId(2)));

    let info = store.find_batch(&code("1310000001"), "f1").unwrap().unwrap();
    assert_eq!(info.status, BatchStatus::Receiving);
    assert_eq!(info.started_at, at(0), "resuming keeps the original start");
    assert_eq!(store.find_batch(&code("1310000001"), "nope").unwrap(), None);

    store.complete_batch(first, &completion(), event("ingest.batch", "batch:1")).unwrap();
    assert!(
        matches!(store.begin_batch(&new_batch("f1")), Err(StoreError::BatchComplete { batch }) if batch == first)
    );
}

#[test]
fn complete_batch_writes_receipt_quarantine_and_audit_together() {
    let (_dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    let receipt = store.complete_batch(batch, &completion(), event("ingest.batch", "batch:1")).unwrap();

    assert_eq!(store.receipts().unwrap(), std::slice::from_ref(&receipt));
    assert_eq!(receipt.batch, batch);
    assert_eq!(receipt.received_on, date(2024, 4, 1));
    assert_eq!(receipt.provider, code("1310000001"));
    assert_eq!(receipt.provider_name, "テスト病院");
    assert_eq!(receipt.published_on, date(2024, 2, 1), "publication confirmed on the receipt");
    assert_eq!(receipt.n_persons, 2);
    assert_eq!(receipt.n_persons_excluded, 1, "the opt-out count is on the receipt");
    assert_eq!(receipt.n_records_by_kind.get("labs"), Some(&5));
    assert_eq!(receipt.items, ["氏名", "生年月日", "検査結果"]);
    assert_eq!(receipt.retain_until, date(2027, 4, 1), "kept 3 years");
    assert_eq!(receipt.recorded_at, at(60));

    let quarantine = store.quarantine(batch).unwrap();
    assert_eq!(quarantine.len(), 2);
    assert_eq!(quarantine[1].reason, "not ISO-2022-JP");
    assert!(!format!("{quarantine:?}").contains("0000002"), "paths can hold patient IDs: not in Debug");

    let info = store.batch(batch).unwrap();
    assert_eq!((info.status, info.completed_at), (BatchStatus::Complete, Some(at(60))));
    let audit = store.audit_entries().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event, event("ingest.batch", "batch:1"));

    let again = store.complete_batch(batch, &completion(), event("ingest.batch", "batch:1"));
    assert!(matches!(again, Err(StoreError::BatchComplete { .. })));
    assert_eq!(store.audit_entries().unwrap().len(), 1);
}

#[test]
fn failed_completion_leaves_nothing_behind() {
    let (_dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    // The receipt row is inserted before the counts; an unstorable count fails the transaction after it.
    let mut bad = completion();
    bad.n_records_by_kind.insert("procedures".to_owned(), u64::MAX);
    let failed = store.complete_batch(batch, &bad, event("ingest.batch", "batch:1"));
    assert!(matches!(failed, Err(StoreError::OutOfRange { .. })));
    assert!(store.receipts().unwrap().is_empty());
    assert!(store.quarantine(batch).unwrap().is_empty());
    assert!(store.audit_entries().unwrap().is_empty());
    assert_eq!(store.batch(batch).unwrap().status, BatchStatus::Receiving);
}

#[test]
fn vault_round_trip_and_resume_overwrites() {
    let (dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    assert!(store.read_batch_records(batch).unwrap() == records());

    let batch_dir = dir.path().join("vault/batches/1");
    assert_eq!(store.batch_vault_dir(batch), batch_dir);
    let mut files: Vec<String> = std::fs::read_dir(&batch_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut expected: Vec<String> =
        kiban_columnar::RECORD_TABLES.iter().map(|name| format!("{name}.parquet")).collect();
    expected.sort();
    assert_eq!(files, expected, "one file per table and no temporary files left");

    // A resumed run writes the batch again; the new files replace the old ones.
    let fewer = records()[..1].to_vec();
    store.write_batch_records(batch, &fewer).unwrap();
    assert!(store.read_batch_records(batch).unwrap() == fewer);

    store.complete_batch(batch, &completion(), event("ingest.batch", "batch:1")).unwrap();
    assert!(matches!(store.write_batch_records(batch, &records()), Err(StoreError::BatchComplete { .. })));
    assert!(matches!(store.read_batch_records(BatchId(9)), Err(StoreError::BatchNotFound { .. })));

    std::fs::remove_file(batch_dir.join("labs.parquet")).unwrap();
    let missing = store.read_batch_records(batch).unwrap_err().to_string();
    assert!(missing.contains("labs.parquet"), "{missing}");
}

#[test]
fn vault_files_are_sealed_and_need_the_right_keys() {
    let (dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    let batch_dir = dir.path().join("vault/batches/1");
    for name in kiban_columnar::RECORD_TABLES {
        let bytes = std::fs::read(batch_dir.join(format!("{name}.parquet"))).unwrap();
        assert!(kiban_crypto::is_sealed(&bytes), "{name} is sealed");
        assert!(!bytes.windows(4).any(|w| w == b"PAR1"), "{name}: no plaintext Parquet");
        let kana = "ヤマダ".as_bytes();
        assert!(!bytes.windows(kana.len()).any(|w| w == kana), "{name}: no name in the clear");
    }
    // The key store holds the wrapped key; the database never does.
    let entries = store.keys().unwrap().keystore.list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].object, "batch:1");
    let db_bytes = std::fs::read(dir.path().join("kiban.db")).unwrap();
    let key_text = std::fs::read_to_string(dir.path().join("keystore/batch_1.key")).unwrap();
    let wrapped_hex = key_text.lines().last().unwrap().trim_start_matches("wrapped ");
    assert!(!db_bytes.windows(16).any(|w| w == &wrapped_hex.as_bytes()[..16]));

    // Files swapped between tables fail authentication.
    let patients = batch_dir.join("persons.parquet");
    let labs = batch_dir.join("labs.parquet");
    let (patients_bytes, labs_bytes) = (std::fs::read(&patients).unwrap(), std::fs::read(&labs).unwrap());
    std::fs::write(&patients, &labs_bytes).unwrap();
    std::fs::write(&labs, &patients_bytes).unwrap();
    assert!(matches!(store.read_batch_records(batch), Err(StoreError::VaultSeal { .. })));
    std::fs::write(&patients, &patients_bytes).unwrap();
    std::fs::write(&labs, &labs_bytes).unwrap();
    assert!(store.read_batch_records(batch).unwrap() == records());

    // Another master key (another KEK) cannot unwrap the batch key; no keys at all is a locked vault.
    let mut other = Store::open(dir.path()).unwrap();
    assert!(matches!(other.read_batch_records(batch), Err(StoreError::VaultLocked)));
    other.set_keys(keys(dir.path(), 8));
    assert!(matches!(
        other.read_batch_records(batch),
        Err(StoreError::Crypto(kiban_crypto::CryptoError::WrongKek { .. }))
    ));
}

#[test]
fn key_rotation_rewraps_without_touching_the_vault() {
    let (dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    let sealed_before = std::fs::read(dir.path().join("vault/batches/1/persons.parquet")).unwrap();
    let old = keys(dir.path(), 7);
    let new = keys(dir.path(), 8);
    let rotation = old.keystore.rotate(&old.kek, &new.kek).unwrap();
    assert_eq!(rotation, Rotation { rewrapped: 1, already_current: 0 });
    // Run again (as after an interruption): nothing left to do.
    assert_eq!(
        old.keystore.rotate(&old.kek, &new.kek).unwrap(),
        Rotation { rewrapped: 0, already_current: 1 }
    );
    assert_eq!(std::fs::read(dir.path().join("vault/batches/1/persons.parquet")).unwrap(), sealed_before);
    assert!(
        matches!(store.read_batch_records(batch), Err(StoreError::Crypto(_))),
        "the old KEK no longer unwraps"
    );
    let mut rotated = Store::open(dir.path()).unwrap();
    rotated.set_keys(new);
    assert!(rotated.read_batch_records(batch).unwrap() == records());
}

#[test]
fn release_ledger_and_audit_are_written_together() {
    let (_dir, store) = store();
    assert_eq!(store.next_release_number().unwrap(), 1);
    let entry = store.record_release(&release("R-0001"), event("release.write", "release:R-0001")).unwrap();
    assert_eq!(entry.id, 1);
    assert_eq!(entry.kind, "provision");
    assert_eq!(entry.release_id.as_deref(), Some("R-0001"));
    assert_eq!(entry.recipient_name, "国立研究所");
    assert_eq!(entry.items, ["年齢階級", "病名"]);
    assert_eq!(entry.retain_until, date(2027, 4, 2));
    assert_eq!(store.ledger().unwrap(), [entry]);

    let releases = store.releases().unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].release_number, 1);
    assert_eq!(releases[0].record, release("R-0001"));
    assert_eq!(store.audit_entries().unwrap()[0].event.action, "release.write");
    assert_eq!(store.next_release_number().unwrap(), 2);

    let duplicate = store.record_release(&release("R-0001"), event("release.write", "release:R-0001"));
    assert!(matches!(duplicate, Err(StoreError::DuplicateRelease { .. })));
    assert_eq!(store.ledger().unwrap().len(), 1);
    assert_eq!(store.audit_entries().unwrap().len(), 1, "no audit entry for a release that was not recorded");
}

#[test]
fn person_links_are_replaced_with_an_audit_entry() {
    let (_dir, store) = store();
    let link = |local_id: &str, person_id: &str| PersonLink {
        provider: code("1310000001"),
        local_id: LocalPatientId::new(local_id).unwrap(),
        person_id: person_id.to_owned(),
    };
    store
        .replace_person_links(
            &[link("0000124", "P2"), link("0000123", "P1")],
            event("linkage.replace", "links"),
        )
        .unwrap();
    assert_eq!(store.person_links().unwrap(), [link("0000123", "P1"), link("0000124", "P2")]);
    store.replace_person_links(&[link("0000123", "P9")], event("linkage.replace", "links")).unwrap();
    assert_eq!(store.person_links().unwrap(), [link("0000123", "P9")]);
    assert_eq!(store.audit_entries().unwrap().len(), 2);

    let duplicate =
        store.replace_person_links(&[link("A", "P1"), link("A", "P2")], event("linkage.replace", "links"));
    assert!(matches!(duplicate, Err(StoreError::Db { .. })));
    assert_eq!(
        store.person_links().unwrap(),
        [link("0000123", "P9")],
        "a failed replace keeps the old links"
    );
}

#[test]
fn audit_entries_round_trip_and_verify() {
    let (_dir, store) = store();
    let first = store.append_audit(event("login", "user:operator-1")).unwrap();
    let mut denied = event("release.write", "release:R-0009");
    denied.outcome = Outcome::Denied;
    denied.at = at(5);
    let second = store.append_audit(denied).unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(store.audit_entries().unwrap(), [first, second.clone()]);
    let verified = store.verify_audit().unwrap();
    assert_eq!((verified.chain.n_entries, verified.chain.head_hash), (2, second.hash));
    assert_eq!(verified.signed_through, Some(2), "the head anchor covers every committed entry");
}

#[test]
fn append_only_tables_refuse_update_and_delete() {
    let (dir, store) = store();
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.complete_batch(batch, &completion(), event("ingest.batch", "batch:1")).unwrap();
    store.record_release(&release("R-0001"), event("release.write", "release:R-0001")).unwrap();

    let raw = raw_connection(dir.path());
    for sql in [
        "UPDATE audit_log SET detail = 'x'",
        "DELETE FROM audit_log",
        "UPDATE receipts SET n_persons = 0",
        "DELETE FROM receipts",
        "DELETE FROM receipt_items",
        "UPDATE ledger SET recipient_name = 'x'",
        "DELETE FROM ledger",
        "DELETE FROM ledger_items",
        "UPDATE releases SET n_persons = 0",
        "DELETE FROM quarantine",
    ] {
        let error = raw.execute(sql, []).unwrap_err().to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(store.audit_entries().unwrap().len(), 2);
    assert_eq!(store.ledger().unwrap().len(), 1);
    assert!(store.verify_audit().is_ok());
}

#[test]
fn tampering_with_the_audit_table_is_detected() {
    let (dir, store) = store();
    for n in 0..4 {
        store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
    }
    let raw = raw_connection(dir.path());
    // Someone with file access drops the triggers and edits a row.
    raw.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
    raw.execute("UPDATE audit_log SET detail = '0 persons' WHERE seq = 2", []).unwrap();
    let broken = store.verify_audit().unwrap_err();
    assert!(matches!(broken, StoreError::AuditChain(ChainBreak { seq: 2, kind: BreakKind::Edited })));
    assert_eq!(broken.to_string(), "audit chain broken at seq 2: the entry was edited after it was written");

    // Deleting an entry (and putting the edited one back does not help).
    raw.execute("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 2, kind: BreakKind::Missing }))
    ));
}

/// Every kind of tampering a database writer can do, each on a fresh log of 6 entries, is detected and
/// located: edit, delete, reorder, insert (a forged entry with a recomputed chain), truncated tail, and a
/// whole chain recomputed after an edit; so is deleting or forging the anchor.
#[test]
fn every_kind_of_audit_tampering_is_detected_where_it_happened() {
    fn tampered(sql: &str) -> StoreError {
        let (dir, store) = store();
        for n in 0..6 {
            store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
        }
        assert!(store.verify_audit().is_ok());
        let raw = raw_connection(dir.path());
        raw.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
        raw.execute_batch(sql).unwrap();
        store.verify_audit().unwrap_err()
    }
    let broken = |error: StoreError| match error {
        StoreError::AuditChain(ChainBreak { seq, kind }) => (seq, kind),
        other => panic!("expected a chain break, got {other}"),
    };
    assert_eq!(
        broken(tampered("UPDATE audit_log SET actor = 'someone' WHERE seq = 3")),
        (3, BreakKind::Edited)
    );
    assert_eq!(broken(tampered("DELETE FROM audit_log WHERE seq = 4")), (4, BreakKind::Missing));
    // Reordered: entries 2 and 3 swap places (their seq numbers are swapped, contents kept).
    assert_eq!(
        broken(tampered(
            "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3;
             UPDATE audit_log SET seq = 3 WHERE seq = -2;"
        )),
        (2, BreakKind::Edited)
    );
    // Inserted: a copy of entry 5 claims seq 7 after the head; its hash does not cover seq 7.
    assert_eq!(
        broken(tampered(
            "INSERT INTO audit_log (seq, at, actor, action, object, outcome, detail, prev_hash, hash)
             SELECT 7, at, actor, action, object, outcome, detail, prev_hash, hash FROM audit_log WHERE seq = 5"
        )),
        (7, BreakKind::Edited)
    );
    // Inserted with a correctly computed hash, linked to the head: the chain verifies, the signed head
    // does not cover it.
    let forged = {
        let (_dir, scratch) = store_with_entries(6);
        let entries = scratch.audit_entries().unwrap();
        kiban_audit::chain(entries.last().unwrap(), event("release.write", "release:R-9"))
    };
    assert_eq!(
        broken(tampered(&format!(
            "INSERT INTO audit_log (seq, at, actor, action, object, outcome, detail, prev_hash, hash)
             VALUES (7, '{}', 'operator-1', 'release.write', 'release:R-9', 'success', '2 persons', '{}', '{}')",
            convert::time_text(forged.event.at),
            hex::encode(forged.prev_hash),
            hex::encode(forged.hash)
        ))),
        (7, BreakKind::Unsigned)
    );
    // Truncated tail: the chain that is left is perfect, but the signed anchor names seq 6.
    assert_eq!(broken(tampered("DELETE FROM audit_log WHERE seq >= 5")), (5, BreakKind::Truncated));
}

#[test]
fn a_recomputed_chain_or_a_lost_anchor_is_detected() {
    let (dir, store) = store();
    for n in 0..4 {
        store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
    }
    // Someone with the database (but not the master key) edits entry 2 and recomputes every hash after it.
    let mut entries = store.audit_entries().unwrap();
    entries[1].event.detail = "0 persons".to_owned();
    let mut rewritten = vec![entries[0].clone()];
    for entry in &entries[1..] {
        let next = kiban_audit::chain(rewritten.last().unwrap(), entry.event.clone());
        rewritten.push(next);
    }
    let raw = raw_connection(dir.path());
    raw.execute_batch("DROP TRIGGER audit_log_no_update;").unwrap();
    for entry in &rewritten[1..] {
        raw.execute(
            "UPDATE audit_log SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                entry.event.detail,
                hex::encode(entry.prev_hash),
                hex::encode(entry.hash),
                entry.seq as i64
            ],
        )
        .unwrap();
    }
    assert!(kiban_audit::verify(&store.audit_entries().unwrap()).is_ok(), "the chain alone looks fine");
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 4, kind: BreakKind::Rewritten }))
    ));
    // Forging the anchor needs the signing key: one signed by another master key is refused.
    let forger = keys(dir.path(), 9);
    let head = rewritten.last().unwrap();
    let forged = kiban_audit::Checkpoint::of(head, head.event.at, forger.signer.public_key(), |m| {
        forger.signer.sign(m)
    });
    std::fs::write(
        dir.path().join("audit-head"),
        format!("kiban-audit-head v1\ncommitted {}\npending none\n", audit::checkpoint_line(&forged)),
    )
    .unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 4, kind: BreakKind::ForgedCheckpoint }))
    ));
    // Deleting the anchor altogether is seen too.
    std::fs::remove_file(dir.path().join("audit-head")).unwrap();
    assert!(matches!(store.verify_audit(), Err(StoreError::AuditAnchorMissing)));
    // An auditor without the master key verifies with the public key alone.
    let (_dir2, clean) = store_with_entries(3);
    let public = clean.audit_public_key().unwrap();
    let mut auditor = Store::open(clean.data_dir()).unwrap();
    assert_eq!(auditor.verify_audit_with(&public).unwrap().chain.n_entries, 3);
    auditor.set_keys(keys(clean.data_dir(), 9));
    assert!(auditor.verify_audit().is_err(), "another deployment's key does not verify these checkpoints");
}

fn store_with_entries(n: u32) -> (TempDir, Store) {
    let (dir, store) = store();
    for n in 0..n {
        store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
    }
    (dir, store)
}

#[test]
fn checkpoint_history_is_kept_every_hundred_entries() {
    let (dir, store) = store_with_entries(250);
    let history = std::fs::read_to_string(dir.path().join("audit-checkpoints")).unwrap();
    let seqs: Vec<&str> = history.lines().map(|line| line.split(' ').next().unwrap()).collect();
    assert_eq!(seqs, ["100", "200"]);
    let verified = store.verify_audit().unwrap();
    assert_eq!((verified.n_checkpoints, verified.signed_through), (3, Some(250)));
}

/// The child half of `a_killed_appender_leaves_a_log_that_verifies`: appends until killed, printing each
/// committed seq. Runs only when the parent test starts it.
#[test]
#[ignore = "started by a_killed_appender_leaves_a_log_that_verifies"]
fn audit_appender_child() {
    let Some(path) = std::env::var_os("KIBAN_TEST_APPENDER_DIR") else { return };
    let path = std::path::PathBuf::from(path);
    let mut store = Store::open(&path).unwrap();
    store.set_keys(keys(&path, 7));
    let mut out = std::io::stdout();
    for n in 0.. {
        let entry = store.append_audit(event("test.append", &format!("n:{n}"))).unwrap();
        writeln!(out, "committed {}", entry.seq).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_killed_appender_leaves_a_log_that_verifies_and_loses_no_committed_entry() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let mut last_committed = 0u64;
    for round in 0..4u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::audit_appender_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env("KIBAN_TEST_APPENDER_DIR", dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it run a varying while, then SIGKILL it in the middle of whatever it is doing.
        let wanted = 20 + round * 17;
        let mut seen = 0;
        while let Some(Ok(line)) = lines.next() {
            if let Some(seq) = line.strip_prefix("committed ") {
                last_committed = seq.parse().unwrap();
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.set_keys(keys(dir.path(), 7));
        let verified = store.verify_audit().unwrap();
        assert!(
            verified.chain.n_entries >= last_committed,
            "round {round}: {} entries, but seq {last_committed} was reported committed",
            verified.chain.n_entries
        );
    }
}

#[test]
fn concurrent_appenders_do_not_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let appenders: Vec<_> = (0..2)
        .map(|worker| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                store.set_keys(keys(&path, 7));
                for n in 0..25 {
                    store.append_audit(event("test.append", &format!("worker:{worker}:{n}"))).unwrap();
                }
            })
        })
        .collect();
    for appender in appenders {
        appender.join().unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    store.set_keys(keys(dir.path(), 7));
    assert_eq!(store.verify_audit().unwrap().chain.n_entries, 50);
}

#[test]
fn migration_2_upgrades_a_version_1_store_and_keeps_its_receipts() {
    let dir = tempfile::tempdir().unwrap();
    // A store as the previous release left it: schema version 1 with one receipt.
    let raw = raw_connection(dir.path());
    raw.execute_batch(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL); \
         INSERT INTO schema_migrations VALUES (1, 'earlier');",
    )
    .unwrap();
    raw.execute_batch(include_str!("../migrations/0001_init.sql")).unwrap();
    raw.execute_batch(include_str!("../migrations/sqlite/0001_append_only.sql")).unwrap();
    raw.execute_batch(
        "INSERT INTO providers VALUES ('1310000001', 'テスト病院', '東京都', '2024-01-05', '2024-02-01'); \
         INSERT INTO batches VALUES (1, '1310000001', 'f1', 'csv', '/in', 'complete', \
             '2024-04-01T09:00:00.000000000Z', '2024-04-01T09:01:00.000000000Z'); \
         INSERT INTO receipts VALUES (1, '2024-04-01', '1310000001', 'テスト病院', '東京都', '2024-01-05', \
             '2024-02-01', 7, '2027-04-01', '2024-04-01T09:01:00.000000000Z');",
    )
    .unwrap();
    drop(raw);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_versions().unwrap(), [1, 2]);
    let receipts = store.receipts().unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!((receipts[0].n_persons, receipts[0].n_persons_excluded), (7, 0));
    assert!(store.optout_requests().unwrap().is_empty());
}

fn optout_request(request_id: &str) -> OptoutRequest {
    OptoutRequest {
        request_id: request_id.to_owned(),
        requester_kind: RequesterKind::BereavedFamily,
        requester_name: "山田太郎".to_owned(),
        requester_relationship: Some("長男".to_owned()),
        received_on: date(2024, 4, 1),
        stop_on: date(2024, 4, 1),
        notice_given_on: date(2024, 4, 3),
        notice_path: format!("optout/notices/{request_id}.html"),
        notice_sha256: "cd".repeat(32),
        subject: OptoutSubject {
            name_kana: "ヤマダ ハナコ".to_owned(),
            birth_date: date(1950, 5, 6),
            sex: Sex::Female,
            provider: Some(code("1310000001")),
            local_id: Some(LocalPatientId::new("0000123").unwrap()),
            insurer_number: None,
        },
        recorded_at: at(120),
    }
}

#[test]
fn optout_requests_are_recorded_with_audit_and_kept_three_years() {
    let (dir, store) = store();
    assert_eq!(store.next_optout_number().unwrap(), 1);
    let info =
        store.record_optout(&optout_request("OPT-0001"), event("optout.record", "optout:OPT-0001")).unwrap();
    assert_eq!(info.request_number, 1);
    assert_eq!(info.retain_until, date(2027, 4, 3), "3 years from the notice (Rule 32)");
    assert_eq!(store.optout_requests().unwrap(), [info]);
    assert_eq!(store.next_optout_number().unwrap(), 2);
    assert_eq!(store.audit_entries().unwrap().last().unwrap().event.action, "optout.record");

    let duplicate =
        store.record_optout(&optout_request("OPT-0001"), event("optout.record", "optout:OPT-0001"));
    assert!(matches!(duplicate, Err(StoreError::DuplicateOptout { .. })));
    assert_eq!(store.audit_entries().unwrap().len(), 1, "a refused record leaves no audit entry behind");

    let debug = format!("{:?}", store.optout_requests().unwrap());
    for value in ["山田", "長男", "ヤマダ", "1950", "0000123"] {
        assert!(!debug.contains(value), "Debug shows an identifying value");
    }
    let raw = raw_connection(dir.path());
    for sql in [
        "UPDATE optout_requests SET stop_on = '2030-01-01'",
        "DELETE FROM optout_requests",
        "UPDATE optout_subjects SET name_kana = 'x'",
        "DELETE FROM optout_subjects",
    ] {
        let error = raw.execute(sql, []).unwrap_err().to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
}

#[test]
fn linkage_export_and_provision_ids_round_trip() {
    let (_dir, store) = store();
    assert_eq!(store.next_linkage_export_number().unwrap(), 1);
    let export = LinkageExport {
        export_id: "LX0001".to_owned(),
        algorithm: "hmac-sha256".to_owned(),
        rows: vec![
            LinkageExportRow { row_id: "LX0001-000001".to_owned(), person_id: "PSN-a".to_owned() },
            LinkageExportRow { row_id: "LX0001-000002".to_owned(), person_id: "PSN-b".to_owned() },
        ],
        created_at: at(0),
    };
    assert_eq!(store.record_linkage_export(&export, event("linkage_material.export", "LX0001")).unwrap(), 1);
    assert!(matches!(
        store.record_linkage_export(&export, event("linkage_material.export", "LX0001")),
        Err(StoreError::DuplicateLinkageExport { .. })
    ));

    let unknown = store.import_provision_ids(
        &[("LX0001-000001".to_owned(), "P-1".to_owned()), ("LX0009-000001".to_owned(), "P-2".to_owned())],
        at(10),
        event("linkage_material.import", "LX"),
    );
    assert!(matches!(unknown, Err(StoreError::UnknownLinkageRow { row_id }) if row_id == "LX0009-000001"));
    assert!(store.provision_ids().unwrap().is_empty(), "a refused import stores nothing");

    let twice = store.import_provision_ids(
        &[("LX0001-000001".to_owned(), "P-1".to_owned()), ("LX0001-000001".to_owned(), "P-2".to_owned())],
        at(10),
        event("linkage_material.import", "LX"),
    );
    assert!(matches!(twice, Err(StoreError::DuplicateLinkageRow { .. })));

    let n = store
        .import_provision_ids(
            &[("LX0001-000002".to_owned(), "P-2".to_owned())],
            at(10),
            event("linkage_material.import", "LX"),
        )
        .unwrap();
    assert_eq!(n, 1);
    // A later answer replaces the person's earlier provision ID.
    store
        .import_provision_ids(
            &[("LX0001-000002".to_owned(), "P-2b".to_owned())],
            at(20),
            event("linkage_material.import", "LX"),
        )
        .unwrap();
    let ids = store.provision_ids().unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!((ids[0].person_id.as_str(), ids[0].provision_id.as_str()), ("PSN-b", "P-2b"));
    assert_eq!(ids[0].imported_at, at(20));
    let actions: Vec<String> =
        store.audit_entries().unwrap().into_iter().map(|entry| entry.event.action).collect();
    assert_eq!(actions, ["linkage_material.export", "linkage_material.import", "linkage_material.import"]);
}
