//! What processing decided about the released persons' events, applied one row at a time while the tables
//! are built: code recodings (global, or per demographic class), events left out or withheld, dates
//! coarsened, lab values capped.
//!
//! Every pass that decides something ([`super::peculiar`], [`super::models`]) reads the events as the
//! decisions so far leave them, through [`Treatments::visit`], and adds to them; the tables are built with
//! the same [`Treatments::apply`], so what a pass measured is what is released.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use kiban_model::{Datelike, NaiveDate};

use crate::codes::{CodeHierarchy, Icd10Hierarchy, PrefixHierarchy, YjHierarchy};
use crate::kmanon::KmSolution;

use super::Prepared;
use super::cells::{Cell, Event};

/// The code columns treated, in the order they are treated, with the columns that name the code.
pub(super) const CODE_COLUMNS: [(&str, &str, &[&str]); 5] = [
    ("diagnoses", "icd10", &["medis_code"]),
    ("diagnoses", "medis_code", &[]),
    ("prescriptions", "drug_code", &["drug_name"]),
    ("labs", "code", &["name"]),
    ("procedures", "code", &["name"]),
];

/// The event tables, in the order of [`kiban_columnar::EventKind::ALL`].
pub(super) const EVENT_TABLES: [&str; 5] = ["encounters", "diagnoses", "prescriptions", "labs", "procedures"];

/// A set of event numbers of one event table.
#[derive(Clone, Default)]
pub(super) struct EventSet {
    bits: Vec<u64>,
    len: usize,
}

impl EventSet {
    pub(super) fn contains(&self, event: u32) -> bool {
        let event = event as usize;
        self.bits.get(event / 64).is_some_and(|word| word & (1 << (event % 64)) != 0)
    }

    /// Adds `event`; whether it was new.
    pub(super) fn insert(&mut self, event: u32) -> bool {
        let event = event as usize;
        if self.bits.len() <= event / 64 {
            self.bits.resize(event / 64 + 1, 0);
        }
        let new = self.bits[event / 64] & (1 << (event % 64)) == 0;
        self.bits[event / 64] |= 1 << (event % 64);
        self.len += usize::from(new);
        new
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }
}

/// How finely a table's released dates are given (after the per-person shift).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Granularity {
    #[default]
    Day,
    /// The Monday of the date's week.
    Week,
    /// The first day of the date's month.
    Month,
}

impl Granularity {
    pub(super) const ALL: [Granularity; 3] = [Granularity::Day, Granularity::Week, Granularity::Month];

    pub(super) fn name(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// The first day of the date's period.
    pub(super) fn truncate(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }
}

/// The code systems a column can mix; each is recoded along its own hierarchy.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(super) enum Family {
    Icd10,
    Yj,
    Hot,
    /// JLAC10: the 17-character code → its 5-character analyte code.
    Jlac10,
    /// No known hierarchy: a rare code is suppressed.
    Flat,
}

impl Family {
    /// The family of a code column's value in `event`.
    pub(super) fn of(column: &str, event: Event<'_>) -> Family {
        match (column, event) {
            ("icd10", _) => Family::Icd10,
            (_, Event::Prescription(p)) => match p.code_system {
                kiban_model::DrugCodeSystem::Yj => Family::Yj,
                kiban_model::DrugCodeSystem::Hot => Family::Hot,
                kiban_model::DrugCodeSystem::Other => Family::Flat,
            },
            (_, Event::Lab(_)) => Family::Jlac10,
            _ => Family::Flat,
        }
    }

    /// The family of a released code of `table`, told from the released code system when the release
    /// carries it, else from the code's shape: what a reader of the released files can tell.
    pub(super) fn of_released(table: &str, code: &str, code_system: Option<&str>) -> Family {
        match table {
            "diagnoses" => Family::Icd10,
            "labs" => Family::Jlac10,
            "prescriptions" => match code_system {
                Some("YJ") => Family::Yj,
                Some("HOT") => Family::Hot,
                Some(_) => Family::Flat,
                None if code.chars().count() == 12 => Family::Yj,
                None if code.chars().count() == 9 && code.chars().all(|c| c.is_ascii_digit()) => Family::Hot,
                None => Family::Flat,
            },
            _ => Family::Flat,
        }
    }

