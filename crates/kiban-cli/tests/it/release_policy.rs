//! `kiban release --policy`: the command as an operator runs it, on the small demo's vault.

use kiban_cli::ReleaseArgs;
use kiban_columnar::read_parquet;
use kiban_engine::Mode;

use crate::{Ctx, small_demo};

/// A release from command-line arguments: the policy file is read and checked first.
fn release(ctx: &Ctx, args: &ReleaseArgs) -> anyhow::Result<kiban_service::ReleaseOutcome> {
    let request = args.request()?;
    Ok(crate::ops::release(ctx, &request)?)
}

const PSEUDONYMIZED: &str = r#"
mode = "pseudonymized"
[recipient]
name = "認定利用事業者 (test)"
address = "大阪府"
[columns.persons]
person_id = "pseudonym"
birth_date = { generalize = "month" }
sex = "keep"
[columns.labs]
provider = "pseudonym"
code = "keep"
value_numeric = "keep"
date = "keep"
"#;

#[test]
fn a_policy_file_drives_the_release_and_a_bad_one_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = small_demo(dir.path());
    let n_ledger = ctx.store.ledger().unwrap().len();

    let path = dir.path().join("pseudonymized.toml");
    std::fs::write(&path, PSEUDONYMIZED).unwrap();
    let args = ReleaseArgs { policy: Some(path), ..ReleaseArgs::default() };
    let outcome = release(&ctx, &args).unwrap();
    assert_eq!(outcome.mode, Mode::Pseudonymized);
    assert_eq!(outcome.n_persons_suppressed, 0);
    // Only what the policy names is released.
    let mut tables: Vec<String> =
        std::fs::read_dir(crate::exported(&ctx, &outcome.release_id).join("parquet"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    tables.sort();
    assert_eq!(tables, ["labs.parquet", "persons.parquet"]);
    let persons =
        read_parquet(&crate::exported(&ctx, &outcome.release_id).join("parquet/persons.parquet"), "persons")
            .unwrap();
    let names: Vec<&str> = persons.columns().iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["person", "birth_month", "sex"]);
    let labs = read_parquet(&crate::exported(&ctx, &outcome.release_id).join("parquet/labs.parquet"), "labs")
        .unwrap();
    let names: Vec<&str> = labs.columns().iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["person", "provider", "code", "value_numeric", "date"]);
    let ledger = ctx.store.ledger().unwrap();
    assert_eq!(ledger.len(), n_ledger + 1);
    let line = ledger.last().unwrap();
    assert_eq!(line.recipient_name, "認定利用事業者 (test)");
    assert!(line.items.contains(&"persons.birth_month".to_owned()), "{:?}", line.items);
    let report = std::fs::read_to_string(&outcome.report).unwrap();
    assert!(report.contains("仮名加工医療情報"));

    // A policy with two faults: both named with line and Rule item; nothing is released or recorded.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        PSEUDONYMIZED.replace(
            "sex = \"keep\"",
            "sex = \"keep\"\nname_kana = \"keep\"\ninsurer_number = \"pseudonym\"",
        ),
    )
    .unwrap();
    let error = release(&ctx, &ReleaseArgs { policy: Some(bad), ..ReleaseArgs::default() }).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("line 10: columns.persons.name_kana") && message.contains("Rule 18 ①"),
        "{message}"
    );
    assert!(
        message.contains("line 11: columns.persons.insurer_number") && message.contains("Rule 18 ②"),
        "{message}"
    );
    assert_eq!(ctx.store.ledger().unwrap().len(), n_ledger + 1);
}

/// `{ generalize = "hierarchy", file = … }`: the file is read relative to the policy, and the released
/// codes are its labels; a missing file is an error naming it, before anything is released.
#[test]
fn a_hierarchy_file_named_by_the_policy_generalizes_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = small_demo(dir.path());
    let n_ledger = ctx.store.ledger().unwrap().len();
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir_all(policy_dir.join("hierarchies")).unwrap();
    // Every lab code the vault holds, generalized to its first 2 characters (level 1) or to `*` (level 2).
    let mut codes: Vec<String> = crate::vault_records(&ctx)
        .iter()
        .flat_map(|record| record.labs.iter().map(|lab| lab.code.clone()))
        .collect();
    codes.sort();
    codes.dedup();
    let rows: String = codes.iter().map(|code| format!("{code};LAB-{};*\n", &code[..2])).collect();
    std::fs::write(policy_dir.join("hierarchies/labs.csv"), rows).unwrap();
    let policy = PSEUDONYMIZED.replace(
        "code = \"keep\"",
        "code = { generalize = \"hierarchy\", file = \"hierarchies/labs.csv\", level = 1 }",
    );
    let path = policy_dir.join("labs.toml");
    std::fs::write(&path, &policy).unwrap();
    let outcome = release(&ctx, &ReleaseArgs { policy: Some(path), ..ReleaseArgs::default() }).unwrap();
    let labs = read_parquet(&crate::exported(&ctx, &outcome.release_id).join("parquet/labs.parquet"), "labs")
        .unwrap();
    let code = labs.column("code").unwrap();
    assert!(labs.n_rows() > 0);
    for row in 0..labs.n_rows() {
        let label = code.data.text_at(row).unwrap();
        assert!(label.starts_with("LAB-") && label.len() == 6, "{label}");
    }

    let missing = policy_dir.join("missing.toml");
    std::fs::write(&missing, policy.replace("hierarchies/labs.csv", "hierarchies/none.csv")).unwrap();
    let error = format!(
        "{:#}",
        release(&ctx, &ReleaseArgs { policy: Some(missing), ..ReleaseArgs::default() }).unwrap_err()
    );
    assert!(error.contains("none.csv"), "{error}");
    assert_eq!(ctx.store.ledger().unwrap().len(), n_ledger + 1);
}
