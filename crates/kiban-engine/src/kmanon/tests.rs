//! Tests for k^m-anonymization: hand-checked examples, properties on random set families checked by an
//! independent brute-force counter, and an ignored timing run on a million persons.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::codes::{Icd10Hierarchy, generalization_path};

/// A hierarchy given as an explicit child → parent map; anything else is a root.
struct Toy(BTreeMap<&'static str, &'static str>);

impl Toy {
    fn new(edges: &[(&'static str, &'static str)]) -> Toy {
        Toy(edges.iter().copied().collect())
    }
}

impl CodeHierarchy for Toy {
    fn parent(&self, code: &str) -> Option<String> {
        self.0.get(code).map(|parent| (*parent).to_owned())
    }

    fn level(&self, code: &str) -> usize {
        generalization_path(self, code).len() - 1
    }

    fn level_name(&self, _level: usize) -> &'static str {
        "toy level"
    }
}

fn sets(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|row| row.iter().map(|code| (*code).to_owned()).collect()).collect()
}

fn repeat(row: &[&str], times: usize) -> Vec<Vec<String>> {
    vec![row.iter().map(|code| (*code).to_owned()).collect(); times]
}

/// Written plainly and independently of the module: every subset of 1..=m distinct codes of every set,
/// counted in a map; the violating ones have support below k.
fn brute_force_violations(sets: &[Vec<String>], k: usize, m: usize) -> usize {
    let mut supports: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    for set in sets {
        let distinct: Vec<&str> =
            set.iter().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect();
        assert!(distinct.len() < 20, "brute force is for small sets");
        for mask in 1u32..(1 << distinct.len()) {
            if mask.count_ones() as usize > m {
                continue;
            }
            let subset: Vec<&str> =
                (0..distinct.len()).filter(|bit| mask & (1 << bit) != 0).map(|bit| distinct[bit]).collect();
            *supports.entry(subset).or_default() += 1;
        }
    }
    supports.values().filter(|&&support| support < k).count()
}

/// Checks the invariants every solution must satisfy, returning the released sets.
fn check_solution(
    input: &[Vec<String>],
    solution: &KmSolution,
    hierarchy: &dyn CodeHierarchy,
    k: usize,
    m: usize,
) -> Vec<Vec<String>> {
    let released = solution.recode_sets(input);
    assert_eq!(brute_force_violations(&released, k, m), 0, "released sets must be {k}^{m}-anonymous");
    assert_eq!(km_violations(&released, k, m), 0);
    let mut released_codes = BTreeSet::new();
    for (code, release) in solution.recoding() {
        if let Some(release) = release {
            assert!(
                generalization_path(hierarchy, code).iter().any(|step| step == release),
                "{code} released as {release}, which is not itself or an ancestor"
            );
            released_codes.insert(release.to_owned());
        }
    }
    for code in &released_codes {
        for ancestor in generalization_path(hierarchy, code).iter().skip(1) {
            assert!(
                !released_codes.contains(ancestor),
                "{code} released together with its ancestor {ancestor}"
            );
        }
    }
    let stats = solution.stats();
    let generalized: usize = stats.generalized.iter().map(|level| level.codes).sum();
    assert_eq!(stats.unchanged_codes + generalized + stats.suppressed_codes, stats.distinct_codes_in);
    assert_eq!(stats.distinct_codes_out, released_codes.len());
    assert!((0.0..=1.0).contains(&stats.loss), "loss {}", stats.loss);
    released
}

