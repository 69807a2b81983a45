//! One cell at a time: reading a catalog column from the record model, and applying the policy's action.

use kiban_columnar::{ColumnData, EventRef, LabValueRef};
use kiban_model::{Datelike, NaiveDate};

use crate::policy::{Action, ColumnDef, Generalization, Icd10Level, ValueKind};

/// A source value before or after its action.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell {
    Text(Option<String>),
    Date(Option<NaiveDate>),
    Number(Option<f64>),
    Integer(Option<i64>),
    Bool(Option<bool>),
}

/// One event of a person, borrowed from the records.
pub(super) type Event<'a> = EventRef<'a>;

/// The provider record an event came from.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) provider: &'a str,
    /// The provider-local patient ID (an identifier).
    pub(super) local_id: &'a str,
}

/// The date the cohort window is applied to (a diagnosis without onset date is always in).
pub(super) fn event_date(event: Event<'_>) -> Option<NaiveDate> {
    match event {
        Event::Encounter(e) => Some(e.start),
        Event::Diagnosis(d) => d.onset,
        Event::Prescription(p) => Some(p.date),
        Event::Lab(l) => Some(l.date),
        Event::Procedure(p) => Some(p.date),
    }
}

fn text(value: Option<&str>) -> Cell {
    Cell::Text(value.map(str::to_owned))
}

/// Reads `column` of an event table for one event. The event-table columns `provider` and
/// `local_patient_id` come from the record.
pub(super) fn event_cell(event: Event<'_>, source: Source<'_>, column: &str) -> Cell {
    match column {
        "provider" => return text(Some(source.provider)),
        "local_patient_id" => return text(Some(source.local_id)),
        _ => {}
    }
    match event {
        Event::Encounter(e) => match column {
            "class" => text(Some(e.class.name())),
            "start_date" => Cell::Date(Some(e.start)),
            "end_date" => Cell::Date(e.end),
            "department" => text(e.department),
            _ => Cell::Text(None),
        },
        Event::Diagnosis(d) => match column {
            "icd10" => text(d.icd10),
            "medis_code" => text(d.medis_code),
            "name" => text(d.name),
            "onset_date" => Cell::Date(d.onset),
            "suspected" => Cell::Bool(Some(d.suspected)),
            "main" => Cell::Bool(Some(d.main)),
            _ => Cell::Text(None),
        },
        Event::Prescription(p) => match column {
            "drug_code" => text(Some(p.drug_code)),
            "code_system" => text(Some(p.code_system.name())),
            "drug_name" => text(p.drug_name),
            "dose" => Cell::Number(p.dose),
            "unit" => text(p.unit),
            "days" => Cell::Integer(p.days.map(i64::from)),
            "date" => Cell::Date(Some(p.date)),
            _ => Cell::Text(None),
        },
        Event::Lab(l) => match column {
            "code" => text(Some(l.code)),
            "name" => text(l.name),
            "value_numeric" => Cell::Number(match l.value {
                LabValueRef::Numeric(value) => Some(value),
                LabValueRef::Text(_) => None,
            }),
            "value_text" => text(match l.value {
                LabValueRef::Numeric(_) => None,
                LabValueRef::Text(value) => Some(value),
            }),
            "unit" => text(l.unit),
            "reference_range" => text(l.reference_range),
            "date" => Cell::Date(Some(l.date)),
            _ => Cell::Text(None),
        },
        Event::Procedure(p) => match column {
            "code" => text(Some(p.code)),
            "code_system" => text(p.code_system),
            "name" => text(p.name),
            "date" => Cell::Date(Some(p.date)),
            _ => Cell::Text(None),
        },
    }
}

