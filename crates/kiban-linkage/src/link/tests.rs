//! Linkage on hand-built persons: each test states what the design promises for one situation.

use kiban_model::{IdentifiedPerson, Insurance, LocalPatientId, NaiveDate, PersonName, ProviderCode, Sex};

use super::*;

fn person(
    provider: &str,
    id: &str,
    kana: (&str, &str),
    birth: (i32, u32, u32),
    sex: Sex,
) -> IdentifiedPerson {
    let mut person =
        IdentifiedPerson::new(ProviderCode::new(provider).unwrap(), LocalPatientId::new(id).unwrap());
    person.name_kana = Some(PersonName::new(kana.0, kana.1));
    person.birth_date = NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2);
    person.sex = sex;
    person
}

fn insured(
    mut person: IdentifiedPerson,
    insurer: &str,
    symbol: &str,
    number: &str,
    branch: Option<&str>,
) -> IdentifiedPerson {
    person.insurances.push(Insurance {
        insurer_number: insurer.to_owned(),
        symbol: Some(symbol.to_owned()),
        number: Some(number.to_owned()),
        branch: branch.map(str::to_owned),
        valid_from: None,
    });
    person
}

fn with_postal(mut person: IdentifiedPerson, postal: &str) -> IdentifiedPerson {
    person.postal_code = Some(postal.to_owned());
    person
}

fn run(persons: &[IdentifiedPerson]) -> Linkage {
    let refs: Vec<&IdentifiedPerson> = persons.iter().collect();
    link(&refs, &LinkageConfig::default())
}

#[test]
fn width_and_space_variants_with_a_changed_insurer_link() {
    let mut a = insured(
        person("P1", "001", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male),
        "01130012",
        "1234",
        "56",
        None,
    );
    a.name_kanji = Some(PersonName::new("山田", "太郎"));
    let mut b =
        insured(person("P2", "9", ("ﾔﾏﾀﾞ　ﾀﾛｳ", ""), (1950, 5, 6), Sex::Male), "138057", "あ", "７", None);
    b.name_kanji = Some(PersonName::new("山田　太郎", ""));
    let c = person("P3", "x", ("やまだ", "たろう"), (1950, 5, 6), Sex::Male);
    let linkage = run(&[a, b, c]);
    assert_eq!(linkage.cluster_of, vec![0, 0, 0]);
    assert_eq!(linkage.n_clusters, 1);
    assert_eq!(linkage.stats.n_strong_links, 2);
    assert!(linkage.review.is_empty());
}

#[test]
fn same_name_with_a_different_birth_date_does_not_link() {
    let a = with_postal(person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male), "1000001");
    let b = with_postal(person("P2", "1", ("ヤマダ", "タロウ"), (1972, 11, 23), Sex::Male), "5300001");
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert!(
        linkage.review.is_empty(),
        "a different birth date with a different address is not even doubtful"
    );
}

#[test]
fn same_name_with_a_different_birth_date_but_same_address_goes_to_review_only() {
    let mut a = with_postal(person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male), "1000001");
    let mut b = with_postal(person("P2", "1", ("ヤマダ", "タロウ"), (1972, 11, 23), Sex::Male), "1000001");
    a.phone = Some("03-1234-5678".to_owned());
    b.phone = Some("0312345678".to_owned());
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert_eq!(linkage.review.len(), 1);
    assert!(linkage.review[0].score >= 20.0, "the score alone would link");
    assert_eq!(linkage.review[0].reason, ReviewReason::BirthDateDisagrees);
    assert_eq!(linkage.review[0].agreement.birth_date, Agreement::Disagree);
}

#[test]
fn twins_do_not_link() {
    let twin = |provider: &str, given: &str, branch: &str| {
        let person = person(provider, "1", ("スズキ", given), (2001, 2, 3), Sex::Female);
        insured(with_postal(person, "1000001"), "06130011", "12", "345", Some(branch))
    };
    let linkage = run(&[twin("P1", "ハナ", "01"), twin("P2", "モモ", "02")]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    // Without branch numbers the insurance key is shared as well: still no link.
    let mut a = twin("P1", "ハナ", "01");
    let mut b = twin("P2", "モモ", "02");
    a.insurances[0].branch = None;
    b.insurances[0].branch = None;
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert!(linkage.review.iter().all(|pair| pair.agreement.kana_given == Agreement::Disagree));
}

#[test]
fn one_mora_typo_links_with_birth_date_sex_and_postal_code() {
    let a = with_postal(person("P1", "1", ("タナカ", "ケンジ"), (1980, 7, 8), Sex::Male), "2220033");
    let b = with_postal(person("P2", "1", ("タナハ", "ケンジ"), (1980, 7, 8), Sex::Male), "222-0033");
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 0]);
    assert_eq!(linkage.stats.n_probabilistic_links, 1);
}

