//! Tests for the k-anonymity search: a hand-checked table, brute force comparison on random tables, and
//! ARX's reference results on the Adult data set.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::hierarchy::IntervalSpec;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

/// Ten people: age (20–49, decades), sex, prefecture (→ region → `*`).
fn small_table() -> Vec<QuasiIdentifier> {
    let rows: [(&str, &str, &str); 10] = [
        ("23", "M", "Tokyo"),
        ("27", "M", "Chiba"),
        ("25", "M", "Tokyo"),
        ("34", "F", "Osaka"),
        ("36", "F", "Kyoto"),
        ("31", "F", "Osaka"),
        ("45", "M", "Tokyo"),
        ("42", "F", "Chiba"),
        ("48", "M", "Kyoto"),
        ("41", "F", "Osaka"),
    ];
    let ages =
        Hierarchy::intervals(&IntervalSpec { min: 20, max: 49, widths: &[10], top_code: None }).unwrap();
    let sexes = Hierarchy::from_rows(&[strings(&["M", "*"]), strings(&["F", "*"])]).unwrap();
    let regions: HashMap<String, String> =
        [("Tokyo", "Kanto"), ("Chiba", "Kanto"), ("Osaka", "Kinki"), ("Kyoto", "Kinki")]
            .into_iter()
            .map(|(child, parent)| (child.to_owned(), parent.to_owned()))
            .collect();
    let prefectures =
        Hierarchy::from_groups(&strings(&["Tokyo", "Chiba", "Osaka", "Kyoto"]), &[regions]).unwrap();
    vec![
        QuasiIdentifier::new("age", rows.map(|row| row.0), ages).unwrap(),
        QuasiIdentifier::new("sex", rows.map(|row| row.1), sexes).unwrap(),
        QuasiIdentifier::new("prefecture", rows.map(|row| row.2), prefectures).unwrap(),
    ]
}

fn config(k: usize, suppression_limit: f64) -> KAnonymityConfig {
    KAnonymityConfig { k, suppression_limit }
}

#[test]
fn small_table_without_suppression() {
    let qis = small_table();
    let solution = anonymize(&qis, &config(3, 0.0)).unwrap();
    // Minimal 3-anonymous nodes: (1,1,2) 0.737, (2,1,1) 0.747, (2,0,2): age and prefecture `*`, sex kept.
    assert_eq!(solution.levels(), [2, 0, 2]);
    assert_eq!(solution.class_sizes(), [5, 5]);
    assert_eq!(solution.n_suppressed(), 0);
    assert_eq!(solution.loss_per_qi(), [1.0, 0.0, 1.0]);
    assert!((solution.loss() - (4f64.cbrt() - 1.0)).abs() < 1e-12, "{}", solution.loss());
    assert_eq!(solution.discernibility(), 50.0);
    assert_eq!(solution.generalized()[1], strings(&["M", "M", "M", "F", "F", "F", "M", "F", "M", "F"]));
    assert!(solution.generalized()[0].iter().all(|value| value == "*"));
    assert_eq!(solution.qi_names(), ["age", "sex", "prefecture"]);

    let other = evaluate(&qis, &[1, 1, 2], &config(3, 0.0)).unwrap();
    assert!(other.k_anonymous);
    assert_eq!(other.n_classes, 3);
    assert_eq!(other.smallest_class, Some(3));
    assert!((other.loss_per_qi[0] - 9.0 / 29.0).abs() < 1e-12);
    assert!(other.loss > solution.loss());
}

#[test]
fn small_table_with_suppression() {
    let qis = small_table();
    // Two rows may go: (2,0,1) leaves a lone F-Kanto and a lone M-Kinki, and beats (2,0,2).
    let solution = anonymize(&qis, &config(3, 0.2)).unwrap();
    assert_eq!(solution.levels(), [2, 0, 1]);
    assert_eq!(solution.n_suppressed(), 2);
    let suppressed: Vec<usize> = (0..10).filter(|&row| solution.suppressed()[row]).collect();
    assert_eq!(suppressed, [7, 8]);
    assert_eq!(solution.class_sizes(), [4, 4]);
    assert_eq!(solution.generalized()[2][7], SUPPRESSED);
    assert_eq!(solution.generalized()[2][0], "Kanto");
    let prefecture_loss = (8.0 / 3.0 + 2.0) / 10.0;
    assert!((solution.loss_per_qi()[1] - 0.2).abs() < 1e-12);
    assert!((solution.loss_per_qi()[2] - prefecture_loss).abs() < 1e-12);
    let expect = (2.0 * 1.2 * (1.0 + prefecture_loss)).cbrt() - 1.0;
    assert!((solution.loss() - expect).abs() < 1e-12, "{}", solution.loss());
    assert_eq!(solution.discernibility(), 16.0 + 16.0 + 2.0 * 10.0);

    // One row is not enough for (2,0,1).
    let strict = anonymize(&qis, &config(3, 0.1)).unwrap();
    assert_eq!(strict.levels(), [2, 0, 2]);
    let failing = evaluate(&qis, &[2, 0, 1], &config(3, 0.1)).unwrap();
    assert!(!failing.k_anonymous);
    assert_eq!(failing.n_suppressed, 2);
}

