//! The release policy: what one release contains and how every released column is treated.
//!
//! A policy is written in TOML (see `docs/release-policy.md`) and parsed by [`ReleasePolicy::parse`], which
//! reports every problem at once, each with its line and key. Parsing also enforces Rule 18 ①–③ through
//! the column catalog ([`catalog`]): a policy that would release an identifying description, an individual
//! identification code or a reversible linking code is refused, naming the column and the Rule-18 item.
//! Columns the policy does not name are not released (deny by default).
//!
//! The policy holds choices only, never a key: keys are per release and live in `ReleaseKeys`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use kiban_model::NaiveDate;

pub mod catalog;
mod parse;

pub use catalog::{CATALOG, ColumnClass, ColumnDef, ValueKind};

/// Which legal category the release belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// 匿名加工医療情報 (Rule 18 ①–⑤): identifiers removed, peculiar values treated, k-anonymity and
    /// k^m-anonymity enforced.
    Anonymized,
    /// 仮名加工医療情報 (2024 amendment): Rule 18 ①–③ only; clinical detail and rare values are kept.
    Pseudonymized,
    /// Anonymized, carrying the provision ID (提供用ID) for linkage with public databases (Rule 28).
    AnonymizedLinkable,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Anonymized => "anonymized",
            Mode::Pseudonymized => "pseudonymized",
            Mode::AnonymizedLinkable => "anonymized-linkable",
        }
    }

    /// Whether Rule 18 ④ and ⑤ (peculiar values, database-level models) apply.
    pub fn is_anonymized(self) -> bool {
        matches!(self, Mode::Anonymized | Mode::AnonymizedLinkable)
    }

    fn parse(text: &str) -> Option<Mode> {
        [Mode::Anonymized, Mode::Pseudonymized, Mode::AnonymizedLinkable]
            .into_iter()
            .find(|m| m.name() == text)
    }
}

/// A whole release policy, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ReleasePolicy {
    pub recipient: Recipient,
    pub mode: Mode,
    /// The date ages are computed at; the release date when not given.
    pub reference_date: Option<NaiveDate>,
    pub cohort: Cohort,
    pub privacy: Privacy,
    pub peculiar: Peculiar,
    /// Per released table, per released column, its action. Tables and columns absent are not released.
    pub columns: BTreeMap<String, BTreeMap<String, Action>>,
    /// Also write the release as FHIR R4 NDJSON.
    pub fhir: bool,
}

/// 提供先: who receives the release (Rule 12's ledger items).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub address: String,
}

/// Which persons and events the release covers. Empty lists mean "no restriction".
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Cohort {
    /// Persons with at least one diagnosis whose ICD-10 code falls in one of these ranges.
    pub diagnoses: Vec<CodeRange>,
    /// Events before this date are left out; persons without an event in the window are left out.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Only the records of these providers (codes as registered).
    pub providers: Vec<String>,
}

/// An ICD-10 code range, `E10-E14` (3-character categories, inclusive) or a prefix such as `I10` or `E11`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRange {
    pub from: String,
    pub to: String,
}

impl CodeRange {
    /// Whether `code` (ICD-10 without a dot, e.g. `E119`) falls in the range.
    pub fn contains(&self, code: &str) -> bool {
        let code = code.trim().to_ascii_uppercase().replace('.', "");
        let head = |len: usize| code.get(..len.min(code.len())).unwrap_or(&code).to_owned();
        head(self.from.len()) >= self.from && head(self.to.len()) <= self.to
    }

    fn parse(text: &str) -> Option<CodeRange> {
        let text = text.trim().to_ascii_uppercase().replace('.', "");
        let (from, to) = text.split_once('-').unwrap_or((&text, &text));
        let valid = |part: &str| {
            !part.is_empty()
                && part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && part.chars().skip(1).all(|c| c.is_ascii_alphanumeric())
        };
        (valid(from) && valid(to) && from <= to)
            .then(|| CodeRange { from: from.to_owned(), to: to.to_owned() })
    }
}

