//! Processing throughput: N synthetic persons with their events → a release under a policy, timed per phase.
//!
//! ```text
//! cargo build --release -p kiban-release --example bench_process
//! /usr/bin/time -v target/release/examples/bench_process --persons 1000000 --policy docs/examples/policy-anonymized.toml
//! ```
//!
//! The cohort is generated in memory by kiban-synth (3 providers), moved record by record into a
//! `CompactRecords` (the form a release reads the vault into) and linked by its ground truth, so the
//! figures are those of processing and writing (cohort selection, k-anonymity, peculiar values, k^m on
//! diagnosis codes; then tables built and written a chunk of persons at a time as Parquet + CSV + manifest +
//! report), not of intake or linkage. Prints one `key=value` line per phase; peak memory comes from
//! `/usr/bin/time -v` (it includes the generated cohort, about 10 GiB at a million persons; kiban-cli's
//! `bench_release` example measures a release read from the vault instead).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kiban_columnar::CompactRecords;
use kiban_crypto::{DateShiftKey, PseudonymKey, SecretKey};
use kiban_engine::policy::Recipient;
use kiban_engine::{LinkedRecords, ProcessInputs, ReleaseKeys, ReleasePolicy};
use kiban_model::NaiveDate;
use kiban_synth::SynthConfig;

fn main() {
    let mut persons = 100_000;
    let mut policy_path = None;
    let mut out = std::env::temp_dir().join("kiban-bench-process");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--persons" => persons = args.next().and_then(|n| n.parse().ok()).expect("--persons N"),
            "--policy" => policy_path = args.next(),
            "--out" => out = args.next().expect("--out DIR").into(),
            other => panic!("unknown argument {other}"),
        }
    }
    let policy = match &policy_path {
        Some(path) => ReleasePolicy::parse(&std::fs::read_to_string(path).expect("policy file"))
            .unwrap_or_else(|errors| panic!("{errors}")),
        None => ReleasePolicy::default_anonymized(Recipient {
            name: "bench".to_owned(),
            address: "bench".to_owned(),
        }),
    };

    let start = Instant::now();
    let cohort = kiban_synth::generate(&SynthConfig {
        n_patients: persons,
        n_providers: 3,
        seed: 1,
        ..SynthConfig::default()
    });
    println!("generate seconds={:.2} generated_rss_mib={}", start.elapsed().as_secs_f64(), rss_mib());

    let start = Instant::now();
    let truth: HashMap<(String, String), u64> = cohort
        .truth
        .iter()
        .map(|row| ((row.provider.as_str().to_owned(), row.local_id.as_str().to_owned()), row.person))
        .collect();
    let n_records = cohort.truth.len();
    let mut records = CompactRecords::new();
    let mut grouped: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for provider_records in cohort.records {
        for record in provider_records {
            let person = truth
                [&(record.person.provider.as_str().to_owned(), record.person.local_id.as_str().to_owned())];
            grouped.entry(person).or_default().push(records.push(&record).expect("fits"));
        }
    }
    drop(truth);
    let linked: Vec<LinkedRecords> = grouped
        .into_iter()
        .map(|(id, records)| LinkedRecords { person_id: format!("person-{id}"), records })
        .collect();
    println!(
        "compact seconds={:.2} persons={} records={n_records} events={} rss_mib={}",
        start.elapsed().as_secs_f64(),
        linked.len(),
        records.n_events(),
        rss_mib()
    );

    let master = SecretKey::from_bytes([9; 32]);
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(&master, b"bench"),
        date_shift: DateShiftKey::derive_from(&master, b"bench"),
    };
    let no_ids = BTreeMap::new();
    let inputs = ProcessInputs {
        release_date: NaiveDate::from_ymd_opt(2026, 4, 1).expect("date"),
        provision_ids: &no_ids,
    };
    let start = Instant::now();
    let dataset =
        kiban_engine::process_records(records, linked, &policy, &keys, &inputs).expect("processing");
    let summary = dataset.summary();
    println!(
        "process seconds={:.2} released={} peculiar_decisions={}",
        start.elapsed().as_secs_f64(),
        summary.n_persons_released,
        summary.peculiar.len()
    );

    let start = Instant::now();
    if out.exists() {
        std::fs::remove_dir_all(&out).expect("clearing the output folder");
    }
    let manifest = kiban_release::write_release(&dataset, "BENCH", &out).expect("writing");
    let context = kiban_release::ReportContext {
        release_id: "BENCH".to_owned(),
        recipient_name: policy.recipient.name.clone(),
        provided_on: "2026-04-01".to_owned(),
        facts: Vec::new(),
    };
    kiban_release::write_report(&dataset, &manifest, &context, &out, kiban_release::AtRest::Plain)
        .expect("report");
    let bytes: u64 = manifest.files.iter().map(|file| file.bytes).sum();
    println!(
        "build_and_write seconds={:.2} files={} bytes={bytes}",
        start.elapsed().as_secs_f64(),
        manifest.files.len()
    );
}

/// The process's resident memory now, in MiB (Linux; 0 elsewhere): what the input alone holds.
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
