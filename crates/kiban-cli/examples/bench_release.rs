//! `kiban release` at scale, read from the vault (issue 5: a million persons in ≤ 10 minutes and ≤ 4 GiB).
//!
//! ```text
//! cargo build --release -p kiban-cli --example bench_release
//! B=target/release/examples/bench_release
//! $B build --persons 1000000 --data-dir /work/bench-vault-1m        # once: synthetic cohort → vault + links
//! /usr/bin/time -v $B release --data-dir /work/bench-vault-1m       # `kiban release` end to end
//! /usr/bin/time -v $B release --data-dir /work/bench-vault-1m --models demographics   # or whole-record
//! /usr/bin/time -v $B phases --data-dir /work/bench-vault-1m --out /work/bench-phases-1m
//! ```
//!
//! `build` generates the cohort with kiban-synth (3 providers, seed 1), registers the providers, stores the
//! records in the vault as sealed Parquet batches of `--batch-records` records (50,000 by default) through
//! the store's API, as intake does, and stores links from the generator's ground truth (as `kiban link`
//! would, without the linkage's time). `release` runs `kiban_cli::release` (the built-in anonymized policy,
//! reference date 2026-04-01) and removes the release folder after measuring it unless `--keep`. `phases`
//! runs the same steps by hand (read the vault, group by link, process, write), timing each. Each prints
//! `key=value` lines; peak memory comes from `/usr/bin/time -v`.

#![allow(clippy::unwrap_used)] // a benchmark driver: any failure ends the run

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use kiban_audit::AuditEvent;
use kiban_audit::Outcome;
use kiban_cli::ReleaseArgs;
use kiban_columnar::CompactRecords;
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_engine::{LinkedRecords, ProcessInputs, ReleaseKeys};
use kiban_model::NaiveDate;
use kiban_service::{App, Request, Response, SecondFactor, Session};
use kiban_store::{BatchCompletion, NewBatch, PersonLink};
use kiban_store::{DatabaseConfig, ProviderRegistration, Store, StoreKeys};
use kiban_synth::SynthConfig;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().context("usage: bench_release build|release|phases --data-dir DIR ...")?;
    let mut persons = 100_000;
    let mut batch_records = 50_000;
    let mut data_dir = None;
    let mut out = None;
    let mut keep = false;
    let mut models = Models::BuiltIn;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--persons" => persons = args.next().context("--persons N")?.parse()?,
            "--batch-records" => batch_records = args.next().context("--batch-records N")?.parse()?,
            "--data-dir" => data_dir = Some(PathBuf::from(args.next().context("--data-dir DIR")?)),
            "--out" => out = Some(PathBuf::from(args.next().context("--out DIR")?)),
            "--keep" => keep = true,
            "--models" => {
                models = Models::parse(&args.next().context("--models built-in|demographics|whole-record")?)?
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let data_dir = data_dir.context("--data-dir DIR is required")?;
    match mode.as_str() {
        "build" => build(&data_dir, persons, batch_records),
        "release" => release(&data_dir, keep, models),
        "phases" => phases(&data_dir, &out.context("phases needs --out DIR")?),
        other => anyhow::bail!("unknown mode {other}: build, release or phases"),
    }
}

fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 1).expect("a valid date")
}

fn release_args() -> ReleaseArgs {
    ReleaseArgs {
        recipient_name: Some("bench".to_owned()),
        recipient_address: Some("bench".to_owned()),
        reference_date: Some(reference_date()),
        ..ReleaseArgs::default()
    }
}

/// The bench's direct handle on the store (build writes the vault directly, as intake would, but faster).
struct Bench {
    store: Store,
}

