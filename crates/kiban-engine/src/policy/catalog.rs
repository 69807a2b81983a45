//! Every column of the record model a release can carry, classified for Rule 18, and the check that a
//! policy's action on a column is lawful in its mode.
//!
//! The classes follow Rule 18: ① identifying descriptions (name, address, phone, exact birth date), ②
//! individual identification codes (個人識別符号: insurance numbers), ③ codes linking back to the source
//! records (the producer's person ID, provider-local IDs, provider codes), then the quasi-identifiers that
//! ⑤'s database-level models work on, sensitive codes and other clinical detail.

use super::{Action, Generalization, Mode};

/// The Rule-18 class of a column.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ColumnClass {
    /// Rule 18 ①: describes a person (name, address, phone, exact birth date, free text).
    IdentifyingDescription,
    /// Rule 18 ②: 個人識別符号 (insurer number, insurance symbol / number / branch).
    IndividualCode,
    /// Rule 18 ③: links back to the source records (person ID, provider-local patient ID, provider).
    LinkingCode,
    /// The provision ID (提供用ID) for public-database linkage: only in `anonymized-linkable`.
    ProvisionId,
    /// Rule 18 ⑤: a person-level attribute in the k-anonymity search.
    QuasiIdentifier,
    /// A clinical code the database-level models protect (diagnoses).
    Sensitive,
    /// An event date: in the anonymized modes released only shifted, generalized or not at all.
    EventDate,
    /// Other clinical detail.
    Clinical,
}

impl ColumnClass {
    pub fn name(self) -> &'static str {
        match self {
            ColumnClass::IdentifyingDescription => "identifying description (Rule 18 ①)",
            ColumnClass::IndividualCode => "individual identification code (Rule 18 ②)",
            ColumnClass::LinkingCode => "linking code (Rule 18 ③)",
            ColumnClass::ProvisionId => "provision ID for public-database linkage (Rule 28)",
            ColumnClass::QuasiIdentifier => "quasi-identifier (Rule 18 ⑤)",
            ColumnClass::Sensitive => "sensitive clinical code",
            ColumnClass::EventDate => "event date",
            ColumnClass::Clinical => "clinical",
        }
    }
}

/// The type of a column's source values, which decides the actions that apply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ValueKind {
    Text,
    /// A code with a hierarchy of prefixes (drug, lab, procedure codes).
    Code,
    Icd10,
    Date,
    BirthDate,
    Address,
    PostalCode,
    Number,
    Integer,
    Bool,
}

/// One column of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct ColumnDef {
    pub table: &'static str,
    pub column: &'static str,
    pub class: ColumnClass,
    pub kind: ValueKind,
    /// What the column holds, for the report and the policy documentation.
    pub about: &'static str,
}

const fn col(
    table: &'static str,
    column: &'static str,
    class: ColumnClass,
    kind: ValueKind,
    about: &'static str,
) -> ColumnDef {
    ColumnDef { table, column, class, kind, about }
}

use ColumnClass::{
    Clinical, EventDate, IdentifyingDescription, IndividualCode, LinkingCode, ProvisionId, QuasiIdentifier,
    Sensitive,
};
use ValueKind::{Address, BirthDate, Bool, Code, Date, Icd10, Integer, Number, PostalCode, Text};

/// The tables a release can hold, in release order.
pub const TABLES: [&str; 6] = ["persons", "encounters", "diagnoses", "prescriptions", "labs", "procedures"];

