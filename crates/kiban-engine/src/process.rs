//! Processing linked, identified records into a release under a [`ReleasePolicy`]: anonymized (匿名加工,
//! Rule 18 ①–⑤), anonymized with the provision ID (Rule 28), or pseudonymized (仮名加工, Rule 18 ①–③).
//!
//! The steps, in order:
//! 1. the cohort: the policy's providers, date window and diagnosis ranges pick persons and events;
//! 2. the person-level columns get their actions (age band, prefecture, …); in the anonymized modes they
//!    are the quasi-identifiers of the k-anonymity search (Rule 18 ⑤), and a suppressed person is left out
//!    of every table;
//! 3. every released column of every table gets its action; dates move by one keyed offset per person, the
//!    same in every table and for every provider, so intervals stay exact (seed 002 ③); linking codes
//!    become per-release keyed pseudonyms (Rule 18 ③);
//! 4. in the anonymized modes, peculiar values (Rule 18 ④) are treated: rare codes generalized up their
//!    hierarchy or suppressed, diagnosis-code sets made k^m-anonymous (Rule 18 ⑤), lab outliers capped.
//!
//! What never reaches the dataset: keys, offsets, the person ID, and every column the policy does not name.
//!
//! The records come in as a [`CompactRecords`] (codes and names interned, events as fixed-size rows), which
//! the dataset keeps: each pass above and each chunk of the release tables reads its events from there, a
//! cell at a time, so a million persons' records never exist as [`PatientRecord`] objects.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use kiban_columnar::{Column, ColumnData, CompactRecords, EventKind, EventRef, Table, TableError};
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_model::{NaiveDate, PatientRecord, Prefecture, Sex};

use crate::dataset::{
    AnonymizedDataset, ColumnTreatment, KAnonymitySummary, ProcessingSummary, QuasiIdentifierSummary,
};
use crate::kanon;
use crate::policy::{Action, CATALOG, ColumnDef, Generalization, ReleasePolicy, ValueKind, catalog};

mod cells;
mod models;
mod peculiar;
mod persons;
mod treatments;

use cells::{ActionContext, Cell, Event, Source};
pub use cells::{age_at, age_label};
use persons::{Ladder, NULL, PersonQi};
pub use treatments::code_at_level;

/// One person after linkage: the producer's internal linking ID and every provider record of theirs.
pub struct LinkedPerson<'a> {
    /// The producer's person ID (名寄せ ID). It links back to the vault, so it never leaves.
    pub person_id: String,
    pub records: Vec<&'a PatientRecord>,
}

/// One person after linkage, with their provider records as numbers into a [`CompactRecords`].
pub struct LinkedRecords {
    /// The producer's person ID (名寄せ ID). It links back to the vault, so it never leaves.
    pub person_id: String,
    /// Record numbers in the [`CompactRecords`] handed to [`process_records`].
    pub records: Vec<usize>,
}

/// The secrets of one release (加工方法等情報). They never leave the producer; nothing derived from them
/// but the pseudonyms and the shifted dates reaches the dataset.
pub struct ReleaseKeys {
    pub pseudonym: PseudonymKey,
    pub date_shift: DateShiftKey,
}

/// What processing needs besides the persons, the policy and the keys.
pub struct ProcessInputs<'a> {
    /// The date ages are computed at when the policy names none (the release date: the engine reads no
    /// clock).
    pub release_date: NaiveDate,
    /// The provision IDs (提供用ID) that came back from the public-database linkage, by person ID.
    pub provision_ids: &'a BTreeMap<String, String>,
}