#[test]
fn one_mora_typo_links_on_birth_date_and_given_name_alone() {
    let a = person("P1", "1", ("タナカ", "ケンジ"), (1980, 7, 8), Sex::Male);
    let b = person("P2", "1", ("タナハ", "ケンジ"), (1980, 7, 8), Sex::Male);
    assert_eq!(run(&[a, b]).cluster_of, vec![0, 0]);
}

#[test]
fn typos_in_both_names_go_to_review() {
    let a = person("P1", "1", ("タナカ", "ケンジ"), (1980, 7, 8), Sex::Male);
    let b = person("P2", "1", ("タナハ", "ケンシ"), (1980, 7, 8), Sex::Male);
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert_eq!(linkage.review.len(), 1);
    let pair = &linkage.review[0];
    assert_eq!((pair.a, pair.b, pair.reason), (0, 1, ReviewReason::BelowMatchThreshold));
    assert_eq!(
        (pair.agreement.kana_family, pair.agreement.kana_given),
        (Agreement::Similar, Agreement::Similar)
    );
    assert_eq!(pair.agreement.birth_date, Agreement::Exact);
    assert!(pair.score >= 12.0 && pair.score < 20.0);
}

#[test]
fn birth_date_typo_links_with_a_rare_name_and_postal_code() {
    let a = with_postal(person("P1", "1", ("ミナセ", "シズク"), (1980, 7, 8), Sex::Female), "2220033");
    let b = with_postal(person("P2", "1", ("ミナセ", "シズク"), (1980, 7, 18), Sex::Female), "2220033");
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 0]);
    assert_eq!(linkage.stats.n_probabilistic_links, 1);
}

#[test]
fn same_provider_pairs_are_queued_never_linked() {
    let a = person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let b = person("P1", "2", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert_eq!(linkage.review.len(), 1);
    assert_eq!(linkage.review[0].reason, ReviewReason::SameProvider);
    assert_eq!(linkage.stats.n_same_provider_pairs, 1);
}

#[test]
fn the_same_provider_id_twice_is_one_person() {
    let a = person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let b = person("P1", "1", ("サトウ", "ハナコ"), (1990, 1, 1), Sex::Female);
    let c = person("P2", "1", ("サトウ", "ハナコ"), (1990, 1, 1), Sex::Female);
    let linkage = run(&[a, b, c]);
    assert_eq!(linkage.cluster_of, vec![0, 0, 0]);
    assert_eq!(linkage.stats.n_identity_links, 1);
}

#[test]
fn a_cluster_holds_one_id_per_provider_and_the_better_link_wins() {
    // P2's record links strongly to P1/1 and weakly (a typo) to P1/2; P1/1 and P1/2 must not meet.
    let exact = person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let typo = person("P1", "2", ("ヤマダ", "タロオ"), (1950, 5, 6), Sex::Male);
    let other = person("P2", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let linkage = run(&[typo, other, exact]);
    assert_eq!(linkage.cluster_of, vec![0, 1, 1]);
    assert_eq!(linkage.stats.n_strong_links, 1);
    let conflict = linkage.review.iter().find(|pair| pair.reason == ReviewReason::ProviderConflict);
    assert!(conflict.is_some_and(|pair| (pair.a, pair.b) == (0, 1)), "the refused link is queued");
}

#[test]
fn insurance_key_links_without_names_and_pads_insurer_numbers() {
    let mut a = insured(
        person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male),
        "138057",
        "12-3",
        "0045",
        Some("00"),
    );
    a.sex = Sex::Unknown;
    let mut b = insured(
        person("P2", "1", ("", ""), (1950, 5, 6), Sex::Male),
        "００１３８０５７",
        "１２３",
        "45",
        None,
    );
    b.name_kana = None;
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 0]);
    assert_eq!(linkage.stats.n_strong_links, 1);
}