impl Bench {
    fn open(data_dir: &std::path::Path) -> Result<Bench> {
        // The App creates the data directory and its key file on first open.
        drop(App::open(data_dir, &DatabaseConfig::Sqlite, false)?);
        let mut store = Store::open(data_dir)?;
        let master = kiban_service::read_key_file(&data_dir.join("keys").join("master.key"))?;
        store.set_keys(StoreKeys::open(&master, &data_dir.join("keystore"))?);
        Ok(Bench { store })
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    fn event(&self, action: &str, object: &str, outcome: Outcome, detail: String) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            actor: "bench".to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            outcome,
            detail,
        }
    }
}

const BENCH_PASSWORD: &str = "Bench-Only-Password-2026!";

/// A processor's session on the bench's synthetic data directory: the accounts are made on first use and
/// the bench user's TOTP secret is kept in the (synthetic, throwaway) directory so later runs can log in.
fn bench_session(app: &App, data_dir: &std::path::Path) -> Result<Session> {
    let secret_file = data_dir.join("bench-totp.txt");
    if !app.has_users()? {
        let admin = app.init_admin("bench-admin", "bench", BENCH_PASSWORD)?;
        let code = kiban_auth::totp_code(&admin.totp, app.now())?;
        let login = app.login("bench-admin", BENCH_PASSWORD, SecondFactor::Totp(code.expose_secret()))?;
        let admin = app.authenticate(login.token.expose_secret())?;
        std::fs::write(
            data_dir.join("security.toml"),
            "[anomaly]\nallowed_hours = \"00:00-00:00\"\nmax_rows_per_day = 1000000000\n",
        )?;
        let request = Request::UserAdd {
            name: "bench".to_owned(),
            display_name: String::new(),
            roles: vec!["processor".to_owned()],
        };
        let Response::EnrollmentToken(token) = app.execute(&admin, request)? else {
            anyhow::bail!("user add answers with a token")
        };
        let enrolled = app.enroll("bench", token.token.expose_secret(), BENCH_PASSWORD)?;
        std::fs::write(&secret_file, enrolled.totp.to_base32().expose_secret())?;
    }
    let secret = kiban_auth::TotpSecret::from_base32(std::fs::read_to_string(&secret_file)?.trim())
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let code = kiban_auth::totp_code(&secret, app.now())?;
    let login = app.login("bench", BENCH_PASSWORD, SecondFactor::Totp(code.expose_secret()))?;
    Ok(app.authenticate(login.token.expose_secret())?)
}

fn build(data_dir: &std::path::Path, persons: usize, batch_records: usize) -> Result<()> {
    anyhow::ensure!(!data_dir.exists(), "{} exists: build into a new folder", data_dir.display());
    let ctx = Bench::open(data_dir)?;
    let start = Instant::now();
    let cohort = kiban_synth::generate(&SynthConfig {
        n_patients: persons,
        n_providers: 3,
        seed: 1,
        ..SynthConfig::default()
    });
    println!("generate seconds={:.2} rss_mib={}", start.elapsed().as_secs_f64(), rss_mib());

    let start = Instant::now();
    for provider in &cohort.providers {
        ctx.store.register_provider(&ProviderRegistration {
            code: provider.code.clone(),
            name: provider.name.clone(),
            address: provider.address.clone(),
            notified_on: NaiveDate::from_ymd_opt(2025, 4, 1).expect("a valid date"),
            published_on: NaiveDate::from_ymd_opt(2025, 4, 15),
        })?;
    }
    let (mut n_batches, mut n_records, mut n_events) = (0, 0, 0);
    for (provider, records) in cohort.providers.iter().zip(&cohort.records) {
        for (chunk_idx, chunk) in records.chunks(batch_records.max(1)).enumerate() {
            let batch = ctx.store.begin_batch(&NewBatch {
                provider: provider.code.clone(),
                fingerprint: format!("bench-{}-{chunk_idx}", provider.code),
                format: "synthetic".to_owned(),
                source: "bench_release".to_owned(),
                started_at: ctx.now(),
            })?;
            ctx.store.write_batch_records(batch, chunk)?;
            let completion = BatchCompletion {
                n_persons: chunk.len() as u64,
                n_persons_excluded: 0,
                n_records_by_kind: BTreeMap::new(),
                items: Vec::new(),
                quarantined: Vec::new(),
                completed_at: ctx.now(),
            };
            let event = ctx.event("ingest.batch", &format!("batch:{batch}"), Outcome::Success, String::new());
            ctx.store.complete_batch(batch, &completion, event)?;
            n_batches += 1;
            n_records += chunk.len();
            n_events += chunk.iter().map(kiban_model::PatientRecord::n_events).sum::<usize>();
        }
    }
    let links: Vec<PersonLink> = cohort
        .truth
        .iter()
        .map(|row| PersonLink {
            provider: row.provider.clone(),
            local_id: row.local_id.clone(),
            person_id: format!("person-{}", row.person),
        })
        .collect();
    ctx.store.replace_person_links(
        &links,
        ctx.event("linkage.replace", "person_links", Outcome::Success, "bench links".to_owned()),
    )?;
    println!(
        "store seconds={:.2} batches={n_batches} records={n_records} events={n_events} links={}",
        start.elapsed().as_secs_f64(),
        links.len()
    );
    Ok(())
}

