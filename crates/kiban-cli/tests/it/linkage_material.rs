//! Public-database linkage material (Rule 28): one-way export and provision-ID import.

use std::path::Path;

use kiban_service::{
    IngestFormat, IngestRequest, LinkRequest, LinkageExportRequest, LinkageImportRequest, ProviderRequest,
};

use crate::Ctx;
use kiban_crypto::{LinkageHmac, LinkageOneWay};
use kiban_model::NaiveDate;

const PATIENTS_A: &str = "patient_id,name_kana,birth_date,sex,insurer_number,insurance_symbol,insurance_number,insurance_branch\n\
    P1,ヤマダ ハナコ,1948-04-05,F,138057,東京あ,0012,01\n\
    P2,スズキ イチロウ,1960-12-24,M,06131234,,777,\n\
    P3,サトウ,,M,,,,\n";
const PATIENTS_B: &str = "patient_id,name_kana,birth_date,sex\nQ9,ﾔﾏﾀﾞ ﾊﾅｺ,S23.04.05,2\n";

fn setup(dir: &Path) -> Ctx {
    let ctx = crate::open_ctx(&dir.join("data"), "test-operator");
    for (code, patients) in [("1310000001", PATIENTS_A), ("1310000002", PATIENTS_B)] {
        crate::ops::register_provider(
            &ctx,
            &ProviderRequest {
                code: code.to_owned(),
                name: "テスト病院".to_owned(),
                address: "東京都".to_owned(),
                notified_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                published_on: NaiveDate::from_ymd_opt(2026, 1, 2),
            },
        )
        .unwrap();
        let extract = dir.join(code);
        std::fs::create_dir_all(&extract).unwrap();
        std::fs::write(extract.join("patients.csv"), patients).unwrap();
        let args = IngestRequest {
            provider: code.to_owned(),
            format: IngestFormat::Csv,
            path: extract,
            mapping: None,
        };
        crate::ops::ingest(&ctx, &args).unwrap();
    }
    crate::ops::link(&ctx, &LinkRequest::default()).unwrap();
    ctx
}

fn read_rows(path: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["row_id", "hash"]);
    reader.records().map(|row| row.unwrap()).map(|row| (row[0].to_owned(), row[1].to_owned())).collect()
}

