//! Opt-out (提供停止の求め): a person who opts out reaches no later intake and no later release.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use clap::Parser as _;
use kiban_cli::{Cli, ReleaseArgs};
use kiban_crypto::PseudonymKey;
use kiban_model::{NaiveDate, PatientRecord};
use kiban_service::{IngestFormat, IngestRequest, LinkRequest, OptoutForm, Requester};

use crate::{release_tables, small_demo, vault_records};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The pseudonym a person gets in one release (the engine's rule: HMAC of the person ID under the
/// release's key, derived from the deployment key).
fn pseudonym(data_dir: &Path, release_id: &str, person_id: &str) -> String {
    let ctx = crate::open_ctx(data_dir, "test");
    PseudonymKey::derive_from(&ctx.store.keys().unwrap().root, release_id.as_bytes())
        .pseudonym(person_id.as_bytes())
        .as_str()
        .to_owned()
}

fn released_pseudonyms(release_dir: &Path) -> HashSet<String> {
    let tables = release_tables(release_dir);
    let persons = tables.iter().find(|table| table.name() == "persons").unwrap();
    (0..persons.n_rows()).map(|row| persons.column("person").unwrap().data.text_at(row).unwrap()).collect()
}

/// Opt-out arguments naming the person by the demographics of `record`, as a requester would give them.
fn optout_for(record: &PatientRecord) -> OptoutForm {
    let person = &record.person;
    let kana = person.name_kana.as_ref().unwrap();
    OptoutForm {
        requester: Requester::Person,
        requester_name: "本人".to_owned(),
        relationship: None,
        received_on: date(2026, 4, 10),
        stop_on: None,
        notice_on: Some(date(2026, 4, 12)),
        kana: format!("{}　{}", kana.family, kana.given),
        birth_date: person.birth_date.unwrap().format("%Y-%m-%d").to_string(),
        sex: person.sex.hl7_code().to_owned(),
        provider: None,
        patient_id: None,
        insurer_number: None,
        issuer: "テスト事業者".to_owned(),
    }
}

fn release_args() -> ReleaseArgs {
    ReleaseArgs {
        recipient_name: Some("デモ大学".to_owned()),
        recipient_address: Some("東京都".to_owned()),
        k: Some(5),
        suppression_limit: Some(0.05),
        reference_date: Some(date(2026, 4, 1)),
        policy: None,
    }
}

#[test]
fn a_person_who_opts_out_is_in_no_later_release() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, first) = small_demo(dir.path());
    let before = released_pseudonyms(&first.handover.to);

    // A person seen at several providers who is in the first release, identified from the vault.
    let mut members: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for link in ctx.store.person_links().unwrap() {
        members
            .entry(link.person_id)
            .or_default()
            .push((link.provider.as_str().to_owned(), link.local_id.as_str().to_owned()));
    }
    let records = vault_records(&ctx);
    let (person_id, record) = members
        .iter()
        .filter(|(_, patients)| patients.len() >= 2)
        .filter(|(person_id, _)| {
            before.contains(&pseudonym(dir.path(), &first.release.release_id, person_id))
        })
        .find_map(|(person_id, patients)| {
            let (provider, local_id) = &patients[0];
            let record = records.iter().find(|record| {
                record.person.provider.as_str() == provider
                    && record.person.local_id.as_str() == local_id
                    && record.person.name_kana.is_some()
                    && record.person.birth_date.is_some()
            })?;
            Some((person_id.clone(), record))
        })
        .expect("the cohort has a released person at several providers");

    let added = crate::ops::add_optout(&ctx, &optout_for(record)).unwrap();
    assert_eq!(added.request_id, "OPT-0001");
    assert!(added.n_vault_records_matched >= 1);
    assert_eq!(added.retain_until, date(2029, 4, 12), "the notice is kept 3 years (Rule 32)");
    let notice = std::fs::read_to_string(&added.notice).unwrap();
    assert!(notice.contains("医療情報の提供の停止の求め") && notice.contains("2026年4月10日"));
    let stored = ctx.store.optout_requests().unwrap();
    assert_eq!(stored[0].request.notice_sha256, kiban_crypto::sha256_hex(notice.as_bytes()));

    // Later: link again and release again.
    crate::ops::link(&ctx, &LinkRequest::default()).unwrap();
    let second = crate::ops::release(&ctx, &release_args().request().unwrap()).unwrap();
    assert_eq!(second.n_persons_excluded, 1, "exactly the one linked person is excluded");
    assert_eq!(second.n_persons_in, first.release.n_persons_in - 1);
    let after = released_pseudonyms(&crate::exported(&ctx, &second.release_id));
    assert!(
        !after.contains(&pseudonym(dir.path(), &second.release_id, &person_id)),
        "the person was released"
    );
    let others: Vec<&String> = members.keys().filter(|id| **id != person_id).collect();
    assert!(
        others.iter().any(|id| after.contains(&pseudonym(dir.path(), &second.release_id, id))),
        "the pseudonym check itself works"
    );

    // The audit log says how many, never who.
    let entries = ctx.store.audit_entries().unwrap();
    let release_entry = entries.iter().rfind(|entry| entry.event.action == "release.write").unwrap();
    assert!(release_entry.event.detail.contains("1 excluded by opt-out"), "{}", release_entry.event.detail);
    let optout_entry = entries.iter().find(|entry| entry.event.action == "optout.record").unwrap();
    let kana = record.person.name_kana.as_ref().unwrap();
    for entry in &entries {
        assert!(!entry.event.detail.contains(&kana.family) && !entry.event.detail.contains(&person_id));
    }
    assert_eq!(optout_entry.event.object, "optout:OPT-0001");
    ctx.store.verify_audit().unwrap();
}