/// Why processing failed. No variant carries a patient value.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("no person can be released: {0}")]
    Anonymization(#[from] kanon::EngineError),
    #[error("building a generalization hierarchy: {0}")]
    Hierarchy(#[from] crate::hierarchy::HierarchyError),
    #[error("building release table: {0}")]
    Table(#[from] TableError),
    #[error("the policy releases {column}, which Rule 18 forbids: {reason}")]
    Policy { column: String, reason: String },
    #[error("the cohort is empty: no person matches the policy's providers, window and diagnoses")]
    EmptyCohort,
    #[error(
        "{column} is generalized with the hierarchy {file}, whose rows were not attached (ReleasePolicy::attach_hierarchy)"
    )]
    HierarchyNotLoaded { column: String, file: String },
    #[error("the policy's privacy models are refused: {0}")]
    Models(crate::policy::PolicyErrors),
    #[error("the attacker model \"{model}\" cannot be met: {reason}")]
    Model { model: String, reason: String },
}

/// Processes linked persons into a release under `policy`.
///
/// The records are copied into a [`CompactRecords`] first: for tests and small releases. A large release
/// reads its records into one directly and calls [`process_records`].
///
/// # Errors
/// [`ProcessError::Anonymization`] when no transformation reaches k-anonymity within the suppression limit
/// (for example fewer than k persons); [`ProcessError::Policy`] when a policy built in code breaks Rule 18
/// (a parsed policy cannot); [`ProcessError::EmptyCohort`].
pub fn process<'a>(
    persons: &[LinkedPerson<'_>],
    policy: &'a ReleasePolicy,
    keys: &'a ReleaseKeys,
    inputs: &ProcessInputs<'_>,
) -> Result<AnonymizedDataset<'a>, ProcessError> {
    let mut records = CompactRecords::new();
    let mut linked = Vec::with_capacity(persons.len());
    for person in persons {
        let numbers = person.records.iter().map(|record| records.push(record)).collect::<Result<_, _>>()?;
        linked.push(LinkedRecords { person_id: person.person_id.clone(), records: numbers });
    }
    process_records(records, linked, policy, keys, inputs)
}

