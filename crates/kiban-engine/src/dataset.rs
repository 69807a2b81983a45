//! The engine's output: an anonymized dataset and the summary of how it was made.
//!
//! Invariant: an [`AnonymizedDataset`] can be built only inside this crate (its constructor is
//! `pub(crate)`), so anything that accepts one (the release writer) can trust that it went through
//! processing. It holds no key, no offset and no mapping back to the source records.

use std::fmt;

use kiban_columnar::{Table, TableError};

use crate::policy::Mode;
use crate::process::Prepared;
use crate::risk::RiskProfile;

/// How one quasi-identifier was treated.
#[derive(Clone, PartialEq, Debug)]
pub struct QuasiIdentifierSummary {
    pub name: String,
    /// The generalization level chosen (0 = the base level of the hierarchy).
    pub level: usize,
    /// The highest level the hierarchy has.
    pub max_level: usize,
    /// ARX's loss for this attribute, 0 (nothing lost) to 1 (everything generalized away).
    pub loss: f64,
    /// What each level means, e.g. `5-year band`, `10-year band`, `suppressed`.
    pub level_names: Vec<String>,
}

/// How a dataset was made: counts and choices, never a record, a key or an offset.
#[derive(Clone, PartialEq, Debug)]
pub struct ProcessingSummary {
    pub mode: Mode,
    /// Linked persons handed to processing.
    pub n_persons_in: usize,
    /// Persons the policy's cohort (providers, window, diagnoses) selected.
    pub n_persons_in_cohort: usize,
    pub n_persons_released: usize,
    /// The k-anonymity search on the person-level quasi-identifiers (anonymized modes only).
    pub kanon: Option<KAnonymitySummary>,
    /// Peculiar values treated (Rule 18 ④) and the k^m-anonymity of code sets (Rule 18 ⑤), one entry per
    /// decision, in table order.
    pub peculiar: Vec<PeculiarDecision>,
    /// The largest date shift, in days, when dates are shifted (the offsets themselves are secret).
    pub max_shift_days: Option<u32>,
    /// Every released column and what was done to it.
    pub columns: Vec<ColumnTreatment>,
    /// Every column of the record model not released, as `table.column`.
    pub removed: Vec<String>,
    /// Whether the release is also written as FHIR R4 NDJSON.
    pub fhir: bool,
    /// The released person-level columns an attacker is assumed to know (the demographics model).
    pub demographics: Vec<String>,
    /// Every attacker model the report measures on the released files: the declared ones (enforced in
    /// the anonymized modes), then the stronger ones shown as residual risk.
    pub models: Vec<AttackerModel>,
    /// The persons the release is drawn from, for the population-uniqueness estimates.
    pub population: u64,
    /// How much of each code column and event table is released as it was (after the cohort).
    pub utility: Vec<TableUtility>,
}

/// An attacker model, in the released files' terms, so the report can measure it by reading them.
#[derive(Clone, PartialEq, Debug)]
pub struct AttackerModel {
    pub name: String,
    /// Persons the attacker must find at least: the model's k (the demographics' k for a residual model).
    pub k: usize,
    /// A stronger attacker than the policy declares, measured so a reviewer sees what is not covered.
    pub residual: bool,
    /// How the model was enforced (exact, or a heuristic checked on the result); `None` when it was not.
    pub enforcement: Option<String>,
    pub knowledge: Knowledge,
}

/// What the attacker knows of a person, as released columns.
#[derive(Clone, PartialEq, Debug)]
pub enum Knowledge {
    /// The released person-level columns ([`ProcessingSummary::demographics`]).
    Demographics,
    /// Up to `m` of the person's codes in `column` of `table`, at `level` of their hierarchy.
    Codes {
        table: String,
        column: String,
        /// The released code-system column, which tells a drug code's hierarchy.
        code_system: Option<String>,
        level: usize,
        m: usize,
        demographics: bool,
    },
    /// `m` of the person's events: codes at `level`, and the intervals between them in steps of
    /// `window_days` (in `granularity` units: day, week (7 days) or month (30 days)).
    Events {
        table: String,
        column: String,
        code_system: Option<String>,
        date_column: Option<String>,
        granularity: String,
        level: usize,
        m: usize,
        window_days: u32,
        demographics: bool,
    },
    /// How many rows of `table` the person has.
    Counts { table: String, demographics: bool },
    /// Every date of the person in `date_column` of `table`: the whole sequence of intervals.
    Sequence { table: String, date_column: String, demographics: bool },
}