/// Every column a release can carry. Event tables also carry `provider` and `local_patient_id` (the source
/// record's), so a pseudonymized release can tell providers apart without naming them.
pub const CATALOG: &[ColumnDef] = &[
    col("persons", "person_id", LinkingCode, Text, "the producer's person ID (名寄せ ID)"),
    col("persons", "provision_id", ProvisionId, Text, "提供用ID returned by the public-database linkage"),
    col("persons", "name_kanji", IdentifyingDescription, Text, "name in kanji"),
    col("persons", "name_kana", IdentifyingDescription, Text, "name in kana"),
    col("persons", "birth_date", IdentifyingDescription, BirthDate, "birth date"),
    col("persons", "sex", QuasiIdentifier, Text, "sex (M, F, O, U)"),
    col("persons", "postal_code", IdentifyingDescription, PostalCode, "postal code"),
    col("persons", "address", IdentifyingDescription, Address, "address"),
    col("persons", "phone", IdentifyingDescription, Text, "telephone number"),
    col("persons", "insurer_number", IndividualCode, Text, "保険者番号 of the first insurance"),
    col("persons", "insurance_symbol", IndividualCode, Text, "被保険者証の記号"),
    col("persons", "insurance_number", IndividualCode, Text, "被保険者証の番号"),
    col("persons", "insurance_branch", IndividualCode, Text, "枝番"),
    col("encounters", "provider", LinkingCode, Text, "the provider the event came from"),
    col("encounters", "local_patient_id", LinkingCode, Text, "the provider's own patient ID"),
    col("encounters", "class", Clinical, Text, "outpatient, inpatient, emergency, …"),
    col("encounters", "start_date", EventDate, Date, "admission or visit date"),
    col("encounters", "end_date", EventDate, Date, "discharge date"),
    col("encounters", "department", Clinical, Text, "department"),
    col("diagnoses", "provider", LinkingCode, Text, "the provider the event came from"),
    col("diagnoses", "local_patient_id", LinkingCode, Text, "the provider's own patient ID"),
    col("diagnoses", "icd10", Sensitive, Icd10, "ICD-10 code"),
    col("diagnoses", "medis_code", Sensitive, Code, "MEDIS standard disease-name code"),
    col("diagnoses", "name", IdentifyingDescription, Text, "disease name as written by the provider"),
    col("diagnoses", "onset_date", EventDate, Date, "onset date"),
    col("diagnoses", "suspected", Clinical, Bool, "suspected (疑い) flag"),
    col("diagnoses", "main", Clinical, Bool, "main-diagnosis flag"),
    col("prescriptions", "provider", LinkingCode, Text, "the provider the event came from"),
    col("prescriptions", "local_patient_id", LinkingCode, Text, "the provider's own patient ID"),
    col("prescriptions", "drug_code", Clinical, Code, "drug code (YJ, HOT)"),
    col("prescriptions", "code_system", Clinical, Text, "drug code system"),
    col("prescriptions", "drug_name", Clinical, Text, "drug name from the drug master"),
    col("prescriptions", "dose", Clinical, Number, "dose per day"),
    col("prescriptions", "unit", Clinical, Text, "dose unit"),
    col("prescriptions", "days", Clinical, Integer, "days supplied"),
    col("prescriptions", "date", EventDate, Date, "prescription date"),
    col("labs", "provider", LinkingCode, Text, "the provider the event came from"),
    col("labs", "local_patient_id", LinkingCode, Text, "the provider's own patient ID"),
    col("labs", "code", Clinical, Code, "lab code (JLAC10)"),
    col("labs", "name", Clinical, Text, "lab item name"),
    col("labs", "value_numeric", Clinical, Number, "numeric result"),
    col("labs", "value_text", Clinical, Text, "text result"),
    col("labs", "unit", Clinical, Text, "unit"),
    col("labs", "reference_range", Clinical, Text, "reference range"),
    col("labs", "date", EventDate, Date, "sampling date"),
    col("procedures", "provider", LinkingCode, Text, "the provider the event came from"),
    col("procedures", "local_patient_id", LinkingCode, Text, "the provider's own patient ID"),
    col("procedures", "code", Clinical, Code, "procedure code"),
    col("procedures", "code_system", Clinical, Text, "procedure code system"),
    col("procedures", "name", Clinical, Text, "procedure name"),
    col("procedures", "date", EventDate, Date, "procedure date"),
];

/// The catalog entry of `table.column`.
pub fn find(table: &str, column: &str) -> Option<&'static ColumnDef> {
    CATALOG.iter().find(|def| def.table == table && def.column == column)
}

/// Why `action` does not fit the column's type, if it does not.
pub(crate) fn type_problem(def: &ColumnDef, action: &Action) -> Option<String> {
    let fits = match action {
        Action::Keep => true,
        Action::Pseudonym => matches!(def.kind, Text | Code | Icd10),
        Action::DateShift => matches!(def.kind, Date | BirthDate),
        Action::Clamp { .. } | Action::Round { .. } => matches!(def.kind, Number | Integer),
        Action::Generalize(generalization) => match generalization {
            Generalization::AgeBand { .. } => def.kind == BirthDate,
            Generalization::Month | Generalization::Year => matches!(def.kind, Date | BirthDate),
            Generalization::Prefecture => def.kind == Address,
            Generalization::PostalDigits(_) => def.kind == PostalCode,
            Generalization::Icd10(_) => def.kind == Icd10,
            Generalization::Prefix(_) => matches!(def.kind, Code | Icd10),
            Generalization::Hierarchy(_) => matches!(def.kind, Text | Code | Icd10),
        },
    };
    (!fits).then(|| format!("`{}` does not apply to this column ({})", action.describe(), def.about))
}