/// Which attacker models the release enforces: the built-in ones (demographics, any 2 diagnosis
/// categories with the demographics), the demographics alone (the release before issue 13), or the
/// built-in ones plus an events model (2 diagnosis categories with dates to within 180 days, k = 3) and
/// a counts model (encounters, k = 5): `docs/examples/policy-whole-record.toml`.
#[derive(Clone, Copy)]
enum Models {
    BuiltIn,
    Demographics,
    WholeRecord,
}

impl Models {
    fn parse(name: &str) -> Result<Models> {
        Ok(match name {
            "built-in" => Models::BuiltIn,
            "demographics" => Models::Demographics,
            "whole-record" => Models::WholeRecord,
            other => anyhow::bail!("unknown --models {other}: built-in, demographics or whole-record"),
        })
    }

    /// The policy file of the variant (`docs/examples/`), with the bench recipient; `None` for the
    /// built-in policy itself.
    fn policy_file(self) -> Result<Option<PathBuf>> {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
        let text = match self {
            Models::BuiltIn => return Ok(None),
            // The built-in policy without its codes model.
            Models::Demographics => {
                let text = std::fs::read_to_string(examples.join("policy-built-in.toml"))?;
                let (head, rest) = text.split_once("[[privacy.codes]]").context("a codes model")?;
                let (_, columns) = rest.split_once("[columns.persons]").context("columns")?;
                format!(
                    "{}[columns.persons]{columns}",
                    head.replace("[privacy]\n", "[privacy]\nkm = false\n")
                )
            }
            Models::WholeRecord => std::fs::read_to_string(examples.join("policy-whole-record.toml"))?,
        };
        let path = std::env::temp_dir().join(format!("bench-release-policy-{}.toml", std::process::id()));
        std::fs::write(&path, text)?;
        Ok(Some(path))
    }
}

fn release(data_dir: &std::path::Path, keep: bool, models: Models) -> Result<()> {
    let app = App::open(data_dir, &DatabaseConfig::Sqlite, false)?;
    let session = bench_session(&app, data_dir)?;
    let policy_path = models.policy_file()?;
    let args = match policy_path.clone() {
        Some(path) => ReleaseArgs {
            policy: Some(path),
            recipient_name: None,
            recipient_address: None,
            ..release_args()
        },
        None => release_args(),
    };
    let start = Instant::now();
    let Response::Released(outcome) = app.execute(&session, Request::Release(Box::new(args.request()?)))?
    else {
        anyhow::bail!("a release answers with its outcome")
    };
    let seconds = start.elapsed().as_secs_f64();
    let bytes: u64 = walk_bytes(&outcome.dir)?;
    println!(
        "release seconds={seconds:.2} release_id={} persons_in={} released={} suppressed={} bytes={bytes}",
        outcome.release_id, outcome.n_persons_in, outcome.n_persons_released, outcome.n_persons_suppressed
    );
    for model in &outcome.risk.models {
        println!(
            "model residual={} below_k={} unique={} smallest={:?} highest={:.4} name={:?}",
            model.residual, model.n_below_k, model.n_unique, model.smallest_class, model.highest, model.name
        );
    }
    // Utility as the report gives it: events released and codes at full detail, per table.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.dir.join("report.json"))?)?;
    for table in report["utility"].as_array().context("report.json utility")? {
        println!(
            "utility table={} events={} released={} codes_unchanged={} generalized={} suppressed={} dates={}",
            table["table"],
            table["events"],
            table["events_released"],
            table["codes_unchanged"],
            table["codes_generalized"],
            table["codes_suppressed"],
            table["date_granularity"]
        );
    }
    if let Some(path) = &policy_path {
        std::fs::remove_file(path)?;
    }
    if !keep {
        std::fs::remove_dir_all(&outcome.dir)?;
    }
    Ok(())
}

