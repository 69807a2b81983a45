//! End-to-end tests of the pipeline through the service the commands call: every operation a typed request
//! run by `App::execute` under a logged-in session, so authorization, audit and the anomaly rules run as
//! they do for a user.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failure by design

mod anonymize;
mod compact_release;
mod linkage_material;
mod optout;
mod release_policy;
mod security;

use std::collections::HashMap;
use std::path::Path;

use kiban_columnar::Table;
use kiban_model::PatientRecord;
use kiban_service::{App, Request, Response, SecondFactor, ServiceError, Session};
use kiban_store::test_support::{PostgresTestDb, TEST_DATABASE_URL_VAR};

/// Selects the database the CLI suite runs on: `postgres` runs it on PostgreSQL (on the server
/// `KIBAN_TEST_DATABASE_URL` names; `.ci/run` runs the suite once this way after the SQLite run).
const BACKEND_VAR: &str = "KIBAN_CLI_TEST_BACKEND";

/// A test's view of one data directory: the service, a second store handle on the same database for
/// reading what the operations wrote, and a staff session made on first use.
pub(crate) struct Ctx {
    pub(crate) app: App,
    pub(crate) store: kiban_store::Store,
    pub(crate) data_dir: std::path::PathBuf,
    actor: String,
    session: std::sync::OnceLock<Session>,
}

/// The staff roles a test's own user holds (all but the security administrator and the researcher).
const STAFF_ROLES: [&str; 4] = ["intake-operator", "processor", "reviewer", "auditor"];
const TEST_PASSWORD: &str = "Test-Staff-Pass-2026!";

impl Ctx {
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.now()
    }

    /// The session of this test's staff user (named after the actor), created on first use: a first
    /// administrator when there is none, the user added, enrolled and logged in with a real TOTP code.
    pub(crate) fn session(&self) -> &Session {
        self.session.get_or_init(|| {
            // Tests run at any hour and export often: the anomaly rules are set wide for them.
            let policy = self.data_dir.join("security.toml");
            if !policy.exists() {
                std::fs::write(
                    &policy,
                    "[anomaly]\nallowed_hours = \"00:00-00:00\"\nmax_exports_per_hour = 1000\n\
                     max_rows_per_day = 1000000000\nmax_failures_per_hour = 1000\n",
                )
                .unwrap();
            }
            let admin = match self.app.has_users().unwrap() {
                false => {
                    let enrolled =
                        self.app.init_admin("kiban-test-admin", "Test admin", TEST_PASSWORD).unwrap();
                    Some(log_in(&self.app, "kiban-test-admin", TEST_PASSWORD, &enrolled))
                }
                true => crate::security::admin_if_any(),
            };
            let admin = admin.expect("the test's own users are made in a data directory without accounts");
            let roles = STAFF_ROLES.iter().map(|role| (*role).to_owned()).collect();
            let Response::EnrollmentToken(token) = self
                .app
                .execute(
                    &admin,
                    Request::UserAdd { name: self.actor.clone(), display_name: String::new(), roles },
                )
                .unwrap()
            else {
                panic!("user add answers with a token")
            };
            let enrolled = self.app.enroll(&self.actor, token.token.expose_secret(), TEST_PASSWORD).unwrap();
            log_in(&self.app, &self.actor, TEST_PASSWORD, &enrolled)
        })
    }

    /// An audit event by this test's actor, for writing to the store directly (a batch the test makes).
    pub(crate) fn event(
        &self,
        action: &str,
        object: &str,
        outcome: kiban_audit::Outcome,
        detail: String,
    ) -> kiban_audit::AuditEvent {
        kiban_audit::AuditEvent {
            at: self.now(),
            actor: self.actor.clone(),
            action: action.to_owned(),
            object: object.to_owned(),
            outcome,
            detail,
        }
    }

    /// Runs `request` as this test's staff user.
    pub(crate) fn run(&self, request: Request) -> Result<Response, ServiceError> {
        self.app.execute(self.session(), request)
    }
}