impl fmt::Display for CodeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to { f.write_str(&self.from) } else { write!(f, "{}-{}", self.from, self.to) }
    }
}

/// Database-level models (Rule 18 ⑤): what an attacker is assumed to know, each with its own k. They are
/// enforced in the anonymized modes and measured on the released files in every mode.
#[derive(Clone, Debug, PartialEq)]
pub struct Privacy {
    /// The demographics model: every combination of person-level quasi-identifiers (age band, sex,
    /// prefecture, …) is shared by at least k persons.
    pub k: usize,
    /// Largest share of persons that may be suppressed to reach k, 0.0 to 1.0.
    pub suppression_limit: f64,
    /// Dates are shifted by a per-person offset of up to this many days either way.
    pub max_shift_days: u32,
    /// Models on the person's main-diagnosis chapter (the ICD-10 chapter of their first main diagnosis),
    /// which every quasi-identifier class must also satisfy: l-diversity, t-closeness.
    pub sensitive: Vec<SensitiveModel>,
    /// Attackers who know up to m of a person's codes in a table (k^m, or (k, k^m) with demographics).
    pub codes: Vec<CodesModel>,
    /// Attackers who know m of a person's (code, date) events, dates to within a window.
    pub events: Vec<EventsModel>,
    /// Attackers who know how many events of a table a person has.
    pub counts: Vec<CountsModel>,
    /// The number of persons the release is drawn from, for the population-uniqueness estimates; the
    /// persons handed to processing when not given.
    pub population: Option<u64>,
}

impl Default for Privacy {
    /// The built-in models: demographics with k = 5, and any 2 diagnosis codes at the ICD-10 category
    /// level together with the demographics, k = 5.
    fn default() -> Privacy {
        Privacy {
            k: 5,
            suppression_limit: 0.05,
            max_shift_days: 180,
            sensitive: Vec::new(),
            codes: vec![CodesModel {
                table: EventTable::Diagnoses,
                level: 1,
                m: 2,
                k: 5,
                demographics: true,
            }],
            events: Vec::new(),
            counts: Vec::new(),
            population: None,
        }
    }
}

impl Privacy {
    /// Every declared k: the demographics' and each model's.
    pub fn ks(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.k)
            .chain(self.codes.iter().map(|model| model.k))
            .chain(self.events.iter().map(|model| model.k))
            .chain(self.counts.iter().map(|model| model.k))
    }

    /// Sets every declared k (the CLI's `--k`).
    pub fn set_k(&mut self, k: usize) {
        self.k = k;
        self.codes.iter_mut().for_each(|model| model.k = k);
        self.events.iter_mut().for_each(|model| model.k = k);
        self.counts.iter_mut().for_each(|model| model.k = k);
    }
}

/// An event table a model can name, with its code and date columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventTable {
    Encounters,
    Diagnoses,
    Prescriptions,
    Labs,
    Procedures,
}