fn phases(data_dir: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let ctx = Bench::open(data_dir)?;
    let start = Instant::now();
    let mut records = CompactRecords::new();
    for batch in ctx.store.batches()? {
        ctx.store.read_batch_into(batch.id, &mut records)?;
    }
    records.merge_patients();
    println!(
        "read_vault seconds={:.2} records={} events={} rss_mib={}",
        start.elapsed().as_secs_f64(),
        records.n_records(),
        records.n_events(),
        rss_mib()
    );

    let start = Instant::now();
    let person_links = ctx.store.person_links()?;
    let persons: Vec<LinkedRecords> = kiban_service::group_by_person(&records, &person_links)?
        .into_iter()
        .map(|(person_id, records)| LinkedRecords { person_id: person_id.to_owned(), records })
        .collect();
    drop(person_links);
    println!(
        "group seconds={:.2} persons={} rss_mib={}",
        start.elapsed().as_secs_f64(),
        persons.len(),
        rss_mib()
    );

    let start = Instant::now();
    let policy = release_args().request()?.policy;
    let master = &ctx.store.keys()?.root;
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(master, b"BENCH"),
        date_shift: DateShiftKey::derive_from(master, b"BENCH"),
    };
    let no_ids = BTreeMap::new();
    let inputs = ProcessInputs { release_date: reference_date(), provision_ids: &no_ids };
    let dataset = kiban_engine::process_records(records, persons, &policy, &keys, &inputs)?;
    println!(
        "process seconds={:.2} released={} peculiar_decisions={} rss_mib={}",
        start.elapsed().as_secs_f64(),
        dataset.summary().n_persons_released,
        dataset.summary().peculiar.len(),
        rss_mib()
    );

    let start = Instant::now();
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    let manifest = kiban_release::write_release(&dataset, "BENCH", out)?;
    let context = kiban_release::ReportContext {
        release_id: "BENCH".to_owned(),
        recipient_name: policy.recipient.name.clone(),
        provided_on: reference_date().to_string(),
        facts: Vec::new(),
    };
    let bytes: u64 = manifest.files.iter().map(|file| file.bytes).sum();
    println!(
        "build_and_write seconds={:.2} files={} bytes={bytes} rss_mib={}",
        start.elapsed().as_secs_f64(),
        manifest.files.len(),
        rss_mib()
    );
    let start = Instant::now();
    kiban_release::write_report(&dataset, &manifest, &context, out, kiban_release::AtRest::Plain)?;
    println!("report_measured_on_files seconds={:.2} rss_mib={}", start.elapsed().as_secs_f64(), rss_mib());
    Ok(())
}

fn walk_bytes(dir: &std::path::Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total +=
            if entry.file_type()?.is_dir() { walk_bytes(&entry.path())? } else { entry.metadata()?.len() };
    }
    Ok(total)
}

/// The process's resident memory now, in MiB (Linux; 0 elsewhere).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()))
        })
        .map_or(0, |kib| kib / 1024)
}
