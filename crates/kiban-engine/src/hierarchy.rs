//! Generalization hierarchies (一般化階層): for one quasi-identifier, the generalization of every original
//! value at each level, from the value itself (level 0) up to the coarsest level (usually `*`).
//!
//! A [`Hierarchy`] is built from ARX's hierarchy table format ([`Hierarchy::from_rows`]), from numeric bands
//! ([`Hierarchy::intervals`], [`Hierarchy::age_bands`]), from explicit parent maps ([`Hierarchy::from_groups`])
//! or by masking code suffixes ([`Hierarchy::masking`]). Every constructor checks that the hierarchy is
//! *functional*: two values that share a generalization at one level share it at every level above, which
//! is what makes the generalization lattice (and the monotone k-anonymity search over it) sound.
//!
//! Internally each level is dictionary-encoded: the original values are the leaves `0..domain_size()`, and
//! for each level a table maps a leaf to its code at that level, so the engine never compares strings.

use std::collections::{HashMap, HashSet};
use std::fmt;

/// Why a hierarchy could not be built. Positions are 0-based row (value) indices and level numbers; the
/// values themselves are never included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HierarchyError {
    #[error("hierarchy has no rows")]
    Empty,
    #[error("hierarchy row {row} has no columns; each row needs at least the original value")]
    EmptyRow { row: usize },
    #[error("hierarchy row {row} has {found} levels, expected {expected} like the first row")]
    RaggedRow { row: usize, expected: usize, found: usize },
    #[error("hierarchy rows {first_row} and {row} have the same original value; each value needs one row")]
    DuplicateValue { row: usize, first_row: usize },
    #[error(
        "hierarchy is not functional: row {row} generalizes a level-{level} group to a different level-{} \
         value than an earlier row does", level + 1
    )]
    NotFunctional { level: usize, row: usize },
    #[error("group map for level {level} has no parent for the level-{} value of row {row}", level - 1)]
    MissingParent { level: usize, row: usize },
    #[error("value {row} has a different length from value 0; masking needs codes of one length")]
    MaskLengthMismatch { row: usize },
    #[error("invalid hierarchy specification: {reason}")]
    InvalidSpec { reason: &'static str },
    #[error("distinct value {row} is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)")]
    InvalidDate { row: usize },
}

/// The top label of generated hierarchies.
pub const TOP: &str = "*";

/// The largest age [`Hierarchy::age_bands`] covers; ages above it are not in the hierarchy.
pub const MAX_AGE_YEARS: i64 = 130;

/// A generalization hierarchy for one quasi-identifier.
///
/// `Debug` prints only the shape (levels, domain size), never the values.
#[derive(Clone)]
pub struct Hierarchy {
    // Invariant: maps each original value to its leaf index (its row); leaves are unique.
    leaf_index: HashMap<String, u32>,
    // Invariant: `labels[level][code]` is the text of a code; every level has at least one code.
    labels: Vec<Vec<String>>,
    // Invariant: `codes[level][leaf]` is the leaf's code at that level; `codes[0][leaf] == leaf`; the mapping
    // is functional (a code at level l determines the code at level l + 1).
    codes: Vec<Vec<u32>>,
    // `leaf_counts[level][code]` is the number of leaves under the code.
    leaf_counts: Vec<Vec<u32>>,
}