/// Processes linked persons, whose records are in `records`, into a release under `policy`. The dataset
/// keeps `records` and reads the events from there while its tables are built.
///
/// # Errors
/// As [`process`].
///
/// # Panics
/// When a person names a record number `records` does not have (a caller bug).
pub fn process_records<'a>(
    records: CompactRecords,
    persons: Vec<LinkedRecords>,
    policy: &'a ReleasePolicy,
    keys: &'a ReleaseKeys,
    inputs: &ProcessInputs<'_>,
) -> Result<AnonymizedDataset<'a>, ProcessError> {
    let released = released_columns(policy)?;
    let problems = policy.model_problems();
    if !problems.is_empty() {
        return Err(ProcessError::Models(crate::policy::PolicyErrors(problems)));
    }
    let (subjects, timelines) = select_cohort(&records, &persons, policy);
    if subjects.is_empty() {
        return Err(ProcessError::EmptyCohort);
    }
    let reference_date = policy.reference_date.unwrap_or(inputs.release_date);
    let max_shift = NonZeroU32::new(policy.privacy.max_shift_days).unwrap_or(NonZeroU32::MIN);
    let anonymized = policy.mode.is_anonymized();
    let age_top_code = if anonymized { policy.peculiar.age_top_code } else { u32::MAX };

    // Person-level values after their actions.
    let person_columns: Vec<&Released> =
        released.iter().filter(|column| column.def.table == "persons").collect();
    let pseudonym_of = |value: &str| keys.pseudonym.pseudonym(value.as_bytes()).as_str().to_owned();
    let mut person_cells: Vec<Vec<Cell>> = Vec::with_capacity(subjects.len());
    for subject in &subjects {
        let person_id = persons[subject.person].person_id.as_str();
        let offset = keys.date_shift.offset_days(person_id.as_bytes(), max_shift);
        let ctx = ActionContext { offset, reference_date, age_top_code, pseudonym: &pseudonym_of };
        person_cells.push(
            person_columns
                .iter()
                .map(|column| {
                    let cell =
                        person_cell(&records, person_id, subject, column.def.column, inputs.provision_ids);
                    let birth = match &cell {
                        Cell::Date(birth) if column.def.kind == ValueKind::BirthDate => *birth,
                        _ => None,
                    };
                    match birth.and_then(|birth| cells::top_coded_birth(birth, column.action, &ctx)) {
                        Some(label) => Cell::Text(Some(label)),
                        None => cells::apply(column.action, cell, &ctx),
                    }
                })
                .collect(),
        );
    }

    // Rule 18 ⑤ on the person-level quasi-identifiers.
    let mut kept = vec![true; subjects.len()];
    let mut kanon_summary = None;
    // The person-level columns an attacker may know: every released one but the pseudonym and the
    // provision ID.
    let qi_columns: Vec<usize> = (0..person_columns.len())
        .filter(|idx| !matches!(person_columns[*idx].def.column, "person_id" | "provision_id"))
        .collect();
    let demographics: Vec<String> = qi_columns.iter().map(|idx| person_columns[*idx].name.clone()).collect();
    if anonymized {
        let qis: Vec<PersonQi> = qi_columns
            .iter()
            .map(|idx| PersonQi {
                name: person_columns[*idx].name.clone(),
                values: person_cells.iter().map(|row| qi_text(&row[*idx])).collect(),
                ladder: Ladder::of(person_columns[*idx].action, age_top_code),
            })
            .collect();
        let main_chapters: Vec<String> = (0..subjects.len())
            .map(|position| main_diagnosis_chapter(&records, &timelines, position))
            .collect();
        let search = persons::k_anonymize(&qis, subjects.len(), &policy.privacy, &main_chapters)?;
        for (row, suppressed) in search.solution.suppressed().iter().enumerate() {
            kept[row] = !suppressed;
        }
        for (qi, idx) in qi_columns.iter().enumerate() {
            let generalized = &search.solution.generalized()[qi];
            for (row, cells) in person_cells.iter_mut().enumerate() {
                let value = generalized.get(row);
                cells[*idx] = Cell::Text((value != NULL).then(|| value.to_owned()));
            }
        }
        kanon_summary = Some(KAnonymitySummary {
            k: policy.privacy.k,
            suppression_limit: policy.privacy.suppression_limit,
            quasi_identifiers: qis
                .iter()
                .enumerate()
                .map(|(idx, qi)| QuasiIdentifierSummary {
                    name: qi.name.clone(),
                    level: search.solution.levels()[idx],
                    max_level: search.qis[idx].hierarchy().levels() - 1,
                    loss: search.solution.loss_per_qi().get(idx).copied().unwrap_or(0.0),
                    level_names: qi.ladder.level_names(),
                })
                .collect(),
            class_sizes: search.solution.class_sizes().to_vec(),
            loss: search.solution.loss(),
            n_transformations_checked: search.solution.n_nodes_checked(),
            n_persons_suppressed: search.solution.n_suppressed(),
            models: std::iter::once(format!("{}-anonymity", policy.privacy.k))
                .chain(policy.privacy.sensitive.iter().map(|model| model.describe()))
                .collect(),
            risk_before: search.risk_before,
            risk_after: search.risk_after,
        });
    }

    // Released persons, ordered by pseudonym so row order says nothing about the source order.
    let mut order: Vec<(String, usize)> = (0..subjects.len())
        .filter(|row| kept[*row])
        .map(|row| (pseudonym_of(&persons[subjects[row].person].person_id), row))
        .collect();
    order.sort();

    let columns = released
        .iter()
        .map(|column| ColumnTreatment {
            table: column.def.table.to_owned(),
            column: column.def.column.to_owned(),
            released_as: column.name.clone(),
            class: column.def.class.name().to_owned(),
            action: column.action.describe(),
        })
        .collect();
    let removed = CATALOG
        .iter()
        .filter(|def| policy.action(def.table, def.column).is_none())
        .map(|def| format!("{}.{}", def.table, def.column))
        .collect();
    let max_shift_days = released
        .iter()
        .any(|column| matches!(column.action, Action::DateShift))
        .then_some(policy.privacy.max_shift_days);
    let person_cells: BTreeMap<usize, Vec<Cell>> =
        order.iter().map(|(_, row)| (*row, std::mem::take(&mut person_cells[*row]))).collect();
    let n_persons_in_cohort = subjects.len();
    let n_persons_released = order.len();
    let n_persons_in = persons.len();
    let mut prepared = Prepared {
        records,
        persons,
        released,
        subjects,
        timelines,
        order,
        person_cells,
        keys,
        max_shift,
        reference_date,
        age_top_code,
        person_pseudonym: policy.action("persons", "person_id").is_some(),
        treatments: treatments::Treatments::default(),
    };
    let families = demographic_families(&prepared, &qi_columns);
    // Rule 18 ④ and ⑤ on the codes and values of the released persons' events.
    let peculiar_decisions = if anonymized {
        let mut treatments = treatments::Treatments::default();
        let mut decisions =
            models::enforce(&prepared, &mut treatments, policy, &families, |prepared, treatments| {
                peculiar::rare_codes(prepared, treatments, policy)
            })?;
        decisions.extend(peculiar::withheld_names(&prepared, &treatments));
        decisions.extend(peculiar::cap_labs(&prepared, &mut treatments, policy));
        prepared.treatments = treatments;
        decisions
    } else {
        Vec::new()
    };
    let models = models::attacker_models(&prepared, &prepared.treatments, policy, &peculiar_decisions);
    let utility = prepared.utility();

    let summary = ProcessingSummary {
        mode: policy.mode,
        n_persons_in,
        n_persons_in_cohort,
        n_persons_released,
        kanon: kanon_summary,
        peculiar: peculiar_decisions,
        max_shift_days,
        columns,
        removed,
        fhir: policy.fhir,
        demographics,
        models,
        population: policy.privacy.population.unwrap_or(n_persons_in as u64).max(n_persons_released as u64),
        utility,
    };
    Ok(AnonymizedDataset::new(prepared, summary))
}

