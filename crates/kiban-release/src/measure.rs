//! Re-identification risk measured on what leaves: the release's CSV files, read back (through the sealing
//! reader when they are kept sealed), never the engine's internal classes.
//!
//! For every attacker model of the summary ([`kiban_engine::AttackerModel`]) each released person gets a
//! *class*: the persons the attacker cannot tell them from. For the demographics, the persons with the
//! same released person-level values. For codes (up to m codes at a hierarchy level), the smallest number
//! of persons holding any min(m, n) of the person's n codes — with the demographics, counted within the
//! person's demographic class. For events, the same over combinations of the person's events (codes and
//! the intervals between them in steps of the window). For counts, the persons with the same number of
//! rows; for the date sequence, the persons with the same sequence of intervals between their dates.
//! From the classes: persons unique, persons in classes below k, the highest and the average prosecutor
//! risk (1 / class), and for the models whose classes partition the persons (demographics, counts, date
//! sequence) the population uniqueness (Pitman / Zayatz / SNB with Dankar et al.'s rule).
//!
//! This counting is written here, separately from the engine's enforcement, so the report checks the
//! engine rather than repeating it. A release without a person column cannot be joined across tables:
//! each event row is then its own "person" and the demographics cannot be combined with it.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use kiban_engine::{AttackerModel, Knowledge, ProcessingSummary, code_at_level};
use serde::Serialize;

use crate::at_rest::{AtRest, open_data_file};
use crate::{ReleaseError, io_error};

/// One attacker model, measured on the released files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelRisk {
    pub name: String,
    pub k: usize,
    pub residual: bool,
    pub enforcement: Option<String>,
    pub n_persons: usize,
    /// Persons alone in their class.
    pub n_unique: usize,
    /// Persons in a class smaller than k.
    pub n_below_k: usize,
    pub smallest_class: Option<usize>,
    /// The highest prosecutor risk, 1 / the smallest class (0 without persons).
    pub highest: f64,
    /// The average prosecutor risk over persons.
    pub average: f64,
    /// Persons by the size of their class.
    pub histogram: Vec<(String, usize)>,
    /// For models whose classes partition the persons: the estimated population uniqueness.
    pub population: Option<PopulationRisk>,
}

impl ModelRisk {
    /// Whether no person is in a class below k.
    pub fn holds(&self) -> bool {
        self.n_below_k == 0
    }
}

/// Population uniqueness of one model (journalist risk with a population model).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PopulationRisk {
    pub population: u64,
    pub sampling_fraction: f64,
    /// Estimated share of the population that is unique, per model (`None` where a model fails).
    pub pitman: Option<f64>,
    pub zayatz: Option<f64>,
    pub snb: Option<f64>,
    /// Dankar et al.'s choice of model and its estimate: also the expected share of released persons
    /// who are unique in the population.
    pub model: String,
    pub share: f64,
}

/// Every model of a release, measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeasuredRisk {
    pub population: u64,
    pub models: Vec<ModelRisk>,
}

impl MeasuredRisk {
    /// The worst declared model: the highest prosecutor risk, then the most persons below k.
    pub fn headline(&self) -> Option<&ModelRisk> {
        self.models
            .iter()
            .filter(|model| !model.residual)
            .max_by(|a, b| a.highest.total_cmp(&b.highest).then(a.n_below_k.cmp(&b.n_below_k)))
    }
}

/// Measures every attacker model of `summary` on the CSV files of the release in `dir`.
///
/// # Errors
/// [`ReleaseError::Io`] when a file cannot be opened or read, [`ReleaseError::Measure`] when a file does
/// not have the columns the summary says it has.
pub fn measure_release(
    dir: &Path,
    at_rest: AtRest<'_>,
    summary: &ProcessingSummary,
) -> Result<MeasuredRisk, ReleaseError> {
    let persons = Persons::read(dir, at_rest, &summary.demographics)?;
    let mut models = Vec::with_capacity(summary.models.len());
    for model in &summary.models {
        models.push(measure_model(dir, at_rest, &persons, model, summary.population)?);
    }
    Ok(MeasuredRisk { population: summary.population, models })
}

