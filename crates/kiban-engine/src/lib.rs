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
    AnonymizedDataset, ColumnTreatment, KAnonymitySummary, PeculiarDecision, ProcessingSummary,
    QuasiIdentifierSummary,
};
pub use policy::{Mode, ReleasePolicy};
pub use process::{
    LinkedPerson, LinkedRecords, ProcessError, ProcessInputs, ReleaseKeys, age_at, age_label, process,
    process_records,
};