/// Each released person's demographic class (the values of the released person-level columns), as a
/// number by release position, beside one family for everyone.
fn demographic_families(prepared: &Prepared<'_>, qi_columns: &[usize]) -> models::Families {
    let mut ids: std::collections::HashMap<Vec<String>, u32> = std::collections::HashMap::new();
    let demographic = prepared
        .order
        .iter()
        .map(|(_, row)| {
            let cells = &prepared.person_cells[row];
            let key: Vec<String> = qi_columns.iter().map(|idx| qi_text(&cells[*idx])).collect();
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            *ids.entry(key).or_insert(next)
        })
        .collect();
    models::Families {
        demographic: std::sync::Arc::new(demographic),
        everyone: std::sync::Arc::new(vec![0; prepared.n_persons()]),
    }
}

/// A column the policy releases, with its catalog entry and the name it is released under.
struct Released<'p> {
    def: &'static ColumnDef,
    action: &'p Action,
    name: String,
}

/// The released columns in catalog order, each re-checked against Rule 18 (a policy built in code has
/// not been through the parser's checks).
fn released_columns(policy: &ReleasePolicy) -> Result<Vec<Released<'_>>, ProcessError> {
    let mut released = Vec::new();
    for (table, columns) in &policy.columns {
        for column in columns.keys() {
            if catalog::find(table, column).is_none() {
                return Err(ProcessError::Policy {
                    column: format!("{table}.{column}"),
                    reason: "not a column of the record model".to_owned(),
                });
            }
        }
    }
    for def in CATALOG {
        let Some(action) = policy.action(def.table, def.column) else { continue };
        if let Some(reason) =
            catalog::type_problem(def, action).or_else(|| catalog::rule_problem(def, action, policy.mode))
        {
            return Err(ProcessError::Policy { column: format!("{}.{}", def.table, def.column), reason });
        }
        if let Action::Generalize(Generalization::Hierarchy(hierarchy)) = action
            && !hierarchy.is_attached()
        {
            return Err(ProcessError::HierarchyNotLoaded {
                column: format!("{}.{}", def.table, def.column),
                file: hierarchy.file.clone(),
            });
        }
        released.push(Released { def, action, name: cells::output_name(def, action) });
    }
    Ok(released)
}