impl EventTable {
    pub const ALL: [EventTable; 5] = [
        EventTable::Encounters,
        EventTable::Diagnoses,
        EventTable::Prescriptions,
        EventTable::Labs,
        EventTable::Procedures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventTable::Encounters => "encounters",
            EventTable::Diagnoses => "diagnoses",
            EventTable::Prescriptions => "prescriptions",
            EventTable::Labs => "labs",
            EventTable::Procedures => "procedures",
        }
    }

    pub fn parse(name: &str) -> Option<EventTable> {
        EventTable::ALL.into_iter().find(|table| table.name() == name)
    }

    /// One row of the table, in words: `diagnosis`, `encounter`, …
    pub fn singular(self) -> &'static str {
        match self {
            EventTable::Encounters => "encounter",
            EventTable::Diagnoses => "diagnosis",
            EventTable::Prescriptions => "prescription",
            EventTable::Labs => "lab",
            EventTable::Procedures => "procedure",
        }
    }

    /// The column holding the event's code (`None` for encounters, which have no code).
    pub fn code_column(self) -> Option<&'static str> {
        match self {
            EventTable::Encounters => None,
            EventTable::Diagnoses => Some("icd10"),
            EventTable::Prescriptions => Some("drug_code"),
            EventTable::Labs | EventTable::Procedures => Some("code"),
        }
    }

    /// The event's date column.
    pub fn date_column(self) -> &'static str {
        match self {
            EventTable::Encounters => "start_date",
            EventTable::Diagnoses => "onset_date",
            EventTable::Prescriptions | EventTable::Labs | EventTable::Procedures => "date",
        }
    }

    /// Every date column of the table (encounters also have an end).
    pub fn date_columns(self) -> &'static [&'static str] {
        match self {
            EventTable::Encounters => &["start_date", "end_date"],
            EventTable::Diagnoses => &["onset_date"],
            EventTable::Prescriptions | EventTable::Labs | EventTable::Procedures => &["date"],
        }
    }

    /// How a code level is named in reports: ICD-10's by name, the others by number.
    pub fn level_name(self, level: usize) -> String {
        match (self, level) {
            (EventTable::Diagnoses, 0) => "ICD-10 code".to_owned(),
            (EventTable::Diagnoses, 1) => "ICD-10 category".to_owned(),
            (EventTable::Diagnoses, 2) => "ICD-10 block".to_owned(),
            (EventTable::Diagnoses, _) => "ICD-10 chapter".to_owned(),
            (EventTable::Prescriptions, 0) => "drug code".to_owned(),
            (_, 0) => "code".to_owned(),
            (_, level) => format!("code level {level}"),
        }
    }
}

/// An attacker who knows up to `m` of a person's codes in `table`, at `level` of the code's hierarchy
/// (0 = the code itself; ICD-10: 1 category, 2 block, 3 chapter), and with `demographics`, also the
/// person's demographics: every such combination is held by at least `k` persons ((k, k^m)-anonymity,
/// Poulis et al.; k^m-anonymity, Terrovitis et al., without demographics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodesModel {
    pub table: EventTable,
    pub level: usize,
    pub m: usize,
    pub k: usize,
    pub demographics: bool,
}

impl CodesModel {
    pub fn describe(&self) -> String {
        format!(
            "any {} {} {} ({}){}: k = {}",
            self.m,
            self.table.singular(),
            if self.m == 1 { "code" } else { "codes" },
            self.table.level_name(self.level),
            if self.demographics { " with the demographics" } else { "" },
            self.k
        )
    }
}

/// An attacker who knows `m` of a person's events in `table`: each event's code at `level` and its date
/// to within `window_days` days, and so the intervals between them (the per-person date shift keeps
/// intervals; it hides where the timeline sits in the calendar). With `demographics`, also the person's
/// demographics. Enforced by coarsening the table's dates (day → week → month) and withholding events,
/// at most `suppression_limit` of the table's coded events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventsModel {
    pub table: EventTable,
    pub level: usize,
    pub m: usize,
    pub window_days: u32,
    pub k: usize,
    pub demographics: bool,
    pub suppression_limit: f64,
}

impl EventsModel {
    pub fn describe(&self) -> String {
        format!(
            "any {} {} {} ({}, dates to within {} day{}){}: k = {}",
            self.m,
            self.table.singular(),
            if self.m == 1 { "event" } else { "events" },
            self.table.level_name(self.level),
            self.window_days,
            if self.window_days == 1 { "" } else { "s" },
            if self.demographics { " with the demographics" } else { "" },
            self.k
        )
    }
}

/// An attacker who knows how many events of `table` a person has (with `demographics`, also the
/// demographics): every count is shared by at least `k` persons. Enforced by capping counts (a person's
/// latest events beyond the cap are left out), at most `suppression_limit` of the table's events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountsModel {
    pub table: EventTable,
    pub k: usize,
    pub demographics: bool,
    pub suppression_limit: f64,
}