/// Why Rule 18 (or the mode) forbids `action` on the column, naming the item, if it does.
pub(crate) fn rule_problem(def: &ColumnDef, action: &Action, mode: Mode) -> Option<String> {
    let refused = |why: &str| {
        Some(format!("`{}` is refused on a column of class {}: {why}", action.keyword(), def.class.name()))
    };
    match def.class {
        IdentifyingDescription => match action {
            Action::Generalize(
                Generalization::AgeBand { .. } | Generalization::Year | Generalization::Month,
            ) if def.kind == BirthDate => None,
            Action::Generalize(Generalization::Prefecture) if def.kind == Address => None,
            Action::Generalize(Generalization::PostalDigits(digits)) if *digits <= 3 => None,
            Action::Generalize(Generalization::PostalDigits(_)) => {
                refused("more than 3 postal-code digits still point to a neighbourhood; release at most 3")
            }
            _ => refused(
                "Rule 18 ① requires identifying descriptions to be deleted or generalized so they no longer identify",
            ),
        },
        IndividualCode => {
            refused("Rule 18 ② requires every individual identification code (個人識別符号) to be deleted")
        }
        LinkingCode => match action {
            Action::Pseudonym => None,
            _ => refused(
                "Rule 18 ③ requires codes linking back to the source records to be deleted or replaced by an irreversible code (use `pseudonym`)",
            ),
        },
        ProvisionId => match (action, mode) {
            (Action::Keep, Mode::AnonymizedLinkable) => None,
            (Action::Keep, _) => {
                refused("the provision ID may be released only in mode `anonymized-linkable` (Rule 28)")
            }
            _ => refused(
                "the provision ID is released as it came back from the linkage (`keep`) or not at all",
            ),
        },
        EventDate if mode.is_anonymized() && matches!(action, Action::Keep) => refused(
            "Rule 18 ⑤: exact event dates single a person out across records; use `date_shift` or generalize to month/year",
        ),
        QuasiIdentifier | Sensitive | EventDate | Clinical => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_columns_and_names_are_unique() {
        for table in TABLES {
            assert!(CATALOG.iter().any(|def| def.table == table), "{table}");
        }
        for (idx, def) in CATALOG.iter().enumerate() {
            assert!(TABLES.contains(&def.table), "{}", def.table);
            assert!(
                CATALOG[idx + 1..].iter().all(|other| (other.table, other.column) != (def.table, def.column)),
                "{}.{} twice",
                def.table,
                def.column
            );
        }
    }

    #[test]
    fn the_three_kinds_of_rule_18_cannot_be_kept_in_any_mode() {
        for mode in [Mode::Anonymized, Mode::Pseudonymized, Mode::AnonymizedLinkable] {
            for def in CATALOG {
                let problem = rule_problem(def, &Action::Keep, mode);
                match def.class {
                    IdentifyingDescription | IndividualCode | LinkingCode => {
                        let problem = problem.unwrap_or_else(|| panic!("{}.{} kept", def.table, def.column));
                        assert!(problem.contains("Rule 18"), "{problem}");
                    }
                    ProvisionId => assert_eq!(problem.is_none(), mode == Mode::AnonymizedLinkable),
                    EventDate => assert_eq!(problem.is_some(), mode.is_anonymized()),
                    QuasiIdentifier | Sensitive | Clinical => assert!(problem.is_none()),
                }
            }
        }
    }

    #[test]
    fn individual_codes_cannot_even_be_pseudonymized() {
        let def = find("persons", "insurance_number").expect("in the catalog");
        let problem = rule_problem(def, &Action::Pseudonym, Mode::Pseudonymized).expect("refused");
        assert!(problem.contains("Rule 18 ②"), "{problem}");
        let def = find("persons", "person_id").expect("in the catalog");
        assert_eq!(rule_problem(def, &Action::Pseudonym, Mode::Anonymized), None);
    }
}
