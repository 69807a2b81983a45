//! The policy's attacker models (Rule 18 ⑤) enforced on the released persons' events, in the anonymized
//! modes, after the demographics search has fixed each person's class:
//!
//! - **counts** (an attacker who knows how many events of a table a person has): within each family of
//!   persons (a demographic class, or everyone), every count is shared by at least k persons. Reached by
//!   capping counts, a person's latest events beyond the cap left out. *Exact*: the caps are the partition
//!   of the sorted counts into groups of at least k persons, each capped at its smallest count, that
//!   leaves out the fewest events (dynamic programming over the distinct counts).
//! - **codes** (any m codes of a table at a hierarchy level): within each family, every combination of up
//!   to m codes held by a person is held by at least k persons: (k, k^m)-anonymity with the demographics
//!   (Poulis et al., 2013), k^m-anonymity without (Terrovitis et al., 2008). Each family is repaired one
//!   of two ways, whichever changes fewer rows: recoding its codes along their hierarchy (one recoding per
//!   family, by the greedy of [`crate::kmanon`]), or withholding a code from the few persons a combination
//!   singles out (greedy local suppression, as in Loukides et al.'s suppression-based methods). Both are
//!   *heuristics*; the result is checked.
//! - **events** (m (code, date) events, dates to within a window of d days): within each family, every
//!   combination of m of a person's events — their codes and the intervals between them in steps of d
//!   days — is shared by at least k persons. The per-person date shift keeps intervals exact and hides
//!   where a timeline sits in the calendar, so intervals are what an attacker can match. Reached by
//!   coarsening the table's dates (day → week → month) and withholding the code and date of the events
//!   that still single a person out, greedily (a *heuristic*), within the model's suppression limit.
//!
//! Counts run first (they leave events out); codes and events then alternate until a whole round changes
//! nothing, since withholding an event or suppressing a code can lower another person's support: the last
//! round is the check that every model holds. Decisions depend only on counts, codes and positions, never
//! on hash order, so the output is deterministic.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kiban_model::{Datelike, NaiveDate};

use crate::dataset::{AttackerModel, Knowledge, PeculiarDecision};
use crate::kmanon::{self, KmSolution};
use crate::policy::{Action, CodesModel, CountsModel, EventTable, EventsModel, ReleasePolicy};

use super::cells::Cell;
use super::treatments::{Family, Granularity, Step, Treatments, at_level, table_index};
use super::{Prepared, ProcessError};

/// The family each released person (by release position) is counted in: their demographic class, or one
/// family for everyone.
pub(super) struct Families {
    pub(super) demographic: Arc<Vec<u32>>,
    pub(super) everyone: Arc<Vec<u32>>,
}

impl Families {
    fn of(&self, demographics: bool) -> &Arc<Vec<u32>> {
        if demographics { &self.demographic } else { &self.everyone }
    }
}

/// The most rounds of codes and events passes before processing gives up (fails closed).
const MAX_ROUNDS: usize = 12;