impl CountsModel {
    pub fn describe(&self) -> String {
        format!(
            "the number of {}{}: k = {}",
            self.table.name(),
            if self.demographics { " with the demographics" } else { "" },
            self.k
        )
    }
}

/// A model on the person-level sensitive attribute (the main-diagnosis chapter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SensitiveModel {
    /// At least `l` distinct chapters per class.
    DistinctL(usize),
    /// Entropy l-diversity (ARX's definition).
    EntropyL(f64),
    /// Recursive (c, l)-diversity.
    RecursiveCL { c: f64, l: usize },
    /// Equal-distance t-closeness: each class's distribution of chapters is within `t` of the whole's.
    TCloseness(f64),
}

impl SensitiveModel {
    pub fn describe(self) -> String {
        match self {
            SensitiveModel::DistinctL(l) => format!("distinct {l}-diversity of the main-diagnosis chapter"),
            SensitiveModel::EntropyL(l) => format!("entropy {l}-diversity of the main-diagnosis chapter"),
            SensitiveModel::RecursiveCL { c, l } => {
                format!("recursive ({c}, {l})-diversity of the main-diagnosis chapter")
            }
            SensitiveModel::TCloseness(t) => format!("{t}-closeness of the main-diagnosis chapter"),
        }
    }
}

/// Peculiar values (特異な記述, Rule 18 ④), treated automatically in the anonymized modes.
#[derive(Clone, Debug, PartialEq)]
pub struct Peculiar {
    /// Ages from this one up are released as one top band (`90+`).
    pub age_top_code: u32,
    /// A diagnosis, drug, lab or procedure code held by fewer persons than this is generalized up its
    /// hierarchy, or suppressed at the top.
    pub rare_code_persons: usize,
    /// Numeric lab values outside these percentiles (per lab code) are capped to them.
    pub lab_percentiles: (f64, f64),
}

impl Default for Peculiar {
    fn default() -> Peculiar {
        Peculiar { age_top_code: 90, rare_code_persons: 5, lab_percentiles: (0.5, 99.5) }
    }
}

/// What is done to one released column.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Released unchanged.
    Keep,
    /// Replaced by HMAC-SHA-256 under the release's key: the same value gives the same pseudonym within one
    /// release and a different one in every other release.
    Pseudonym,
    /// Shifted by the person's secret offset, the same across every table and provider.
    DateShift,
    Generalize(Generalization),
    /// Values below `min` become `min`, above `max` become `max`.
    Clamp {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Rounded to the nearest multiple of `to`.
    Round {
        to: f64,
    },
}

impl Action {
    /// How the report and the errors name the action.
    pub fn describe(&self) -> String {
        match self {
            Action::Keep => "keep".to_owned(),
            Action::Pseudonym => "keyed pseudonym (HMAC-SHA-256, per-release key)".to_owned(),
            Action::DateShift => "per-person date shift".to_owned(),
            Action::Generalize(generalization) => format!("generalize: {}", generalization.describe()),
            Action::Clamp { min, max } => match (min, max) {
                (Some(min), Some(max)) => format!("bottom-code at {min}, top-code at {max}"),
                (Some(min), None) => format!("bottom-code at {min}"),
                (None, Some(max)) => format!("top-code at {max}"),
                (None, None) => "clamp".to_owned(),
            },
            Action::Round { to } => format!("round to {to}"),
        }
    }

    /// The word used in the policy file.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Pseudonym => "pseudonym",
            Action::DateShift => "date_shift",
            Action::Generalize(_) => "generalize",
            Action::Clamp { .. } => "top_code/bottom_code",
            Action::Round { .. } => "round",
        }
    }
}

/// The generalizations a policy can ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum Generalization {
    /// Birth date → age at the reference date in bands of `width` years (1 = age in years), top-coded.
    AgeBand { width: u32 },
    /// Date → `YYYY-MM`.
    Month,
    /// Date → `YYYY`.
    Year,
    /// Address → prefecture.
    Prefecture,
    /// Postal code → its first `digits` digits.
    PostalDigits(usize),
    /// ICD-10 code → 3-character category, block or chapter.
    Icd10(Icd10Level),
    /// A code → its first `length` characters (drug, lab and procedure codes).
    Prefix(usize),
    /// A code → its label at a level of a hierarchy the user supplies (ARX's file format).
    Hierarchy(UserHierarchy),
}