/// The empty column an action on a catalog column produces.
pub(super) fn output_column(def: &ColumnDef, action: &Action) -> ColumnData {
    match action {
        Action::Pseudonym | Action::Generalize(_) => ColumnData::Utf8(Vec::new()),
        Action::DateShift => ColumnData::Date(Vec::new()),
        Action::Clamp { .. } | Action::Round { .. } | Action::Keep => match def.kind {
            ValueKind::Date | ValueKind::BirthDate => ColumnData::Date(Vec::new()),
            ValueKind::Number => ColumnData::Float64(Vec::new()),
            ValueKind::Integer => ColumnData::Int64(Vec::new()),
            ValueKind::Bool => ColumnData::Bool(Vec::new()),
            ValueKind::Text
            | ValueKind::Code
            | ValueKind::Icd10
            | ValueKind::Address
            | ValueKind::PostalCode => ColumnData::Utf8(Vec::new()),
        },
    }
}

/// The released column's name: the catalog name, or what a generalization turns it into.
pub(super) fn output_name(def: &ColumnDef, action: &Action) -> String {
    let name = match (def.column, action) {
        ("person_id", _) => "person",
        ("birth_date", Action::Generalize(Generalization::AgeBand { width: 1 })) => "age",
        ("birth_date", Action::Generalize(Generalization::AgeBand { .. })) => "age_band",
        ("birth_date", Action::Generalize(Generalization::Year)) => "birth_year",
        ("birth_date", Action::Generalize(Generalization::Month)) => "birth_month",
        ("address", _) => "prefecture",
        ("postal_code", _) => "postal_code_prefix",
        (column, _) => column,
    };
    name.to_owned()
}

/// Appends a cell to a column built by [`output_column`]; a type mismatch is a bug in this module.
pub(super) fn push(data: &mut ColumnData, cell: Cell) {
    match (data, cell) {
        (ColumnData::Utf8(values), Cell::Text(value)) => values.push(value),
        (ColumnData::Date(values), Cell::Date(value)) => values.push(value),
        (ColumnData::Float64(values), Cell::Number(value)) => values.push(value),
        (ColumnData::Int64(values), Cell::Integer(value)) => values.push(value),
        (ColumnData::Bool(values), Cell::Bool(value)) => values.push(value),
        (data, cell) => panic!("processing built a {cell:?}-typed cell for a {} column", data.type_name()),
    }
}

/// What an action needs besides the value.
pub(super) struct ActionContext<'a> {
    /// The person's secret date offset in days.
    pub(super) offset: i32,
    pub(super) reference_date: NaiveDate,
    /// Ages from this one up share one top band.
    pub(super) age_top_code: u32,
    /// Replaces a value by its keyed pseudonym (the caller adds the domain, e.g. `provider:`).
    pub(super) pseudonym: &'a dyn Fn(&str) -> String,
}

/// Applies `action` to one source cell.
pub(super) fn apply(action: &Action, cell: Cell, ctx: &ActionContext<'_>) -> Cell {
    match (action, cell) {
        (Action::Keep, cell) => cell,
        (Action::Pseudonym, Cell::Text(value)) => Cell::Text(value.map(|value| (ctx.pseudonym)(&value))),
        (Action::DateShift, Cell::Date(value)) => Cell::Date(value.and_then(|date| shift(date, ctx.offset))),
        (Action::Generalize(generalization), cell) => Cell::Text(generalize(generalization, cell, ctx)),
        (Action::Clamp { min, max }, Cell::Number(value)) => {
            Cell::Number(value.map(|v| clamp(v, *min, *max)))
        }
        (Action::Clamp { min, max }, Cell::Integer(value)) =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            Cell::Integer(value.map(|v| clamp(v as f64, *min, *max).round() as i64))
        }
        (Action::Round { to }, Cell::Number(value)) => Cell::Number(value.map(|v| round_to(v, *to))),
        (Action::Round { to }, Cell::Integer(value)) =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            Cell::Integer(value.map(|v| round_to(v as f64, *to).round() as i64))
        }
        // The catalog's type check makes every other pairing impossible; a null is the safe answer.
        (_, Cell::Text(_) | Cell::Date(_) | Cell::Number(_) | Cell::Integer(_) | Cell::Bool(_)) => {
            Cell::Text(None)
        }
    }
}