/// Logs `name` in with a TOTP code of now; their session.
pub(crate) fn log_in(
    app: &App,
    name: &str,
    password: &str,
    enrolled: &kiban_service::EnrollmentOutcome,
) -> Session {
    let code = kiban_auth::totp_code(&enrolled.totp, app.now()).unwrap();
    let outcome = app.login(name, password, SecondFactor::Totp(code.expose_secret())).unwrap();
    app.authenticate(outcome.token.expose_secret()).unwrap()
}

/// Opens a test's context on `data_dir`: on SQLite in it, or, with `KIBAN_CLI_TEST_BACKEND=postgres`, on a
/// PostgreSQL database of the data directory's own, created when the directory is first opened, so a
/// test that reopens its directory finds the same database. A database is dropped once its directory is
/// gone (at the next open); the last few are left on the server (the CI cluster is thrown away).
pub(crate) fn open_ctx(data_dir: &Path, actor: &str) -> Ctx {
    let config = database_config(data_dir);
    let app = App::open(data_dir, &config, false).unwrap();
    let mut store = kiban_store::Store::open_with(data_dir, &config).unwrap();
    let master = kiban_service::read_key_file(&data_dir.join("keys").join("master.key")).unwrap();
    store.set_keys(kiban_store::StoreKeys::open(&master, &data_dir.join("keystore")).unwrap());
    Ctx { app, store, data_dir: data_dir.to_owned(), actor: actor.to_owned(), session: Default::default() }
}

/// The database a test's data directory uses.
pub(crate) fn database_config(data_dir: &Path) -> kiban_store::DatabaseConfig {
    match postgres_url(data_dir) {
        None => kiban_store::DatabaseConfig::Sqlite,
        Some(url) => kiban_store::DatabaseConfig::Postgres(kiban_store::DatabaseUrl::new(url)),
    }
}

/// The operations as the tests call them: each a request through [`Ctx::run`], its response unpacked.
pub(crate) mod ops {
    use std::path::Path;

    use kiban_service::{
        ExportOutcome, IngestOutcome, IngestRequest, LinkOutcome, LinkRequest, LinkageExportOutcome,
        LinkageExportRequest, LinkageImportRequest, OptoutForm, OptoutOutcome, ProviderRequest,
        ReleaseOutcome, ReleaseRequest, Request, Response, ServiceError,
    };

    use crate::Ctx;

    macro_rules! unpack {
        ($result:expr, $variant:pat => $value:expr) => {
            match $result? {
                $variant => Ok($value),
                other => panic!("unexpected response {other:?}"),
            }
        };
    }

    pub(crate) fn register_provider(ctx: &Ctx, form: &ProviderRequest) -> Result<(), ServiceError> {
        unpack!(ctx.run(Request::ProviderAdd(form.clone())), Response::ProviderRegistered { .. } => ())
    }

    pub(crate) fn ingest(ctx: &Ctx, form: &IngestRequest) -> Result<IngestOutcome, ServiceError> {
        unpack!(ctx.run(Request::Ingest(form.clone())), Response::Ingested(outcome) => outcome)
    }

    pub(crate) fn link(ctx: &Ctx, form: &LinkRequest) -> Result<LinkOutcome, ServiceError> {
        unpack!(ctx.run(Request::Link(form.clone())), Response::Linked(outcome) => outcome)
    }

    pub(crate) fn release(ctx: &Ctx, form: &ReleaseRequest) -> Result<ReleaseOutcome, ServiceError> {
        unpack!(ctx.run(Request::Release(Box::new(form.clone()))), Response::Released(outcome) => *outcome)
    }

