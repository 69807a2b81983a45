//! Store tests. Every test runs on both backends: on a fresh SQLite database in a temporary directory, and
//! on a fresh PostgreSQL database (created for the test, dropped after it) when `KIBAN_TEST_DATABASE_URL`
//! names a server to create it on. Without that variable the PostgreSQL variants say so and pass.

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
use crate::db::{Value, params};
use crate::test_support::{PostgresTestDb, TEST_DATABASE_URL_VAR, with_dbname};

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

/// A fresh store with one published provider.
/// The store keys of master key `[byte; 32]`, with the key store in `{dir}/keystore`.
fn keys(dir: &Path, byte: u8) -> StoreKeys {
    StoreKeys::open(&kiban_crypto::SecretKey::from_bytes([byte; 32]), &dir.join("keystore")).unwrap()
}

fn store(db: &TestDb) -> Store {
    let store = db.open();
    store.register_provider(&registration("1310000001", Some(date(2024, 2, 1)))).unwrap();
    store
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sqlite,
    Postgres,
}

/// One test's database: a temporary data directory and, on PostgreSQL, a database of its own.
struct TestDb {
    kind: Kind,
    config: DatabaseConfig,
    // Dropped after every store of the test (which are locals of the test function), before `dir`.
    postgres: Option<PostgresTestDb>,
    dir: TempDir,
}

impl TestDb {
    /// `None` when the PostgreSQL variant cannot run here (no `KIBAN_TEST_DATABASE_URL`).
    fn new(kind: Kind) -> Option<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        let postgres = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(PostgresTestDb::create(&std::env::var(TEST_DATABASE_URL_VAR).ok()?)),
        };
        let config = postgres
            .as_ref()
            .map_or(DatabaseConfig::Sqlite, |db| DatabaseConfig::Postgres(DatabaseUrl::new(db.url.clone())));
        Some(TestDb { kind, config, postgres, dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The store with the operator's keys (master key `[7; 32]`), as the CLI opens it.
    fn open(&self) -> Store {
        let mut store = self.open_unkeyed();
        store.set_keys(keys(self.path(), 7));
        store
    }

    /// The store without keys: a locked vault, no signed audit head.
    fn open_unkeyed(&self) -> Store {
        Store::open_with(self.path(), &self.config).unwrap()
    }

    /// SQL that drops the audit log's append-only triggers, as someone with the database could.
    fn drop_audit_triggers(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
            Kind::Postgres => "DROP TRIGGER audit_log_append_only ON audit_log",
        }
    }

    /// A second, independent connection to the store's database, as another process (or an attacker with
    /// access to the database) would have.
    fn raw(&self) -> Raw {
        match &self.postgres {
            None => Raw::Sqlite(rusqlite::Connection::open(self.path().join("kiban.db")).unwrap()),
            Some(db) => {
                Raw::Postgres(Box::new(::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap()))
            }
        }
    }
}

enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(Box<::postgres::Client>),
}

impl Raw {
    /// Runs one statement; the error message on failure.
    fn execute(&mut self, sql: &str) -> Result<u64, String> {
        match self {
            Raw::Sqlite(db) => db.execute(sql, []).map(|n| n as u64).map_err(|error| error.to_string()),
            Raw::Postgres(db) => db.execute(sql, &[]).map_err(|error| {
                error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |db_error| db_error.message().to_owned())
            }),
        }
    }

    fn batch(&mut self, sql: &str) {
        match self {
            Raw::Sqlite(db) => db.execute_batch(sql).unwrap(),
            Raw::Postgres(db) => db.batch_execute(sql).unwrap(),
        }
    }

    /// The first column of every row, as text.
    fn texts(&mut self, sql: &str) -> Vec<String> {
        match self {
            Raw::Sqlite(db) => {
                let mut statement = db.prepare(sql).unwrap();
                statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
            }
            Raw::Postgres(db) => db.query(sql, &[]).unwrap().iter().map(|row| row.get(0)).collect(),
        }
    }
}

/// Runs `test` on `kind`'s backend, or says why it cannot.
fn run(kind: Kind, test: fn(&TestDb)) {
    match TestDb::new(kind) {
        Some(db) => test(&db),
        None => eprintln!(
            "skipped on PostgreSQL: set KIBAN_TEST_DATABASE_URL to a server where this user may create \
             databases (e.g. host=/tmp user=postgres dbname=postgres)"
        ),
    }
}

/// Instantiates each named test as `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::run(super::Kind::Sqlite, super::$name);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::run(super::Kind::Postgres, super::$name);
            })*
        }
    };
}