/// Enforces every counts model, then every codes and events model, until all hold.
///
/// # Errors
/// [`ProcessError::Model`] when a model cannot be met within its suppression limit, or the rounds do not
/// settle.
pub(super) fn enforce(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    policy: &ReleasePolicy,
    families: &Families,
    before_codes: impl FnOnce(&Prepared<'_>, &mut Treatments) -> Vec<PeculiarDecision>,
) -> Result<Vec<PeculiarDecision>, ProcessError> {
    let privacy = &policy.privacy;
    let mut decisions = Vec::new();
    let mut round = 0;
    let mut dropped: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    loop {
        let mut changed = false;
        for (idx, model) in privacy.counts.iter().enumerate() {
            let (n_dropped, n_persons) = enforce_counts(prepared, treatments, model, families)?;
            changed |= n_dropped > 0;
            let entry = dropped.entry(idx).or_default();
            entry.0 += n_dropped;
            entry.1 += n_persons;
        }
        round += 1;
        if !changed {
            break;
        }
        if round > MAX_ROUNDS {
            return Err(unsettled());
        }
    }
    for (idx, (n_rows, n_persons)) in dropped {
        let model = &privacy.counts[idx];
        if n_rows > 0 {
            decisions.push(PeculiarDecision {
                column: format!("{} (rows)", model.table.name()),
                rule: format!(
                    "{}: counts capped, each person's latest events beyond the cap left out (exact: the fewest events left out, Rule 18 ⑤)",
                    model.describe()
                ),
                values: vec![("persons capped".to_owned(), n_persons)],
                n_rows,
                loss: None,
            });
        }
    }

    decisions.extend(before_codes(prepared, treatments));

    let mut codes_outcomes: Vec<CodesOutcome> =
        privacy.codes.iter().map(|_| CodesOutcome::default()).collect();
    let mut events_outcomes: Vec<EventsOutcome> =
        privacy.events.iter().map(|_| EventsOutcome::default()).collect();
    let mut round = 0;
    loop {
        let mut changed = false;
        for (model, outcome) in privacy.codes.iter().zip(&mut codes_outcomes) {
            changed |= enforce_codes(prepared, treatments, model, families, outcome);
        }
        for (model, outcome) in privacy.events.iter().zip(&mut events_outcomes) {
            changed |= enforce_events(prepared, treatments, policy, model, families, outcome)?;
        }
        round += 1;
        if !changed {
            break;
        }
        if round > MAX_ROUNDS {
            return Err(unsettled());
        }
    }
    for (model, outcome) in privacy.codes.iter().zip(codes_outcomes) {
        if outcome.n_rows > 0 {
            let column = model.table.code_column().unwrap_or_default();
            decisions.push(PeculiarDecision {
                column: format!("{}.{column}", model.table.name()),
                rule: format!(
                    "{}: {}, codes generalized up their hierarchy or withheld from the few persons they single out, whichever changes fewer rows (greedy, checked; Rule 18 ⑤)",
                    model.describe(),
                    if model.demographics { "per demographic class" } else { "for all persons" }
                ),
                values: outcome.values.into_iter().collect(),
                n_rows: outcome.n_rows,
                loss: None,
            });
        }
    }
    for (model, outcome) in privacy.events.iter().zip(events_outcomes) {
        let table_idx = table_index(model.table.name());
        let granularity = treatments.granularity[table_idx];
        if outcome.n_withheld > 0 || granularity != Granularity::Day {
            let mut values = Vec::new();
            if granularity != Granularity::Day {
                values.push((format!("dates released to the {}", granularity.name()), 1));
            }
            values.push(("events withheld".to_owned(), outcome.n_withheld));
            decisions.push(PeculiarDecision {
                column: format!("{} (code and dates)", model.table.name()),
                rule: format!(
                    "{}: dates coarsened, then the code and dates of events that still single a person out withheld (greedy, checked; Rule 18 ⑤)",
                    model.describe()
                ),
                values,
                n_rows: outcome.n_withheld,
                loss: None,
            });
        }
    }
    Ok(decisions)
}

fn unsettled() -> ProcessError {
    ProcessError::Model {
        model: "the codes, events and counts models".to_owned(),
        reason: format!("they did not settle within {MAX_ROUNDS} rounds; lower k or m"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Counts
// ---------------------------------------------------------------------------------------------------------

/// One pass of a counts model; returns the events left out and the persons capped.
fn enforce_counts(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    model: &CountsModel,
    families: &Families,
) -> Result<(usize, usize), ProcessError> {
    let table_idx = table_index(model.table.name());
    let family_of = families.of(model.demographics);
    let timelines = &prepared.timelines;
    let count_of = |treatments: &Treatments, position: usize| -> u32 {
        let row = prepared.order[position].1;
        let dropped = &treatments.dropped[table_idx];
        let alive = timelines.of(table_idx, row).iter().filter(|event| !dropped.contains(**event)).count();
        u32::try_from(alive).unwrap_or(u32::MAX)
    };
    let counts: Vec<u32> = (0..prepared.n_persons()).map(|position| count_of(treatments, position)).collect();
    let total: u64 = counts.iter().map(|count| u64::from(*count)).sum();
    let mut by_family: BTreeMap<u32, BTreeMap<u32, usize>> = BTreeMap::new();
    for (position, count) in counts.iter().enumerate() {
        *by_family.entry(family_of[position]).or_default().entry(*count).or_default() += 1;
    }
    let mut caps: HashMap<u32, BTreeMap<u32, u32>> = HashMap::new();
    for (family, histogram) in &by_family {
        let Some(family_caps) = optimal_caps(histogram, model.k) else {
            return Err(ProcessError::Model {
                model: model.describe(),
                reason: format!("a family of persons is smaller than k = {}", model.k),
            });
        };
        caps.insert(*family, family_caps);
    }
    let mut n_dropped = 0usize;
    let mut n_persons = 0usize;
    for (position, count) in counts.iter().enumerate() {
        let cap = caps[&family_of[position]][count];
        if cap >= *count {
            continue;
        }
        n_persons += 1;
        let row = prepared.order[position].1;
        let mut excess = count - cap;
        for event in timelines.of(table_idx, row).iter().rev() {
            if excess == 0 {
                break;
            }
            if treatments.dropped[table_idx].insert(*event) {
                excess -= 1;
                n_dropped += 1;
            }
        }
    }
    let already = treatments.dropped[table_idx].len() as f64;
    let denominator = (total as f64 + already - n_dropped as f64).max(1.0);
    if already / denominator > model.suppression_limit + 1e-12 {
        return Err(ProcessError::Model {
            model: model.describe(),
            reason: format!(
                "capping counts leaves out {:.1} % of the {} events, above its suppression limit of {:.1} %",
                already / denominator * 100.0,
                model.table.name(),
                model.suppression_limit * 100.0
            ),
        });
    }
    Ok((n_dropped, n_persons))
}

/// The caps of one family: `histogram` maps each count to the persons with it. The sorted counts are cut
/// into consecutive groups of at least `k` persons, each capped at its smallest count, leaving out the
/// fewest events (an exact dynamic programme over the distinct counts); each count maps to its cap.
/// `None` when the family has fewer than `k` persons.
pub(super) fn optimal_caps(histogram: &BTreeMap<u32, usize>, k: usize) -> Option<BTreeMap<u32, u32>> {
    let values: Vec<(u64, u64)> =
        histogram.iter().filter(|(_, n)| **n > 0).map(|(value, n)| (u64::from(*value), *n as u64)).collect();
    let n = values.len();
    let persons: u64 = values.iter().map(|(_, count)| count).sum();
    if persons < k as u64 {
        return None;
    }
    // Prefix sums of persons and of events.
    let mut people = vec![0u64; n + 1];
    let mut events = vec![0u64; n + 1];
    for (idx, (value, count)) in values.iter().enumerate() {
        people[idx + 1] = people[idx] + count;
        events[idx + 1] = events[idx] + value * count;
    }
    // best[j]: the fewest events left out for the first j values; from[j]: where its last group starts.
    let mut best = vec![u64::MAX; n + 1];
    let mut from = vec![0usize; n + 1];
    best[0] = 0;
    for end in 1..=n {
        for start in (0..end).rev() {
            if people[end] - people[start] < k as u64 || best[start] == u64::MAX {
                continue;
            }
            let cost = events[end] - events[start] - values[start].0 * (people[end] - people[start]);
            let total = best[start] + cost;
            if total < best[end] {
                best[end] = total;
                from[end] = start;
            }
        }
    }
    if best[n] == u64::MAX {
        return None;
    }
    let mut caps = BTreeMap::new();
    let mut end = n;
    while end > 0 {
        let start = from[end];
        let cap = u32::try_from(values[start].0).unwrap_or(u32::MAX);
        for (value, _) in &values[start..end] {
            caps.insert(u32::try_from(*value).unwrap_or(u32::MAX), cap);
        }
        end = start;
    }
    Some(caps)
}

// ---------------------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------------------

#[derive(Default)]
struct CodesOutcome {
    n_rows: usize,
    values: BTreeMap<String, usize>,
}

/// One pass of a codes model: recodes where some family breaks it. Whether anything changed.
fn enforce_codes(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    model: &CodesModel,
    families: &Families,
    outcome: &mut CodesOutcome,
) -> bool {
    let (table, Some(column)) = (model.table.name(), model.table.code_column()) else { return false };
    let Some(idx) = prepared.sources(table).iter().position(|source| *source == column) else { return false };
    let family_of = families.of(model.demographics);
    let table_idx = table_index(table);
    // Every (family of persons, person, code at the model's level, event), per code family; codes interned.
    let mut codes: BTreeMap<Family, Interner> = BTreeMap::new();
    let mut rows: BTreeMap<Family, Vec<(u32, u32, u32, u32)>> = BTreeMap::new();
    treatments.visit(prepared, table, 0..prepared.n_persons(), |position, number, cells, event| {
        if let Cell::Text(Some(code)) = &cells[idx] {
            let family = Family::of(column, event);
            let node = at_level(family.hierarchy(), code, model.level);
            let id = codes.entry(family).or_default().id(&node);
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            rows.entry(family).or_default().push((family_of[position as usize], position, id, number));
        }
    });
    let mut changed = false;
    for (family, mut rows) in rows {
        let interner = &codes[&family];
        rows.sort_unstable();
        // Each person's codes once, and the events behind each.
        let mut items: Vec<(u32, u32, u32)> =
            rows.iter().map(|(class, person, code, _)| (*class, *person, *code)).collect();
        items.dedup();
        let classes = split_by_class(&items);
        let solved = solve_classes(&classes, interner, model, family);
        // The other way to repair a class: withhold a code from the few persons it singles out.
        let mut persons: Vec<Owner> = Vec::new();
        let mut last = None;
        for (class, person, code, number) in &rows {
            if last != Some(*person) {
                persons.push((*class, 1, Vec::new()));
                last = Some(*person);
            }
            let items = &mut persons.last_mut().expect("pushed above").2;
            match items.last_mut() {
                Some(item) if item.code == *code => item.events.push(*number),
                _ => items.push(Item { code: *code, time: None, events: vec![*number], alive: true }),
            }
        }
        let (persons, _) = withhold_greedily(persons, model.k, model.m);
        let mut suppressed: HashMap<u32, (usize, Vec<u32>)> = HashMap::new();
        for (class, _, items) in &persons {
            for item in items.iter().filter(|item| !item.alive) {
                let entry = suppressed.entry(*class).or_default();
                entry.0 += 1;
                entry.1.extend_from_slice(&item.events);
            }
        }
        // Rows per (class, code).
        let mut row_counts: HashMap<(u32, u32), usize> = HashMap::new();
        for (class, _, code, _) in &rows {
            *row_counts.entry((*class, *code)).or_default() += 1;
        }
        let mut solutions = HashMap::new();
        for ((class, _), (_, solution)) in classes.iter().zip(solved) {
            let generalized_rows: usize = row_counts
                .iter()
                .filter(|((row_class, code), _)| {
                    row_class == class && {
                        let label = interner.label(*code);
                        solution.released(label) != Some(label)
                    }
                })
                .map(|(_, count)| count)
                .sum();
            if generalized_rows == 0 {
                continue;
            }
            // The repair that keeps more rows' codes as they are: withholding a code from a few persons
            // usually does, since generalizing recodes it for the whole class.
            let (n_suppressed, events) = suppressed.remove(class).unwrap_or_default();
            if n_suppressed > 0 && events.len() <= generalized_rows {
                outcome.n_rows += events.len();
                *outcome.values.entry("codes withheld from single persons".to_owned()).or_default() +=
                    n_suppressed;
                for event in events {
                    treatments.code_withheld[table_idx].insert(event);
                }
                changed = true;
            } else {
                outcome.n_rows += generalized_rows;
                for (what, count) in solution.outcome_counts(family.hierarchy()) {
                    *outcome.values.entry(format!("{what} (codes × classes)")).or_default() += count;
                }
                solutions.insert(*class, solution);
            }
        }
        if !solutions.is_empty() {
            changed = true;
            let class_of = model.demographics.then(|| Arc::clone(family_of));
            let step = Step { family, level: model.level, class_of, solutions };
            if let Some(treatment) = treatments.code_treatment_mut(table, column) {
                treatment.steps.push(step);
            }
        }
    }
    changed
}

/// Sorted `(class, person, code)` items → per class, each person's codes.
fn split_by_class(items: &[(u32, u32, u32)]) -> Vec<(u32, Vec<Vec<u32>>)> {
    let mut classes: Vec<(u32, Vec<Vec<u32>>)> = Vec::new();
    let mut last_person = None;
    for (class, person, code) in items {
        if classes.last().is_none_or(|(last, _)| last != class) {
            classes.push((*class, Vec::new()));
            last_person = None;
        }
        let sets = &mut classes.last_mut().expect("pushed above").1;
        if last_person != Some(*person) {
            sets.push(Vec::new());
            last_person = Some(*person);
        }
        sets.last_mut().expect("pushed above").push(*code);
    }
    classes
}

/// Runs the k^m search in every class, on every core; the solutions in class order.
fn solve_classes(
    classes: &[(u32, Vec<Vec<u32>>)],
    interner: &Interner,
    model: &CodesModel,
    family: Family,
) -> Vec<(u32, KmSolution)> {
    let solve = |(class, sets): &(u32, Vec<Vec<u32>>)| {
        let sets: Vec<Vec<&str>> =
            sets.iter().map(|set| set.iter().map(|code| interner.label(*code)).collect()).collect();
        (*class, kmanon::anonymize(&sets, model.k, model.m, family.hierarchy()))
    };
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(8);
    if workers <= 1 || classes.len() < 2 {
        return classes.iter().map(solve).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut solved: Vec<(usize, (u32, KmSolution))> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let idx = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(class) = classes.get(idx) else { break };
                        mine.push((idx, solve(class)));
                    }
                    mine
                })
            })
            .collect();
        // A panicking worker is a bug in the search; propagate it rather than release partial results.
        handles.into_iter().flat_map(|handle| handle.join().expect("k^m worker panicked")).collect()
    });
    solved.sort_by_key(|(idx, _)| *idx);
    solved.into_iter().map(|(_, solution)| solution).collect()
}

