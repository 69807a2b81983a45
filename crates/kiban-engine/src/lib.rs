//! The anonymization engine: generalization hierarchies, k-anonymity search with suppression, and the
//! processing of linked records into an [`AnonymizedDataset`] with keyed pseudonyms and per-person date
//! shifting.
//!
//! Pure: no I/O, no clock, no RNG. Keys and the reference date are passed in.
//! Invariant: [`AnonymizedDataset`] can be built only here (see `dataset.rs`).

pub mod codes;
mod dataset;
pub mod hierarchy;
pub mod kanon;
pub mod kmanon;
pub mod policy;
mod process;
pub mod risk;

pub use dataset::{
    AnonymizedDataset, AttackerModel, ColumnTreatment, KAnonymitySummary, Knowledge, PeculiarDecision,
    ProcessingSummary, QuasiIdentifierSummary, TableUtility,
};
pub use policy::{Mode, ReleasePolicy};
pub use process::{
    LinkedPerson, LinkedRecords, ProcessError, ProcessInputs, ReleaseKeys, age_at, age_label, code_at_level,
    process, process_records,
};
