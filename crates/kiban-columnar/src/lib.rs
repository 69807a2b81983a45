//! Column-oriented tables and their file encodings: Apache Parquet (at rest and in releases) and CSV.
//!
//! [`Table`] is the one in-memory shape every stage hands to storage and release: named, typed, nullable
//! columns of equal length. The vault stores each batch's [`kiban_model::PatientRecord`]s as a set of
//! tables (one per record kind); a release is a set of tables built by the engine.
//!
//! Why Parquet: it is what analysts' tools (pandas, polars, R arrow, DuckDB, Spark) read natively, it is
//! columnar and compressed, and its Rust implementation is the Apache project's own. We depend on the
//! `arrow-array`/`parquet` crates directly rather than the `arrow` umbrella to keep build time down.

mod table;
pub use table::{Column, ColumnData, Table, TableError};