on_both_backends!(
    accounts_sessions_activity_and_deletions_round_trip,
    vault_files_are_sealed_and_need_the_right_keys,
    key_rotation_rewraps_without_touching_the_vault,
    every_kind_of_audit_tampering_is_detected_where_it_happened,
    a_recomputed_chain_or_a_lost_anchor_is_detected,
    checkpoint_history_is_kept_every_hundred_entries,
    a_killed_appender_leaves_a_log_that_verifies_and_loses_no_committed_entry,
    migrations_apply_from_empty_and_reopen_changes_nothing,
    newer_schema_is_refused,
    migration_2_upgrades_a_version_1_store_and_keeps_its_receipts,
    providers_upsert_and_list,
    begin_batch_refuses_providers_not_registered_or_not_published,
    begin_batch_again_resumes_the_same_batch,
    complete_batch_writes_receipt_quarantine_and_audit_together,
    failed_completion_leaves_nothing_behind,
    vault_round_trip_and_resume_overwrites,
    release_ledger_and_audit_are_written_together,
    person_links_are_replaced_with_an_audit_entry,
    audit_entries_round_trip_and_verify,
    append_only_tables_refuse_update_and_delete,
    tampering_with_the_audit_table_is_detected,
    concurrent_appenders_do_not_fork_the_chain,
    one_store_serves_many_threads_at_once,
    release_ids_are_reserved_once_and_follow_their_lifecycle,
    optout_requests_are_recorded_with_audit_and_kept_three_years,
    linkage_export_and_provision_ids_round_trip,
    the_sql_layer_round_trips_every_value_type,
    foreign_keys_are_enforced,
    errors_show_no_stored_value,
    many_rows_are_inserted_in_chunks,
    provider_credentials_are_replaced_and_revoked_and_handovers_kept,
);

