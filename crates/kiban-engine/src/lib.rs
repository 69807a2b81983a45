//! The anonymization engine: generalization hierarchies, k-anonymity search with suppression,
//! keyed pseudonyms and per-person date shifting, and the processing of linked records into a release.

pub mod hierarchy;
pub mod kanon;
