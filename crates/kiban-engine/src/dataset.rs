//! The engine's output: an anonymized dataset and the summary of how it was made.
//!
//! Invariant: an [`AnonymizedDataset`] can be built only inside this crate (its constructor is
//! `pub(crate)`), so anything that accepts one (the release writer) can trust that it went through
//! processing. It holds no key, no offset and no mapping back to the source records.

use kiban_columnar::Table;

/// Which legal category a dataset belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReleaseMode {
    /// 匿名加工医療情報 (Rule 18): identifiers removed, quasi-identifiers generalized to k-anonymity.
    Anonymized,
}

impl ReleaseMode {
    pub fn name(self) -> &'static str {
        match self {
            ReleaseMode::Anonymized => "anonymized",
        }
    }
}

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
    pub mode: ReleaseMode,
    pub k: usize,
    pub suppression_limit: f64,
    pub n_persons_in: usize,
    pub n_persons_released: usize,
    pub n_persons_suppressed: usize,
    /// Persons left out before anonymization because a required attribute (birth date) is missing.
    pub n_persons_incomplete: usize,
    pub quasi_identifiers: Vec<QuasiIdentifierSummary>,
    /// Sizes of the released equivalence classes, ascending.
    pub class_sizes: Vec<usize>,
    /// Overall loss as ARX defines it: the geometric mean of (1 + per-QI loss), minus 1.
    pub loss: f64,
    pub n_transformations_checked: usize,
    /// The largest date shift applied, in days (the offsets themselves are secret).
    pub max_shift_days: u32,
    /// One line per column: what was done to it (e.g. `persons.age_band: birth date → 5-year age band, 90+`).
    pub treatments: Vec<String>,
    /// Columns removed (direct identifiers, codes), as `table.column`.
    pub removed: Vec<String>,
}

/// A processed dataset ready for release: tables plus the summary of how they were made.
#[derive(Debug)]
pub struct AnonymizedDataset {
    tables: Vec<Table>,
    summary: ProcessingSummary,
}

impl AnonymizedDataset {
    pub(crate) fn new(tables: Vec<Table>, summary: ProcessingSummary) -> AnonymizedDataset {
        AnonymizedDataset { tables, summary }
    }

    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    pub fn summary(&self) -> &ProcessingSummary {
        &self.summary
    }

    /// Every released column as `table.column`: the "items provided" of the ledger (Rule 12).
    pub fn items(&self) -> Vec<String> {
        self.tables
            .iter()
            .flat_map(|table| {
                table.columns().iter().map(move |column| format!("{}.{}", table.name(), column.name))
            })
            .collect()
    }
}