#[test]
fn an_optout_recorded_before_intake_keeps_the_person_out_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An intake operator, logged in, as at a real desk (every hour allowed, so the anomaly rules do not
    // depend on when the test runs).
    let session = dir.path().join("session");
    crate::security::log_in_as(&data, "clerk", "intake-operator", &session);
    let database = crate::database_flags(&data);
    let run = |args: &[&str]| {
        let mut argv = vec![
            "kiban",
            "--no-progress",
            "--data-dir",
            data.to_str().unwrap(),
            "--session-file",
            session.to_str().unwrap(),
        ];
        argv.extend(database.iter().map(String::as_str));
        argv.extend_from_slice(args);
        kiban_cli::run(Cli::try_parse_from(argv).unwrap())
    };
    run(&[
        "provider",
        "add",
        "--code",
        "1310000003",
        "--name",
        "テスト医院",
        "--address",
        "東京都",
        "--notified-on",
        "2026-01-05",
        "--published-on",
        "2026-02-01",
    ])
    .unwrap();
    // Recorded through the command line, by a bereaved family member, with a half-width kana spelling.
    run(&[
        "optout",
        "add",
        "--requester",
        "bereaved-family",
        "--requester-name",
        "山田一郎",
        "--relationship",
        "長男",
        "--received-on",
        "2026-03-01",
        "--notice-on",
        "2026-03-02",
        "--kana",
        "ﾔﾏﾀﾞ ﾊﾅｺ",
        "--birth-date",
        "S23.04.05",
        "--sex",
        "F",
    ])
    .unwrap();
    run(&["optout", "list"]).unwrap();

    // The provider's own CSV layout, read through a mapping file.
    let extract = dir.path().join("extract");
    std::fs::create_dir_all(&extract).unwrap();
    std::fs::write(
        extract.join("KANJA.csv"),
        "患者番号,カナ氏名,生年月日,性別\nA1,ヤマダ ハナコ,1948/04/05,女\nA2,スズキ イチロウ,1950/01/02,男\nA3,ヤマダ ハナコ,1948/04/06,女\n",
    )
    .unwrap();
    std::fs::write(
        extract.join("JUSHIN.csv"),
        "患者番号,区分,受診日\nA1,外来,2025/01/02\nA2,外来,2025/01/03\n",
    )
    .unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(
        &mapping,
        "date_format = \"%Y/%m/%d\"\n\
         [files.patients]\nfile = \"KANJA.csv\"\n\
         columns = { patient_id = \"患者番号\", name_kana = \"カナ氏名\", birth_date = \"生年月日\", sex = \"性別\" }\n\
         [files.encounters]\nfile = \"JUSHIN.csv\"\n\
         columns = { patient_id = \"患者番号\", class = \"区分\", start_date = \"受診日\" }\n\
         values.class = { \"外来\" = \"O\" }\n",
    )
    .unwrap();
    let ctx = crate::open_ctx(&data, "test-operator");
    let args = IngestRequest {
        provider: "1310000003".to_owned(),
        format: IngestFormat::Csv,
        path: extract.clone(),
        mapping: Some(mapping.clone()),
    };
    let outcome = crate::ops::ingest(&ctx, &args).unwrap();
    assert_eq!((outcome.n_persons, outcome.n_persons_excluded), (2, 1));
    assert_eq!(
        outcome.n_records_by_kind.get("encounters"),
        Some(&1),
        "the excluded person's visit is gone too"
    );
    assert_eq!(outcome.n_quarantined, 0);
    let stored: Vec<String> = ctx
        .store
        .read_batch_records(outcome.batch)
        .unwrap()
        .iter()
        .map(|record| record.person.local_id.as_str().to_owned())
        .collect();
    assert_eq!(stored, ["A2", "A3"], "A1 never reached the vault; A3 (another birth date) did");
    let receipt = &ctx.store.receipts().unwrap()[0];
    assert_eq!((receipt.n_persons, receipt.n_persons_excluded), (2, 1));
    let entry = ctx
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .rfind(|entry| entry.event.action == "ingest.batch")
        .unwrap();
    assert!(entry.event.detail.contains("1 excluded by opt-out"), "{}", entry.event.detail);
    assert!(!entry.event.detail.contains("ヤマダ") && !entry.event.detail.contains("A1"));

    let requests = ctx.store.optout_requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].request.requester_relationship.as_deref(), Some("長男"));
    assert!(data.join(&requests[0].request.notice_path).is_file());

    // --mapping belongs to CSV only.
    let wrong = IngestRequest { format: IngestFormat::Fhir, ..args };
    assert!(crate::ops::ingest(&ctx, &wrong).unwrap_err().to_string().contains("--mapping"));
}