/// The released persons: each pseudonym's number and demographic class.
struct Persons {
    numbers: HashMap<String, u32>,
    /// Per person number, their demographic class.
    class: Vec<u32>,
}

impl Persons {
    fn read(dir: &Path, at_rest: AtRest<'_>, demographics: &[String]) -> Result<Persons, ReleaseError> {
        let mut persons = Persons { numbers: HashMap::new(), class: Vec::new() };
        let Some(mut table) = CsvTable::open(dir, at_rest, "persons")? else { return Ok(persons) };
        let person = table.column("person");
        let columns: Vec<usize> =
            demographics.iter().map(|name| table.required(name)).collect::<Result<_, _>>()?;
        let mut classes: HashMap<Vec<String>, u32> = HashMap::new();
        let mut row_number = 0usize;
        while let Some(row) = table.next_row()? {
            let key: Vec<String> = columns.iter().map(|idx| row[*idx].to_owned()).collect();
            let next = to_u32(classes.len());
            let class = *classes.entry(key).or_insert(next);
            let pseudonym = person.map_or_else(|| format!("row:{row_number}"), |idx| row[idx].to_owned());
            let number = to_u32(persons.class.len());
            persons.numbers.insert(pseudonym, number);
            persons.class.push(class);
            row_number += 1;
        }
        Ok(persons)
    }

    fn len(&self) -> usize {
        self.class.len()
    }
}

/// A released CSV table read row by row.
struct CsvTable<'k> {
    name: String,
    header: Vec<String>,
    reader: csv::Reader<Box<dyn Read + 'k>>,
    record: csv::StringRecord,
}

impl<'k> CsvTable<'k> {
    /// The table's CSV file, or `None` when the release does not have it.
    fn open(dir: &Path, at_rest: AtRest<'k>, table: &str) -> Result<Option<CsvTable<'k>>, ReleaseError> {
        let relative = format!("csv/{table}.csv");
        if !dir.join(&relative).exists() {
            return Ok(None);
        }
        let path = dir.join(&relative);
        let mut reader =
            csv::ReaderBuilder::new().has_headers(true).from_reader(open_data_file(dir, &relative, at_rest)?);
        let header = reader
            .headers()
            .map_err(|error| io_error(&path)(std::io::Error::other(error)))?
            .iter()
            .map(str::to_owned)
            .collect();
        Ok(Some(CsvTable { name: table.to_owned(), header, reader, record: csv::StringRecord::new() }))
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|column| column == name)
    }

    fn required(&self, name: &str) -> Result<usize, ReleaseError> {
        self.column(name).ok_or_else(|| ReleaseError::Measure {
            table: self.name.clone(),
            reason: format!("no column {name}"),
        })
    }

    fn next_row(&mut self) -> Result<Option<&csv::StringRecord>, ReleaseError> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => Ok(Some(&self.record)),
            Ok(false) => Ok(None),
            Err(error) => Err(ReleaseError::Measure { table: self.name.clone(), reason: error.to_string() }),
        }
    }
}

/// Rows of an event table grouped by person: each person's number (a released person's, or a new one for
/// each row when the table has no person column) and the values asked for.
struct Grouped {
    /// Per owner, their values (row order kept).
    rows: BTreeMap<u32, Vec<Vec<Option<String>>>>,
    /// Whether rows are linked to released persons.
    linked: bool,
    /// Owners: the released persons, or one per row.
    n_owners: usize,
}