#[test]
fn export_holds_only_row_ids_and_hashes_and_import_stores_provision_ids() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = setup(dir.path());
    let out = dir.path().join("material.csv");
    let outcome = crate::ops::export_linkage_material(
        &ctx,
        &LinkageExportRequest { out: out.clone(), algorithm: "hmac-sha256".to_owned() },
    )
    .unwrap();
    // P1 and Q9 are one person; P3 has no birth date.
    assert_eq!((outcome.n_rows, outcome.n_incomplete, outcome.n_opted_out), (2, 1, 0));
    let rows = read_rows(&out);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(row_id, hash)| row_id.starts_with("LX0001-") && hash.len() == 64));

    // No plaintext identity, no internal ID, in any spelling.
    let text = std::fs::read_to_string(&out).unwrap();
    for plain in [
        "ヤマダ",
        "ﾔﾏﾀﾞ",
        "ハナコ",
        "スズキ",
        "1948",
        "19480405",
        "S23",
        "1960",
        "138057",
        "00138057",
        "06131234",
        "東京",
        "PSN-",
        "P1",
        "Q9",
    ] {
        assert!(!text.contains(plain), "the export holds plaintext ({} chars)", plain.chars().count());
    }

    // The hash is the documented canonical identity under the built-in function.
    let function = LinkageHmac::derive_from(&ctx.store.keys().unwrap().root);
    let hanako = function
        .apply("ヤマダハナコ\u{1f}19480405\u{1f}2\u{1f}00138057\u{1f}東京あ\u{1f}12\u{1f}1".as_bytes());
    let ichiro =
        function.apply("スズキイチロウ\u{1f}19601224\u{1f}1\u{1f}06131234\u{1f}\u{1f}777\u{1f}".as_bytes());
    let row_of = |hash: &str| rows.iter().find(|(_, h)| h == hash).map(|(row_id, _)| row_id.clone()).unwrap();
    let (hanako_row, ichiro_row) = (row_of(&hanako), row_of(&ichiro));

    // Import the public database's answer.
    let answer = dir.path().join("answer.csv");
    std::fs::write(&answer, format!("row_id,provision_id\n{hanako_row},NDB-0001\n{ichiro_row},NDB-0002\n"))
        .unwrap();
    assert_eq!(crate::ops::import_linkage_material(&ctx, &LinkageImportRequest { file: answer }).unwrap(), 2);
    let links = ctx.store.person_links().unwrap();
    let person_of = |local_id: &str| {
        links
            .iter()
            .find(|link| link.local_id.as_str() == local_id)
            .map(|link| link.person_id.clone())
            .unwrap()
    };
    assert_eq!(person_of("P1"), person_of("Q9"));
    let stored: Vec<(String, String)> =
        ctx.store.provision_ids().unwrap().into_iter().map(|id| (id.person_id, id.provision_id)).collect();
    let mut expected =
        vec![(person_of("P1"), "NDB-0001".to_owned()), (person_of("P2"), "NDB-0002".to_owned())];
    expected.sort();
    assert_eq!(stored, expected);

    // A row never exported is refused whole, and the refusal is audited.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("row_id,provision_id\n{hanako_row},NDB-9\nLX0009-000001,NDB-8\n")).unwrap();
    let error = crate::ops::import_linkage_material(&ctx, &LinkageImportRequest { file: bad }).unwrap_err();
    assert!(format!("{error:#}").contains("LX0009-000001"), "{error:#}");
    assert!(
        ctx.store.provision_ids().unwrap().iter().any(|id| id.provision_id == "NDB-0001"),
        "nothing replaced"
    );
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, format!("row_id,provision_id\n{hanako_row},\n")).unwrap();
    let error = crate::ops::import_linkage_material(&ctx, &LinkageImportRequest { file: empty }).unwrap_err();
    assert!(format!("{error:#}").contains("line 2: column provision_id is empty"), "{error:#}");

    let actions: Vec<(String, kiban_audit::Outcome)> = ctx
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|entry| entry.event.action.starts_with("linkage_material"))
        .map(|entry| (entry.event.action, entry.event.outcome))
        .collect();
    assert_eq!(
        actions,
        [
            ("linkage_material.export".to_owned(), kiban_audit::Outcome::Success),
            ("linkage_material.import".to_owned(), kiban_audit::Outcome::Success),
            ("linkage_material.import".to_owned(), kiban_audit::Outcome::Failure),
            ("linkage_material.import".to_owned(), kiban_audit::Outcome::Failure),
        ]
    );

    // The same persons hash the same in the next export (the public database matches on it), under new
    // row IDs; an existing file is never overwritten; an unknown algorithm is refused.
    let again = dir.path().join("again.csv");
    crate::ops::export_linkage_material(
        &ctx,
        &LinkageExportRequest { out: again.clone(), algorithm: "hmac-sha256".to_owned() },
    )
    .unwrap();
    let second = read_rows(&again);
    assert!(second.iter().all(|(row_id, _)| row_id.starts_with("LX0002-")));
    let mut hashes: Vec<&String> = second.iter().map(|(_, hash)| hash).collect();
    hashes.sort();
    let mut first_hashes: Vec<&String> = rows.iter().map(|(_, hash)| hash).collect();
    first_hashes.sort();
    assert_eq!(hashes, first_hashes);
    let refused = crate::ops::export_linkage_material(
        &ctx,
        &LinkageExportRequest { out: again, algorithm: "hmac-sha256".to_owned() },
    );
    assert!(refused.unwrap_err().to_string().contains("never overwritten"));
    let unknown = crate::ops::export_linkage_material(
        &ctx,
        &LinkageExportRequest { out: dir.path().join("x.csv"), algorithm: "ministry-v9".to_owned() },
    );
    assert!(unknown.unwrap_err().to_string().contains("unknown linkage algorithm"));
}