pub(super) fn shift(date: NaiveDate, offset: i32) -> Option<NaiveDate> {
    date.checked_add_signed(chrono::Duration::days(i64::from(offset)))
}

fn clamp(value: f64, min: Option<f64>, max: Option<f64>) -> f64 {
    let value = min.map_or(value, |min| value.max(min));
    max.map_or(value, |max| value.min(max))
}

fn round_to(value: f64, to: f64) -> f64 {
    // Rounded through the multiple's own decimals so 0.1-steps do not print as 0.30000000000000004.
    let rounded = (value / to).round() * to;
    let decimals = format!("{to}").split_once('.').map_or(0, |(_, fraction)| fraction.len());
    format!("{rounded:.decimals$}").parse().unwrap_or(rounded)
}

fn generalize(generalization: &Generalization, cell: Cell, ctx: &ActionContext<'_>) -> Option<String> {
    match (generalization, cell) {
        (Generalization::AgeBand { width }, Cell::Date(Some(birth))) => {
            Some(age_label(age_at(birth, ctx.reference_date), *width, ctx.age_top_code))
        }
        (Generalization::Year, Cell::Date(Some(date))) => Some(date.format("%Y").to_string()),
        (Generalization::Month, Cell::Date(Some(date))) => Some(date.format("%Y-%m").to_string()),
        (Generalization::Prefecture, Cell::Text(Some(address))) => {
            kiban_model::Prefecture::of_address(&address).map(|prefecture| prefecture.name.to_owned())
        }
        (Generalization::PostalDigits(digits), Cell::Text(Some(postal))) => {
            let digits: String = postal.chars().filter(char::is_ascii_digit).take(*digits).collect();
            (!digits.is_empty()).then_some(digits)
        }
        (Generalization::Icd10(level), Cell::Text(Some(code))) => icd10_at(&code, *level),
        (Generalization::Prefix(length), Cell::Text(Some(code))) => {
            Some(code.chars().take(*length).collect())
        }
        (Generalization::Hierarchy(hierarchy), Cell::Text(Some(code))) => {
            hierarchy.label(&code).map(str::to_owned)
        }
        _ => None,
    }
}

/// An ICD-10 code at a coarser level; `None` when it is not an ICD-10 code the hierarchy knows.
fn icd10_at(code: &str, level: Icd10Level) -> Option<String> {
    use crate::codes::CodeHierarchy as _;
    let hierarchy = crate::codes::Icd10Hierarchy;
    let category: String = code.trim().replace('.', "").to_ascii_uppercase().chars().take(3).collect();
    let steps = match level {
        Icd10Level::Category => 0,
        Icd10Level::Block => 1,
        Icd10Level::Chapter => 2,
    };
    let mut current = category;
    for _ in 0..steps {
        current = hierarchy.parent(&current)?;
    }
    Some(current)
}

/// The label of a birth date released as a year or month when the person is at or above the top code
/// (`≤1936`): an exact birth year of a 104-year-old is as peculiar as the age itself (Rule 18 ④).
pub(super) fn top_coded_birth(birth: NaiveDate, action: &Action, ctx: &ActionContext<'_>) -> Option<String> {
    let by_date = matches!(action, Action::Generalize(Generalization::Year | Generalization::Month));
    (by_date && age_at(birth, ctx.reference_date) >= ctx.age_top_code).then(|| {
        format!("≤{}", ctx.reference_date.year() - i32::try_from(ctx.age_top_code).unwrap_or(i32::MAX))
    })
}

/// Completed years of age at `at`.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> u32 {
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The label of `age` in bands of `width` years with every age from `top` up in one band: `37` (width
/// 1), `35-39` (width 5), `90+`; a band reaching the top code is open (`80+` for width 20, top 90).
pub fn age_label(age: u32, width: u32, top: u32) -> String {
    let width = width.max(1);
    let capped = age.min(top);
    let low = capped / width * width;
    if low + width > top {
        format!("{low}+")
    } else if width == 1 {
        low.to_string()
    } else {
        format!("{low}-{}", low + width - 1)
    }
}
