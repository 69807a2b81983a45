use super::*;

const GOOD: &str = r#"
mode = "anonymized"
reference_date = 2026-04-01

[recipient]
name = "Example University"
address = "Tokyo"

[cohort]
diagnoses = ["E10-E14", "I10"]
from = 2020-01-01
to = "2025-12-31"

[privacy]
k = 10
suppression_limit = 0.02
km = { k = 10, m = 3 }
l_diversity = { kind = "recursive", c = 3, l = 2 }
t_closeness = 0.4

[peculiar]
rare_code_persons = 20
lab_percentiles = [1, 99]

[columns.persons]
person_id = "pseudonym"
birth_date = { generalize = "age_band", width = 10 }
sex = "keep"
address = { generalize = "prefecture" }
name_kanji = "drop"

[columns.diagnoses]
icd10 = { generalize = "icd10", level = "category" }
onset_date = { generalize = "month" }

[columns.labs]
code = "keep"
value_numeric = { top_code = 500, bottom_code = 0 }
date = "date_shift"
"#;

#[test]
fn a_good_policy_parses_into_its_choices() {
    let policy = ReleasePolicy::parse(GOOD).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(policy.mode, Mode::Anonymized);
    assert_eq!(policy.recipient.name, "Example University");
    assert_eq!(policy.reference_date, NaiveDate::from_ymd_opt(2026, 4, 1));
    assert_eq!(policy.cohort.diagnoses.len(), 2);
    assert!(policy.cohort.diagnoses[0].contains("E119"));
    assert!(!policy.cohort.diagnoses[0].contains("E150"));
    assert!(policy.cohort.diagnoses[1].contains("I10"));
    assert_eq!(policy.cohort.to, NaiveDate::from_ymd_opt(2025, 12, 31));
    assert_eq!(policy.privacy.k, 10);
    assert_eq!(
        policy.privacy.codes,
        [CodesModel { table: EventTable::Diagnoses, level: 0, m: 3, k: 10, demographics: false }],
        "km is one codes model on full ICD-10 codes without the demographics"
    );
    assert_eq!(
        policy.privacy.sensitive,
        [SensitiveModel::RecursiveCL { c: 3.0, l: 2 }, SensitiveModel::TCloseness(0.4)]
    );
    assert_eq!(policy.peculiar.rare_code_persons, 20);
    assert_eq!(policy.peculiar.lab_percentiles, (1.0, 99.0));
    assert_eq!(
        policy.action("persons", "birth_date"),
        Some(&Action::Generalize(Generalization::AgeBand { width: 10 }))
    );
    // `drop` and absent columns are not released.
    assert_eq!(policy.action("persons", "name_kanji"), None);
    assert_eq!(policy.action("persons", "phone"), None);
    assert_eq!(
        policy.action("labs", "value_numeric"),
        Some(&Action::Clamp { min: Some(0.0), max: Some(500.0) })
    );
}

/// The problem reported for `key`.
fn issue_for<'e>(errors: &'e PolicyErrors, key: &str) -> &'e PolicyIssue {
    errors.0.iter().find(|issue| issue.key == key).unwrap_or_else(|| panic!("no issue for {key}: {errors}"))
}

#[test]
fn every_problem_is_reported_at_once_with_line_and_key() {
    let text = r#"
mode = "anonymised"
colour = "blue"

[recipient]
name = ""

[privacy]
k = 1
suppression_limit = 2.0

[columns.persons]
person_id = "keep"
name_kana = "keep"
insurance_number = "pseudonym"
birth_date = "date_shift"
shoe_size = "keep"
sex = { generalize = "month" }

[columns.labs]
date = "keep"
value_numeric = { round = -1 }
"#;
    let errors = ReleasePolicy::parse(text).expect_err("refused");
    let find = |key: &str| issue_for(&errors, key);
    assert_eq!(find("mode").line, 2);
    assert_eq!(find("colour").line, 3);
    assert_eq!(find("recipient.name").line, 6);
    assert_eq!(find("recipient.address").line, 0);
    assert_eq!(find("privacy.k").line, 9);
    assert_eq!(find("privacy.suppression_limit").line, 10);
    let linking = find("columns.persons.person_id");
    assert_eq!(linking.line, 13);
    assert!(linking.message.contains("Rule 18 ③"), "{}", linking.message);
    assert!(find("columns.persons.name_kana").message.contains("Rule 18 ①"));
    assert!(find("columns.persons.insurance_number").message.contains("Rule 18 ②"));
    assert!(find("columns.persons.birth_date").message.contains("Rule 18 ①"));
    assert!(find("columns.persons.shoe_size").message.contains("unknown column"));
    assert!(find("columns.persons.sex").message.contains("does not apply"));
    assert!(find("columns.labs.date").message.contains("Rule 18 ⑤"));
    assert_eq!(find("columns.labs.value_numeric.round").line, 22);
    // Sorted by line, and the whole list is in the error's text.
    assert!(errors.0.windows(2).all(|pair| pair[0].line <= pair[1].line));
    let text = errors.to_string();
    assert!(text.contains("line 13: columns.persons.person_id"), "{text}");
}