#[test]
fn household_members_with_different_branches_do_not_link() {
    // Mother and daughter with the same given name reading would be unusual; the branch decides.
    let a = insured(
        person("P1", "1", ("スズキ", "ハナ"), (2001, 2, 3), Sex::Female),
        "06130011",
        "12",
        "345",
        Some("01"),
    );
    let b = insured(
        person("P2", "1", ("スズキ", "ハナエ"), (2001, 2, 3), Sex::Female),
        "06130011",
        "12",
        "345",
        Some("02"),
    );
    let linkage = run(&[a, b]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
}

#[test]
fn unsplit_kana_names_compare_with_split_ones() {
    let a = person("P1", "1", ("サトウ", "ユウコ"), (1970, 3, 3), Sex::Female);
    let b = person("P2", "1", ("サトウユーコ", ""), (1970, 3, 3), Sex::Female);
    let c = person("P3", "1", ("", "ｻﾄｳ ﾕｳｺ"), (1970, 3, 3), Sex::Female);
    let linkage = run(&[a, b, c]);
    assert_eq!(linkage.cluster_of, vec![0, 0, 0]);
}

#[test]
fn records_without_blocking_keys_stay_alone() {
    let empty = |provider: &str| {
        IdentifiedPerson::new(ProviderCode::new(provider).unwrap(), LocalPatientId::new("1").unwrap())
    };
    let linkage = run(&[empty("P1"), empty("P2")]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert_eq!(linkage.stats.n_candidate_pairs, 0);
    assert_eq!(run(&[]).n_clusters, 0);
}

#[test]
fn clusters_are_numbered_in_order_of_first_appearance() {
    let a = person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    let b = person("P1", "2", ("サトウ", "ハナコ"), (1990, 1, 1), Sex::Female);
    let c = person("P2", "1", ("サトウ", "ハナコ"), (1990, 1, 1), Sex::Female);
    let d = person("P2", "2", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male);
    assert_eq!(run(&[b.clone(), a.clone(), d.clone(), c.clone()]).cluster_of, vec![0, 1, 1, 0]);
    assert_eq!(run(&[a, b, c, d]).cluster_of, vec![0, 1, 1, 0]);
}

#[test]
fn large_blocks_are_compared_within_the_window() {
    // 40 people share a birth date; with a window of 5 each record meets at most 5 others in that block.
    let persons: Vec<IdentifiedPerson> = (0..40)
        .map(|idx| person(&format!("P{idx}"), "1", (&format!("ア{idx}"), "イ"), (1950, 5, 6), Sex::Male))
        .collect();
    let refs: Vec<&IdentifiedPerson> = persons.iter().collect();
    let cfg = LinkageConfig { max_block_window: 5, ..LinkageConfig::default() };
    let linkage = link(&refs, &cfg);
    assert!(linkage.stats.n_candidate_pairs <= 40 * 5);
    assert!(linkage.stats.n_candidate_pairs >= 35 * 5);
}

#[test]
fn debug_output_shows_no_patient_values() {
    let a = with_postal(person("P1", "1", ("ヤマダ", "タロウ"), (1950, 5, 6), Sex::Male), "1000001");
    let b = with_postal(person("P2", "1", ("ヤマダ", "タロウ"), (1972, 11, 23), Sex::Male), "1000001");
    let shown = format!("{:?}", run(&[a, b]));
    for secret in ["ヤマダ", "1950", "1000001"] {
        assert!(!shown.contains(secret), "Debug output shows a patient value");
    }
}

#[test]
fn twins_with_similar_names_in_both_scripts_go_to_review() {
    let twin = |provider: &str, kana: &str, kanji: &str| {
        let mut person = person(provider, "1", ("ヤマキ", kana), (2003, 3, 17), Sex::Female);
        person.name_kanji = Some(PersonName::new("山木", kanji));
        person.phone = Some("090-3295-1566".to_owned());
        with_postal(person, "1001268")
    };
    let linkage = run(&[twin("P1", "ヨウナ", "洋奈"), twin("P2", "ヨウミ", "洋美")]);
    assert_eq!(linkage.cluster_of, vec![0, 1]);
    assert_eq!(linkage.review.len(), 1);
    assert_eq!(linkage.review[0].reason, ReviewReason::GivenNameDiffers);
    assert_eq!(linkage.review[0].agreement.kana_given, Agreement::Similar);
    assert_eq!(linkage.review[0].agreement.kanji_name, Agreement::Similar);
    // The same kana typo with the kanji confirming the name is one person.
    let linkage = run(&[twin("P1", "ヨウナ", "洋奈"), twin("P2", "ヨウミ", "洋奈")]);
    assert_eq!(linkage.cluster_of, vec![0, 0]);
}