/// How much of one event table is released as it came, counted over the cohort's events.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableUtility {
    pub table: String,
    /// The table's events of the released persons.
    pub events: usize,
    /// Events released (not left out by a counts model).
    pub events_released: usize,
    /// The code column measured, when the table has one released.
    pub code_column: Option<String>,
    /// Released events whose code is released exactly as it came.
    pub codes_unchanged: usize,
    /// Released events whose code is released coarser.
    pub codes_generalized: usize,
    /// Released events whose code is withheld (suppressed, or the event withheld).
    pub codes_suppressed: usize,
    /// How finely the table's dates are released: day, week or month.
    pub date_granularity: String,
}

/// The k-anonymity search's outcome.
#[derive(Clone, PartialEq, Debug)]
pub struct KAnonymitySummary {
    pub k: usize,
    /// Every model the classes satisfy, described (`5-anonymity`, `distinct 2-diversity of …`).
    pub models: Vec<String>,
    pub suppression_limit: f64,
    pub quasi_identifiers: Vec<QuasiIdentifierSummary>,
    /// Sizes of the released equivalence classes, ascending.
    pub class_sizes: Vec<usize>,
    /// Overall loss as ARX defines it.
    pub loss: f64,
    pub n_transformations_checked: usize,
    pub n_persons_suppressed: usize,
    /// Re-identification risk of the person-level quasi-identifiers at their base level, and as released.
    pub risk_before: RiskProfile,
    pub risk_after: RiskProfile,
}

/// One released column and its treatment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ColumnTreatment {
    pub table: String,
    pub column: String,
    /// The name in the released table (`birth_date` is released as `age_band`, `person_id` as `person`).
    pub released_as: String,
    /// Its Rule-18 class.
    pub class: String,
    pub action: String,
}

/// One automatic decision about peculiar values: what, in which column, how many values and rows.
#[derive(Clone, PartialEq, Debug)]
pub struct PeculiarDecision {
    /// `table.column` as released.
    pub column: String,
    /// The rule applied, e.g. `codes held by fewer than 5 persons generalized up the ICD-10 hierarchy`.
    pub rule: String,
    /// Distinct values affected, per outcome (e.g. `("ICD-10 category", 12)`, `("suppressed", 2)`).
    pub values: Vec<(String, usize)>,
    /// Rows whose cell changed.
    pub n_rows: usize,
    /// Information loss of the recoding, 0 (none) to 1 (all suppressed), when the rule measures it.
    pub loss: Option<f64>,
}

/// A processed dataset ready for release: the summary, and its tables, built on demand a chunk of persons
/// at a time so that a release of millions of persons never holds all its rows at once.
pub struct AnonymizedDataset<'a> {
    prepared: Prepared<'a>,
    summary: ProcessingSummary,
}

impl fmt::Debug for AnonymizedDataset<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The prepared state holds keys and identified records: only the shape is printed.
        f.debug_struct("AnonymizedDataset")
            .field("mode", &self.summary.mode)
            .field("n_persons", &self.prepared.n_persons())
            .finish_non_exhaustive()
    }
}

impl<'a> AnonymizedDataset<'a> {
    pub(crate) fn new(prepared: Prepared<'a>, summary: ProcessingSummary) -> AnonymizedDataset<'a> {
        AnonymizedDataset { prepared, summary }
    }

    pub fn summary(&self) -> &ProcessingSummary {
        &self.summary
    }

    /// The released tables, in release order, with their column names.
    pub fn table_columns(&self) -> Vec<(&'static str, Vec<String>)> {
        self.prepared.table_columns()
    }

    /// Every released table, whole. For small releases and tests; large ones use [`Self::chunks`].
    ///
    /// # Errors
    /// [`TableError`] when a table cannot be built (a bug: the columns are typed by construction).
    pub fn tables(&self) -> Result<Vec<Table>, TableError> {
        self.prepared.build(0..self.prepared.n_persons())
    }

    /// The released tables for consecutive chunks of `persons_per_chunk` released persons, in release order:
    /// concatenating the chunks' tables gives [`Self::tables`].
    pub fn chunks(
        &self,
        persons_per_chunk: usize,
    ) -> impl Iterator<Item = Result<Vec<Table>, TableError>> + '_ {
        let n = self.prepared.n_persons();
        let step = persons_per_chunk.max(1);
        // An empty release still has its (empty) tables.
        let starts: Vec<usize> = if n == 0 { vec![0] } else { (0..n).step_by(step).collect() };
        starts.into_iter().map(move |start| self.prepared.build(start..(start + step).min(n)))
    }

    /// Every released column as `table.column`: the "items provided" of the ledger (Rule 12).
    pub fn items(&self) -> Vec<String> {
        self.table_columns()
            .into_iter()
            .flat_map(|(table, columns)| columns.into_iter().map(move |column| format!("{table}.{column}")))
            .collect()
    }
}
