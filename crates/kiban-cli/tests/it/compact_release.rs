//! `kiban release` reads the vault into `CompactRecords` a chunk of rows at a time; the release must be
//! byte for byte the one the engine makes from the same vault read whole into `PatientRecord`s (issue 5).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{TimeZone as _, Utc};
use kiban_audit::Outcome;
use kiban_cli::ReleaseArgs;
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_engine::{LinkedPerson, ProcessInputs, ReleaseKeys};
use kiban_model::{LocalPatientId, NaiveDate, PatientRecord, ProviderCode};
use kiban_store::{BatchCompletion, NewBatch};

use crate::{small_demo, vault_records};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Every file under `dir/sub`, by name.
fn files(dir: &Path, sub: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_str().unwrap().to_owned(), std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn a_release_from_the_compact_vault_equals_one_from_materialized_records() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = small_demo(dir.path());
    ctx.app.set_clock(Some(Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap()));

    // A later batch sends some patients again with part of their events and fewer demographics: both
    // paths merge them into the first records.
    let first_provider = vault_records(&ctx)[0].person.provider.clone();
    let resent: Vec<PatientRecord> = vault_records(&ctx)
        .into_iter()
        .filter(|record| record.person.provider == first_provider)
        .step_by(5)
        .map(|mut record| {
            record.labs.truncate(2);
            record.encounters.reverse();
            record.person.address = None;
            record
        })
        .collect();
    assert!(resent.len() >= 10);
    let batch = ctx
        .store
        .begin_batch(&NewBatch {
            provider: first_provider.clone(),
            fingerprint: "resent".to_owned(),
            format: "csv".to_owned(),
            source: "test".to_owned(),
            started_at: ctx.now(),
        })
        .unwrap();
    ctx.store.write_batch_records(batch, &resent).unwrap();
    let completion = BatchCompletion {
        n_persons: resent.len() as u64,
        n_persons_excluded: 0,
        n_records_by_kind: BTreeMap::new(),
        items: Vec::new(),
        quarantined: Vec::new(),
        completed_at: ctx.now(),
    };
    ctx.store
        .complete_batch(
            batch,
            &completion,
            ctx.event("ingest.batch", "batch:resent", Outcome::Success, String::new()),
        )
        .unwrap();

    let args = ReleaseArgs {
        recipient_name: Some("デモ大学".to_owned()),
        recipient_address: Some("東京都".to_owned()),
        k: Some(5),
        suppression_limit: Some(0.05),
        reference_date: Some(date(2026, 4, 1)),
        ..ReleaseArgs::default()
    };
    let released = crate::ops::release(&ctx, &args.request().unwrap()).unwrap();

    // The same release the old way: every batch read whole, merged per provider-local patient, grouped by
    // the stored links.
    let mut by_patient: BTreeMap<(ProviderCode, LocalPatientId), PatientRecord> = BTreeMap::new();
    for batch in ctx.store.batches().unwrap() {
        for record in ctx.store.read_batch_records(batch.id).unwrap() {
            let key = (record.person.provider.clone(), record.person.local_id.clone());
            match by_patient.get_mut(&key) {
                Some(existing) => existing.merge(record),
                None => {
                    by_patient.insert(key, record);
                }
            }
        }
    }
    let links: HashMap<(ProviderCode, LocalPatientId), String> = ctx
        .store
        .person_links()
        .unwrap()
        .into_iter()
        .map(|link| ((link.provider, link.local_id), link.person_id))
        .collect();
    let mut grouped: BTreeMap<&str, Vec<&PatientRecord>> = BTreeMap::new();
    for (key, record) in &by_patient {
        grouped.entry(links[key].as_str()).or_default().push(record);
    }
    let persons: Vec<LinkedPerson<'_>> = grouped
        .into_iter()
        .map(|(person_id, records)| LinkedPerson { person_id: person_id.to_owned(), records })
        .collect();
    let master = &ctx.store.keys().unwrap().root;
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(master, released.release_id.as_bytes()),
        date_shift: DateShiftKey::derive_from(master, released.release_id.as_bytes()),
    };
    let policy = args.request().unwrap().policy;
    let no_ids = BTreeMap::new();
    let inputs = ProcessInputs { release_date: date(2026, 4, 1), provision_ids: &no_ids };
    let dataset = kiban_engine::process(&persons, &policy, &keys, &inputs).unwrap();
    let materialized = dir.path().join("materialized");
    kiban_release::write_release(&dataset, &released.release_id, &materialized).unwrap();

    assert_eq!(released.n_persons_in, persons.len());
    assert_eq!(released.n_persons_released, dataset.summary().n_persons_released);
    // The kept release is sealed: compare its handover copy.
    let handover = crate::exported(&ctx, &released.release_id);
    for sub in ["parquet", "csv"] {
        let (compact, whole) = (files(&handover, sub), files(&materialized, sub));
        assert_eq!(compact.keys().collect::<Vec<_>>(), whole.keys().collect::<Vec<_>>());
        for (name, bytes) in &compact {
            assert!(
                *bytes == whole[name],
                "{sub}/{name} differs between the compact and the materialized path"
            );
        }
    }
    assert_eq!(
        std::fs::read(handover.join("manifest.json")).unwrap(),
        std::fs::read(materialized.join("manifest.json")).unwrap()
    );
}