#[test]
fn paper_style_example_generalizes_the_cheaper_side() {
    // a1, a2 under A; b1, b2 under B; A and B under ALL. Pairs (a1, b1) and (a1, a2) occur once.
    let toy = Toy::new(&[("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B"), ("A", "ALL"), ("B", "ALL")]);
    let input = sets(&[&["a1", "b1", "b2"], &["a2", "b1"], &["a2", "b1", "b2"], &["a1", "a2", "b2"]]);
    assert_eq!(km_violations(&input, 2, 2), 2);
    let solution = anonymize(&input, 2, 2, &toy);
    check_solution(&input, &solution, &toy, 2, 2);
    // Generalizing the b's would leave (a1, a2) once; generalizing the a's fixes both.
    let recoding: Vec<(&str, Option<&str>)> = solution.recoding().collect();
    assert_eq!(recoding, [("a1", Some("A")), ("a2", Some("A")), ("b1", Some("b1")), ("b2", Some("b2"))]);
    let stats = solution.stats();
    assert_eq!(stats.initial_violations, 2);
    assert_eq!(stats.n_items, 11);
    assert_eq!(stats.distinct_codes_out, 3);
    // 5 items of a1/a2 now cover 2 of the 4 codes: (2 − 1) / (4 − 1) each.
    assert!((stats.loss - 5.0 / 33.0).abs() < 1e-12, "{}", stats.loss);
    assert_eq!(stats.generalized, [LevelCount { level: 1, name: "toy level", codes: 2, items: 5 }]);
}

#[test]
fn m_equal_one_is_rare_code_generalization() {
    let mut input = repeat(&["E119", "I10"], 5);
    input.push(vec!["E113".to_owned()]);
    input.extend(repeat(&["J069"], 3));
    let solution = anonymize(&input, 3, 1, &Icd10Hierarchy);
    check_solution(&input, &solution, &Icd10Hierarchy, 3, 1);
    // E113 is rare. Taking it to the category would take E119's five items along; suppressing its one
    // item costs less.
    assert_eq!(solution.recode("E113"), None);
    assert_eq!(solution.recode("E119").as_deref(), Some("E119"));
    assert_eq!(solution.recode("I10").as_deref(), Some("I10"));
    assert_eq!(solution.recode("J069").as_deref(), Some("J069"));
    assert_eq!(solution.outcome_counts(&Icd10Hierarchy), [("suppressed".to_owned(), 1)]);
    // Pairs are not constrained with m = 1: (E119, I10) is held by 5, but the point is E113 alone.
    assert_eq!(solution.stats().initial_violations, 1);
}

#[test]
fn a_rare_code_climbs_until_its_node_is_common() {
    // C509 (2 persons) and C189 (2 persons): the category does not help (only one observed code in each),
    // the blocks do not either; the chapter covers both and holds 4 persons.
    let mut input = repeat(&["C509"], 2);
    input.extend(repeat(&["C189"], 2));
    input.extend(repeat(&["I10"], 4));
    let solution = anonymize(&input, 3, 1, &Icd10Hierarchy);
    check_solution(&input, &solution, &Icd10Hierarchy, 3, 1);
    assert_eq!(solution.released("C509"), Some("C00-D48"));
    assert_eq!(solution.released("C189"), Some("C00-D48"));
    assert_eq!(solution.released("I10"), Some("I10"));
    assert_eq!(solution.stats().generalized[0].name, "ICD-10 chapter");
}

#[test]
fn suppression_only_at_the_top() {
    // Z999 is alone in its chapter, XYZ is not ICD-10: both rare, neither has anything to merge with.
    let mut input = repeat(&["I10"], 4);
    input.push(vec!["I10".to_owned(), "Z999".to_owned()]);
    input.push(vec!["XYZ".to_owned()]);
    let solution = anonymize(&input, 2, 1, &Icd10Hierarchy);
    let released = check_solution(&input, &solution, &Icd10Hierarchy, 2, 1);
    assert_eq!(solution.released("Z999"), None);
    assert_eq!(solution.released("XYZ"), None);
    assert_eq!(solution.released("I10"), Some("I10"));
    assert_eq!(released[5], Vec::<String>::new());
    let stats = solution.stats();
    assert_eq!((stats.suppressed_codes, stats.suppressed_items), (2, 2));
    assert_eq!(solution.outcome_counts(&Icd10Hierarchy), [("suppressed".to_owned(), 2)]);
    // Codes never seen are suppressed: nothing proves them safe.
    assert_eq!(solution.recode("E119"), None);
}

#[test]
fn everything_suppressed_when_fewer_than_k_persons() {
    let input = sets(&[&["E119", "I10"], &["E119"]]);
    let solution = anonymize(&input, 3, 2, &Icd10Hierarchy);
    check_solution(&input, &solution, &Icd10Hierarchy, 3, 2);
    assert!(solution.recoding().all(|(_, release)| release.is_none()));
    assert!((solution.loss() - 1.0).abs() < 1e-12);
}