    pub(crate) fn export_release(
        ctx: &Ctx,
        release_id: &str,
        to: &Path,
    ) -> Result<ExportOutcome, ServiceError> {
        let request = Request::ReleaseExport { release_id: release_id.to_owned(), to: to.to_owned() };
        unpack!(ctx.run(request), Response::Exported(outcome) => outcome)
    }

    pub(crate) fn add_optout(ctx: &Ctx, form: &OptoutForm) -> Result<OptoutOutcome, ServiceError> {
        unpack!(ctx.run(Request::OptoutAdd(Box::new(form.clone()))), Response::OptoutRecorded(outcome) => outcome)
    }

    pub(crate) fn export_linkage_material(
        ctx: &Ctx,
        form: &LinkageExportRequest,
    ) -> Result<LinkageExportOutcome, ServiceError> {
        unpack!(ctx.run(Request::LinkageMaterialExport(form.clone())), Response::LinkageExported(outcome) => outcome)
    }

    pub(crate) fn import_linkage_material(
        ctx: &Ctx,
        form: &LinkageImportRequest,
    ) -> Result<usize, ServiceError> {
        unpack!(ctx.run(Request::LinkageMaterialImport(form.clone())), Response::ProvisionIdsImported(n) => n)
    }
}

/// The PostgreSQL database of `data_dir` when the suite runs on PostgreSQL (created on first use).
fn postgres_url(data_dir: &Path) -> Option<String> {
    use std::sync::{Mutex, OnceLock};
    static DATABASES: OnceLock<Mutex<HashMap<std::path::PathBuf, PostgresTestDb>>> = OnceLock::new();
    match std::env::var(BACKEND_VAR).as_deref() {
        Err(_) | Ok("sqlite") => None,
        Ok("postgres") => {
            let server = std::env::var(TEST_DATABASE_URL_VAR)
                .unwrap_or_else(|_| panic!("{BACKEND_VAR}=postgres needs {TEST_DATABASE_URL_VAR}"));
            // The directory exists before the map is pruned of directories that are gone.
            std::fs::create_dir_all(data_dir).unwrap();
            let mut databases = DATABASES.get_or_init(Mutex::default).lock().unwrap();
            databases.retain(|dir, _| dir.exists());
            let db = databases.entry(data_dir.to_owned()).or_insert_with(|| PostgresTestDb::create(&server));
            Some(db.url.clone())
        }
        Ok(other) => panic!("{BACKEND_VAR} is sqlite or postgres, not {other}"),
    }
}

/// The command-line flags that put a `kiban` command on the same database as [`open_ctx`].
pub(crate) fn database_flags(data_dir: &Path) -> Vec<String> {
    postgres_url(data_dir).map(|url| vec!["--database-url".to_owned(), url]).unwrap_or_default()
}

/// Everything the database of `data_dir` holds, as bytes to scan for secrets: the SQLite file, or every
/// row of every table as text on PostgreSQL.
pub(crate) fn database_contents(data_dir: &Path) -> Vec<u8> {
    let Some(url) = postgres_url(data_dir) else {
        return std::fs::read(data_dir.join("kiban.db")).unwrap();
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.len() > 10, "the schema's tables are listed ({})", tables.len());
    let mut contents = Vec::new();
    for table in tables {
        for row in client.query(&format!("SELECT t::text FROM {table} t"), &[]).unwrap() {
            contents.extend_from_slice(row.get::<_, String>(0).as_bytes());
            contents.push(b'\n');
        }
    }
    contents
}

fn small_demo(dir: &Path) -> (Ctx, kiban_service::DemoOutcome) {
    let ctx = crate::open_ctx(dir, "test-operator");
    let outcome =
        ctx.app.demo(&kiban_service::DemoRequest { patients: 400, providers: 3, seed: 7, k: 5 }).unwrap();
    (ctx, outcome)
}

fn vault_records(ctx: &Ctx) -> Vec<PatientRecord> {
    let mut records = Vec::new();
    for batch in ctx.store.batches().unwrap() {
        records.extend(ctx.store.read_batch_records(batch.id).unwrap());
    }
    records
}

