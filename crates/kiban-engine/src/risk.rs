//! Re-identification risk of a table, measured on its equivalence classes (rows that share every
//! quasi-identifier value), under the three attacker models ARX reports:
//!
//! - **prosecutor**: the attacker knows the target is in the released data; a row in a class of size
//!   `f` is re-identified with probability `1/f`;
//! - **journalist**: the attacker knows only that the target is in a larger population; a row whose
//!   class has `F ≥ f` matching people in the population is re-identified with probability `1/F`
//!   (without a population table the sample is taken as the population, and the journalist's risk
//!   equals the prosecutor's);
//! - **marketer**: the attacker wants to re-identify as many rows as possible; the expected share of
//!   rows re-identified is `Σ_classes f/F ÷ n` (= classes ÷ rows when the sample is the population).
//!
//! The measures are the highest risk of any row, the average over rows, the share of rows whose risk
//! exceeds a threshold, and the share of sample-unique rows. Suppressed rows are not released and so are
//! not counted. Pure: works on class sizes only, never on values.
//!
//! Where the population's class sizes are unknown, [`population_uniqueness`] estimates how many people
//! are unique in the population from the sample's class sizes and the population size (Pitman, Zayatz
//! and SNB models with Dankar et al.'s decision rule; see `population.rs`).

use std::collections::HashMap;
use std::hash::Hash;

mod population;
mod special;

pub use population::{PopulationModel, PopulationUniqueness, population_uniqueness};

/// One equivalence class: its size in the released sample and in the population (`population ≥ sample`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSize {
    pub sample: usize,
    pub population: usize,
}

/// The risk measures of one attacker model. Probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackerRisk {
    /// The highest probability that any one row is re-identified.
    pub highest: f64,
    /// The average probability over rows.
    pub average: f64,
    /// The share of rows whose probability exceeds the threshold.
    pub share_above_threshold: f64,
}

/// The re-identification risk of one table under every attacker model.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskProfile {
    /// Rows measured (released rows; suppressed rows are not counted).
    pub n_rows: usize,
    pub n_classes: usize,
    /// The threshold `share_above_threshold` compares against (e.g. 0.2 = a class smaller than 5).
    pub threshold: f64,
    pub prosecutor: AttackerRisk,
    pub journalist: AttackerRisk,
    /// The expected share of rows a marketer re-identifies.
    pub marketer: f64,
    /// The share of rows that are alone in their class in the sample.
    pub sample_uniques: f64,
    /// The share of rows that are alone in their class in the population.
    pub population_uniques: f64,
    /// How many rows fall in classes of size 1, 2, 3-4, 5-9, 10-19, 20-49, 50-99, 100+ (the sample).
    pub class_size_histogram: [(ClassSizeBand, usize); 8],
}

/// A band of class sizes for the risk histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSizeBand {
    pub from: usize,
    /// Inclusive; `None` = no upper bound.
    pub to: Option<usize>,
}

const BANDS: [(usize, Option<usize>); 8] = [
    (1, Some(1)),
    (2, Some(2)),
    (3, Some(4)),
    (5, Some(9)),
    (10, Some(19)),
    (20, Some(49)),
    (50, Some(99)),
    (100, None),
];

impl RiskProfile {
    /// Measures risk when the released sample is the whole population.
    pub fn of_sample(class_sizes: &[usize], threshold: f64) -> RiskProfile {
        let classes: Vec<ClassSize> =
            class_sizes.iter().map(|&size| ClassSize { sample: size, population: size }).collect();
        RiskProfile::with_population(&classes, threshold)
    }