#[test]
fn a_code_and_its_ancestor_in_the_input_are_merged() {
    // E11 and E119 are both in the input; releasing both would tell E11 apart from E119.
    let mut input = repeat(&["E11"], 3);
    input.extend(repeat(&["E119"], 3));
    let solution = anonymize(&input, 2, 2, &Icd10Hierarchy);
    check_solution(&input, &solution, &Icd10Hierarchy, 2, 2);
    assert_eq!(solution.released("E119"), Some("E11"));
    assert_eq!(solution.released("E11"), Some("E11"));
    assert_eq!(solution.stats().initial_violations, 0);
    assert_eq!(solution.stats().passes, 0);
}

#[test]
fn empty_sets_and_duplicates() {
    let mut input = sets(&[&[], &["E119", "E119"], &[]]);
    input.extend(repeat(&["E119"], 2));
    assert_eq!(km_violations(&input, 3, 2), 0);
    let solution = anonymize(&input, 3, 2, &Icd10Hierarchy);
    check_solution(&input, &solution, &Icd10Hierarchy, 3, 2);
    assert_eq!(solution.released("E119"), Some("E119"));
    assert_eq!(solution.stats().n_items, 3);
    assert_eq!(solution.stats().n_persons, 5);
    let none: Vec<Vec<String>> = Vec::new();
    let solution = anonymize(&none, 5, 2, &Icd10Hierarchy);
    assert_eq!(solution.stats().distinct_codes_in, 0);
    assert!(solution.loss().abs() < f64::EPSILON);
}

#[test]
fn codes_of_one_person_merge_after_generalization() {
    // E113 and E119 of one person become one E11; the pair (E113, E119) disappears.
    let mut input = sets(&[&["E113", "E119"]]);
    input.extend(repeat(&["E119"], 3));
    input.extend(repeat(&["E113"], 3));
    // Other codes make the category cheap (it covers 2 of 6 observed codes) next to suppressing 4 items.
    for code in ["I10", "J069", "K297", "N189"] {
        input.extend(repeat(&[code], 2));
    }
    let solution = anonymize(&input, 2, 2, &Icd10Hierarchy);
    let released = check_solution(&input, &solution, &Icd10Hierarchy, 2, 2);
    assert_eq!(released[0], ["E11"]);
    assert_eq!(solution.stats().n_items, 16);
}

#[test]
fn trivial_parameters_release_everything() {
    let input = sets(&[&["E119", "I10"], &["J069"]]);
    for (k, m) in [(1, 2), (0, 2), (5, 0)] {
        let solution = anonymize(&input, k, m, &Icd10Hierarchy);
        assert!(solution.recoding().all(|(code, release)| release == Some(code)), "k={k}, m={m}");
        assert_eq!(solution.stats().passes, 0);
    }
    assert_eq!(km_violations(&input, 1, 3), 0);
    assert_eq!(km_violations(&input, 2, 0), 0);
}

#[test]
fn large_m_uses_the_general_key() {
    let mut input = repeat(&["a", "b", "c", "d", "e", "f"], 2);
    input.push(["a", "b", "c", "d", "e", "g"].iter().map(|code| (*code).to_owned()).collect());
    input.push(["a", "b", "c", "d", "e", "g"].iter().map(|code| (*code).to_owned()).collect());
    input.push(["a", "b", "c", "d", "f", "g"].iter().map(|code| (*code).to_owned()).collect());
    let toy = Toy::new(&[("f", "fg"), ("g", "fg")]);
    for m in 1..=6 {
        assert_eq!(km_violations(&input, 2, m), brute_force_violations(&input, 2, m), "m={m}");
        let solution = anonymize(&input, 2, m, &toy);
        check_solution(&input, &solution, &toy, 2, m);
    }
}

/// The itemsets a visitor sees, in order.
fn gather(run: impl FnOnce(&mut dyn FnMut(&[u32]))) -> Vec<Vec<u32>> {
    let mut found = Vec::new();
    run(&mut |itemset: &[u32]| found.push(itemset.to_vec()));
    found
}