fn read_grouped(
    dir: &Path,
    at_rest: AtRest<'_>,
    persons: &Persons,
    table: &str,
    columns: &[Option<&str>],
) -> Result<Grouped, ReleaseError> {
    let mut grouped = Grouped { rows: BTreeMap::new(), linked: false, n_owners: persons.len() };
    let Some(mut csv) = CsvTable::open(dir, at_rest, table)? else { return Ok(grouped) };
    let person = csv.column("person");
    grouped.linked = person.is_some() && !persons.numbers.is_empty();
    let indices: Vec<Option<usize>> = columns
        .iter()
        .map(|column| column.map(|name| csv.required(name)).transpose())
        .collect::<Result<_, _>>()?;
    let mut next_owner = to_u32(persons.len());
    while let Some(row) = csv.next_row()? {
        let owner = match (person, grouped.linked) {
            (Some(idx), true) => match persons.numbers.get(&row[idx]) {
                Some(number) => *number,
                None => {
                    return Err(ReleaseError::Measure {
                        table: table.to_owned(),
                        reason: "a row names a person the persons table does not have".to_owned(),
                    });
                }
            },
            _ => {
                next_owner += 1;
                next_owner - 1
            }
        };
        let values = indices
            .iter()
            .map(|idx| idx.map(|idx| &row[idx]).filter(|value| !value.is_empty()).map(str::to_owned))
            .collect();
        grouped.rows.entry(owner).or_default().push(values);
    }
    grouped.n_owners = usize::try_from(next_owner).unwrap_or(usize::MAX);
    Ok(grouped)
}

fn measure_model(
    dir: &Path,
    at_rest: AtRest<'_>,
    persons: &Persons,
    model: &AttackerModel,
    population: u64,
) -> Result<ModelRisk, ReleaseError> {
    // Per owner: their class size under the model; `partition` when the classes partition the owners.
    let (classes, partition) = match &model.knowledge {
        Knowledge::Demographics => {
            let sizes = count_by(persons.class.iter().copied());
            (persons.class.iter().map(|class| sizes[class]).collect::<Vec<usize>>(), true)
        }
        Knowledge::Codes { table, column, code_system, level, m, demographics } => {
            let grouped =
                read_grouped(dir, at_rest, persons, table, &[Some(column), code_system.as_deref()])?;
            let mut codes = Interner::default();
            let sets = owner_sets(persons, &grouped, |values| {
                let code = values[0].as_deref()?;
                Some((codes.id(&code_at_level(table, code, values[1].as_deref(), *level)), None))
            });
            (combination_classes(&sets, &families(persons, &grouped, *demographics), *m, 1), false)
        }
        Knowledge::Events {
            table,
            column,
            code_system,
            date_column,
            granularity,
            level,
            m,
            window_days,
            demographics,
        } => {
            let grouped = read_grouped(
                dir,
                at_rest,
                persons,
                table,
                &[Some(column), code_system.as_deref(), date_column.as_deref()],
            )?;
            let mut codes = Interner::default();
            let mut step = 1;
            let sets = owner_sets(persons, &grouped, |values| {
                let code = values[0].as_deref()?;
                let time = values[2].as_deref().and_then(|text| time_units(text, granularity, *window_days));
                if let Some((_, time_step)) = time {
                    step = time_step;
                }
                Some((
                    codes.id(&code_at_level(table, code, values[1].as_deref(), *level)),
                    time.map(|(t, _)| t),
                ))
            });
            (combination_classes(&sets, &families(persons, &grouped, *demographics), *m, step), false)
        }
        Knowledge::Counts { table, demographics } => {
            let grouped = read_grouped(dir, at_rest, persons, table, &[])?;
            let family = families(persons, &grouped, *demographics);
            let keys: Vec<(u32, usize)> = (0..grouped.n_owners)
                .map(|owner| (family[owner], grouped.rows.get(&to_u32(owner)).map_or(0, Vec::len)))
                .collect();
            let sizes = count_by(keys.iter().copied());
            (keys.iter().map(|key| sizes[key]).collect(), true)
        }
        Knowledge::Sequence { table, date_column, demographics } => {
            let grouped = read_grouped(dir, at_rest, persons, table, &[Some(date_column)])?;
            let family = families(persons, &grouped, *demographics);
            let keys: Vec<(u32, Vec<i64>)> = (0..grouped.n_owners)
                .map(|owner| {
                    let mut days: Vec<i64> = grouped
                        .rows
                        .get(&to_u32(owner))
                        .into_iter()
                        .flatten()
                        .filter_map(|values| values[0].as_deref().and_then(parse_date))
                        .map(|date| i64::from(date.num_days_from_ce()))
                        .collect();
                    days.sort_unstable();
                    (family[owner], days.windows(2).map(|pair| pair[1] - pair[0]).collect())
                })
                .collect();
            let sizes = count_by(keys.iter().cloned());
            (keys.iter().map(|key| sizes[key]).collect(), true)
        }
    };
    Ok(summarize(model, &classes, partition.then_some(population)))
}