/// Strings to dense ids and back.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    labels: Vec<String>,
}

impl Interner {
    fn id(&mut self, label: &str) -> u32 {
        if let Some(id) = self.ids.get(label) {
            return *id;
        }
        let id = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.ids.insert(label.to_owned(), id);
        self.labels.push(label.to_owned());
        id
    }

    fn label(&self, id: u32) -> &str {
        &self.labels[id as usize]
    }
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Default)]
struct EventsOutcome {
    n_withheld: usize,
}

/// A marker for an interval that cannot be told (an event without a date).
const NO_INTERVAL: u32 = u32::MAX - 1;
const UNUSED: u32 = u32::MAX;

/// The most events or codes a combination holds.
const MAX_M: usize = 4;
const KEY_LEN: usize = 1 + 2 * MAX_M;

/// A combination of events as an attacker matches it: the family of persons, then up to [`MAX_M`] codes
/// each with its distance from the earliest of them in steps of the window, sorted (a set, not a
/// sequence; a single code has no distance).
type EventKey = [u32; KEY_LEN];

/// The events behind each distinct (time, code) of a person.
type ItemEvents = BTreeMap<(Option<i64>, u32), Vec<u32>>;

/// A person as the greedy sees them: their family, the interval step, and their distinct items.
type Owner = (u32, i64, Vec<Item>);