    pub(super) fn hierarchy(self) -> &'static dyn CodeHierarchy {
        static JLAC10: std::sync::OnceLock<Option<PrefixHierarchy>> = std::sync::OnceLock::new();
        static HOT: std::sync::OnceLock<PrefixHierarchy> = std::sync::OnceLock::new();
        match self {
            Family::Icd10 => &Icd10Hierarchy,
            Family::Yj => &YjHierarchy,
            Family::Hot => HOT.get_or_init(PrefixHierarchy::hot9),
            Family::Jlac10 => {
                match JLAC10
                    .get_or_init(|| PrefixHierarchy::named(&[5], &["JLAC10 code", "JLAC10 analyte"]).ok())
                {
                    Some(hierarchy) => hierarchy,
                    None => &Flat,
                }
            }
            Family::Flat => &Flat,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Family::Icd10 => "ICD-10",
            Family::Yj => "YJ",
            Family::Hot => "HOT",
            Family::Jlac10 => "JLAC10",
            Family::Flat => "code",
        }
    }
}

/// A hierarchy with nothing above the code: rare means suppressed.
pub(super) struct Flat;

impl CodeHierarchy for Flat {
    fn parent(&self, _: &str) -> Option<String> {
        None
    }

    fn level(&self, _: &str) -> usize {
        0
    }

    fn level_name(&self, _: usize) -> &'static str {
        "code"
    }
}

/// `code` at `level` of `hierarchy`: itself when already at or above it, else its first ancestor at or
/// above it (the top, when the hierarchy stops below the level).
pub(crate) fn at_level<'c>(hierarchy: &dyn CodeHierarchy, code: &'c str, level: usize) -> Cow<'c, str> {
    let mut node = Cow::Borrowed(code);
    for _ in 0..crate::codes::MAX_HIERARCHY_DEPTH {
        if hierarchy.level(&node) >= level {
            break;
        }
        match hierarchy.parent(&node) {
            Some(parent) => node = Cow::Owned(parent),
            None => break,
        }
    }
    node
}

/// The released code of `table` at `level` of its family's hierarchy: what the attacker models compare.
pub fn code_at_level(table: &str, code: &str, code_system: Option<&str>, level: usize) -> String {
    at_level(Family::of_released(table, code, code_system).hierarchy(), code, level).into_owned()
}

/// One recoding of a code column: each code is taken to `level` and looked up in the solution of the
/// person's class (one solution, under class 0, for everyone when `class_of` is `None`). A node released
/// as itself keeps the finer code it came from; a node released coarser or suppressed replaces it.
///
/// Invariant (per class): a class has a solution exactly when its search changed one of its codes, and
/// every code the step meets in a class was in that class's input (the steps before it are applied first,
/// as they were when it was solved).
pub(super) struct Step {
    pub(super) family: Family,
    pub(super) level: usize,
    /// The class of each released person (by release position), when solutions are per class.
    pub(super) class_of: Option<Arc<Vec<u32>>>,
    pub(super) solutions: HashMap<u32, KmSolution>,
}

impl Step {
    fn recode(&self, code: &str, position: usize) -> Option<String> {
        let solution = match &self.class_of {
            // Per class, only the classes whose search changed something have a solution: the others
            // release their codes as they are.
            Some(class_of) => match self.solutions.get(&class_of[position]) {
                Some(solution) => solution,
                None => return Some(code.to_owned()),
            },
            // One solution for everyone: a code it does not know is not proven safe.
            None => self.solutions.get(&0)?,
        };
        let node = at_level(self.family.hierarchy(), code, self.level);
        match solution.released(&node) {
            Some(released) if released == node => Some(code.to_owned()),
            released => released.map(str::to_owned),
        }
    }
}

pub(super) struct CodeTreatment {
    pub(super) table: &'static str,
    pub(super) column: &'static str,
    /// The recodings to apply one after the other (each only to codes of its family).
    pub(super) steps: Vec<Step>,
    /// Columns withheld on rows whose code is not released as its source value.
    pub(super) names: &'static [&'static str],
}

/// What the passes decided, applied row by row.
pub(super) struct Treatments {
    pub(super) codes: Vec<CodeTreatment>,
    /// Per source lab code, the bounds numeric values are capped to.
    pub(super) caps: HashMap<String, (f64, f64)>,
    /// Per event table, the events left out (the counts models' caps).
    pub(super) dropped: [EventSet; 5],
    /// Per event table, the events whose code and dates are withheld (the events models).
    pub(super) withheld: [EventSet; 5],
    /// Per event table, the events whose code is withheld (the codes models' repair for single persons).
    pub(super) code_withheld: [EventSet; 5],
    /// Per event table, how finely its dates are released.
    pub(super) granularity: [Granularity; 5],
}