#[test]
fn itemset_keys_agree() {
    let mut rows = Rows::new();
    for row in [vec![1, 5, 9, 70_000], vec![1, 5, 9], vec![5, 9, 70_000], vec![1, 5, 9, 12, 70_000]] {
        rows.push_row(&mut row.clone());
    }
    let rare = |support: u32| support > 0 && support < 3;
    for size in 1..=4 {
        let narrow = gather(|visit| visit_hashed::<u64>(&rows, size, 17, rare, visit));
        let wide = gather(|visit| visit_hashed::<u128>(&rows, size, 32, rare, visit));
        let general = gather(|visit| visit_hashed::<Box<[u32]>>(&rows, size, 0, rare, visit));
        let chosen = gather(|visit| visit_violations(&rows, size, 3, visit));
        assert!(!general.is_empty());
        assert_eq!(narrow, general, "size {size}");
        assert_eq!(wide, general, "size {size}");
        assert_eq!(chosen, general, "size {size}");
    }
}

#[test]
fn output_does_not_depend_on_the_order_of_persons() {
    let input = sets(&[
        &["E119", "I10", "E785"],
        &["E119", "I10"],
        &["E113", "I10", "F03"],
        &["E785", "F03"],
        &["J069", "I10"],
        &["J00", "E119"],
        &["C509", "E119", "I10"],
        &["G122"],
        &["E119", "E785"],
        &["I10", "F03", "J069"],
    ]);
    let forward = anonymize(&input, 2, 2, &Icd10Hierarchy);
    let mut reversed_input = input.clone();
    reversed_input.reverse();
    for set in &mut reversed_input {
        set.reverse();
    }
    let reversed = anonymize(&reversed_input, 2, 2, &Icd10Hierarchy);
    assert_eq!(forward, reversed);
    check_solution(&input, &forward, &Icd10Hierarchy, 2, 2);
}

#[test]
fn faulty_hierarchy_still_terminates() {
    // a → b → a: the walk cuts the cycle and treats the node it stops at as a root.
    let toy = Toy::new(&[("a", "b"), ("b", "a"), ("c", "c")]);
    let input = sets(&[&["a"], &["b"], &["c"]]);
    let solution = anonymize(&input, 2, 1, &toy);
    let released = solution.recode_sets(&input);
    assert_eq!(km_violations(&released, 2, 1), 0);
}

// ---------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------

/// Leaf-level codes only (no code is an ancestor of another), some sharing categories, blocks, chapters.
const LEAF_DOMAIN: &[&str] = &[
    "E110", "E113", "E119", "E149", "E780", "E785", "E752", "I10", "I209", "I219", "I500", "J00", "J069",
    "J189", "C509", "C189", "F03", "F329", "G122", "M8199", "Z999", "XYZ",
];

/// Mixed levels: categories with their own subcodes, and a block label.
const MIXED_DOMAIN: &[&str] =
    &["E11", "E119", "E113", "E10-E14", "I20", "I209", "I10", "J069", "E785", "Q999"];