impl Hierarchy {
    /// Builds a hierarchy from ARX's table format: one row per original value, the value first and each
    /// further column one level coarser.
    ///
    /// # Errors
    /// Fails when there are no rows, rows differ in length, an original value appears twice, or the
    /// generalization is not functional.
    pub fn from_rows(rows: &[Vec<String>]) -> Result<Hierarchy, HierarchyError> {
        let first = rows.first().ok_or(HierarchyError::Empty)?;
        let n_levels = first.len();
        if n_levels == 0 {
            return Err(HierarchyError::EmptyRow { row: 0 });
        }
        let n_leaves = u32::try_from(rows.len())
            .map_err(|_| HierarchyError::InvalidSpec { reason: "more than 2^32 values" })?;

        let mut leaf_index: HashMap<String, u32> = HashMap::with_capacity(rows.len());
        let mut labels: Vec<Vec<String>> = vec![Vec::new(); n_levels];
        let mut codes: Vec<Vec<u32>> = vec![Vec::with_capacity(rows.len()); n_levels];
        let mut label_codes: Vec<HashMap<&str, u32>> = vec![HashMap::new(); n_levels];
        // `parents[level][code]` is the code at `level + 1` that the first row with this code mapped to.
        let mut parents: Vec<Vec<u32>> = vec![Vec::new(); n_levels];

        for (row, (values, leaf)) in rows.iter().zip(0..n_leaves).enumerate() {
            if values.len() != n_levels {
                return Err(if values.is_empty() {
                    HierarchyError::EmptyRow { row }
                } else {
                    HierarchyError::RaggedRow { row, expected: n_levels, found: values.len() }
                });
            }
            if let Some(&first_row) = leaf_index.get(&values[0]) {
                return Err(HierarchyError::DuplicateValue { row, first_row: first_row as usize });
            }
            leaf_index.insert(values[0].clone(), leaf);

            let mut previous: Option<(usize, u32, bool)> = None;
            for (level, label) in values.iter().enumerate() {
                let next_code = labels[level].len() as u32;
                let code = *label_codes[level].entry(label.as_str()).or_insert(next_code);
                let is_new = code == next_code;
                if is_new {
                    labels[level].push(label.clone());
                }
                codes[level].push(code);
                if let Some((prev_level, prev_code, prev_new)) = previous {
                    if prev_new {
                        parents[prev_level].push(code);
                    } else if parents[prev_level][prev_code as usize] != code {
                        return Err(HierarchyError::NotFunctional { level: prev_level, row });
                    }
                }
                previous = Some((level, code, is_new));
            }
        }

        let leaf_counts = codes
            .iter()
            .zip(&labels)
            .map(|(level_codes, level_labels)| {
                let mut counts = vec![0u32; level_labels.len()];
                for &code in level_codes {
                    counts[code as usize] += 1;
                }
                counts
            })
            .collect();
        Ok(Hierarchy { leaf_index, labels, codes, leaf_counts })
    }

    /// Builds a hierarchy of integer bands over `spec.min..=spec.max`, e.g. for ages.
    ///
    /// Level 0 is the number itself (`"37"`). Each width `w` in `spec.widths` adds a level of bands aligned
    /// to `spec.min`, labelled `"lo-hi"` (`"35-39"` for width 5 from 0). With `spec.top_code = Some(t)`,
    /// every value `>= t` becomes `"t+"` on every level above 0 and bands below `t` end at `t - 1`. The last
    /// level is `*`.
    ///
    /// # Errors
    /// [`HierarchyError::InvalidSpec`] when `min > max`, the domain exceeds 100,000 values, a width is 0, a
    /// width is not a multiple of the one before (bands must nest), or `top_code <= min`.
    pub fn intervals(spec: &IntervalSpec<'_>) -> Result<Hierarchy, HierarchyError> {
        let invalid = |reason| Err(HierarchyError::InvalidSpec { reason });
        if spec.min > spec.max {
            return invalid("min is greater than max");
        }
        if spec.max.saturating_sub(spec.min) >= 100_000 {
            return invalid("interval domain has more than 100000 values");
        }
        if spec.widths.contains(&0) {
            return invalid("band width 0");
        }
        if spec.widths.windows(2).any(|pair| pair[1] % pair[0] != 0) {
            return invalid("each band width must be a multiple of the previous one so that bands nest");
        }
        if spec.top_code.is_some_and(|top| top <= spec.min) {
            return invalid("top code must be greater than min");
        }
        let rows: Vec<Vec<String>> = (spec.min..=spec.max)
            .map(|value| {
                let mut row = Vec::with_capacity(spec.widths.len() + 2);
                row.push(value.to_string());
                for &width in spec.widths {
                    row.push(match spec.top_code {
                        Some(top) if value >= top => format!("{top}+"),
                        _ => {
                            let width = i64::from(width);
                            let low = spec.min + (value - spec.min) / width * width;
                            let mut high = low + width - 1;
                            if let Some(top) = spec.top_code {
                                high = high.min(top - 1);
                            }
                            format!("{low}-{high}")
                        }
                    });
                }
                row.push(TOP.to_owned());
                row
            })
            .collect();
        Hierarchy::from_rows(&rows)
    }

    /// Age bands over `0..=MAX_AGE_YEARS`: exact age, then one level per width, then `*`; ages
    /// `>= top_code` become `"{top_code}+"` above level 0. `age_bands(&[5, 10, 20], 90)` gives
    /// `37 → 35-39 → 30-39 → 20-39 → *` and `93 → 90+ → 90+ → 90+ → *`.
    ///
    /// # Errors
    /// As [`Hierarchy::intervals`].
    pub fn age_bands(widths: &[u32], top_code: u32) -> Result<Hierarchy, HierarchyError> {
        Hierarchy::intervals(&IntervalSpec {
            min: 0,
            max: MAX_AGE_YEARS,
            widths,
            top_code: Some(i64::from(top_code)),
        })
    }