/// One person of the cohort: their records of the policy's providers. Their events are in [`Timelines`].
struct Subject {
    /// Index into the linked persons.
    person: usize,
    records: Vec<usize>,
}

/// The cohort's events in the policy's window, per subject and event table, each in timeline order.
struct Timelines {
    /// Per event table (encounters, diagnoses, prescriptions, labs, procedures), the event numbers of
    /// every subject, one subject after the other.
    events: [Vec<u32>; 5],
    /// Per event table, where each subject's events start; one more entry than subjects.
    starts: [Vec<usize>; 5],
}

impl Timelines {
    fn of(&self, table: usize, subject: usize) -> &[u32] {
        &self.events[table][self.starts[table][subject]..self.starts[table][subject + 1]]
    }
}

fn event_table_index(table: &str) -> usize {
    catalog::TABLES[1..].iter().position(|name| *name == table).unwrap_or(0)
}

fn select_cohort(
    compact: &CompactRecords,
    persons: &[LinkedRecords],
    policy: &ReleasePolicy,
) -> (Vec<Subject>, Timelines) {
    let cohort = &policy.cohort;
    let in_window = |date: Option<NaiveDate>| {
        date.is_none_or(|date| {
            cohort.from.is_none_or(|from| date >= from) && cohort.to.is_none_or(|to| date <= to)
        })
    };
    let mut subjects = Vec::new();
    let mut timelines = Timelines { events: Default::default(), starts: std::array::from_fn(|_| vec![0]) };
    let mut events: [Vec<u32>; 5] = Default::default();
    for (idx, person) in persons.iter().enumerate() {
        let records: Vec<usize> = person
            .records
            .iter()
            .copied()
            .filter(|record| {
                cohort.providers.is_empty()
                    || cohort.providers.iter().any(|code| code == compact.provider(*record))
            })
            .collect();
        if records.is_empty() {
            continue;
        }
        for (table, kind) in EventKind::ALL.into_iter().enumerate() {
            events[table].clear();
            for record in &records {
                events[table].extend(
                    compact
                        .events(kind, *record)
                        .filter(|event| in_window(cells::event_date(compact.event(kind, *event)))),
                );
            }
        }
        let windowed = cohort.from.is_some() || cohort.to.is_some();
        let has_dated_event = EventKind::ALL.into_iter().enumerate().any(|(table, kind)| {
            events[table].iter().any(|event| cells::event_date(compact.event(kind, *event)).is_some())
        });
        if windowed && !has_dated_event {
            continue;
        }
        if !cohort.diagnoses.is_empty() {
            let matches = events[1].iter().any(|event| match compact.event(EventKind::Diagnosis, *event) {
                EventRef::Diagnosis(diagnosis) => diagnosis
                    .icd10
                    .is_some_and(|code| cohort.diagnoses.iter().any(|range| range.contains(code))),
                _ => false,
            });
            if !matches {
                continue;
            }
        }
        for (table, kind) in EventKind::ALL.into_iter().enumerate() {
            // Timeline order, ties broken by the event's own codes so the order never depends on input order.
            events[table].sort_by_cached_key(|event| {
                let view = compact.event(kind, *event);
                (cells::event_date(view), event_sort_key(view), compact.event_source(kind, *event).0)
            });
            timelines.events[table].extend_from_slice(&events[table]);
            timelines.starts[table].push(timelines.events[table].len());
        }
        subjects.push(Subject { person: idx, records });
    }
    (subjects, timelines)
}