/// Every identifying value of the source: long ones are searched as substrings, short ones (insurance
/// symbols, branch numbers) must not be a whole cell. Birth dates are checked separately (see
/// `birth_dates`): a shifted clinical date may coincide with some other person's birthday.
fn identifiers(records: &[PatientRecord]) -> (Vec<String>, Vec<String>) {
    let mut long = Vec::new();
    let mut short = Vec::new();
    let mut add = |value: String| {
        let value = value.trim().to_owned();
        if value.chars().count() >= 6 {
            long.push(value);
        } else if value.chars().any(|c| !c.is_ascii_digit()) {
            // Short all-digit values (branch numbers, "11") collide with codes and counts by chance.
            short.push(value);
        }
    };
    for record in records {
        let person = &record.person;
        add(person.local_id.as_str().to_owned());
        for name in [&person.name_kanji, &person.name_kana].into_iter().flatten() {
            add(name.joined());
            add(format!("{} {}", name.family, name.given));
            add(format!("{}\u{3000}{}", name.family, name.given));
        }
        for value in [&person.address, &person.phone, &person.postal_code].into_iter().flatten() {
            add(value.clone());
        }
        for insurance in &person.insurances {
            add(insurance.insurer_number.clone());
            for value in [&insurance.symbol, &insurance.number].into_iter().flatten() {
                add(value.clone());
            }
        }
    }
    long.sort();
    long.dedup();
    short.sort();
    short.dedup();
    (long, short)
}