/// Each owner's family: their demographic class when the model combines the demographics and rows are
/// linked to persons, else one family.
fn families(persons: &Persons, grouped: &Grouped, demographics: bool) -> Vec<u32> {
    (0..grouped.n_owners)
        .map(|owner| match persons.class.get(owner) {
            Some(class) if demographics && grouped.linked => *class,
            _ => 0,
        })
        .collect()
}

/// One distinct item of an owner: a code and, for events, its time.
type Item = (u32, Option<i64>);

/// Each owner's distinct items, sorted by time (undated first) then code.
fn owner_sets(
    persons: &Persons,
    grouped: &Grouped,
    mut item: impl FnMut(&[Option<String>]) -> Option<Item>,
) -> Vec<Vec<Item>> {
    let mut sets = vec![Vec::new(); grouped.n_owners.max(persons.len())];
    for (owner, rows) in &grouped.rows {
        let set = &mut sets[*owner as usize];
        set.extend(rows.iter().filter_map(|values| item(values)));
        set.sort_unstable_by_key(|(code, time)| (*time, *code));
        set.dedup();
    }
    sets
}

/// Per owner: the smallest number of owners of the same family that hold any min(m, n) of its n items,
/// matched on codes and each one's distance from the earliest date in `step` units; owners without items are in a
/// class with their whole family.
fn combination_classes(sets: &[Vec<Item>], family: &[u32], m: usize, step: i64) -> Vec<usize> {
    let family_sizes = count_by(family.iter().copied());
    let size_of = |set: &Vec<Item>| m.min(set.len());
    let sizes: std::collections::BTreeSet<usize> =
        sets.iter().map(size_of).filter(|size| *size > 0).collect();
    let mut support: HashMap<Vec<u32>, usize> = HashMap::new();
    for (owner, set) in sets.iter().enumerate() {
        let mut keys: Vec<Vec<u32>> = Vec::new();
        for size in sizes.iter().filter(|size| **size <= set.len()) {
            combinations(set, *size, &mut |chosen| keys.push(key(family[owner], chosen, step)));
        }
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            *support.entry(key).or_default() += 1;
        }
    }
    sets.iter()
        .enumerate()
        .map(|(owner, set)| {
            let size = size_of(set);
            if size == 0 {
                return family_sizes[&family[owner]];
            }
            let mut smallest = usize::MAX;
            combinations(set, size, &mut |chosen| {
                smallest = smallest.min(support.get(&key(family[owner], chosen, step)).copied().unwrap_or(0));
            });
            smallest
        })
        .collect()
}

/// Calls `visit` with every choice of `size` items of `set`, in order.
fn combinations(set: &[Item], size: usize, visit: &mut dyn FnMut(&[Item])) {
    fn go(set: &[Item], size: usize, start: usize, chosen: &mut Vec<Item>, visit: &mut dyn FnMut(&[Item])) {
        if chosen.len() == size {
            visit(chosen);
            return;
        }
        for idx in start..set.len() {
            if set.len() - idx < size - chosen.len() {
                break;
            }
            chosen.push(set[idx]);
            go(set, size, idx + 1, chosen, visit);
            chosen.pop();
        }
    }
    go(set, size, 0, &mut Vec::with_capacity(size), visit);
}