    /// Builds a categorical hierarchy from explicit parent maps: `parents[0]` maps each value to its level-1
    /// group, `parents[1]` maps each level-1 group to its level-2 group, and so on (e.g. prefecture → region →
    /// `*`). If the last level still has more than one group, a `*` level is added on top. Repeated values
    /// are taken once.
    ///
    /// # Errors
    /// [`HierarchyError::Empty`] without values, [`HierarchyError::MissingParent`] when a map lacks a
    /// group, [`HierarchyError::NotFunctional`] cannot occur because each map is a function.
    pub fn from_groups(
        values: &[String],
        parents: &[HashMap<String, String>],
    ) -> Result<Hierarchy, HierarchyError> {
        let mut rows = Vec::with_capacity(values.len());
        for (row, value) in unique(values).into_iter().enumerate() {
            let mut labels = vec![value.clone()];
            for (map_idx, map) in parents.iter().enumerate() {
                let child = labels.last().expect("labels start with the value");
                let parent =
                    map.get(child).ok_or(HierarchyError::MissingParent { level: map_idx + 1, row })?;
                labels.push(parent.clone());
            }
            rows.push(labels);
        }
        let distinct_tops: HashSet<&String> = rows.iter().filter_map(|row| row.last()).collect();
        if distinct_tops.len() > 1 {
            for row in &mut rows {
                row.push(TOP.to_owned());
            }
        }
        Hierarchy::from_rows(&rows)
    }

    /// Masks code suffixes one character per level (e.g. postal code `1000001 → 100000* → … → *******`), for
    /// values that all have the same number of characters `n`; there are `n + 1` levels. Repeated values are
    /// taken once.
    ///
    /// # Errors
    /// [`HierarchyError::Empty`] without values, [`HierarchyError::MaskLengthMismatch`] when lengths differ.
    pub fn masking(values: &[String], mask: char) -> Result<Hierarchy, HierarchyError> {
        let values = unique(values);
        let length = values.first().ok_or(HierarchyError::Empty)?.chars().count();
        let mut rows = Vec::with_capacity(values.len());
        for (row, value) in values.into_iter().enumerate() {
            let chars: Vec<char> = value.chars().collect();
            if chars.len() != length {
                return Err(HierarchyError::MaskLengthMismatch { row });
            }
            rows.push(
                (0..=length)
                    .map(|n_masked| {
                        let kept = length - n_masked;
                        chars[..kept].iter().copied().chain(std::iter::repeat_n(mask, n_masked)).collect()
                    })
                    .collect(),
            );
        }
        Hierarchy::from_rows(&rows)
    }

    /// Cuts codes of any length to prefixes of the given lengths, longest first, then `*` (ICD-10
    /// `prefix(&[3, 1])`: `E119 → E11 → E → *`). A code shorter than a prefix length stays whole on that
    /// level. Repeated values are taken once.
    ///
    /// # Errors
    /// [`HierarchyError::Empty`] without values; [`HierarchyError::InvalidSpec`] when the lengths are not
    /// strictly decreasing or one is 0.
    pub fn prefixes(values: &[String], lengths: &[usize]) -> Result<Hierarchy, HierarchyError> {
        if lengths.contains(&0) || lengths.windows(2).any(|pair| pair[1] >= pair[0]) {
            return Err(HierarchyError::InvalidSpec {
                reason: "prefix lengths must be positive and strictly decreasing",
            });
        }
        let values = unique(values);
        if values.is_empty() {
            return Err(HierarchyError::Empty);
        }
        let rows: Vec<Vec<String>> = values
            .into_iter()
            .map(|value| {
                let mut row = vec![value.clone()];
                row.extend(lengths.iter().map(|&length| value.chars().take(length).collect::<String>()));
                row.push(TOP.to_owned());
                row
            })
            .collect();
        Hierarchy::from_rows(&rows)
    }