#[test]
fn k_one_keeps_everything() {
    let qis = small_table();
    let solution = anonymize(&qis, &config(1, 0.0)).unwrap();
    assert_eq!(solution.levels(), [0, 0, 0]);
    assert_eq!(solution.loss(), 0.0);
    assert_eq!(solution.generalized()[2][3], "Osaka");
}

#[test]
fn reports_no_solution_and_invalid_input() {
    let qis = small_table();
    assert_eq!(anonymize(&qis, &config(11, 0.0)).err(), Some(EngineError::NoSolution { k: 11, n_rows: 10 }));
    assert_eq!(anonymize(&qis, &config(0, 0.0)).err(), Some(EngineError::InvalidK));
    assert_eq!(anonymize(&qis, &config(2, 1.5)).err(), Some(EngineError::InvalidSuppressionLimit));
    assert_eq!(anonymize(&qis, &config(2, f64::NAN)).err(), Some(EngineError::InvalidSuppressionLimit));
    assert_eq!(anonymize(&[], &config(2, 0.0)).err(), Some(EngineError::NoQuasiIdentifiers));
    assert_eq!(
        evaluate(&qis, &[0, 0], &config(2, 0.0)).err(),
        Some(EngineError::LevelCountMismatch { expected: 3, found: 2 })
    );
    assert_eq!(
        evaluate(&qis, &[0, 2, 0], &config(2, 0.0)).err(),
        Some(EngineError::LevelOutOfRange { qi: "sex".to_owned(), level: 2, top: 1 })
    );

    let sexes = Hierarchy::from_rows(&[strings(&["M", "*"]), strings(&["F", "*"])]).unwrap();
    let err = QuasiIdentifier::new("sex", ["M", "secret-X"], sexes.clone()).unwrap_err();
    assert_eq!(err, EngineError::UnknownValue { qi: "sex".to_owned(), row: 1 });
    assert!(!err.to_string().contains("secret"));
    let short = QuasiIdentifier::new("short", ["M"], sexes).unwrap();
    let mut mismatched = small_table();
    mismatched.push(short);
    assert_eq!(
        anonymize(&mismatched, &config(2, 0.0)).err(),
        Some(EngineError::RowCountMismatch { qi: "short".to_owned(), expected: 10, found: 1 })
    );
}

#[test]
fn debug_output_hides_values() {
    let qis = small_table();
    let solution = anonymize(&qis, &config(3, 0.0)).unwrap();
    let printed = format!("{:?} {solution:?}", qis[2]);
    assert!(!printed.contains("Tokyo") && !printed.contains("Kanto"), "{printed}");
    assert!(printed.contains("prefecture"));
}

#[test]
fn empty_table_needs_no_generalization() {
    let sexes = Hierarchy::from_rows(&[strings(&["M", "*"]), strings(&["F", "*"])]).unwrap();
    let qis = [QuasiIdentifier::new("sex", &[] as &[&str], sexes).unwrap()];
    let solution = anonymize(&qis, &config(5, 0.0)).unwrap();
    assert_eq!(solution.levels(), [0]);
    assert_eq!(solution.loss(), 0.0);
    assert!(solution.class_sizes().is_empty());
}

/// The best satisfying node by evaluating every node of the lattice.
fn brute_force(qis: &[QuasiIdentifier], cfg: &KAnonymityConfig) -> Option<NodeResult> {
    let top_levels: Vec<usize> = qis.iter().map(|qi| qi.hierarchy().top_level()).collect();
    let lattice = Lattice::new(&top_levels, MAX_TRANSFORMATIONS).unwrap();
    (0..lattice.n_nodes())
        .map(|node| evaluate(qis, &lattice.levels(node), cfg).unwrap())
        .filter(|result| result.k_anonymous)
        .min_by(|a, b| {
            let height = |result: &NodeResult| result.levels.iter().sum::<usize>();
            a.loss.total_cmp(&b.loss).then(height(a).cmp(&height(b))).then(a.levels.cmp(&b.levels))
        })
}

/// A random quasi-identifier: integer codes `0..domain` with nested bands, values drawn from the domain.
fn arbitrary_qi(n_rows: usize) -> impl Strategy<Value = QuasiIdentifier> {
    (2i64..8, prop::sample::select(vec![vec![], vec![2], vec![2, 4], vec![3], vec![1, 3]]), any::<bool>())
        .prop_flat_map(move |(domain, widths, top_code)| {
            (Just((domain, widths, top_code)), prop::collection::vec(0..domain, n_rows))
        })
        .prop_map(|((domain, widths, top_code), values)| {
            let top_code = top_code.then_some(domain - 1).filter(|&top| top > 0);
            let hierarchy =
                Hierarchy::intervals(&IntervalSpec { min: 0, max: domain - 1, widths: &widths, top_code })
                    .unwrap();
            let values: Vec<String> = values.iter().map(i64::to_string).collect();
            QuasiIdentifier::new("qi", &values, hierarchy).unwrap()
        })
}