/// The attacker's view of chosen items: the family, then each item's code with its distance from the
/// earliest chosen date in `step` units (`u32::MAX` where a date is missing; none for a single item),
/// as a sorted set so that the order the items were chosen in does not matter.
fn key(family: u32, chosen: &[Item], step: i64) -> Vec<u32> {
    let earliest = chosen.iter().filter_map(|(_, time)| *time).min();
    let mut pairs: Vec<(u32, u32)> = chosen
        .iter()
        .map(|(code, time)| {
            let distance = match (earliest, time) {
                _ if chosen.len() == 1 => 0,
                (Some(earliest), Some(time)) => {
                    u32::try_from((time - earliest).div_euclid(step.max(1))).unwrap_or(u32::MAX - 1)
                }
                _ => u32::MAX,
            };
            (*code, distance)
        })
        .collect();
    pairs.sort_unstable();
    let mut key = Vec::with_capacity(1 + 2 * pairs.len());
    key.push(family);
    key.extend(pairs.into_iter().flat_map(|(code, distance)| [code, distance]));
    key
}

/// A released date cell in the units of its granularity, and the interval step in those units for a
/// window of `window_days`: dates by day (1), week (7) or month (30 days); `YYYY-MM` text by month,
/// `YYYY` text by year (365).
fn time_units(text: &str, granularity: &str, window_days: u32) -> Option<(i64, i64)> {
    let step = |unit_days: u32| i64::from(window_days.div_ceil(unit_days).max(1));
    if let Some(date) = parse_date(text) {
        return Some(match granularity {
            "week" => (i64::from(date.num_days_from_ce()).div_euclid(7), step(7)),
            "month" => (i64::from(date.year()) * 12 + i64::from(date.month0()), step(30)),
            _ => (i64::from(date.num_days_from_ce()), step(1)),
        });
    }
    match text.split_once('-') {
        Some((year, month)) => {
            let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
            (1..=12).contains(&month).then_some((year * 12 + month - 1, step(30)))
        }
        None => text.parse::<i64>().ok().map(|year| (year, step(365))),
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The counts and risks of one model from each person's class size.
fn summarize(model: &AttackerModel, classes: &[usize], population: Option<u64>) -> ModelRisk {
    let n = classes.len();
    let smallest = classes.iter().copied().min();
    // Uniques apart from the other small classes: they are the persons an attacker finds with certainty.
    let histogram = crate::report::banded(
        classes,
        &[(1, 1), (2, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, usize::MAX)],
    );
    let average = if n == 0 {
        0.0
    } else {
        classes.iter().map(|size| 1.0 / (*size).max(1) as f64).sum::<f64>() / n as f64
    };
    let population = population.filter(|_| n > 0).map(|population| {
        // The classes themselves: persons sharing a class size and key are one class of that size, so the
        // class sizes are the per-person sizes counted once per class.
        let class_sizes = partition_sizes(classes);
        let estimate = kiban_engine::risk::population_uniqueness(&class_sizes, population);
        PopulationRisk {
            population,
            sampling_fraction: estimate.sampling_fraction,
            pitman: estimate.pitman.map(|uniques| uniques / population as f64),
            zayatz: Some(estimate.zayatz / population as f64),
            snb: estimate.snb.map(|uniques| uniques / population as f64),
            model: format!("{:?}", estimate.model),
            share: estimate.share(),
        }
    });
    ModelRisk {
        name: model.name.clone(),
        k: model.k,
        residual: model.residual,
        enforcement: model.enforcement.clone(),
        n_persons: n,
        n_unique: classes.iter().filter(|size| **size == 1).count(),
        n_below_k: classes.iter().filter(|size| **size < model.k).count(),
        smallest_class: smallest,
        highest: smallest.map_or(0.0, |size| 1.0 / size.max(1) as f64),
        average,
        histogram,
        population,
    }
}

/// For a partition, the class sizes from each person's class size: `s` persons of size `s` are one class.
fn partition_sizes(classes: &[usize]) -> Vec<usize> {
    let mut persons_by_size: BTreeMap<usize, usize> = BTreeMap::new();
    for size in classes {
        *persons_by_size.entry(*size).or_default() += 1;
    }
    persons_by_size
        .into_iter()
        .flat_map(|(size, persons)| std::iter::repeat_n(size, persons / size.max(1)))
        .collect()
}

fn count_by<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> HashMap<K, usize> {
    let mut counts = HashMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, label: &str) -> u32 {
        let next = to_u32(self.ids.len());
        *self.ids.entry(label.to_owned()).or_insert(next)
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(knowledge: Knowledge, k: usize) -> AttackerModel {
        AttackerModel { name: "test".to_owned(), k, residual: false, enforcement: None, knowledge }
    }

    #[test]
    fn combination_classes_take_the_rarest_combination() {
        // Three persons in one family: {A, B}, {A, B}, {A, C}. Pairs: AB ×2, AC ×1; singles: A ×3.
        let sets =
            vec![vec![(0, None), (1, None)], vec![(0, None), (1, None)], vec![(0, None), (2, None)], vec![]];
        let classes = combination_classes(&sets, &[0, 0, 0, 0], 2, 1);
        assert_eq!(classes, [2, 2, 1, 4]);
        // With m = 1, the single codes: A ×3, B ×2, C ×1.
        assert_eq!(combination_classes(&sets, &[0, 0, 0, 0], 1, 1), [2, 2, 1, 4]);
        // Families split the counts.
        assert_eq!(combination_classes(&sets, &[0, 1, 0, 1], 2, 1), [1, 1, 1, 2]);
    }

    #[test]
    fn intervals_are_counted_in_steps() {
        // A then B 10 days later, A then B 12 days later: the same in 7-day steps (1, 1), not by the day.
        let sets = vec![vec![(0, Some(100)), (1, Some(110))], vec![(0, Some(500)), (1, Some(512))]];
        assert_eq!(combination_classes(&sets, &[0, 0], 2, 7), [2, 2]);
        assert_eq!(combination_classes(&sets, &[0, 0], 2, 1), [1, 1]);
    }

    #[test]
    fn time_units_follow_the_granularity() {
        assert_eq!(time_units("2024-03-04", "day", 1).map(|(_, step)| step), Some(1));
        assert_eq!(time_units("2024-03-04", "day", 30).map(|(_, step)| step), Some(30));
        let (march, step) = time_units("2024-03-01", "month", 30).expect("date");
        assert_eq!((march - time_units("2024-01-01", "month", 30).expect("date").0, step), (2, 1));
        assert_eq!(time_units("2024-03", "day", 60).map(|(_, step)| step), Some(2));
        assert!(time_units("", "day", 1).is_none());
    }

    #[test]
    fn summary_counts_uniques_and_classes_below_k() {
        let risk = summarize(&model(Knowledge::Demographics, 3), &[1, 2, 2, 5, 5, 5, 5, 5], Some(100));
        assert_eq!((risk.n_unique, risk.n_below_k, risk.smallest_class), (1, 3, Some(1)));
        assert!((risk.highest - 1.0).abs() < 1e-12);
        assert!((risk.average - (1.0 + 0.5 + 0.5 + 5.0 * 0.2) / 8.0).abs() < 1e-12);
        assert_eq!(partition_sizes(&[1, 2, 2, 5, 5, 5, 5, 5]), [1, 2, 5]);
        assert!(!risk.holds());
    }
}
