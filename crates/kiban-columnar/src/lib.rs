//! Column-oriented tables and their file encodings: Apache Parquet (at rest and in releases) and CSV.
//!
//! [`Table`] is the one in-memory shape every stage hands to storage and release: named, typed, nullable
//! columns of equal length. The vault stores each batch's [`kiban_model::PatientRecord`]s as a set of
//! tables (one per record kind); a release is a set of tables built by the engine.
//!
//! Main functions: [`write_parquet`]/[`read_parquet`] (and their in-memory forms [`encode_parquet`]/
//! [`decode_parquet`]), [`write_csv`], and [`records_to_tables`]/[`tables_to_records`], the vault's
//! encoding of records (tables listed in [`RECORD_TABLES`]), and [`CompactRecords`], many records held in
//! little memory and decoded from those tables chunk by chunk ([`decode_parquet_chunks`]), which a release
//! reads the vault into. Parquet output is deterministic: the same table gives byte-identical files.
//! Errors name the file, table, column and row, never a value.
//!
//! Why Parquet: it is what analysts' tools (pandas, polars, R arrow, DuckDB, Spark) read natively, it is
//! columnar and compressed, and its Rust implementation is the Apache project's own. We depend on the
//! `arrow-array`/`parquet` crates directly rather than the `arrow` umbrella to keep build time down.

mod compact;
mod files;
mod records;
mod table;

pub use compact::{
    BatchDecoder, CompactRecords, DiagnosisRef, EncounterRef, EventKind, EventRef, LabRef, LabValueRef,
    PrescriptionRef, ProcedureRef,
};
pub use files::{
    CsvWriter, ParquetWriter, decode_parquet, decode_parquet_chunks, encode_parquet, read_parquet, write_csv,
    write_parquet,
};
pub use records::{RECORD_TABLES, records_to_tables, tables_to_records};
pub use table::{Column, ColumnData, Table, TableError};

#[cfg(test)]
mod tests;