    /// Dates to months to years to `*`: `2024-03-15 → 2024-03 → 2024 → *`. Accepts `YYYY-MM-DD`,
    /// `YYYY/MM/DD` and `YYYYMMDD`; the month and year keep the value's own separator. Repeated values are
    /// taken once.
    ///
    /// # Errors
    /// [`HierarchyError::Empty`] without values; [`HierarchyError::InvalidDate`] with the position (among
    /// the distinct values) of the first value that is not a valid date.
    pub fn dates(values: &[String]) -> Result<Hierarchy, HierarchyError> {
        let values = unique(values);
        if values.is_empty() {
            return Err(HierarchyError::Empty);
        }
        let mut rows = Vec::with_capacity(values.len());
        for (row, value) in values.into_iter().enumerate() {
            let (format, month_len) = match value.len() {
                10 if value.as_bytes()[4] == b'-' => ("%Y-%m-%d", 7),
                10 if value.as_bytes()[4] == b'/' => ("%Y/%m/%d", 7),
                8 => ("%Y%m%d", 6),
                _ => return Err(HierarchyError::InvalidDate { row }),
            };
            if chrono::NaiveDate::parse_from_str(value, format).is_err() {
                return Err(HierarchyError::InvalidDate { row });
            }
            rows.push(vec![
                value.clone(),
                value[..month_len].to_owned(),
                value[..4].to_owned(),
                TOP.to_owned(),
            ]);
        }
        Hierarchy::from_rows(&rows)
    }

    /// The number of levels including level 0; valid levels are `0..levels()`.
    pub fn levels(&self) -> usize {
        self.codes.len()
    }

    /// The coarsest level, `levels() - 1`.
    pub fn top_level(&self) -> usize {
        self.codes.len() - 1
    }

    /// The number of original values (the leaves).
    pub fn domain_size(&self) -> usize {
        self.codes[0].len()
    }

    /// The generalization of `value` at `level`, or `None` when the value is not in the hierarchy or the
    /// level does not exist.
    pub fn generalize(&self, value: &str, level: usize) -> Option<&str> {
        let leaf = *self.leaf_index.get(value)?;
        let code = *self.codes.get(level)?.get(leaf as usize)?;
        Some(&self.labels[level][code as usize])
    }

    /// The leaf index of an original value.
    pub(crate) fn leaf(&self, value: &str) -> Option<u32> {
        self.leaf_index.get(value).copied()
    }

    /// `codes(level)[leaf]` is the leaf's code at `level`. Panics if `level` does not exist.
    pub(crate) fn codes(&self, level: usize) -> &[u32] {
        &self.codes[level]
    }

    /// The number of distinct codes at `level`. Panics if `level` does not exist.
    pub(crate) fn n_codes(&self, level: usize) -> usize {
        self.labels[level].len()
    }

    /// The text of `code` at `level`. Panics if either does not exist.
    pub(crate) fn label(&self, level: usize, code: u32) -> &str {
        &self.labels[level][code as usize]
    }

    /// `leaf_counts(level)[code]` is the number of leaves under `code`. Panics if `level` does not exist.
    pub(crate) fn leaf_counts(&self, level: usize) -> &[u32] {
        &self.leaf_counts[level]
    }
}

impl fmt::Debug for Hierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hierarchy")
            .field("levels", &self.levels())
            .field("domain_size", &self.domain_size())
            .finish_non_exhaustive()
    }
}

/// Integer bands for [`Hierarchy::intervals`].
#[derive(Debug, Clone, Copy)]
pub struct IntervalSpec<'a> {
    /// The smallest value in the domain; bands are aligned to it.
    pub min: i64,
    /// The largest value in the domain.
    pub max: i64,
    /// The band width of each level above 0, finest first; each a multiple of the previous.
    pub widths: &'a [u32],
    /// Values at or above this are shown as `"{top_code}+"` on every level above 0.
    pub top_code: Option<i64>,
}