/// A generalization hierarchy the user supplies in ARX's format (`;`-separated rows, no header, the original
/// value first and each further column one level coarser), released at `level` (1 = the first coarser
/// column). The policy names the file; the caller reads it and hands the rows to
/// [`ReleasePolicy::attach_hierarchy`] (the engine does no I/O). A value the hierarchy does not list is
/// released empty (suppressed): a hierarchy never lets an unknown code through.
#[derive(Clone, PartialEq)]
pub struct UserHierarchy {
    /// The file as the policy names it (relative paths are relative to the policy file).
    pub file: String,
    pub level: usize,
    /// Original value → its label at `level`, once attached.
    labels: Option<Arc<HashMap<String, String>>>,
}

impl UserHierarchy {
    pub fn new(file: String, level: usize) -> UserHierarchy {
        UserHierarchy { file, level, labels: None }
    }

    /// The label of `value` at the hierarchy's level: `None` for a value it does not list, or before the
    /// rows are attached.
    pub fn label(&self, value: &str) -> Option<&str> {
        self.labels.as_ref()?.get(value.trim()).map(String::as_str)
    }

    pub fn is_attached(&self) -> bool {
        self.labels.is_some()
    }
}

impl fmt::Debug for UserHierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserHierarchy")
            .field("file", &self.file)
            .field("level", &self.level)
            .field("values", &self.labels.as_ref().map(|labels| labels.len()))
            .finish()
    }
}

impl Generalization {
    pub fn describe(&self) -> String {
        match self {
            Generalization::AgeBand { width: 1 } => "age in years at the reference date".to_owned(),
            Generalization::AgeBand { width } => format!("{width}-year age band at the reference date"),
            Generalization::Month => "month (YYYY-MM)".to_owned(),
            Generalization::Year => "year (YYYY)".to_owned(),
            Generalization::Prefecture => "prefecture".to_owned(),
            Generalization::PostalDigits(digits) => format!("first {digits} digits"),
            Generalization::Icd10(level) => format!("ICD-10 {}", level.name()),
            Generalization::Prefix(length) => format!("first {length} characters"),
            Generalization::Hierarchy(hierarchy) => {
                format!("level {} of the hierarchy {}", hierarchy.level, hierarchy.file)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icd10Level {
    Category,
    Block,
    Chapter,
}

impl Icd10Level {
    pub fn name(self) -> &'static str {
        match self {
            Icd10Level::Category => "3-character category",
            Icd10Level::Block => "block",
            Icd10Level::Chapter => "chapter",
        }
    }
}

/// One problem in a policy file: where (line, key) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyIssue {
    /// 1-based line of the key or value at fault (0 when the problem is the file as a whole).
    pub line: usize,
    /// The dotted key, e.g. `columns.persons.name_kanji`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for PolicyIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (0, true) => f.write_str(&self.message),
            (0, false) => write!(f, "{}: {}", self.key, self.message),
            (line, true) => write!(f, "line {line}: {}", self.message),
            (line, false) => write!(f, "line {line}: {}: {}", self.key, self.message),
        }
    }
}