    /// Measures risk with each class's population size known (`population` below `sample` is taken as
    /// `sample`: the population contains the sample). Empty classes are ignored.
    pub fn with_population(classes: &[ClassSize], threshold: f64) -> RiskProfile {
        let classes: Vec<ClassSize> = classes
            .iter()
            .filter(|class| class.sample > 0)
            .map(|class| ClassSize { sample: class.sample, population: class.population.max(class.sample) })
            .collect();
        let n_rows: usize = classes.iter().map(|class| class.sample).sum();
        let rows = n_rows as f64;
        let measure = |size_of: &dyn Fn(&ClassSize) -> usize| -> AttackerRisk {
            if n_rows == 0 {
                return AttackerRisk { highest: 0.0, average: 0.0, share_above_threshold: 0.0 };
            }
            let mut highest = 0.0f64;
            let mut total = 0.0;
            let mut above = 0usize;
            for class in &classes {
                let risk = 1.0 / size_of(class) as f64;
                highest = highest.max(risk);
                total += risk * class.sample as f64;
                if risk > threshold {
                    above += class.sample;
                }
            }
            AttackerRisk { highest, average: total / rows, share_above_threshold: above as f64 / rows }
        };
        let prosecutor = measure(&|class| class.sample);
        let journalist = measure(&|class| class.population);
        let share = |count: usize| if n_rows == 0 { 0.0 } else { count as f64 / rows };
        let marketer = if n_rows == 0 {
            0.0
        } else {
            classes.iter().map(|class| class.sample as f64 / class.population as f64).sum::<f64>() / rows
        };
        let sample_uniques = share(classes.iter().filter(|class| class.sample == 1).count());
        let population_uniques = share(classes.iter().filter(|class| class.population == 1).count());
        let class_size_histogram = BANDS.map(|(from, to)| {
            let rows_in_band = classes
                .iter()
                .filter(|class| class.sample >= from && to.is_none_or(|to| class.sample <= to))
                .map(|class| class.sample)
                .sum();
            (ClassSizeBand { from, to }, rows_in_band)
        });
        RiskProfile {
            n_rows,
            n_classes: classes.len(),
            threshold,
            prosecutor,
            journalist,
            marketer,
            sample_uniques,
            population_uniques,
            class_size_histogram,
        }
    }
}

/// Counts the rows per distinct key: the equivalence-class sizes of a table whose rows are `keys`
/// (each key being a row's quasi-identifier values, or codes for them). Sizes are in first-seen order.
pub fn class_sizes<K: Hash + Eq>(keys: impl IntoIterator<Item = K>) -> Vec<usize> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut sizes = Vec::new();
    for key in keys {
        let next = sizes.len();
        let slot = *index.entry(key).or_insert(next);
        if slot == next {
            sizes.push(0);
        }
        sizes[slot] += 1;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn sample_as_population() {
        // Classes of 1, 2, 5 and 12 rows: 20 rows, 4 classes.
        let profile = RiskProfile::of_sample(&[1, 2, 5, 12], 0.2);
        assert_eq!((profile.n_rows, profile.n_classes), (20, 4));
        assert!(close(profile.prosecutor.highest, 1.0));
        // Each class contributes size × 1/size = 1 to the sum: average = classes / rows.
        assert!(close(profile.prosecutor.average, 4.0 / 20.0));
        // Risk 1 and 0.5 exceed 0.2 (3 rows); 0.2 itself does not.
        assert!(close(profile.prosecutor.share_above_threshold, 3.0 / 20.0));
        assert_eq!(profile.journalist, profile.prosecutor);
        assert!(close(profile.marketer, 4.0 / 20.0));
        assert!(close(profile.sample_uniques, 1.0 / 20.0));
        let rows_per_band: Vec<usize> = profile.class_size_histogram.iter().map(|(_, rows)| *rows).collect();
        assert_eq!(rows_per_band, [1, 2, 0, 5, 12, 0, 0, 0]);
        assert_eq!(rows_per_band.iter().sum::<usize>(), profile.n_rows);
    }

    #[test]
    fn a_population_lowers_journalist_and_marketer_risk() {
        let classes = [ClassSize { sample: 1, population: 4 }, ClassSize { sample: 3, population: 3 }];
        let profile = RiskProfile::with_population(&classes, 0.3);
        assert!(close(profile.prosecutor.highest, 1.0));
        assert!(close(profile.journalist.highest, 1.0 / 3.0));
        assert!(close(profile.journalist.average, (0.25 + 3.0 / 3.0) / 4.0));
        assert!(close(profile.journalist.share_above_threshold, 3.0 / 4.0));
        assert!(close(profile.marketer, (1.0 / 4.0 + 3.0 / 3.0) / 4.0));
        assert!(close(profile.sample_uniques, 0.25));
        assert!(close(profile.population_uniques, 0.0));
    }

    #[test]
    fn empty_and_invalid_classes() {
        let profile = RiskProfile::of_sample(&[], 0.2);
        assert_eq!(profile.n_rows, 0);
        assert!(close(profile.prosecutor.highest, 0.0) && close(profile.marketer, 0.0));
        // A population smaller than the sample is read as the sample.
        let profile = RiskProfile::with_population(
            &[ClassSize { sample: 2, population: 1 }, ClassSize { sample: 0, population: 9 }],
            0.2,
        );
        assert_eq!(profile.n_classes, 1);
        assert!(close(profile.journalist.highest, 0.5));
    }

    #[test]
    fn class_sizes_count_rows_per_key() {
        let keys = [("M", 30), ("F", 30), ("M", 30), ("M", 40), ("F", 30)];
        assert_eq!(class_sizes(keys), [2, 2, 1]);
        assert!(class_sizes(Vec::<u8>::new()).is_empty());
    }
}