#[test]
fn a_syntax_error_names_its_line() {
    let errors = ReleasePolicy::parse("mode = \"anonymized\"\n[recipient\nname = 1\n").expect_err("refused");
    assert!(errors.0.iter().any(|issue| issue.line == 2), "{errors}");
}

#[test]
fn the_provision_id_needs_the_linkable_mode() {
    let policy = |mode: &str| {
        format!(
            "mode = \"{mode}\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.persons]\nperson_id = \"pseudonym\"\nprovision_id = \"keep\"\n"
        )
    };
    let errors = ReleasePolicy::parse(&policy("anonymized")).expect_err("refused");
    assert!(
        errors.0.iter().any(|issue| issue.key == "columns.persons.provision_id" && issue.line == 7),
        "{errors}"
    );
    let linkable = ReleasePolicy::parse(&policy("anonymized-linkable")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(linkable.action("persons", "provision_id"), Some(&Action::Keep));
    let missing = "mode = \"anonymized-linkable\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.persons]\nperson_id = \"pseudonym\"\n";
    assert!(ReleasePolicy::parse(missing).is_err());
}

#[test]
fn pseudonymized_mode_keeps_exact_event_dates_but_still_refuses_identifiers() {
    let text = "mode = \"pseudonymized\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.labs]\ndate = \"keep\"\nprovider = \"pseudonym\"\n";
    let policy = ReleasePolicy::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.action("labs", "date"), Some(&Action::Keep));
    let text = "mode = \"pseudonymized\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.persons]\nphone = \"keep\"\n";
    let errors = ReleasePolicy::parse(text).expect_err("refused");
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.0[0].message.contains("Rule 18 ①"), "{errors}");
}

#[test]
fn the_default_policy_passes_its_own_rules() {
    let policy =
        ReleasePolicy::default_anonymized(Recipient { name: "U".to_owned(), address: "A".to_owned() });
    for (table, columns) in &policy.columns {
        for (column, action) in columns {
            let def =
                catalog::find(table, column).unwrap_or_else(|| panic!("{table}.{column} not in the catalog"));
            assert_eq!(catalog::type_problem(def, action), None, "{table}.{column}");
            assert_eq!(catalog::rule_problem(def, action, policy.mode), None, "{table}.{column}");
        }
    }
}

#[test]
fn a_hierarchy_action_needs_a_file_and_a_level_and_is_refused_on_identifiers() {
    let policy = GOOD.replace(
        "code = \"keep\"",
        "code = { generalize = \"hierarchy\", file = \"hierarchies/jlac10.csv\", level = 1 }",
    );
    let parsed = ReleasePolicy::parse(&policy).unwrap();
    assert_eq!(parsed.hierarchy_files(), ["hierarchies/jlac10.csv"]);

    let missing = GOOD.replace("code = \"keep\"", "code = { generalize = \"hierarchy\", level = 1 }");
    let error = ReleasePolicy::parse(&missing).unwrap_err().to_string();
    assert!(error.contains("columns.labs.code.file"), "{error}");

    let on_name = GOOD.replace(
        "name_kanji = \"drop\"",
        "name_kanji = { generalize = \"hierarchy\", file = \"names.csv\", level = 1 }",
    );
    let error = ReleasePolicy::parse(&on_name).unwrap_err().to_string();
    assert!(error.contains("columns.persons.name_kanji") && error.contains("Rule 18"), "{error}");
}