/// One distinct event of a person: its code, its time in the release's units, and the rows behind it.
struct Item {
    code: u32,
    time: Option<i64>,
    events: Vec<u32>,
    alive: bool,
}

/// One pass of an events model: coarsens dates and withholds events until it holds. Whether anything
/// changed.
fn enforce_events(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    policy: &ReleasePolicy,
    model: &EventsModel,
    families: &Families,
    outcome: &mut EventsOutcome,
) -> Result<bool, ProcessError> {
    let (table, Some(column)) = (model.table.name(), model.table.code_column()) else { return Ok(false) };
    let sources = prepared.sources(table);
    let Some(code_idx) = sources.iter().position(|source| *source == column) else { return Ok(false) };
    let date_idx = sources.iter().position(|source| *source == model.table.date_column());
    let table_idx = table_index(table);
    let family_of = families.of(model.demographics);
    // Dates released as dates can be coarsened; dates released as month or year text already are.
    let coarsenable =
        matches!(policy.action(table, model.table.date_column()), Some(Action::DateShift | Action::Keep));
    let mut interner = Interner::default();
    let mut rows: Vec<(u32, u32, Option<TimePoint>, u32)> = Vec::new();
    let mut n_events = 0usize;
    treatments.visit(prepared, table, 0..prepared.n_persons(), |position, number, cells, event| {
        n_events += 1;
        let Cell::Text(Some(code)) = &cells[code_idx] else { return };
        let family = Family::of(column, event);
        let node = at_level(family.hierarchy(), code, model.level);
        let code = interner.id(&format!("{}:{node}", family.name()));
        let time = date_idx.and_then(|idx| TimePoint::of(&cells[idx]));
        rows.push((u32::try_from(position).unwrap_or(u32::MAX), code, time, number));
    });
    let current = treatments.granularity[table_idx];
    let candidates: Vec<Granularity> = if coarsenable {
        Granularity::ALL.into_iter().filter(|granularity| *granularity >= current).collect()
    } else {
        vec![current]
    };
    let already = treatments.withheld[table_idx].len();
    let limit = model.suppression_limit * (n_events.max(1) as f64);
    let mut last_error = None;
    for granularity in candidates {
        let step = |unit_days: u32| i64::from(model.window_days.div_ceil(unit_days).max(1));
        let persons = event_persons(&rows, family_of, |time| time.units(granularity, &step));
        let (persons, withheld) = withhold_greedily(persons, model.k, model.m);
        if (already + withheld.len()) as f64 <= limit + 1e-9 {
            let changed = granularity != current || !withheld.is_empty();
            treatments.granularity[table_idx] = granularity;
            for event in withheld {
                if treatments.withheld[table_idx].insert(event) {
                    outcome.n_withheld += 1;
                }
            }
            drop(persons);
            return Ok(changed);
        }
        last_error = Some(format!(
            "at {} dates it would withhold {} of {} events, above its suppression limit of {:.1} %",
            granularity.name(),
            already + withheld.len(),
            n_events,
            model.suppression_limit * 100.0
        ));
    }
    Err(ProcessError::Model {
        model: model.describe(),
        reason: last_error.unwrap_or_default() + "; raise its suppression_limit, or lower k or m",
    })
}