/// Whether `value` occurs in `text` as a whole token: not inside a longer run of letters and digits.
fn contains_token(text: &str, value: &str) -> bool {
    text.match_indices(value).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + value.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Every source birth date, in the two spellings a release could carry.
fn birth_dates(records: &[PatientRecord]) -> std::collections::HashSet<String> {
    let mut births = std::collections::HashSet::new();
    for birth in records.iter().filter_map(|record| record.person.birth_date) {
        births.insert(birth.format("%Y-%m-%d").to_string());
        births.insert(birth.format("%Y%m%d").to_string());
    }
    births
}

/// The handover copy of a release (`kiban release export`), made once per test in the data directory.
fn exported(ctx: &Ctx, release_id: &str) -> std::path::PathBuf {
    let to = ctx.data_dir.join("test-handover").join(release_id);
    if !to.exists() {
        ops::export_release(ctx, release_id, &to).unwrap();
    }
    to
}

fn release_tables(dir: &Path) -> Vec<Table> {
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(dir.join("parquet")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        tables.push(kiban_columnar::read_parquet(&path, &name).unwrap());
    }
    tables.sort_by(|a, b| a.name().cmp(b.name()));
    tables
}

#[test]
fn demo_release_holds_no_identifier_and_is_five_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, outcome) = small_demo(dir.path());
    let records = vault_records(&ctx);
    assert!(records.len() >= 400, "every person reached the vault at least once");
    let (long, short) = identifiers(&records);
    let short: std::collections::HashSet<&str> = short.iter().map(String::as_str).collect();

    // Scan every cell of every Parquet table.
    // What the producer keeps is sealed: every data file, no Parquet or CSV in the clear.
    for entry in walk(&outcome.release.dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&entry).unwrap();
        match name.as_str() {
            "manifest.json" | "report.html" | "report.json" => {}
            _ => assert!(kiban_crypto::is_sealed(&bytes), "{} is kept in the clear", entry.display()),
        }
    }
    let tables = release_tables(&outcome.handover.to);
    assert_eq!(tables.len(), 6, "persons, encounters, diagnoses, prescriptions, labs, procedures");
    let mut n_cells = 0usize;
    for table in &tables {
        for column in table.columns() {
            for row in 0..table.n_rows() {
                let Some(cell) = column.data.text_at(row) else { continue };
                n_cells += 1;
                assert!(
                    !short.contains(cell.as_str()),
                    "{}.{} row {row} equals a source identifier",
                    table.name(),
                    column.name
                );
                if let Some(hit) = long.iter().find(|value| cell.contains(value.as_str())) {
                    panic!(
                        "{}.{} row {row} contains a source identifier ({} chars)",
                        table.name(),
                        column.name,
                        hit.len()
                    );
                }
            }
        }
    }
    assert!(n_cells > 10_000, "the scan covered the release ({n_cells} cells)");

    // The person table carries no birth date in any spelling: age is released only as a band.
    let births = birth_dates(&records);
    let persons = tables.iter().find(|table| table.name() == "persons").unwrap();
    for column in persons.columns() {
        for row in 0..persons.n_rows() {
            let Some(cell) = column.data.text_at(row) else { continue };
            assert!(
                !births.iter().any(|birth| cell.contains(birth.as_str())),
                "persons.{} row {row} holds a birth date",
                column.name
            );
        }
    }

    // Scan the raw bytes of every released file (CSV, Parquet, manifest, report) for the long identifiers.
    // In Parquet's binary pages a run of 6+ ASCII digits turns up by chance (the release keys, hence the
    // bytes, are new every run), so there only identifiers with a non-digit are searched; the cell scan
    // above covers the all-digit ones (local IDs, phone and insurance numbers) in every Parquet cell.
    // In the text files an all-digit identifier counts only as a whole token: the manifest's and the
    // report's SHA-256 checksums (new every run, like the keys) hold runs of digits that can contain one
    // by chance, while a leaked ID stands alone (a CSV cell, a JSON string).
    for entry in walk(&outcome.handover.to) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let binary = entry.extension().is_some_and(|extension| extension == "parquet");
        for value in &long {
            let all_digits = value.chars().all(|c| c.is_ascii_digit());
            if binary && all_digits {
                continue;
            }
            let found = if all_digits { contains_token(&text, value) } else { text.contains(value.as_str()) };
            assert!(!found, "{} holds a source identifier", entry.display());
        }
    }

    // Every combination of the person-level quasi-identifiers occurs at least k = 5 times.
    let mut classes: HashMap<Vec<String>, usize> = HashMap::new();
    for row in 0..persons.n_rows() {
        let key: Vec<String> = ["age_band", "sex", "prefecture"]
            .iter()
            .map(|name| persons.column(name).unwrap().data.text_at(row).unwrap_or_default())
            .collect();
        *classes.entry(key).or_default() += 1;
    }
    assert!(!classes.is_empty());
    assert!(classes.values().all(|size| *size >= 5), "a quasi-identifier class is smaller than 5");
    assert_eq!(persons.n_rows(), outcome.release.n_persons_released);

    // The manifest checks out, the ledger and audit log record the release.
    assert!(kiban_release::verify_release(&outcome.handover.to).unwrap().is_empty());
    assert_eq!(outcome.handover.n_files, 12, "Parquet and CSV of six tables");
    // The copy goes outside the kept releases, into a new folder only.
    let inside = ctx.data_dir.join("releases").join("copy");
    assert!(ops::export_release(&ctx, &outcome.release.release_id, &inside).is_err());
    assert!(ops::export_release(&ctx, &outcome.release.release_id, &outcome.handover.to).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode =
            std::fs::metadata(outcome.handover.to.join("csv/persons.csv")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the handover copy is readable by its owner only");
    }
    let ledger = ctx.store.ledger().unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].release_id.as_deref(), Some(outcome.release.release_id.as_str()));
    let entries = ctx.store.audit_entries().unwrap();
    assert!(entries.iter().any(|entry| entry.event.action == "release.write"));
    assert!(entries.iter().any(|entry| entry.event.action == "release.export"
        && entry.event.object == format!("release:{}", outcome.release.release_id)));
    assert_eq!(entries.iter().filter(|entry| entry.event.action == "ingest.batch").count(), 3);
    ctx.store.verify_audit().unwrap();
    assert!(outcome.release.report.exists());
    assert!(outcome.ledger_export.exists() && outcome.audit_export.exists());

    // The built-in attacker models hold, as measured on the (sealed) files the release keeps, and the
    // report says so; the residual attackers are measured too.
    let risk = &outcome.release.risk;
    let declared: Vec<&str> =
        risk.models.iter().filter(|model| !model.residual).map(|model| model.name.as_str()).collect();
    assert_eq!(
        declared,
        ["the demographics: k = 5", "any 2 diagnosis codes (ICD-10 category) with the demographics: k = 5"]
    );
    assert!(risk.models.iter().filter(|model| !model.residual).all(|model| model.holds()), "{risk:?}");
    assert!(risk.models.iter().any(|model| model.residual), "residual attackers are measured");
    assert!(risk.models.iter().all(|model| model.n_persons == outcome.release.n_persons_released));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.handover.to.join("report.json")).unwrap())
            .unwrap();
    assert!(report["headline"]["highest"].as_f64().unwrap() <= 0.2, "{}", report["headline"]);
    let html = std::fs::read_to_string(outcome.handover.to.join("report.html")).unwrap();
    assert!(html.contains("Headline risk") && html.contains("Residual risk"));

    // Linkage found persons at several providers, and well.
    let quality = outcome.linkage.quality.as_ref().unwrap();
    assert!(outcome.linkage.n_persons < outcome.linkage.n_records, "some persons are at several providers");
    assert!(quality.precision > 0.99 && quality.recall > 0.9, "linkage quality fell: {quality:?}");
}