fn families(domain: &'static [&'static str]) -> impl Strategy<Value = Vec<Vec<String>>> {
    let set = prop::collection::vec(prop::sample::select(domain), 0..6)
        .prop_map(|codes| codes.into_iter().map(str::to_owned).collect::<Vec<String>>());
    prop::collection::vec(set, 0..30)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn solutions_are_km_anonymous_and_consistent(
        input in families(LEAF_DOMAIN),
        k in 2usize..5,
        m in 1usize..=3,
    ) {
        prop_assert_eq!(km_violations(&input, k, m), brute_force_violations(&input, k, m));
        let solution = anonymize(&input, k, m, &Icd10Hierarchy);
        check_solution(&input, &solution, &Icd10Hierarchy, k, m);
        prop_assert_eq!(solution.stats().initial_violations, brute_force_violations(&input, k, m));
        if brute_force_violations(&input, k, m) == 0 {
            prop_assert!(solution.recoding().all(|(code, release)| release == Some(code)));
            prop_assert_eq!(solution.stats().passes, 0);
            prop_assert!(solution.loss().abs() < f64::EPSILON);
        }
    }

    #[test]
    fn mixed_level_inputs_are_km_anonymous_and_consistent(
        input in families(MIXED_DOMAIN),
        k in 2usize..5,
        m in 1usize..=3,
    ) {
        let solution = anonymize(&input, k, m, &Icd10Hierarchy);
        check_solution(&input, &solution, &Icd10Hierarchy, k, m);
    }

    #[test]
    fn satisfied_inputs_are_left_alone(
        base in prop::collection::vec(prop::collection::btree_set(prop::sample::select(LEAF_DOMAIN), 0..5), 1..6),
        k in 2usize..5,
        m in 1usize..=3,
    ) {
        // Every set repeated k times: every itemset has support at least k.
        let input: Vec<Vec<String>> = base
            .iter()
            .flat_map(|set| std::iter::repeat_n(set.iter().map(|code| (*code).to_owned()).collect(), k))
            .collect();
        let solution = anonymize(&input, k, m, &Icd10Hierarchy);
        prop_assert!(solution.recoding().all(|(code, release)| release == Some(code)));
        prop_assert_eq!(solution.stats().initial_violations, 0);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Timing (ignored): `cargo test --release -p kiban-engine kmanon::tests::million -- --ignored --nocapture`
// ---------------------------------------------------------------------------------------------------------

/// `SplitMix64`, enough for synthetic data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// `n_codes` ICD-10 codes drawn from the block table, each category with four subcodes.
fn synthetic_domain(rng: &mut SplitMix, n_codes: usize) -> Vec<String> {
    let mut codes = Vec::new();
    for chapter in crate::codes::ICD10_CHAPTERS {
        for block in chapter.blocks {
            let (first, last) = block.split_once('-').unwrap();
            let letter = first.as_bytes()[0];
            let (from, to): (u32, u32) = (first[1..].parse().unwrap(), last[1..].parse().unwrap());
            let to = if last.as_bytes()[0] == letter { to } else { 99 };
            for number in from..=to {
                for sub in [0, 1, 8, 9] {
                    codes.push(format!("{}{number:02}{sub}", letter as char));
                }
            }
        }
    }
    for i in (1..codes.len()).rev() {
        codes.swap(i, rng.below(i + 1));
    }
    codes.truncate(n_codes);
    codes
}

#[test]
#[ignore = "timing run on a million persons; use --release"]
fn million_persons_m2() {
    let mut rng = SplitMix(7);
    let domain = synthetic_domain(&mut rng, 3000);
    // Zipf-like popularity: weight 1 / rank.
    let mut cumulative = Vec::with_capacity(domain.len());
    let mut total = 0.0;
    for rank in 1..=domain.len() {
        total += 1.0 / f64::from(u32::try_from(rank).unwrap());
        cumulative.push(total);
    }
    let draw = |rng: &mut SplitMix| {
        #[allow(clippy::cast_precision_loss)]
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        cumulative.partition_point(|&c| c < x).min(domain.len() - 1)
    };
    let input: Vec<Vec<String>> = (0..1_000_000)
        .map(|_| {
            let n = 3 + rng.below(11);
            (0..n).map(|_| domain[draw(&mut rng)].clone()).collect()
        })
        .collect();
    let started = std::time::Instant::now();
    let solution = anonymize(&input, 5, 2, &Icd10Hierarchy);
    let elapsed = started.elapsed();
    println!("{:#?}\nanonymize: {elapsed:?}", solution.stats());
    let started = std::time::Instant::now();
    let released = solution.recode_sets(&input);
    assert_eq!(km_violations(&released, 5, 2), 0);
    println!("check: {:?}", started.elapsed());
}

/// Codes drawn top-down with Zipf-like skew at every level (chapter, block, category, subcode), as in
/// claims data where a few codes of a category dominate.
fn structured_population(rng: &mut SplitMix, n_persons: usize, skew: f64) -> Vec<Vec<String>> {
    let zipf = |rng: &mut SplitMix, n: usize| {
        let weights: Vec<f64> =
            (1..=n).map(|rank| 1.0 / f64::from(u32::try_from(rank).unwrap()).powf(skew)).collect();
        let total: f64 = weights.iter().sum();
        #[allow(clippy::cast_precision_loss)]
        let mut x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        for (index, weight) in weights.iter().enumerate() {
            x -= weight;
            if x <= 0.0 {
                return index;
            }
        }
        n - 1
    };
    let chapters = crate::codes::ICD10_CHAPTERS;
    let mut sizes = SplitMix(rng.next());
    let mut person = || {
        let chapter = &chapters[zipf(rng, chapters.len())];
        let block = chapter.blocks[zipf(rng, chapter.blocks.len())];
        let (first, last) = block.split_once('-').unwrap();
        let letter = &first[..1];
        let (from, to): (usize, usize) = (first[1..].parse().unwrap(), last[1..].parse().unwrap());
        let to = if last.starts_with(letter) { to } else { 99 };
        let category = from + zipf(rng, to - from + 1);
        let sub = [9, 0, 8, 1, 2, 3, 4, 5, 6, 7][zipf(rng, 10)];
        format!("{letter}{category:02}{sub}")
    };
    (0..n_persons).map(|_| (0..3 + sizes.below(8)).map(|_| person()).collect()).collect()
}

/// The loss of releasing every code at one level of the ICD-10 hierarchy (or the top it reaches), or
/// `"unsafe"` when that is not k^m-anonymous.
fn uniform_level_loss(input: &[Vec<String>], k: usize, m: usize, level: usize) -> String {
    let at_level = |code: &str| {
        let path = generalization_path(&Icd10Hierarchy, code);
        path[level.min(path.len() - 1)].clone()
    };
    let released: Vec<Vec<String>> =
        input.iter().map(|set| set.iter().map(|code| at_level(code)).collect()).collect();
    if km_violations(&released, k, m) > 0 {
        return "unsafe".to_owned();
    }
    let distinct: BTreeSet<&String> = input.iter().flatten().collect();
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();
    for code in &distinct {
        *covered.entry(at_level(code)).or_default() += 1;
    }
    let (mut loss, mut items) = (0.0, 0.0);
    for set in input {
        for code in set.iter().collect::<BTreeSet<_>>() {
            #[allow(clippy::cast_precision_loss)]
            let cost = (covered[&at_level(code)] - 1) as f64 / (distinct.len() - 1) as f64;
            loss += cost;
            items += 1.0;
        }
    }
    format!("{:.4}", loss / items)
}

#[test]
#[ignore = "quality comparison; use --release"]
fn batch_versus_single_steps() {
    for (n_persons, k, m, skew) in
        [(20_000, 10, 2, 1.5), (100_000, 5, 2, 1.5), (100_000, 5, 2, 2.0), (5_000, 3, 3, 1.5)]
    {
        let input = structured_population(&mut SplitMix(11), n_persons, skew);
        let started = std::time::Instant::now();
        let batch = anonymize(&input, k, m, &Icd10Hierarchy);
        let batch_time = started.elapsed();
        let started = std::time::Instant::now();
        let single = if n_persons <= 20_000 {
            anonymize_stepwise(&input, k, m, &Icd10Hierarchy, 1).unwrap()
        } else {
            batch.clone()
        };
        let single_time = started.elapsed();
        check_solution(&input, &single, &Icd10Hierarchy, k, m);
        let uniform: Vec<String> = (0..4).map(|level| uniform_level_loss(&input, k, m, level)).collect();
        println!(
            "n={n_persons} k={k} m={m} skew={skew} codes={}: uniform levels {uniform:?}; batch loss {:.4} ({} passes, {batch_time:?}, {} out) / single \
             loss {:.4} ({} passes, {single_time:?}, {} out)",
            batch.stats().distinct_codes_in,
            batch.loss(),
            batch.stats().passes,
            batch.stats().distinct_codes_out,
            single.loss(),
            single.stats().passes,
            single.stats().distinct_codes_out,
        );
        println!("{:?}", batch.stats());
    }
}

#[test]
#[ignore = "timing run on a million persons; use --release"]
fn million_structured_persons() {
    for (skew, k, m) in [(1.0, 5, 2), (1.5, 5, 3)] {
        let input = structured_population(&mut SplitMix(3), 1_000_000, skew);
        let started = std::time::Instant::now();
        let solution = anonymize(&input, k, m, &Icd10Hierarchy);
        println!("skew={skew} k={k} m={m}: {:?} in {:?}", solution.stats(), started.elapsed());
        assert_eq!(km_violations(&solution.recode_sets(&input), k, m), 0);
    }
}