/// A released date as the events models compare it.
#[derive(Clone, Copy)]
enum TimePoint {
    Date(NaiveDate),
    /// `YYYY-MM` text: months since year 0.
    Month(i64),
    /// `YYYY` text.
    Year(i64),
}

impl TimePoint {
    fn of(cell: &Cell) -> Option<TimePoint> {
        match cell {
            Cell::Date(Some(date)) => Some(TimePoint::Date(*date)),
            Cell::Text(Some(text)) => parse_time_text(text),
            _ => None,
        }
    }

    /// The time in the release's units (days, weeks, months, years) and the interval step of those units.
    fn units(self, granularity: Granularity, step: &dyn Fn(u32) -> i64) -> (i64, i64) {
        match self {
            TimePoint::Date(date) => {
                let date = granularity.truncate(date);
                match granularity {
                    Granularity::Day => (i64::from(date.num_days_from_ce()), step(1)),
                    Granularity::Week => (i64::from(date.num_days_from_ce()).div_euclid(7), step(7)),
                    Granularity::Month => (i64::from(date.year()) * 12 + i64::from(date.month0()), step(30)),
                }
            }
            TimePoint::Month(months) => (months, step(30)),
            TimePoint::Year(year) => (year, step(365)),
        }
    }
}

/// `YYYY-MM` or `YYYY` (a date generalized by the policy), else nothing.
fn parse_time_text(text: &str) -> Option<TimePoint> {
    let (year, month) = match text.split_once('-') {
        Some((year, month)) => (year, Some(month)),
        None => (text, None),
    };
    let year: i64 = year.parse().ok()?;
    match month {
        Some(month) => {
            let month: i64 = month.parse().ok()?;
            (1..=12).contains(&month).then_some(TimePoint::Month(year * 12 + month - 1))
        }
        None => Some(TimePoint::Year(year)),
    }
}