#[test]
fn rerunning_the_demo_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, first) = small_demo(dir.path());
    let n_batches = ctx.store.batches().unwrap().len();
    drop(ctx);
    let (ctx, second) = small_demo(dir.path());
    assert!(second.ingests.iter().all(|ingest| ingest.already_received), "the same extracts are recognized");
    assert_eq!(ctx.store.batches().unwrap().len(), n_batches);
    assert_eq!(ctx.store.receipts().unwrap().len(), n_batches);
    assert_eq!(ctx.store.ledger().unwrap().len(), 2, "a second release is a second provision");
    assert_ne!(first.release.release_id, second.release.release_id);
    // Same persons, other release key: no pseudonym repeats between the two releases.
    let pseudonyms = |dir: &Path| -> Vec<String> {
        let tables = release_tables(dir);
        let persons = tables.iter().find(|table| table.name() == "persons").unwrap();
        (0..persons.n_rows())
            .map(|row| persons.column("person").unwrap().data.text_at(row).unwrap())
            .collect()
    };
    let (a, b) = (pseudonyms(&first.handover.to), pseudonyms(&second.handover.to));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().all(|pseudonym| !b.contains(pseudonym)));
    ctx.store.verify_audit().unwrap();
}

#[test]
fn unpublished_provider_is_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::open_ctx(dir.path(), "test-operator");
    ops::register_provider(
        &ctx,
        &kiban_service::ProviderRequest {
            code: "1310000009".to_owned(),
            name: "未公表クリニック".to_owned(),
            address: "東京都千代田区".to_owned(),
            notified_on: kiban_model::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            published_on: None,
        },
    )
    .unwrap();
    let error = ops::ingest(
        &ctx,
        &kiban_service::IngestRequest {
            provider: "1310000009".to_owned(),
            format: kiban_service::IngestFormat::Csv,
            path: dir.path().join("nothing"),
            mapping: None,
        },
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("not published"), "{error:#}");
    let entries = ctx.store.audit_entries().unwrap();
    assert_eq!(entries.last().unwrap().event.outcome, kiban_audit::Outcome::Denied);
    assert!(ctx.store.batches().unwrap().is_empty());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