fn event_sort_key(event: Event<'_>) -> String {
    match event {
        Event::Encounter(e) => format!("{}|{:?}", e.class.name(), e.end),
        Event::Diagnosis(d) => format!("{:?}|{:?}", d.icd10, d.medis_code),
        Event::Prescription(p) => p.drug_code.to_owned(),
        Event::Lab(l) => l.code.to_owned(),
        Event::Procedure(p) => p.code.to_owned(),
    }
}

/// A person-level column's source value: the value most of the person's records agree on.
fn person_cell(
    compact: &CompactRecords,
    person_id: &str,
    subject: &Subject,
    column: &str,
    provision_ids: &BTreeMap<String, String>,
) -> Cell {
    let records = &subject.records;
    match column {
        "person_id" => Cell::Text(Some(person_id.to_owned())),
        "provision_id" => Cell::Text(provision_ids.get(person_id).cloned()),
        "birth_date" => Cell::Date(most_common(records.iter().filter_map(|r| compact.birth_date(*r)))),
        "sex" => Cell::Text(Some(
            match most_common(
                records.iter().map(|r| compact.sex(*r)).filter(|sex| !matches!(sex, Sex::Unknown)),
            ) {
                Some(Sex::Male) => "M",
                Some(Sex::Female) => "F",
                Some(Sex::Other) => "O",
                Some(Sex::Unknown) | None => "U",
            }
            .to_owned(),
        )),
        // The first address that names a prefecture.
        "address" => Cell::Text(
            records
                .iter()
                .filter_map(|r| compact.address(*r))
                .find(|address| Prefecture::of_address(address).is_some())
                .map(str::to_owned),
        ),
        "postal_code" => {
            Cell::Text(most_common(records.iter().filter_map(|r| compact.postal_code(*r))).map(str::to_owned))
        }
        // Every other person column is refused by Rule 18 before processing starts.
        _ => Cell::Text(None),
    }
}

/// The ICD-10 chapter of the person's first main diagnosis (or first diagnosis), `none` without one: the
/// sensitive attribute of the l-diversity and t-closeness models.
fn main_diagnosis_chapter(compact: &CompactRecords, timelines: &Timelines, subject: usize) -> String {
    use crate::codes::{CodeHierarchy as _, generalization_path};
    let diagnoses = timelines.of(1, subject).iter().filter_map(|event| {
        match compact.event(EventKind::Diagnosis, *event) {
            Event::Diagnosis(diagnosis) => Some(diagnosis),
            _ => None,
        }
    });
    let mut first = None;
    let mut main = None;
    for diagnosis in diagnoses {
        first = first.or(Some(diagnosis));
        if diagnosis.main {
            main = Some(diagnosis);
            break;
        }
    }
    main.or(first)
        .and_then(|diagnosis| diagnosis.icd10)
        .map(|code| code.trim().replace('.', "").to_ascii_uppercase())
        .and_then(|code| {
            let hierarchy = crate::codes::Icd10Hierarchy;
            generalization_path(&hierarchy, &code).into_iter().find(|node| hierarchy.level(node) == 3)
        })
        .unwrap_or_else(|| "none".to_owned())
}

/// A person-level cell as the k-anonymity search sees it.
fn qi_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(Some(text)) => text.clone(),
        Cell::Date(Some(date)) => date.to_string(),
        Cell::Number(Some(value)) => value.to_string(),
        Cell::Integer(Some(value)) => value.to_string(),
        Cell::Bool(Some(value)) => value.to_string(),
        _ => NULL.to_owned(),
    }
}

fn most_common<T: Ord + Copy>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    // max_by_key returns the last maximum; iterate in reverse so ties go to the smallest value.
    counts.into_iter().rev().max_by_key(|(_, count)| *count).map(|(value, _)| value)
}