/// Per released person with a coded event: their family and distinct items, sorted by time then code.
fn event_persons(
    rows: &[(u32, u32, Option<TimePoint>, u32)],
    family_of: &[u32],
    units: impl Fn(TimePoint) -> (i64, i64),
) -> Vec<Owner> {
    let mut persons: Vec<Owner> = Vec::new();
    // Per person, the events behind each distinct (time, code).
    let mut by_person: BTreeMap<u32, ItemEvents> = BTreeMap::new();
    let mut step = 1;
    for (position, code, time, number) in rows {
        let time = time.map(|time| {
            let (value, unit_step) = units(time);
            step = unit_step;
            value
        });
        by_person.entry(*position).or_default().entry((time, *code)).or_default().push(*number);
    }
    for (position, items) in by_person {
        let items = items
            .into_iter()
            .map(|((time, code), events)| Item { code, time, events, alive: true })
            .collect();
        persons.push((family_of[position as usize], step, items));
    }
    persons
}

/// The keys of `size` (1 to [`MAX_M`]) of a person's alive items, with the items (indices) each is made of.
fn keys_of(family: u32, step: i64, items: &[Item], size: usize) -> Vec<(EventKey, [usize; MAX_M])> {
    let alive: Vec<usize> = (0..items.len()).filter(|idx| items[*idx].alive).collect();
    let size = size.min(MAX_M);
    let mut keys = Vec::new();
    if size == 0 || alive.len() < size {
        return keys;
    }
    let key = |chosen: &[usize]| -> EventKey {
        let mut key = [UNUSED; KEY_LEN];
        key[0] = family;
        // Each chosen item as (code, steps from the earliest chosen date), sorted: the same events give
        // the same key whatever order they were chosen in, simultaneous events included.
        let earliest = chosen.iter().filter_map(|idx| items[*idx].time).min();
        let mut pairs = [(UNUSED, UNUSED); MAX_M];
        for (slot, idx) in chosen.iter().enumerate() {
            let bucket = match (earliest, items[*idx].time) {
                _ if chosen.len() == 1 => 0,
                (Some(earliest), Some(time)) => u32::try_from((time - earliest).div_euclid(step))
                    .unwrap_or(NO_INTERVAL)
                    .min(NO_INTERVAL - 1),
                _ => NO_INTERVAL,
            };
            pairs[slot] = (items[*idx].code, bucket);
        }
        pairs[..chosen.len()].sort_unstable();
        for (slot, (code, bucket)) in pairs[..chosen.len()].iter().enumerate() {
            key[1 + slot] = *code;
            key[1 + MAX_M + slot] = *bucket;
        }
        key
    };
    // Every increasing choice of `size` alive items, in lexicographic order.
    let mut chosen: Vec<usize> = (0..size).collect();
    loop {
        let members: Vec<usize> = chosen.iter().map(|idx| alive[*idx]).collect();
        let mut slots = [usize::MAX; MAX_M];
        slots[..size].copy_from_slice(&members);
        keys.push((key(&members), slots));
        let Some(last) = (0..size).rev().find(|slot| chosen[*slot] < alive.len() - size + slot) else {
            break;
        };
        chosen[last] += 1;
        for slot in last + 1..size {
            chosen[slot] = chosen[slot - 1] + 1;
        }
    }
    keys
}

/// Withholds items, person by person, until every combination of min(m, items) of each person's items is
/// shared by at least k persons (of their family); returns the persons and the events withheld.
fn withhold_greedily(mut persons: Vec<Owner>, k: usize, m: usize) -> (Vec<Owner>, Vec<u32>) {
    let k = u32::try_from(k).unwrap_or(u32::MAX);
    // How many persons hold each code: the rarer code of a violating combination goes first.
    let mut code_persons: HashMap<u32, u32> = HashMap::new();
    for (_, _, items) in &persons {
        let mut codes: Vec<u32> = items.iter().map(|item| item.code).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            *code_persons.entry(code).or_default() += 1;
        }
    }
    let mut withheld = Vec::new();
    loop {
        let size_of = |items: &[Item]| m.min(items.iter().filter(|item| item.alive).count());
        let mut supports: HashMap<EventKey, u32> = HashMap::new();
        let sizes: std::collections::BTreeSet<usize> =
            persons.iter().map(|(_, _, items)| size_of(items)).filter(|size| *size > 0).collect();
        for (family, step, items) in &persons {
            let n_alive = items.iter().filter(|item| item.alive).count();
            let mut mine: Vec<EventKey> = Vec::new();
            for size in sizes.iter().filter(|size| **size <= n_alive) {
                mine.extend(keys_of(*family, *step, items, *size).into_iter().map(|(key, _)| key));
            }
            mine.sort_unstable();
            mine.dedup();
            for key in mine {
                *supports.entry(key).or_default() += 1;
            }
        }
        let mut any = false;
        for (family, step, items) in &mut persons {
            let size = size_of(items);
            if size == 0 {
                continue;
            }
            let mut violating: Vec<[usize; MAX_M]> = keys_of(*family, *step, items, size)
                .into_iter()
                .filter(|(key, _)| supports.get(key).copied().unwrap_or(0) < k)
                .map(|(_, members)| members)
                .collect();
            while !violating.is_empty() {
                any = true;
                let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
                for members in &violating {
                    for member in members.iter().filter(|member| **member != usize::MAX) {
                        *counts.entry(*member).or_default() += 1;
                    }
                }
                // The item in the most violating combinations; ties to the rarer code, then the earlier item.
                let Some((&chosen, _)) = counts.iter().max_by(|(a_idx, a), (b_idx, b)| {
                    a.cmp(b)
                        .then_with(|| {
                            code_persons[&items[**b_idx].code].cmp(&code_persons[&items[**a_idx].code])
                        })
                        .then_with(|| b_idx.cmp(a_idx))
                }) else {
                    break;
                };
                items[chosen].alive = false;
                withheld.extend_from_slice(&items[chosen].events);
                violating.retain(|members| !members.contains(&chosen));
            }
        }
        if !any {
            break;
        }
    }
    (persons, withheld)
}