fn provider_credentials_are_replaced_and_revoked_and_handovers_kept(db: &TestDb) {
    let store = store(db);
    let provider = code("1310000001");
    assert!(matches!(
        store.set_provider_credential(
            &code("1319999999"),
            Some("aa"),
            event("provider.credential", "provider:1319999999")
        ),
        Err(StoreError::ProviderNotRegistered { .. })
    ));
    store.register_provider(&registration("1310000001", Some(date(2024, 2, 1)))).unwrap();
    store
        .set_provider_credential(&provider, Some("aa"), event("provider.credential", "provider:1310000001"))
        .unwrap();
    assert_eq!(store.provider_of_credential("aa").unwrap(), Some(provider.clone()));
    assert_eq!(store.provider_of_credential("bb").unwrap(), None);
    // A new credential replaces the old one; a revocation ends it.
    store
        .set_provider_credential(&provider, Some("bb"), event("provider.credential", "provider:1310000001"))
        .unwrap();
    assert_eq!(store.provider_of_credential("aa").unwrap(), None, "replaced");
    assert_eq!(store.provider_of_credential("bb").unwrap(), Some(provider.clone()));
    store
        .set_provider_credential(&provider, None, event("provider.credential", "provider:1310000001"))
        .unwrap();
    assert_eq!(store.provider_of_credential("bb").unwrap(), None, "revoked");

    let user = NewUser {
        name: "kenkyu".to_owned(),
        display_name: "研究者".to_owned(),
        roles: vec!["researcher".to_owned()],
        enrollment_hash: "cd".repeat(32),
        enrollment_expires_at: at(3600),
        created_at: at(0),
        created_by: "admin".to_owned(),
    };
    store.create_user(&user, event("user.add", "user:kenkyu")).unwrap();
    assert!(matches!(
        store.record_handover("R0001", "nobody", "/h/1", event("release.handover", "release:R0001")),
        Err(StoreError::UserNotFound { .. })
    ));
    let handover =
        store.record_handover("R0001", "kenkyu", "/h/1", event("release.handover", "release:R0001")).unwrap();
    assert_eq!(store.handovers_to("kenkyu").unwrap(), [handover]);
    assert!(store.handovers_to("someone-else").unwrap().is_empty());

    let mut raw = db.raw();
    for sql in [
        "UPDATE provider_credentials SET token_hash = 'aa'",
        "DELETE FROM provider_credentials",
        "UPDATE release_handovers SET recipient_user = 'x'",
        "DELETE FROM release_handovers",
    ] {
        let error = raw.execute(sql).unwrap_err();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert!(store.verify_audit().is_ok());
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

fn migrations_apply_from_empty_and_reopen_changes_nothing(db: &TestDb) {
    let store = db.open();
    assert_eq!(store.schema_versions().unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(db.path().join("kiban.db").is_file(), db.kind == Kind::Sqlite, "kiban.db only on SQLite");
    assert!(db.path().join("vault").is_dir());
    store.register_provider(&registration("1310000001", None)).unwrap();
    let applied = "SELECT version || ' ' || applied_at FROM schema_migrations ORDER BY version";
    let before = db.raw().texts(applied);
    assert_eq!(before.len(), 5);
    drop(store);

    let store = db.open();
    assert_eq!(store.schema_versions().unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(store.providers().unwrap(), [registration("1310000001", None)], "data survives re-open");
    assert_eq!(db.raw().texts(applied), before, "re-opening applies nothing again");
    if db.kind == Kind::Sqlite {
        assert_eq!(db.raw().texts("PRAGMA journal_mode"), ["wal"]);
    }
}

fn newer_schema_is_refused(db: &TestDb) {
    drop(db.open());
    db.raw().execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')").unwrap();
    assert!(matches!(
        Store::open_with(db.path(), &db.config),
        Err(StoreError::SchemaTooNew { found: 99, known: 5 })
    ));
}

fn providers_upsert_and_list(db: &TestDb) {
    let store = store(db);
    store.register_provider(&registration("2710000002", None)).unwrap();
    let mut updated = registration("2710000002", Some(date(2024, 3, 1)));
    updated.name = "改称病院".to_owned();
    store.register_provider(&updated).unwrap();
    assert_eq!(store.provider(&code("2710000002")).unwrap(), Some(updated.clone()));
    assert_eq!(store.provider(&code("9999999999")).unwrap(), None);
    let codes: Vec<String> = store.providers().unwrap().into_iter().map(|p| p.code.to_string()).collect();
    assert_eq!(codes, ["1310000001", "2710000002"]);
}

fn begin_batch_refuses_providers_not_registered_or_not_published(db: &TestDb) {
    let store = store(db);
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

fn begin_batch_again_resumes_the_same_batch(db: &TestDb) {
    let store = store(db);
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

fn complete_batch_writes_receipt_quarantine_and_audit_together(db: &TestDb) {
    let store = store(db);
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

fn failed_completion_leaves_nothing_behind(db: &TestDb) {
    let store = store(db);
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

fn vault_round_trip_and_resume_overwrites(db: &TestDb) {
    let store = store(db);
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    assert!(store.read_batch_records(batch).unwrap() == records());
    let mut compact = kiban_columnar::CompactRecords::new();
    store.read_batch_into(batch, &mut compact).unwrap();
    let read: Vec<PatientRecord> = (0..compact.n_records()).map(|record| compact.record(record)).collect();
    assert!(read == records(), "the compact read gives the same records");

    let batch_dir = db.path().join("vault/batches/1");
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
    let missing = store.read_batch_into(batch, &mut compact).unwrap_err().to_string();
    assert!(missing.contains("labs.parquet"), "{missing}");
    assert_eq!(compact.n_records(), records().len(), "a batch that cannot be read adds nothing");
}

fn release_ledger_and_audit_are_written_together(db: &TestDb) {
    let store = store(db);
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

fn person_links_are_replaced_with_an_audit_entry(db: &TestDb) {
    let store = store(db);
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

fn audit_entries_round_trip_and_verify(db: &TestDb) {
    let store = store(db);
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

fn append_only_tables_refuse_update_and_delete(db: &TestDb) {
    let store = store(db);
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.complete_batch(batch, &completion(), event("ingest.batch", "batch:1")).unwrap();
    store.record_release(&release("R-0001"), event("release.write", "release:R-0001")).unwrap();

    let mut raw = db.raw();
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
        let error = raw.execute(sql).unwrap_err();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if db.kind == Kind::Postgres {
        // TRUNCATE skips row triggers; a statement trigger refuses it.
        for table in ["audit_log", "receipts", "ledger", "ledger_items", "releases", "quarantine"] {
            let error = raw.execute(&format!("TRUNCATE {table} CASCADE")).unwrap_err();
            assert!(error.contains("append-only"), "TRUNCATE {table}: {error}");
        }
    }
    assert_eq!(store.audit_entries().unwrap().len(), 2);
    assert_eq!(store.ledger().unwrap().len(), 1);
    assert!(store.verify_audit().is_ok());
}

fn tampering_with_the_audit_table_is_detected(db: &TestDb) {
    let store = store(db);
    for n in 0..4 {
        store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
    }
    let mut raw = db.raw();
    // Someone with file access (or the tables' owner) drops the triggers and edits a row.
    raw.batch(db.drop_audit_triggers());
    raw.execute("UPDATE audit_log SET detail = '0 persons' WHERE seq = 2").unwrap();
    let broken = store.verify_audit().unwrap_err();
    assert!(matches!(broken, StoreError::AuditChain(ChainBreak { seq: 2, kind: BreakKind::Edited })));
    assert_eq!(broken.to_string(), "audit chain broken at seq 2: the entry was edited after it was written");

    // Deleting an entry (and putting the edited one back does not help).
    raw.execute("DELETE FROM audit_log WHERE seq = 2").unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 2, kind: BreakKind::Missing }))
    ));
}

fn concurrent_appenders_do_not_fork_the_chain(db: &TestDb) {
    // Each appender is its own store with its own connection, as a process would be. They open the store
    // together (migrating it at once), then append together.
    let stores: Vec<Store> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..3).map(|_| scope.spawn(|| db.open())).collect();
        opening.into_iter().map(|store| store.join().unwrap()).collect()
    });
    let start = std::sync::Barrier::new(stores.len());
    std::thread::scope(|scope| {
        for (worker, store) in stores.into_iter().enumerate() {
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for n in 0..20 {
                    store.append_audit(event("test.append", &format!("worker:{worker}:{n}"))).unwrap();
                }
            });
        }
    });
    let store = db.open();
    assert_eq!(store.verify_audit().unwrap().chain.n_entries, 60);
    let entries = store.audit_entries().unwrap();
    assert!(entries.iter().map(|entry| entry.seq).eq(1..=60), "one entry per seq, no gap");
    for worker in 0..3 {
        let prefix = format!("worker:{worker}:");
        let mine: Vec<&str> =
            entries.iter().filter_map(|entry| entry.event.object.strip_prefix(prefix.as_str())).collect();
        let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
        assert_eq!(mine, expected, "each worker's entries, in its order");
    }
}

fn one_store_serves_many_threads_at_once(db: &TestDb) {
    // A server shares one store among its requests: writers and readers on pooled connections, with the
    // signed head anchor kept after every commit.
    let store = store(db);
    let writers = 2 * crate::pool::MAX_CONNECTIONS;
    let start = std::sync::Barrier::new(writers + 2);
    std::thread::scope(|scope| {
        for worker in 0..writers {
            let (start, store) = (&start, &store);
            scope.spawn(move || {
                start.wait();
                for n in 0..10 {
                    store.append_audit(event("test.append", &format!("worker:{worker}:{n}"))).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (start, store) = (&start, &store);
            scope.spawn(move || {
                start.wait();
                for _ in 0..20 {
                    let entries = store.audit_entries().unwrap();
                    assert!(entries.iter().map(|entry| entry.seq).eq(1..=entries.len() as u64), "no gap");
                    assert_eq!(store.providers().unwrap().len(), 1);
                }
            });
        }
    });
    let verified = store.verify_audit().unwrap();
    assert_eq!(verified.chain.n_entries, writers as u64 * 10);
}

fn release_ids_are_reserved_once_and_follow_their_lifecycle(db: &TestDb) {
    let store = store(db);
    // Concurrent reservations (two releases started at once) never share an ID.
    let mut ids: Vec<String> = std::thread::scope(|scope| {
        let reserving: Vec<_> =
            (0..6).map(|_| scope.spawn(|| store.reserve_release("processor", at(10)).unwrap().1)).collect();
        reserving.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    ids.sort();
    assert_eq!(ids, ["R0001", "R0002", "R0003", "R0004", "R0005", "R0006"]);
    let statuses = store.release_statuses().unwrap();
    assert!(statuses.iter().all(|status| status.state == ReleaseState::Staged));

    // Recording a reserved release keeps its number and publishes it; the next reservation comes after.
    store.record_release(&release("R0002"), event("release.write", "release:R0002")).unwrap();
    store.set_release_state("R0002", ReleaseState::Exported, "processor", at(20)).unwrap();
    store.set_release_state("R0003", ReleaseState::Failed, "processor", at(20)).unwrap();
    let releases = store.releases().unwrap();
    assert_eq!((releases[0].release_number, releases[0].record.release_id.as_str()), (2, "R0002"));
    let state_of = |id: &str| {
        store.release_statuses().unwrap().into_iter().find(|status| status.release_id == id).unwrap().state
    };
    assert_eq!(state_of("R0002"), ReleaseState::Exported);
    assert_eq!(state_of("R0003"), ReleaseState::Failed);
    assert_eq!(state_of("R0001"), ReleaseState::Staged);
    assert_eq!(store.reserve_release("processor", at(30)).unwrap().1, "R0007");
    // States are append-only.
    let refused = db.raw().execute("DELETE FROM release_states").unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
}

fn migration_2_upgrades_a_version_1_store_and_keeps_its_receipts(db: &TestDb) {
    // A store as the previous release left it: schema version 1 with one receipt.
    let mut raw = db.raw();
    raw.batch(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL); \
         INSERT INTO schema_migrations VALUES (1, 'earlier');",
    );
    raw.batch(include_str!("../migrations/0001_init.sql"));
    raw.batch(match db.kind {
        Kind::Sqlite => include_str!("../migrations/sqlite/0001_append_only.sql"),
        Kind::Postgres => include_str!("../migrations/postgres/0001_append_only.sql"),
    });
    raw.batch(
        "INSERT INTO providers VALUES ('1310000001', 'テスト病院', '東京都', '2024-01-05', '2024-02-01'); \
         INSERT INTO batches VALUES (1, '1310000001', 'f1', 'csv', '/in', 'complete', \
             '2024-04-01T09:00:00.000000000Z', '2024-04-01T09:01:00.000000000Z'); \
         INSERT INTO receipts VALUES (1, '2024-04-01', '1310000001', 'テスト病院', '東京都', '2024-01-05', \
             '2024-02-01', 7, '2027-04-01', '2024-04-01T09:01:00.000000000Z');",
    );
    drop(raw);

    let store = db.open();
    assert_eq!(store.schema_versions().unwrap(), [1, 2, 3, 4, 5]);
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

fn optout_requests_are_recorded_with_audit_and_kept_three_years(db: &TestDb) {
    let store = store(db);
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
    let mut raw = db.raw();
    for sql in [
        "UPDATE optout_requests SET stop_on = '2030-01-01'",
        "DELETE FROM optout_requests",
        "UPDATE optout_subjects SET name_kana = 'x'",
        "DELETE FROM optout_subjects",
    ] {
        let error = raw.execute(sql).unwrap_err();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
}

fn linkage_export_and_provision_ids_round_trip(db: &TestDb) {
    let store = store(db);
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

fn the_sql_layer_round_trips_every_value_type(db: &TestDb) {
    const OPERATION: &str = "testing the SQL layer";
    let store = db.open();
    let create = match db.kind {
        Kind::Sqlite => "CREATE TEMP TABLE value_test (n BIGINT, r DOUBLE PRECISION, t TEXT, b BLOB)",
        Kind::Postgres => "CREATE TEMP TABLE value_test (n BIGINT, r DOUBLE PRECISION, t TEXT, b BYTEA)",
    };
    let text = "日本語 'quoted' ?1 $1";
    let bytes: &[u8] = &[0, 1, 254, 255];
    let (full, empty, extra) = store
        .write(OPERATION, |tx| {
            tx.execute_batch(OPERATION, create)?;
            let insert = "INSERT INTO value_test (n, r, t, b) VALUES (?1, ?2, ?3, ?4)";
            tx.execute(OPERATION, insert, params![i64::MIN, 0.1_f64, text, bytes])?;
            tx.execute(OPERATION, insert, params![None::<i64>, None::<f64>, None::<&str>, None::<&[u8]>])?;
            let full = tx.query_one(
                OPERATION,
                "SELECT n, r, t, b, '?1' AS literal FROM value_test WHERE n IS NOT NULL",
                params![],
            )?;
            let empty =
                tx.query_one(OPERATION, "SELECT n, r, t, b FROM value_test WHERE n IS NULL", params![])?;
            let extra = tx.query_one(
                OPERATION,
                "SELECT ?2 AS second, ?1 AS first, EXISTS (SELECT 1 FROM value_test) AS found",
                params!["one", "two"],
            )?;
            Ok((full, empty, extra))
        })
        .unwrap();
    assert_eq!(full.i64("n").unwrap(), i64::MIN);
    assert_eq!(full.opt_f64("r").unwrap(), Some(0.1));
    assert_eq!(full.text("t").unwrap(), text);
    assert_eq!(full.opt_bytes("b").unwrap().as_deref(), Some(bytes));
    assert_eq!(full.text("literal").unwrap(), "?1", "placeholders inside quotes stay as they are");
    assert_eq!(empty.opt_i64("n").unwrap(), None);
    assert_eq!(empty.opt_f64("r").unwrap(), None);
    assert_eq!(empty.opt_text("t").unwrap(), None);
    assert_eq!(empty.opt_bytes("b").unwrap(), None);
    assert_eq!(
        (extra.text("first").unwrap(), extra.text("second").unwrap()),
        ("one".to_owned(), "two".to_owned())
    );
    assert_eq!(extra.i64("found").unwrap(), 1, "a boolean reads as 1");

    let null = empty.i64("n").unwrap_err();
    assert_eq!(null.to_string(), "testing the SQL layer: column n is NULL");
    let missing = full.text("nope").unwrap_err();
    assert_eq!(missing.to_string(), "testing the SQL layer: column nope is not in the result");
    let not_text = full.text("n").unwrap_err();
    assert_eq!(not_text.to_string(), "testing the SQL layer: column n is not text");
    assert_eq!(format!("{:?}", Value::Text(text.to_owned())), "Text(..)", "Debug shows no value");
}

fn foreign_keys_are_enforced(db: &TestDb) {
    const OPERATION: &str = "testing foreign keys";
    let store = db.open();
    let refused = store.write(OPERATION, |tx| {
        tx.execute(
            OPERATION,
            "INSERT INTO receipt_items (batch_id, item_idx, item) VALUES (99, 0, 'x')",
            params![],
        )
    });
    assert!(matches!(refused, Err(StoreError::Db { .. })), "{refused:?}");
}

fn errors_show_no_stored_value(db: &TestDb) {
    let store = store(db);
    let link = |person_id: &str| PersonLink {
        provider: code("1310000001"),
        local_id: LocalPatientId::new("7654321").unwrap(),
        person_id: person_id.to_owned(),
    };
    let duplicate = store
        .replace_person_links(
            &[link("PSN-secret-1"), link("PSN-secret-2")],
            event("linkage.replace", "links"),
        )
        .unwrap_err();
    // PostgreSQL's DETAIL would quote the key: "Key (provider, local_id)=(1310000001, 7654321) already exists".
    const OPERATION: &str = "testing errors";
    let check = store
        .write(OPERATION, |tx| {
            tx.execute(
                OPERATION,
                "INSERT INTO batches (id, provider, fingerprint, format, source, status, started_at) \
                 VALUES (1, '1310000001', 'fingerprint-secret', 'csv', '/in', 'bogus', 'x')",
                params![],
            )
        })
        .unwrap_err();
    for error in [duplicate, check] {
        let shown = format!("{error} {error:?}");
        for value in ["7654321", "PSN-secret", "fingerprint-secret"] {
            assert!(!shown.contains(value), "an error shows a stored value");
        }
        assert!(matches!(error, StoreError::Db { .. }));
    }
}

#[test]
fn placeholders_are_rewritten_outside_quotes() {
    assert_eq!(
        db::dollar_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"?3\" = ?10"),
        "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"?3\" = $10"
    );
    assert_eq!(db::dollar_placeholders("SELECT 'it''s ?1', ?2"), "SELECT 'it''s ?1', $2");
}

#[test]
fn database_urls_never_show_their_password() {
    for url in [
        "postgresql://kiban:s3cret-pw@db.example:5433/kiban?sslmode=disable",
        "host=/run/postgresql user=kiban password=s3cret-pw dbname=kiban",
        "postgresql://kiban:s3cret-pw@db.example:notaport/kiban",
    ] {
        let url = DatabaseUrl::new(url);
        let shown = format!("{url} {url:?} {:?}", DatabaseConfig::Postgres(url.clone()));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    assert_eq!(
        DatabaseUrl::new("postgresql://kiban:s3cret-pw@db.example:5433/kiban").redacted(),
        "user=kiban host=db.example port=5433 dbname=kiban"
    );

    let dir = tempfile::tempdir().unwrap();
    let open = |url: &str| {
        Store::open_with(dir.path(), &DatabaseConfig::Postgres(DatabaseUrl::new(url))).err().unwrap()
    };
    let unparsable = open("postgresql://kiban:s3cret-pw@db.example:notaport/kiban");
    assert!(matches!(unparsable, StoreError::DatabaseUrl));
    // Nothing listens on port 1: the error names the server, not the password.
    let refused = open("postgresql://kiban:s3cret-pw@127.0.0.1:1/kiban?connect_timeout=5");
    let shown = format!("{refused} {refused:?}");
    assert!(matches!(refused, StoreError::Open { .. }));
    assert!(shown.contains("user=kiban host=127.0.0.1 port=1 dbname=kiban"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn test_databases_replace_the_servers_database_name() {
    let key_value = with_dbname("host=/tmp user=postgres dbname=postgres", "kiban_test_1");
    assert_eq!(key_value.parse::<::postgres::Config>().unwrap().get_dbname(), Some("kiban_test_1"));
    assert_eq!(
        with_dbname("postgresql://u@h:5432/postgres?sslmode=disable", "x"),
        "postgresql://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_dbname("postgres://u@h", "x"), "postgres://u@h/x");
}

fn many_rows_are_inserted_in_chunks(db: &TestDb) {
    let store = store(db);
    // Two full chunks of 500 and a remainder of 234, in sorted order.
    let link = |n: usize| PersonLink {
        provider: code("1310000001"),
        local_id: LocalPatientId::new(&format!("{n:07}")).unwrap(),
        person_id: format!("P{n}"),
    };
    let links: Vec<PersonLink> = (0..1234).map(link).collect();
    store.replace_person_links(&links, event("linkage.replace", "links")).unwrap();
    assert_eq!(store.person_links().unwrap(), links);

    // A duplicate in the remainder fails the whole replacement.
    let mut duplicated = links.clone();
    duplicated.push(link(1233));
    let failed = store.replace_person_links(&duplicated, event("linkage.replace", "links"));
    assert!(matches!(failed, Err(StoreError::Db { .. })));
    // A duplicate inside a full chunk fails it too.
    let mut duplicated: Vec<PersonLink> = (0..1000).map(link).collect();
    duplicated[700] = link(100);
    let failed = store.replace_person_links(&duplicated, event("linkage.replace", "links"));
    assert!(matches!(failed, Err(StoreError::Db { .. })));
    assert_eq!(store.person_links().unwrap(), links, "failed replacements keep the old links");
    assert_eq!(store.audit_entries().unwrap().len(), 1);
}

fn vault_files_are_sealed_and_need_the_right_keys(db: &TestDb) {
    let store = store(db);
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    let batch_dir = db.path().join("vault/batches/1");
    for name in kiban_columnar::RECORD_TABLES {
        let bytes = std::fs::read(batch_dir.join(format!("{name}.parquet"))).unwrap();
        assert!(kiban_crypto::is_sealed(&bytes), "{name} is sealed");
        assert!(!bytes.windows(4).any(|w| w == b"PAR1"), "{name}: no plaintext Parquet");
        let kana = "ヤマダ".as_bytes();
        assert!(!bytes.windows(kana.len()).any(|w| w == kana), "{name}: no name in the clear");
    }
    // The key store holds the wrapped key; the database never does.
    let objects: Vec<String> =
        store.keys().unwrap().keystore.list().unwrap().into_iter().map(|entry| entry.object).collect();
    assert_eq!(objects, ["batch:1", "deployment"]);
    let key_text = std::fs::read_to_string(db.path().join("keystore/batch_1.key")).unwrap();
    let wrapped_hex = key_text.lines().last().unwrap().trim_start_matches("wrapped ");
    if db.kind == Kind::Sqlite {
        let db_bytes = std::fs::read(db.path().join("kiban.db")).unwrap();
        assert!(!db_bytes.windows(16).any(|w| w == &wrapped_hex.as_bytes()[..16]));
    }

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

    // No keys at all is a locked vault; another KEK cannot open the key store, nor unwrap the batch key.
    let other = db.open_unkeyed();
    assert!(matches!(other.read_batch_records(batch), Err(StoreError::VaultLocked)));
    assert!(matches!(
        StoreKeys::open(&kiban_crypto::SecretKey::from_bytes([8; 32]), &db.path().join("keystore")),
        Err(StoreError::Crypto(kiban_crypto::CryptoError::WrongKek { .. }))
    ));
    let wrong = kiban_crypto::Kek::from_master(&kiban_crypto::SecretKey::from_bytes([8; 32]));
    assert!(matches!(
        store.keys().unwrap().keystore.load("batch:1", &wrong),
        Err(StoreError::Crypto(kiban_crypto::CryptoError::WrongKek { .. }))
    ));
}

fn key_rotation_rewraps_without_touching_the_vault(db: &TestDb) {
    let store = store(db);
    let batch = store.begin_batch(&new_batch("f1")).unwrap();
    store.write_batch_records(batch, &records()).unwrap();
    store.append_audit(event("ingest.batch", "batch:1")).unwrap();
    let sealed_before = std::fs::read(db.path().join("vault/batches/1/persons.parquet")).unwrap();
    let public_before = store.audit_public_key().unwrap();
    let keystore = &store.keys().unwrap().keystore;
    let old = &store.keys().unwrap().kek;
    let new = kiban_crypto::Kek::from_master(&kiban_crypto::SecretKey::from_bytes([8; 32]));
    let rotation = keystore.rotate(old, &new).unwrap();
    assert_eq!(
        rotation,
        Rotation { rewrapped: 2, already_current: 0 },
        "the batch key and the deployment key"
    );
    // Run again (as after an interruption): nothing left to do.
    assert_eq!(keystore.rotate(old, &new).unwrap(), Rotation { rewrapped: 0, already_current: 2 });
    assert_eq!(std::fs::read(db.path().join("vault/batches/1/persons.parquet")).unwrap(), sealed_before);
    assert!(
        matches!(store.read_batch_records(batch), Err(StoreError::Crypto(_))),
        "the old KEK no longer unwraps"
    );
    let mut rotated = db.open_unkeyed();
    rotated.set_keys(keys(db.path(), 8));
    assert!(rotated.read_batch_records(batch).unwrap() == records());
    // Everything derived from the deployment key is unchanged: old checkpoints still verify.
    assert_eq!(rotated.audit_public_key().unwrap(), public_before);
    assert!(rotated.verify_audit().is_ok());
}

fn every_kind_of_audit_tampering_is_detected_where_it_happened(db: &TestDb) {
    let tampered = |sql: &str| -> StoreError {
        let db = TestDb::new(db.kind).unwrap();
        let db = &db;
        let store = store(db);
        for n in 0..6 {
            store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
        }
        assert!(store.verify_audit().is_ok());
        let mut raw = db.raw();
        raw.batch(db.drop_audit_triggers());
        raw.batch(sql);
        store.verify_audit().unwrap_err()
    };
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
        let scratch_db = TestDb::new(db.kind).unwrap();
        let scratch = store_with_entries(&scratch_db, 6);
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

fn a_recomputed_chain_or_a_lost_anchor_is_detected(db: &TestDb) {
    let store = store(db);
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
    let mut raw = db.raw();
    raw.batch(db.drop_audit_triggers());
    for entry in &rewritten[1..] {
        raw.execute(&format!(
            "UPDATE audit_log SET detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            entry.event.detail,
            hex::encode(entry.prev_hash),
            hex::encode(entry.hash),
            entry.seq
        ))
        .unwrap();
    }
    assert!(kiban_audit::verify(&store.audit_entries().unwrap()).is_ok(), "the chain alone looks fine");
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 4, kind: BreakKind::Rewritten }))
    ));
    // Forging the anchor needs the signing key: one signed by another master key is refused.
    let forger_dir = tempfile::tempdir().unwrap();
    let forger = keys(forger_dir.path(), 9);
    let head = rewritten.last().unwrap();
    let forged = kiban_audit::Checkpoint::of(head, head.event.at, forger.signer.public_key(), |m| {
        forger.signer.sign(m)
    });
    std::fs::write(
        db.path().join("audit-head"),
        format!("kiban-audit-head v1\ncommitted {}\npending none\n", audit::checkpoint_line(&forged)),
    )
    .unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(StoreError::AuditChain(ChainBreak { seq: 4, kind: BreakKind::ForgedCheckpoint }))
    ));
    // Deleting the anchor altogether is seen too.
    std::fs::remove_file(db.path().join("audit-head")).unwrap();
    assert!(matches!(store.verify_audit(), Err(StoreError::AuditAnchorMissing)));
    // An auditor without the master key verifies with the public key alone.
    let clean_db = TestDb::new(db.kind).unwrap();
    let clean = store_with_entries(&clean_db, 3);
    let public = clean.audit_public_key().unwrap();
    let auditor = clean_db.open_unkeyed();
    assert_eq!(auditor.verify_audit_with(&public).unwrap().chain.n_entries, 3);
    let other_deployment = keys(forger_dir.path(), 9).signer.public_key();
    assert!(
        auditor.verify_audit_with(&other_deployment).is_err(),
        "another deployment's key does not verify"
    );
}

fn store_with_entries(db: &TestDb, n: u32) -> Store {
    let store = store(db);
    for n in 0..n {
        store.append_audit(event("ingest.batch", &format!("batch:{n}"))).unwrap();
    }
    store
}

fn checkpoint_history_is_kept_every_hundred_entries(db: &TestDb) {
    let store = store_with_entries(db, 250);
    let history = std::fs::read_to_string(db.path().join("audit-checkpoints")).unwrap();
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
    let config = match std::env::var("KIBAN_TEST_APPENDER_DATABASE") {
        Ok(url) if !url.is_empty() => DatabaseConfig::Postgres(DatabaseUrl::new(url)),
        _ => DatabaseConfig::Sqlite,
    };
    let mut store = Store::open_with(&path, &config).unwrap();
    store.set_keys(keys(&path, 7));
    let mut out = std::io::stdout();
    for n in 0.. {
        let entry = store.append_audit(event("test.append", &format!("n:{n}"))).unwrap();
        writeln!(out, "committed {}", entry.seq).unwrap();
        out.flush().unwrap();
    }
}

fn a_killed_appender_leaves_a_log_that_verifies_and_loses_no_committed_entry(db: &TestDb) {
    use std::io::BufRead as _;
    drop(db.open());
    let database = db.postgres.as_ref().map_or(String::new(), |postgres| postgres.url.clone());
    let mut last_committed = 0u64;
    for round in 0..4u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::audit_appender_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env("KIBAN_TEST_APPENDER_DIR", db.path())
            .env("KIBAN_TEST_APPENDER_DATABASE", &database)
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
        let store = db.open();
        let verified = store.verify_audit().unwrap();
        assert!(
            verified.chain.n_entries >= last_committed,
            "round {round}: {} entries, but seq {last_committed} was reported committed",
            verified.chain.n_entries
        );
    }
}

fn accounts_sessions_activity_and_deletions_round_trip(db: &TestDb) {
    let store = store(db);
    assert!(!store.has_users().unwrap());
    let user = NewUser {
        name: "clerk".to_owned(),
        display_name: "受付".to_owned(),
        roles: vec!["intake-operator".to_owned(), "reviewer".to_owned()],
        enrollment_hash: "ab".repeat(32),
        enrollment_expires_at: at(3600),
        created_at: at(0),
        created_by: "admin".to_owned(),
    };
    store.create_user(&user, event("user.add", "user:clerk")).unwrap();
    assert!(store.has_users().unwrap());
    assert!(matches!(
        store.create_user(&user, event("user.add", "user:clerk")),
        Err(StoreError::DuplicateUser { .. })
    ));
    let stored = store.user("clerk").unwrap();
    assert_eq!(stored.roles, ["intake-operator", "reviewer"]);
    assert!(stored.password_hash.is_none() && !stored.is_locked());

    let enrollment = Enrollment {
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        password_class: "long".to_owned(),
        totp_sealed: "00".repeat(40),
        recovery_hashes: (0..3).map(|n| format!("{n:064}")).collect(),
        at: at(10),
    };
    store.enroll_user("clerk", &enrollment, event("user.enroll", "user:clerk")).unwrap();
    let stored = store.user("clerk").unwrap();
    assert_eq!(stored.password_class.as_deref(), Some("long"));
    assert!(stored.enrollment_hash.is_none(), "the enrollment token is used up");
    assert_eq!(store.recovery_codes("clerk").unwrap().len(), 3);

    // Failures count up and lock at the caller's threshold, ending sessions.
    store
        .record_login(
            "clerk",
            SecondFactorUse::Totp { step: 100 },
            &"11".repeat(32),
            event("login", "user:clerk"),
        )
        .unwrap();
    assert!(store.session(&"11".repeat(32)).unwrap().is_some_and(|session| session.ended_at.is_none()));
    for expected in 1..=3 {
        let failures = store
            .record_login_failure(
                "clerk",
                |n| (n >= 3).then(|| "3 failures".to_owned()),
                event("login", "user:clerk"),
            )
            .unwrap();
        assert_eq!(failures, expected);
    }
    let stored = store.user("clerk").unwrap();
    assert_eq!(stored.locked_reason.as_deref(), Some("3 failures"));
    assert!(store.session(&"11".repeat(32)).unwrap().unwrap().ended_at.is_some(), "locking ends sessions");
    store.unlock_user("clerk", event("user.unlock", "user:clerk")).unwrap();
    let stored = store.user("clerk").unwrap();
    assert!(!stored.is_locked() && stored.failed_logins == 0);
    assert_eq!(stored.totp_last_step, Some(100));

    // A recovery code is used once.
    store
        .record_login(
            "clerk",
            SecondFactorUse::RecoveryCode { index: 1 },
            &"22".repeat(32),
            event("login", "user:clerk"),
        )
        .unwrap();
    assert_eq!(
        store.recovery_codes("clerk").unwrap().iter().map(|(_, used)| *used).collect::<Vec<_>>(),
        [false, true, false]
    );

    // Activity for the anomaly rules.
    for (n, action) in ["release", "ledger"].into_iter().enumerate() {
        store
            .record_activity(&Activity {
                user: "clerk".to_owned(),
                at: at(100 + n as i64),
                action: action.to_owned(),
                outcome: "success".to_owned(),
                n_rows: 7,
            })
            .unwrap();
    }
    let recent = store.activity_since("clerk", at(100)).unwrap();
    assert_eq!(
        recent.iter().map(|activity| activity.action.as_str()).collect::<Vec<_>>(),
        ["release", "ledger"]
    );
    assert!(store.activity_since("clerk", at(102)).unwrap().is_empty());

    // A deletion record is written once (a re-run only adds an audit entry) and is append-only.
    let deletion = DeletionRecord {
        object: "batch:1".to_owned(),
        deleted_on: date(2026, 11, 26),
        items: vec!["persons".to_owned(), "labs".to_owned()],
        n_persons: 2,
        reason: "retention ended".to_owned(),
        actor: "admin".to_owned(),
        recorded_at: at(200),
        retain_until: date(2026, 11, 26),
    };
    store.record_deletion(&deletion, event("delete.batch", "batch:1")).unwrap();
    store.record_deletion(&deletion, event("delete.batch", "batch:1")).unwrap();
    let deletions = store.deletions().unwrap();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0].retain_until, date(2029, 11, 26), "kept 3 years (Rule 19)");
    assert!(store.is_deleted("batch:1").unwrap() && !store.is_deleted("batch:2").unwrap());
    let mut raw = db.raw();
    for sql in ["UPDATE deletions SET reason = 'x'", "DELETE FROM deletions"] {
        let error = raw.execute(sql).unwrap_err();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert!(store.verify_audit().is_ok());
}