/// Everything decided about a release, from which its tables are built a chunk of persons at a time, so
/// a release of millions of persons never holds all its rows at once. Holds the keys: it never leaves the
/// engine except inside an [`AnonymizedDataset`], whose API gives out tables and the summary only.
pub(crate) struct Prepared<'a> {
    records: CompactRecords,
    persons: Vec<LinkedRecords>,
    released: Vec<Released<'a>>,
    subjects: Vec<Subject>,
    timelines: Timelines,
    /// The released persons: (pseudonym, index into `subjects`), sorted by pseudonym so row order says
    /// nothing about the source order.
    order: Vec<(String, usize)>,
    /// Released persons' person-level cells, after their actions and the k-anonymity search.
    person_cells: BTreeMap<usize, Vec<Cell>>,
    keys: &'a ReleaseKeys,
    max_shift: NonZeroU32,
    reference_date: NaiveDate,
    age_top_code: u32,
    /// Whether every table carries the person pseudonym.
    person_pseudonym: bool,
    treatments: treatments::Treatments,
}

impl<'a> Prepared<'a> {
    pub(crate) fn n_persons(&self) -> usize {
        self.order.len()
    }

    /// The released tables, in release order, as `(name, released column names)`.
    pub(crate) fn table_columns(&self) -> Vec<(&'static str, Vec<String>)> {
        let mut tables = Vec::new();
        for table in catalog::TABLES {
            let own: Vec<String> = self.columns_of(table).iter().map(|column| column.name.clone()).collect();
            if own.is_empty() {
                continue;
            }
            let mut names = Vec::with_capacity(own.len() + 1);
            if table != "persons" && self.person_pseudonym {
                names.push("person".to_owned());
            }
            names.extend(own);
            tables.push((table, names));
        }
        tables
    }