fn arbitrary_table() -> impl Strategy<Value = Vec<QuasiIdentifier>> {
    (0usize..=60, 2usize..=3)
        .prop_flat_map(|(n_rows, n_qis)| prop::collection::vec(arbitrary_qi(n_rows), n_qis))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn search_matches_brute_force(
        qis in arbitrary_table(),
        k in 1usize..6,
        suppression_limit in prop::sample::select(vec![0.0, 0.04, 0.1, 0.25, 0.5, 1.0]),
    ) {
        let cfg = config(k, suppression_limit);
        let n_rows = qis[0].n_rows();
        match (anonymize(&qis, &cfg), brute_force(&qis, &cfg)) {
            (Err(EngineError::NoSolution { .. }), None) => {}
            (Ok(solution), Some(expect)) => {
                prop_assert_eq!(solution.levels(), expect.levels.as_slice());
                prop_assert_eq!(solution.loss().to_bits(), expect.loss.to_bits());
                prop_assert_eq!(solution.result(), &expect);
                prop_assert!(solution.n_nodes_checked() <= 2 * n_nodes(&qis));

                // Every released class has at least k rows, counted from the released values themselves.
                let mut classes: HashMap<Vec<&str>, usize> = HashMap::new();
                for row in (0..n_rows).filter(|&row| !solution.suppressed()[row]) {
                    let key = solution.generalized().iter().map(|column| column[row].as_str()).collect();
                    *classes.entry(key).or_default() += 1;
                }
                prop_assert!(classes.values().all(|&size| size >= k));
                let mut sizes: Vec<usize> = classes.into_values().collect();
                sizes.sort_unstable();
                prop_assert_eq!(solution.class_sizes(), sizes.as_slice());

                let n_suppressed = solution.suppressed().iter().filter(|&&is| is).count();
                prop_assert_eq!(n_suppressed, solution.n_suppressed());
                prop_assert!(n_suppressed as f64 <= suppression_limit * n_rows as f64);
                for row in (0..n_rows).filter(|&row| solution.suppressed()[row]) {
                    prop_assert!(solution.generalized().iter().all(|column| column[row] == SUPPRESSED));
                }
            }
            (got, expect) => prop_assert!(false, "search {:?} but brute force {:?}", got.map(|s| s.levels().to_vec()), expect),
        }
    }
}

fn n_nodes(qis: &[QuasiIdentifier]) -> usize {
    qis.iter().map(|qi| qi.hierarchy().levels()).product()
}

/// The Adult census extract with ARX's hierarchies, or `None` (with a note) when the shared data is absent.
fn adult() -> Option<Vec<QuasiIdentifier>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/arx");
    if !dir.exists() {
        eprintln!("skipping: {} is absent", dir.display());
        return None;
    }
    let read = |path: &Path, has_headers: bool| -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(has_headers)
            .flexible(false)
            .from_path(path)
            .unwrap();
        reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect()
    };
    let rows = read(&dir.join("adult.csv"), true);
    let names =
        ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"];
    let qis = names
        .iter()
        .enumerate()
        .map(|(column, name)| {
            let hierarchy =
                Hierarchy::from_rows(&read(&dir.join(format!("adult_hierarchy_{name}.csv")), false)).unwrap();
            let values: Vec<&str> = rows.iter().map(|row| row[column].as_str()).collect();
            QuasiIdentifier::new(*name, &values, hierarchy).unwrap()
        })
        .collect();
    Some(qis)
}

#[test]
fn adult_matches_arx() {
    let Some(qis) = adult() else { return };
    assert_eq!(qis[0].n_rows(), 30_162);
    assert_eq!(n_nodes(&qis), 6_480);

    let strict = anonymize(&qis, &config(5, 0.0)).unwrap();
    assert_eq!(strict.levels(), [0, 4, 0, 2, 3, 2, 2, 1]);
    assert!((strict.loss() - 0.5915849773198221).abs() < 1e-9, "{}", strict.loss());
    assert_eq!(strict.class_sizes().len(), 30);
    assert_eq!(strict.class_sizes()[0], 16);
    assert_eq!(strict.n_suppressed(), 0);

    let relaxed = anonymize(&qis, &config(5, 0.04)).unwrap();
    assert_eq!(relaxed.levels(), [0, 3, 0, 0, 2, 1, 1, 2]);
    assert!((relaxed.loss() - 0.2608358757472151).abs() < 1e-9, "{}", relaxed.loss());
    assert_eq!(relaxed.class_sizes().len(), 327);
    assert_eq!(relaxed.class_sizes()[0], 5);
    assert_eq!(relaxed.n_suppressed(), 1_038);
    eprintln!("checked {} and {} nodes", strict.n_nodes_checked(), relaxed.n_nodes_checked());
}