/// Every problem found in a policy file, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyIssue>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the release policy has {} problem(s):", self.0.len())?;
        for issue in &self.0 {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

impl ReleasePolicy {
    /// Parses and validates a policy; every problem is reported at once.
    ///
    /// # Errors
    /// [`PolicyErrors`] listing each problem with its line and key, including the Rule-18 refusals.
    pub fn parse(text: &str) -> Result<ReleasePolicy, PolicyErrors> {
        parse::parse(text)
    }

    /// The hierarchy files the policy's columns name, each once, sorted.
    pub fn hierarchy_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .columns
            .values()
            .flat_map(BTreeMap::values)
            .filter_map(|action| match action {
                Action::Generalize(Generalization::Hierarchy(hierarchy)) => Some(hierarchy.file.clone()),
                _ => None,
            })
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// Gives every column generalized with the hierarchy `file` its rows (ARX's format, as read from the
    /// file). The rows must form a valid hierarchy (one row per value, equal lengths, functional) with a
    /// column for each column's level.
    ///
    /// # Errors
    /// [`PolicyErrors`] naming the column and what is wrong with the hierarchy.
    pub fn attach_hierarchy(&mut self, file: &str, rows: &[Vec<String>]) -> Result<(), PolicyErrors> {
        let mut issues = Vec::new();
        let checked = crate::hierarchy::Hierarchy::from_rows(rows);
        let width = rows.first().map_or(0, Vec::len);
        for (table, columns) in &mut self.columns {
            for (column, action) in columns.iter_mut() {
                let Action::Generalize(Generalization::Hierarchy(hierarchy)) = action else { continue };
                if hierarchy.file != file {
                    continue;
                }
                let key = format!("columns.{table}.{column}");
                if let Err(error) = &checked {
                    issues.push(PolicyIssue { line: 0, key, message: format!("hierarchy {file}: {error}") });
                    continue;
                }
                if hierarchy.level == 0 || hierarchy.level >= width {
                    issues.push(PolicyIssue {
                        line: 0,
                        key,
                        message: format!(
                            "hierarchy {file} has levels 1 to {} above the original values; level {} does not exist",
                            width.saturating_sub(1),
                            hierarchy.level
                        ),
                    });
                    continue;
                }
                let labels: HashMap<String, String> =
                    rows.iter().map(|row| (row[0].trim().to_owned(), row[hierarchy.level].clone())).collect();
                hierarchy.labels = Some(Arc::new(labels));
            }
        }
        if issues.is_empty() { Ok(()) } else { Err(PolicyErrors(issues)) }
    }

    /// The policy `kiban release` uses when no policy file is given: an anonymized release of every
    /// table, with the treatments of seed 002 (age bands, prefecture, date shift, keyed pseudonyms).
    pub fn default_anonymized(recipient: Recipient) -> ReleasePolicy {
        let column = |name: &str, action: Action| (name.to_owned(), action);
        let table =
            |name: &str, columns: Vec<(String, Action)>| (name.to_owned(), columns.into_iter().collect());
        let shift = Action::DateShift;
        ReleasePolicy {
            recipient,
            mode: Mode::Anonymized,
            reference_date: None,
            cohort: Cohort::default(),
            privacy: Privacy::default(),
            peculiar: Peculiar::default(),
            columns: [
                table(
                    "persons",
                    vec![
                        column("person_id", Action::Pseudonym),
                        column("birth_date", Action::Generalize(Generalization::AgeBand { width: 5 })),
                        column("sex", Action::Keep),
                        column("address", Action::Generalize(Generalization::Prefecture)),
                    ],
                ),
                table(
                    "encounters",
                    vec![
                        column("class", Action::Keep),
                        column("start_date", shift.clone()),
                        column("end_date", shift.clone()),
                        column("department", Action::Keep),
                    ],
                ),
                table(
                    "diagnoses",
                    vec![
                        column("icd10", Action::Keep),
                        column("medis_code", Action::Keep),
                        column("onset_date", shift.clone()),
                        column("suspected", Action::Keep),
                        column("main", Action::Keep),
                    ],
                ),
                table(
                    "prescriptions",
                    vec![
                        column("drug_code", Action::Keep),
                        column("code_system", Action::Keep),
                        column("drug_name", Action::Keep),
                        column("dose", Action::Keep),
                        column("unit", Action::Keep),
                        column("days", Action::Keep),
                        column("date", shift.clone()),
                    ],
                ),
                table(
                    "labs",
                    vec![
                        column("code", Action::Keep),
                        column("name", Action::Keep),
                        column("value_numeric", Action::Keep),
                        column("value_text", Action::Keep),
                        column("unit", Action::Keep),
                        column("reference_range", Action::Keep),
                        column("date", shift.clone()),
                    ],
                ),
                table(
                    "procedures",
                    vec![
                        column("code", Action::Keep),
                        column("code_system", Action::Keep),
                        column("name", Action::Keep),
                        column("date", shift),
                    ],
                ),
            ]
            .into_iter()
            .collect(),
            fhir: false,
        }
    }

    /// What is wrong with the policy's database-level models, each as a problem naming its key (line 0):
    /// a k below 2 in an anonymized mode, an m out of range, a model on a table or code column the policy
    /// does not release. The parser reports these with the rest; [`crate::process_records`] checks them
    /// again, since a policy built in code has not been through the parser.
    pub fn model_problems(&self) -> Vec<PolicyIssue> {
        let mut issues = Vec::new();
        let mut issue = |key: String, message: String| issues.push(PolicyIssue { line: 0, key, message });
        let privacy = &self.privacy;
        if self.mode.is_anonymized() && privacy.k < 2 {
            issue(
                "privacy.k".to_owned(),
                format!("k = {} protects nobody: an anonymized release needs k ≥ 2", privacy.k),
            );
        }
        if !(0.0..=1.0).contains(&privacy.suppression_limit) {
            issue("privacy.suppression_limit".to_owned(), "must be between 0.0 and 1.0".to_owned());
        }
        let releases = |table: EventTable, column: Option<&str>| match column {
            Some(column) => self.action(table.name(), column).is_some(),
            None => self.columns.get(table.name()).is_some_and(|columns| !columns.is_empty()),
        };
        let mut check = |key: String,
                         k: usize,
                         m: Option<(usize, usize)>,
                         table: EventTable,
                         column: Option<&str>,
                         limit: Option<f64>| {
            // A codes or events model (`m` given) on a table without codes could never be enforced.
            if m.is_some() && column.is_none() {
                issue(
                    format!("{key}.table"),
                    format!("{} have no code column to know: a counts model covers them", table.name()),
                );
                return;
            }
            if self.mode.is_anonymized() && k < 2 {
                issue(
                    format!("{key}.k"),
                    format!("k = {k} protects nobody: an anonymized release needs k ≥ 2"),
                );
            }
            if let Some((m, max)) = m
                && !(1..=max).contains(&m)
            {
                issue(format!("{key}.m"), format!("m = {m}: expected 1 to {max}"));
            }
            if let Some(limit) = limit
                && !(0.0..=1.0).contains(&limit)
            {
                issue(format!("{key}.suppression_limit"), "must be between 0.0 and 1.0".to_owned());
            }
            if !releases(table, column) {
                let what = column
                    .map_or_else(|| table.name().to_owned(), |column| format!("{}.{column}", table.name()));
                issue(
                    format!("{key}.table"),
                    format!("the policy does not release {what}: release it, or remove the model"),
                );
            }
        };
        for (idx, model) in privacy.codes.iter().enumerate() {
            check(
                format!("privacy.codes[{idx}]"),
                model.k,
                Some((model.m, 4)),
                model.table,
                model.table.code_column(),
                None,
            );
        }
        for (idx, model) in privacy.events.iter().enumerate() {
            check(
                format!("privacy.events[{idx}]"),
                model.k,
                Some((model.m, 3)),
                model.table,
                model.table.code_column(),
                Some(model.suppression_limit),
            );
        }
        for (idx, model) in privacy.counts.iter().enumerate() {
            check(
                format!("privacy.counts[{idx}]"),
                model.k,
                None,
                model.table,
                None,
                Some(model.suppression_limit),
            );
        }
        issues
    }

    /// The action of `table.column`, when the policy releases it.
    pub fn action(&self, table: &str, column: &str) -> Option<&Action> {
        self.columns.get(table)?.get(column)
    }
}

#[cfg(test)]
mod tests;