impl Default for Treatments {
    fn default() -> Treatments {
        Treatments {
            codes: CODE_COLUMNS
                .iter()
                .map(|(table, column, names)| CodeTreatment { table, column, steps: Vec::new(), names })
                .collect(),
            caps: HashMap::new(),
            dropped: Default::default(),
            withheld: Default::default(),
            code_withheld: Default::default(),
            granularity: Default::default(),
        }
    }
}

impl Treatments {
    pub(super) fn code_treatment_mut(&mut self, table: &str, column: &str) -> Option<&mut CodeTreatment> {
        self.codes.iter_mut().find(|treatment| treatment.table == table && treatment.column == column)
    }

    /// Treats one row of `table` (event `number` of the person at release `position`): `sources` names
    /// each cell's catalog column.
    pub(super) fn apply(
        &self,
        table: &str,
        sources: &[&str],
        cells: &mut [Cell],
        event: Event<'_>,
        (position, number): (usize, u32),
    ) {
        let table_idx = table_index(table);
        let withheld = self.withheld[table_idx].contains(number);
        let code_withheld = withheld || self.code_withheld[table_idx].contains(number);
        let dates = super::super::policy::EventTable::parse(table).map_or(&[][..], |t| t.date_columns());
        for (source, cell) in sources.iter().zip(cells.iter_mut()) {
            if !dates.contains(source) {
                continue;
            }
            if withheld {
                *cell = Cell::Date(None);
            } else if let Cell::Date(Some(date)) = cell {
                *date = self.granularity[table_idx].truncate(*date);
            }
        }
        for treatment in self.codes.iter().filter(|treatment| treatment.table == table) {
            let Some(idx) = sources.iter().position(|source| *source == treatment.column) else { continue };
            // Withheld codes were decided on the recoded codes; recoding a withheld code gives nothing, so
            // withholding first is the same as withholding after the recodings.
            if code_withheld
                && treatment.column
                    == super::super::policy::EventTable::parse(table)
                        .and_then(|t| t.code_column())
                        .unwrap_or("")
            {
                cells[idx] = Cell::Text(None);
            }
            if let Cell::Text(Some(code)) = &cells[idx] {
                let family = Family::of(treatment.column, event);
                let mut released = Some(code.clone());
                for step in treatment.steps.iter().filter(|step| step.family == family) {
                    released = released.and_then(|code| step.recode(&code, position));
                }
                cells[idx] = Cell::Text(released);
            }
            // A row without a code keeps its names: there is nothing they could tell.
            let unchanged = match &cells[idx] {
                Cell::Text(code) => code.as_deref() == source_code(treatment.column, event),
                _ => false,
            };
            if !unchanged {
                for name in treatment.names {
                    if let Some(idx) = sources.iter().position(|source| source == name) {
                        cells[idx] = Cell::Text(None);
                    }
                }
            }
        }
        if let (Event::Lab(lab), Some(idx)) =
            (event, sources.iter().position(|source| *source == "value_numeric"))
            && let Cell::Number(Some(value)) = &mut cells[idx]
            && let Some((min, max)) = self.caps.get(lab.code)
        {
            *value = value.clamp(*min, *max);
        }
    }

    /// Calls `visit` with every released event of `table` of the released persons in `persons`, as the
    /// treatments so far leave it: the person's release position, the event number, the treated cells
    /// (named by `prepared.sources(table)`) and the event. Events left out are skipped.
    pub(super) fn visit<'s>(
        &self,
        prepared: &'s Prepared<'_>,
        table: &str,
        persons: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, u32, &[Cell], Event<'s>),
    ) {
        let sources = prepared.sources(table);
        let dropped = &self.dropped[table_index(table)];
        prepared.visit_events(table, persons, |position, number, mut cells, event| {
            if dropped.contains(number) {
                return;
            }
            self.apply(table, &sources, &mut cells, event, (position, number));
            visit(position, number, &cells, event);
        });
    }
}

/// The index of an event table in [`EVENT_TABLES`] (0 for anything else).
pub(super) fn table_index(table: &str) -> usize {
    EVENT_TABLES.iter().position(|name| *name == table).unwrap_or(0)
}

/// The event's own value of a code column, before any action.
pub(super) fn source_code<'e>(column: &str, event: Event<'e>) -> Option<&'e str> {
    match (column, event) {
        ("icd10", Event::Diagnosis(d)) => d.icd10,
        ("medis_code", Event::Diagnosis(d)) => d.medis_code,
        ("drug_code", Event::Prescription(p)) => Some(p.drug_code),
        ("code", Event::Lab(l)) => Some(l.code),
        ("code", Event::Procedure(p)) => Some(p.code),
        _ => None,
    }
}