    fn context<'c>(&self, subject: &Subject, pseudonym: &'c dyn Fn(&str) -> String) -> ActionContext<'c> {
        let person_id = &self.persons[subject.person].person_id;
        ActionContext {
            offset: self.keys.date_shift.offset_days(person_id.as_bytes(), self.max_shift),
            reference_date: self.reference_date,
            age_top_code: self.age_top_code,
            pseudonym,
        }
    }

    fn pseudonym(&self, value: &str) -> String {
        self.keys.pseudonym.pseudonym(value.as_bytes()).as_str().to_owned()
    }

    /// The catalog columns released in `table`, in catalog order.
    fn sources(&self, table: &str) -> Vec<&'static str> {
        self.columns_of(table).iter().map(|column| column.def.column).collect()
    }

    /// The released columns of `table`, in catalog order.
    fn columns_of(&self, table: &str) -> Vec<&Released<'a>> {
        self.released.iter().filter(|column| column.def.table == table).collect()
    }

    /// Calls `visit` with every event of `table` of the released persons in `persons` (a range of the
    /// release order): the person's position in the order, the event's number, its action-applied cells
    /// (before the treatments, and events the treatments leave out included) and the event.
    fn visit_events<'s>(
        &'s self,
        table: &str,
        persons: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, u32, Vec<Cell>, Event<'s>),
    ) {
        let columns = self.columns_of(table);
        let table_idx = event_table_index(table);
        let kind = EventKind::ALL[table_idx];
        let pseudonym = |value: &str| self.pseudonym(value);
        for position in persons {
            let row = self.order[position].1;
            let ctx = self.context(&self.subjects[row], &pseudonym);
            for number in self.timelines.of(table_idx, row) {
                let event = self.records.event(kind, *number);
                let (provider, local_id) = self.records.event_source(kind, *number);
                let source = Source { provider, local_id };
                let cells = columns.iter().map(|column| event_cell(column, event, source, &ctx)).collect();
                visit(position, *number, cells, event);
            }
        }
    }

    /// How much of each released event table, and of its code column, is released as it came.
    fn utility(&self) -> Vec<crate::dataset::TableUtility> {
        let mut utility = Vec::new();
        for (table_idx, table) in treatments::EVENT_TABLES.iter().enumerate() {
            if self.columns_of(table).is_empty() {
                continue;
            }
            let events: usize = (0..self.n_persons())
                .map(|position| self.timelines.of(table_idx, self.order[position].1).len())
                .sum();
            let code_column = crate::policy::EventTable::parse(table)
                .and_then(crate::policy::EventTable::code_column)
                .filter(|column| self.sources(table).contains(column));
            let mut counts = [0usize; 4];
            if let Some(column) = code_column {
                let idx = self.sources(table).iter().position(|source| *source == column).unwrap_or(0);
                self.treatments.visit(self, table, 0..self.n_persons(), |_, _, cells, event| {
                    counts[0] += 1;
                    let source = treatments::source_code(column, event);
                    match &cells[idx] {
                        Cell::Text(Some(code)) if Some(code.as_str()) == source => counts[1] += 1,
                        Cell::Text(Some(_)) => counts[2] += 1,
                        _ if source.is_some() => counts[3] += 1,
                        _ => {}
                    }
                });
            } else {
                counts[0] = events - self.treatments.dropped[table_idx].len();
            }
            utility.push(crate::dataset::TableUtility {
                table: (*table).to_owned(),
                events,
                events_released: counts[0],
                code_column: code_column.map(str::to_owned),
                codes_unchanged: counts[1],
                codes_generalized: counts[2],
                codes_suppressed: counts[3],
                date_granularity: self.treatments.granularity[table_idx].name().to_owned(),
            });
        }
        utility
    }

    /// Builds the tables of the released persons at `persons` (a range of the release order).
    pub(crate) fn build(&self, persons: std::ops::Range<usize>) -> Result<Vec<Table>, TableError> {
        let mut tables = Vec::new();
        for (table, _) in self.table_columns() {
            let columns = self.columns_of(table);
            let mut data: Vec<ColumnData> =
                columns.iter().map(|column| cells::output_column(column.def, column.action)).collect();
            let mut person = Vec::new();
            if table == "persons" {
                for position in persons.clone() {
                    let row = self.order[position].1;
                    for (idx, cell) in self.person_cells[&row].iter().enumerate() {
                        cells::push(&mut data[idx], cell.clone());
                    }
                }
            } else {
                let sources: Vec<&'static str> = columns.iter().map(|column| column.def.column).collect();
                let dropped = &self.treatments.dropped[treatments::table_index(table)];
                self.visit_events(table, persons.clone(), |position, number, mut cells, event| {
                    if dropped.contains(number) {
                        return;
                    }
                    self.treatments.apply(table, &sources, &mut cells, event, (position, number));
                    if self.person_pseudonym {
                        person.push(Some(self.order[position].0.clone()));
                    }
                    for (idx, cell) in cells.into_iter().enumerate() {
                        cells::push(&mut data[idx], cell);
                    }
                });
            }
            let mut built = Vec::with_capacity(columns.len() + 1);
            if table != "persons" && self.person_pseudonym {
                built.push(Column::new("person", ColumnData::Utf8(person)));
            }
            built.extend(columns.iter().zip(data).map(|(column, data)| Column::new(&column.name, data)));
            tables.push(Table::new(table, built)?);
        }
        Ok(tables)
    }
}

/// One event cell after its action. Provider and local IDs get their own pseudonym domains, so no
/// pseudonym of one kind can equal another kind's.
fn event_cell(column: &Released<'_>, event: Event<'_>, source: Source<'_>, ctx: &ActionContext<'_>) -> Cell {
    let value = cells::event_cell(event, source, column.def.column);
    match (column.def.column, column.action, value) {
        ("provider" | "local_patient_id", Action::Pseudonym, Cell::Text(value)) => {
            let domain = if column.def.column == "provider" {
                format!("provider:{}", value.unwrap_or_default())
            } else {
                format!("local:{}/{}", source.provider, value.unwrap_or_default())
            };
            Cell::Text(Some((ctx.pseudonym)(&domain)))
        }
        (_, action, value) => cells::apply(action, value, ctx),
    }
}

#[cfg(test)]
mod tests;