// ---------------------------------------------------------------------------------------------------------
// What the report measures
// ---------------------------------------------------------------------------------------------------------

/// The attacker models the report measures on the released files, in the files' terms: the demographics,
/// every declared model (enforced in the anonymized modes), and the stronger attackers that show what the
/// policy does not cover (residual risk): one more code, exact event dates, full codes, the whole
/// sequence of encounter dates, the number of encounters.
pub(super) fn attacker_models(
    prepared: &Prepared<'_>,
    treatments: &Treatments,
    policy: &ReleasePolicy,
    decisions: &[PeculiarDecision],
) -> Vec<AttackerModel> {
    let privacy = &policy.privacy;
    let enforced = policy.mode.is_anonymized();
    let released = |table: &str, column: &str| -> Option<String> {
        prepared.columns_of(table).iter().find(|c| c.def.column == column).map(|c| c.name.clone())
    };
    let granularity = |table: EventTable| treatments.granularity[table_index(table.name())].name().to_owned();
    let enforcement = |what: &str, exact: bool| {
        enforced.then(|| {
            let changed = decisions.iter().any(|decision| decision.rule.starts_with(what));
            format!(
                "{}{}",
                if exact { "exact" } else { "greedy heuristic, checked on the result" },
                if changed { "" } else { "; nothing needed changing" }
            )
        })
    };
    let declared = |name: String, k: usize, exact: bool, knowledge: Knowledge| AttackerModel {
        enforcement: enforcement(&name, exact),
        name,
        k,
        residual: false,
        knowledge,
    };
    let codes = |table: EventTable, level: usize, m: usize, demographics: bool| -> Option<Knowledge> {
        let column = released(table.name(), table.code_column()?)?;
        Some(Knowledge::Codes {
            table: table.name().to_owned(),
            column,
            code_system: released(table.name(), "code_system"),
            level,
            m,
            demographics,
        })
    };
    let events = |table: EventTable, level: usize, m: usize, window_days: u32, demographics: bool| {
        let column = released(table.name(), table.code_column()?)?;
        Some(Knowledge::Events {
            table: table.name().to_owned(),
            column,
            code_system: released(table.name(), "code_system"),
            date_column: released(table.name(), table.date_column()),
            granularity: granularity(table),
            level,
            m,
            window_days,
            demographics,
        })
    };
    let mut models = vec![AttackerModel {
        name: format!("the demographics: k = {}", privacy.k),
        k: privacy.k,
        residual: false,
        enforcement: enforced.then(|| "exact lattice search (ARX's optimum)".to_owned()),
        knowledge: Knowledge::Demographics,
    }];
    let mut residual = Vec::new();
    let mut add_residual = |name: String, knowledge: Option<Knowledge>| {
        if let Some(knowledge) = knowledge {
            residual.push(AttackerModel { name, k: privacy.k, residual: true, enforcement: None, knowledge });
        }
    };
    for model in &privacy.codes {
        if let Some(knowledge) = codes(model.table, model.level, model.m, model.demographics) {
            models.push(declared(model.describe(), model.k, false, knowledge));
        }
        let stronger = CodesModel { m: model.m + 1, ..*model };
        if model.m < 4 {
            add_residual(
                format!("one more code: {}", stronger.describe()),
                codes(model.table, model.level, model.m + 1, model.demographics),
            );
        }
        if model.level > 0 {
            let full = CodesModel { level: 0, ..*model };
            add_residual(
                format!("full codes: {}", full.describe()),
                codes(model.table, 0, model.m, model.demographics),
            );
        }
        if released(model.table.name(), model.table.date_column()).is_some() {
            let exact = EventsModel {
                table: model.table,
                level: model.level,
                m: model.m.min(3),
                window_days: 1,
                k: model.k,
                demographics: model.demographics,
                suppression_limit: 0.0,
            };
            add_residual(
                format!("exact event dates: {}", exact.describe()),
                events(model.table, model.level, model.m.min(3), 1, model.demographics),
            );
        }
    }
    // Without a codes model on diagnoses, the report still shows what the built-in one would have
    // guarded against.
    if !privacy.codes.iter().any(|model| model.table == EventTable::Diagnoses) {
        let built_in =
            CodesModel { table: EventTable::Diagnoses, level: 1, m: 2, k: privacy.k, demographics: true };
        add_residual(
            format!("undeclared codes: {}", built_in.describe()),
            codes(EventTable::Diagnoses, 1, 2, true),
        );
    }
    for model in &privacy.events {
        if let Some(knowledge) =
            events(model.table, model.level, model.m, model.window_days, model.demographics)
        {
            models.push(declared(model.describe(), model.k, false, knowledge));
        }
        if model.window_days > 1 {
            let exact = EventsModel { window_days: 1, ..*model };
            add_residual(
                format!("exact event dates: {}", exact.describe()),
                events(model.table, model.level, model.m, 1, model.demographics),
            );
        }
    }
    for model in &privacy.counts {
        if !prepared.columns_of(model.table.name()).is_empty() {
            let knowledge =
                Knowledge::Counts { table: model.table.name().to_owned(), demographics: model.demographics };
            models.push(declared(model.describe(), model.k, true, knowledge));
        }
    }
    if let Some(date_column) = released("encounters", "start_date") {
        add_residual(
            "the date sequence: every encounter's date, so every interval between them".to_owned(),
            Some(Knowledge::Sequence { table: "encounters".to_owned(), date_column, demographics: false }),
        );
    }
    if !privacy.counts.iter().any(|model| model.table == EventTable::Encounters)
        && !prepared.columns_of("encounters").is_empty()
    {
        let counts = CountsModel {
            table: EventTable::Encounters,
            k: privacy.k,
            demographics: true,
            suppression_limit: 0.0,
        };
        add_residual(
            format!("the number of encounters: {}", counts.describe()),
            Some(Knowledge::Counts { table: "encounters".to_owned(), demographics: true }),
        );
    }
    models.extend(residual);
    models
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(pairs: &[(u32, usize)]) -> BTreeMap<u32, usize> {
        pairs.iter().copied().collect()
    }

    /// Every way to cap counts (each person moves down to some count, classes of ≥ k), by brute force over
    /// the caps of the distinct values: the fewest events left out.
    fn brute_force(histogram: &BTreeMap<u32, usize>, k: usize) -> Option<u64> {
        let values: Vec<(u32, usize)> = histogram.iter().map(|(v, n)| (*v, *n)).collect();
        let n = values.len();
        let mut best = None;
        // Each value is capped at itself or a smaller value: try every assignment (n ≤ 6 here).
        let mut choice = vec![0usize; n];
        loop {
            let valid = (0..n).all(|idx| choice[idx] <= idx);
            if valid {
                let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
                let mut cost = 0u64;
                for (idx, (value, count)) in values.iter().enumerate() {
                    let target = values[choice[idx]].0;
                    *sizes.entry(target).or_default() += count;
                    cost += u64::from(value - target) * *count as u64;
                }
                if sizes.values().all(|size| *size >= k) && best.is_none_or(|best| cost < best) {
                    best = Some(cost);
                }
            }
            let mut idx = 0;
            loop {
                if idx == n {
                    return best;
                }
                choice[idx] += 1;
                if choice[idx] < n {
                    break;
                }
                choice[idx] = 0;
                idx += 1;
            }
        }
    }

    fn cost(histogram: &BTreeMap<u32, usize>, caps: &BTreeMap<u32, u32>) -> u64 {
        histogram.iter().map(|(value, count)| u64::from(value - caps[value]) * *count as u64).sum()
    }

    #[test]
    fn count_caps_are_the_cheapest_partition() {
        let cases: &[(&[(u32, usize)], usize)] = &[
            (&[(1, 10), (2, 3), (3, 1), (9, 1)], 5),
            (&[(0, 2), (1, 2), (2, 2), (3, 2), (40, 2)], 3),
            (&[(5, 5)], 5),
            (&[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)], 2),
            (&[(2, 4), (3, 1), (7, 4), (8, 1)], 5),
        ];
        for (pairs, k) in cases {
            let histogram = histogram(pairs);
            let caps = optimal_caps(&histogram, *k).expect("enough persons");
            let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
            for (value, count) in &histogram {
                assert!(caps[value] <= *value, "a count only goes down");
                *sizes.entry(caps[value]).or_default() += count;
            }
            assert!(sizes.values().all(|size| size >= k), "{pairs:?}: every capped count is shared by ≥ {k}");
            assert_eq!(Some(cost(&histogram, &caps)), brute_force(&histogram, *k), "{pairs:?}");
        }
        assert_eq!(optimal_caps(&histogram(&[(1, 2), (3, 2)]), 5), None);
    }

    #[test]
    fn released_time_text_is_months_or_years() {
        assert!(matches!(parse_time_text("2024-03"), Some(TimePoint::Month(m)) if m == 2024 * 12 + 2));
        assert!(matches!(parse_time_text("2024"), Some(TimePoint::Year(2024))));
        assert!(parse_time_text("2024-13").is_none());
        assert!(parse_time_text("≤1930").is_none());
    }
}