/// The policies in `docs/examples/`, read from the repository.
fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_built_in_policy_is_the_one_written_out_in_the_docs() {
    let written = ReleasePolicy::parse(&example("policy-built-in.toml")).unwrap_or_else(|e| panic!("{e}"));
    let built_in = ReleasePolicy::default_anonymized(written.recipient.clone());
    assert_eq!(written, built_in);
    assert_eq!(
        built_in.privacy.codes,
        [CodesModel { table: EventTable::Diagnoses, level: 1, m: 2, k: 5, demographics: true }],
        "demographics + any 2 diagnosis categories, k = 5"
    );
    assert!(built_in.model_problems().is_empty());
}

#[test]
fn every_kind_of_attacker_model_parses_with_its_own_k() {
    let policy = ReleasePolicy::parse(&example("policy-whole-record.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.privacy.population, Some(5_000_000));
    assert_eq!(
        policy.privacy.events,
        [EventsModel {
            table: EventTable::Diagnoses,
            level: 1,
            m: 2,
            window_days: 180,
            k: 3,
            demographics: false,
            suppression_limit: 0.2,
        }]
    );
    assert_eq!(
        policy.privacy.counts,
        [CountsModel { table: EventTable::Encounters, k: 5, demographics: false, suppression_limit: 0.05 }]
    );
    assert_eq!(policy.privacy.ks().collect::<Vec<_>>(), [5, 5, 3, 5]);
    let anonymized =
        ReleasePolicy::parse(&example("policy-anonymized.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(anonymized.privacy.codes[0].level, 1);
    // A policy that does not release diagnosis codes has no built-in codes model to hold.
    let no_codes = "mode = \"anonymized\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.persons]\nperson_id = \"pseudonym\"\nsex = \"keep\"\n";
    assert!(ReleasePolicy::parse(no_codes).unwrap_or_else(|e| panic!("{e}")).privacy.codes.is_empty());
    // `km = false` turns the built-in codes model off.
    let off = example("policy-built-in.toml").replace("[privacy]\n", "[privacy]\nkm = false\n");
    let off = off[..off.find("[[privacy.codes]]").unwrap()].to_owned()
        + &off[off.find("[columns.persons]").unwrap()..];
    assert!(ReleasePolicy::parse(&off).unwrap_or_else(|e| panic!("{e}")).privacy.codes.is_empty());
}

#[test]
fn a_bad_attacker_model_is_reported_with_its_line_and_key() {
    let text = r#"mode = "anonymized"
[recipient]
name = "U"
address = "A"
[privacy]
km = { k = 5, m = 2 }
[[privacy.codes]]
table = "diagnoses"
level = "section"
m = 9
k = 1
[[privacy.events]]
table = "labs"
m = 2
k = 5
window = 30
[[privacy.counts]]
table = "allergies"
[columns.persons]
person_id = "pseudonym"
[columns.diagnoses]
icd10 = "keep"
"#;
    let errors = ReleasePolicy::parse(text).expect_err("refused");
    let find = |key: &str| issue_for(&errors, key);
    assert!(find("privacy.codes[0].level").message.contains("unknown level `section`"), "{errors}");
    assert_eq!(find("privacy.codes[0].level").line, 9);
    assert_eq!(find("privacy.codes[0].m").line, 10);
    assert_eq!(find("privacy.codes[0].k").line, 11);
    assert_eq!(find("privacy.events[0].window").line, 16);
    assert!(find("privacy.counts[0].table").message.contains("unknown table `allergies`"), "{errors}");
    assert!(find("privacy.counts[0].k").message.contains("every model names its own k"), "{errors}");
    assert!(
        errors.0.iter().any(|issue| issue.key.starts_with("privacy.km")),
        "km and codes together: {errors}"
    );
    // The events model is on labs, which this policy does not release.
    assert!(errors.to_string().contains("does not release labs"), "{errors}");
    // Encounters have no codes: the parser names the tables a codes or events model may use, and a
    // policy built in code is refused by the model check.
    let encounters = "mode = \"anonymized\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[privacy]\nkm = false\n[[privacy.events]]\ntable = \"encounters\"\nm = 2\nk = 5\n";
    let errors = ReleasePolicy::parse(encounters).expect_err("refused").to_string();
    assert!(errors.contains("line 8: privacy.events[0].table"), "{errors}");
    let mut policy =
        ReleasePolicy::default_anonymized(Recipient { name: "U".to_owned(), address: "A".to_owned() });
    policy.privacy.codes[0].table = EventTable::Encounters;
    let problems = policy.model_problems();
    assert!(
        problems
            .iter()
            .any(|issue| issue.key == "privacy.codes[0].table" && issue.message.contains("no code column")),
        "{problems:?}"
    );
}