fn unique(values: &[String]) -> Vec<&String> {
    let mut seen = HashSet::with_capacity(values.len());
    values.iter().filter(|value| seen.insert(value.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(table: &[&[&str]]) -> Vec<Vec<String>> {
        table.iter().map(|row| row.iter().map(|cell| (*cell).to_owned()).collect()).collect()
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn from_rows_generalizes_each_level() {
        let hierarchy =
            Hierarchy::from_rows(&rows(&[&["a", "ab", "*"], &["b", "ab", "*"], &["c", "c", "*"]])).unwrap();
        assert_eq!(hierarchy.levels(), 3);
        assert_eq!(hierarchy.top_level(), 2);
        assert_eq!(hierarchy.domain_size(), 3);
        assert_eq!(hierarchy.generalize("a", 0), Some("a"));
        assert_eq!(hierarchy.generalize("b", 1), Some("ab"));
        assert_eq!(hierarchy.generalize("c", 1), Some("c"));
        assert_eq!(hierarchy.generalize("c", 2), Some("*"));
        assert_eq!(hierarchy.generalize("c", 3), None);
        assert_eq!(hierarchy.generalize("d", 0), None);
        assert_eq!(hierarchy.leaf_counts(1), &[2, 1]);
        assert_eq!(hierarchy.leaf_counts(2), &[3]);
        assert_eq!(format!("{hierarchy:?}"), "Hierarchy { levels: 3, domain_size: 3, .. }");
    }

    #[test]
    fn from_rows_rejects_malformed_tables() {
        let check = |table: &[&[&str]], expect: HierarchyError| {
            assert_eq!(Hierarchy::from_rows(&rows(table)).err(), Some(expect));
        };
        check(&[], HierarchyError::Empty);
        check(&[&[]], HierarchyError::EmptyRow { row: 0 });
        check(&[&["a", "*"], &["b"]], HierarchyError::RaggedRow { row: 1, expected: 2, found: 1 });
        check(&[&["a", "*"], &[]], HierarchyError::EmptyRow { row: 1 });
        check(
            &[&["a", "*"], &["b", "*"], &["a", "*"]],
            HierarchyError::DuplicateValue { row: 2, first_row: 0 },
        );
        // "x" groups a and b at level 1, but they part ways at level 2.
        check(
            &[&["a", "x", "p", "*"], &["b", "x", "q", "*"]],
            HierarchyError::NotFunctional { level: 1, row: 1 },
        );
        check(
            &[&["a", "x", "p"], &["b", "y", "p"], &["c", "y", "q"]],
            HierarchyError::NotFunctional { level: 1, row: 2 },
        );
    }

    #[test]
    fn error_messages_name_positions_not_values() {
        let err = Hierarchy::from_rows(&rows(&[&["secret-a", "*"], &["secret-a", "*"]])).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("rows 0 and 1"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn age_bands_nest_and_top_code() {
        let ages = Hierarchy::age_bands(&[5, 10, 20], 90).unwrap();
        assert_eq!(ages.levels(), 5);
        let path = |age: &str| {
            (0..5).map(|level| ages.generalize(age, level).unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(path("37"), ["37", "35-39", "30-39", "20-39", "*"]);
        assert_eq!(path("0"), ["0", "0-4", "0-9", "0-19", "*"]);
        assert_eq!(path("89"), ["89", "85-89", "80-89", "80-89", "*"]);
        assert_eq!(path("93"), ["93", "90+", "90+", "90+", "*"]);
        assert_eq!(path("130"), ["130", "90+", "90+", "90+", "*"]);
        assert_eq!(ages.generalize("131", 0), None);
    }

    #[test]
    fn intervals_clamp_bands_below_the_top_code_and_validate() {
        let spec = IntervalSpec { min: 10, max: 30, widths: &[4, 8], top_code: Some(27) };
        let bands = Hierarchy::intervals(&spec).unwrap();
        assert_eq!(bands.generalize("10", 1), Some("10-13"));
        assert_eq!(bands.generalize("25", 1), Some("22-25"));
        assert_eq!(bands.generalize("26", 1), Some("26-26"));
        assert_eq!(bands.generalize("26", 2), Some("26-26"));
        assert_eq!(bands.generalize("27", 2), Some("27+"));
        let no_top = Hierarchy::intervals(&IntervalSpec { top_code: None, ..spec }).unwrap();
        assert_eq!(no_top.generalize("30", 2), Some("26-33"));

        let invalid = |spec: IntervalSpec<'_>| {
            matches!(Hierarchy::intervals(&spec), Err(HierarchyError::InvalidSpec { .. }))
        };
        assert!(invalid(IntervalSpec { min: 5, max: 4, ..spec }));
        assert!(invalid(IntervalSpec { widths: &[0], ..spec }));
        assert!(invalid(IntervalSpec { widths: &[4, 6], ..spec }));
        assert!(invalid(IntervalSpec { top_code: Some(10), ..spec }));
        assert!(invalid(IntervalSpec { min: 0, max: 200_000, ..spec }));
    }

    #[test]
    fn from_groups_follows_parent_maps_and_adds_a_top() {
        let region: HashMap<String, String> = [("Tokyo", "Kanto"), ("Chiba", "Kanto"), ("Osaka", "Kinki")]
            .into_iter()
            .map(|(child, parent)| (child.to_owned(), parent.to_owned()))
            .collect();
        let prefectures = strings(&["Tokyo", "Osaka", "Chiba", "Tokyo"]);
        let hierarchy = Hierarchy::from_groups(&prefectures, std::slice::from_ref(&region)).unwrap();
        assert_eq!(hierarchy.levels(), 3);
        assert_eq!(hierarchy.domain_size(), 3);
        assert_eq!(hierarchy.generalize("Chiba", 1), Some("Kanto"));
        assert_eq!(hierarchy.generalize("Osaka", 2), Some("*"));

        let err = Hierarchy::from_groups(&strings(&["Tokyo", "Kyoto"]), &[region]).unwrap_err();
        assert_eq!(err, HierarchyError::MissingParent { level: 1, row: 1 });
        assert_eq!(Hierarchy::from_groups(&[], &[]).err(), Some(HierarchyError::Empty));
    }

    #[test]
    fn masking_hides_one_more_character_per_level() {
        let codes = strings(&["1000001", "1000002", "1500001"]);
        let hierarchy = Hierarchy::masking(&codes, '*').unwrap();
        assert_eq!(hierarchy.levels(), 8);
        assert_eq!(hierarchy.generalize("1000001", 1), Some("100000*"));
        assert_eq!(hierarchy.generalize("1000002", 1), Some("100000*"));
        assert_eq!(hierarchy.generalize("1500001", 6), Some("1******"));
        assert_eq!(hierarchy.generalize("1500001", 7), Some("*******"));
        assert_eq!(hierarchy.leaf_counts(5), &[2, 1]);
        let err = Hierarchy::masking(&strings(&["123", "12"]), '*').unwrap_err();
        assert_eq!(err, HierarchyError::MaskLengthMismatch { row: 1 });
    }

    #[test]
    fn ships_arx_adult_hierarchies() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/arx");
        if !dir.exists() {
            eprintln!("skipping: {} is absent", dir.display());
            return;
        }
        for (name, levels) in [("age", 5), ("education", 4), ("native-country", 3), ("sex", 2)] {
            let text = std::fs::read_to_string(dir.join(format!("adult_hierarchy_{name}.csv"))).unwrap();
            let table: Vec<Vec<String>> =
                text.lines().map(|line| line.split(';').map(str::to_owned).collect()).collect();
            let hierarchy = Hierarchy::from_rows(&table).unwrap();
            assert_eq!(hierarchy.levels(), levels, "{name}");
        }
    }

    #[test]
    fn prefixes_and_dates() {
        let codes: Vec<String> = ["E119", "E11", "I10", "E1"].iter().map(|c| (*c).to_owned()).collect();
        let hierarchy = Hierarchy::prefixes(&codes, &[3, 1]).unwrap();
        assert_eq!(hierarchy.levels(), 4);
        assert_eq!(hierarchy.generalize("E119", 1), Some("E11"));
        assert_eq!(hierarchy.generalize("E119", 2), Some("E"));
        assert_eq!(hierarchy.generalize("I10", 2), Some("I"));
        assert_eq!(hierarchy.generalize("E1", 1), Some("E1"));
        assert_eq!(hierarchy.generalize("E11", 3), Some(TOP));
        assert!(Hierarchy::prefixes(&codes, &[1, 3]).is_err());
        assert!(Hierarchy::prefixes(&[], &[1]).is_err());

        let dates: Vec<String> =
            ["2024-03-15", "2024-03-01", "20231231", "2024/02/29"].iter().map(|d| (*d).to_owned()).collect();
        let hierarchy = Hierarchy::dates(&dates).unwrap();
        assert_eq!(hierarchy.generalize("2024-03-15", 1), Some("2024-03"));
        assert_eq!(hierarchy.generalize("2024-03-01", 1), Some("2024-03"));
        assert_eq!(hierarchy.generalize("20231231", 1), Some("202312"));
        assert_eq!(hierarchy.generalize("2024/02/29", 2), Some("2024"));
        assert_eq!(hierarchy.generalize("2024-03-15", 3), Some(TOP));
        let bad: Vec<String> = vec!["2024-03-15".into(), "2023-02-30".into()];
        assert_eq!(Hierarchy::dates(&bad).unwrap_err(), HierarchyError::InvalidDate { row: 1 });
    }
}
