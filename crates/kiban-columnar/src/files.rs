//! Parquet and CSV encodings of a [`Table`].
//!
//! Parquet output is deterministic: the same table always gives byte-identical bytes (no timestamps,
//! a fixed `created_by`, fixed row-group limits, snappy compression), so a release manifest's checksums can be
//! reproduced. Encoding to and decoding from memory ([`encode_parquet`], [`decode_parquet`]) is the
//! primitive; the file functions wrap it, so callers that encrypt (the vault) can sit in between.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use kiban_model::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::table::{Column, ColumnData, Table, TableError};

/// The `created_by` written into every Parquet footer. Fixed so output does not depend on who wrote it.
const CREATED_BY: &str = concat!("kiban-columnar version ", env!("CARGO_PKG_VERSION"));

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date")
}

fn date_to_days(date: NaiveDate) -> i32 {
    // chrono's date range (about ±262,000 years) fits in i32 days.
    i32::try_from(date.signed_duration_since(epoch()).num_days()).expect("chrono dates fit in i32 days")
}

fn days_to_date(days: i32) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
}

fn arrow_column(data: &ColumnData) -> (DataType, ArrayRef) {
    match data {
        ColumnData::Utf8(values) => {
            (DataType::Utf8, Arc::new(values.iter().cloned().collect::<StringArray>()))
        }
        ColumnData::Int64(values) => (DataType::Int64, Arc::new(Int64Array::from(values.clone()))),
        ColumnData::Float64(values) => (DataType::Float64, Arc::new(Float64Array::from(values.clone()))),
        ColumnData::Bool(values) => (DataType::Boolean, Arc::new(BooleanArray::from(values.clone()))),
        ColumnData::Date(values) => {
            let days: Vec<Option<i32>> = values.iter().map(|value| value.map(date_to_days)).collect();
            (DataType::Date32, Arc::new(Date32Array::from(days)))
        }
    }
}

fn file_error(path: &str, message: impl Into<String>) -> TableError {
    TableError::File { path: path.to_owned(), message: message.into() }
}

/// Encodes `table` as a Parquet file in memory. `label` names the file in errors.
///
/// # Errors
/// [`TableError::File`] when the table has no columns or the Parquet writer fails.
pub fn encode_parquet(table: &Table, label: &str) -> Result<Vec<u8>, TableError> {
    let mut writer = ParquetWriter::new(Vec::new(), table, label)?;
    writer.write(table)?;
    writer.finish()
}

/// Writes a table to Parquet in chunks (tables with the same columns), so a large table never has to be
/// in memory whole. The bytes depend only on the chunks' content and boundaries.
pub struct ParquetWriter<W: std::io::Write + Send> {
    writer: ArrowWriter<W>,
    schema: Arc<Schema>,
    label: String,
}

impl<W: std::io::Write + Send> ParquetWriter<W> {
    /// Starts a file with the columns of `shape` (its rows are not written). `label` names it in errors.
    ///
    /// # Errors
    /// [`TableError::File`] when the table has no columns or the writer cannot start.
    pub fn new(sink: W, shape: &Table, label: &str) -> Result<ParquetWriter<W>, TableError> {
        if shape.columns().is_empty() {
            return Err(file_error(
                label,
                format!("table {} has no columns; Parquet needs at least one", shape.name()),
            ));
        }
        let fields: Vec<Field> = shape
            .columns()
            .iter()
            .map(|column| Field::new(&column.name, arrow_column(&column.data).0, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(CREATED_BY.to_owned())
            .build();
        let writer = ArrowWriter::try_new(sink, schema.clone(), Some(properties))
            .map_err(|err| file_error(label, format!("starting the Parquet writer: {err}")))?;
        Ok(ParquetWriter { writer, schema, label: label.to_owned() })
    }

    /// Appends the rows of `chunk`, which must have the columns the writer was started with.
    ///
    /// # Errors
    /// [`TableError::File`] when the columns differ or the writer fails.
    pub fn write(&mut self, chunk: &Table) -> Result<(), TableError> {
        let arrays: Vec<ArrayRef> =
            chunk.columns().iter().map(|column| arrow_column(&column.data).1).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|err| file_error(&self.label, format!("building the Arrow batch: {err}")))?;
        self.writer.write(&batch).map_err(|err| file_error(&self.label, format!("writing Parquet: {err}")))
    }

    /// Writes the footer and returns the sink.
    ///
    /// # Errors
    /// [`TableError::File`] when the writer fails.
    pub fn finish(self) -> Result<W, TableError> {
        let label = self.label;
        self.writer.into_inner().map_err(|err| file_error(&label, format!("finishing Parquet: {err}")))
    }
}

/// Decodes a Parquet file held in memory into a table called `name`. `label` names the file in errors.
///
/// Accepted column types: strings (`Utf8`, `LargeUtf8`), `Int64`, `Int32` (read as int64), `Float64`,
/// `Boolean` and `Date32`.
///
/// # Errors
/// [`TableError::File`] for unreadable Parquet, [`TableError::UnsupportedColumnType`] for other column
/// types, and the [`Table::new`] errors for bad names.
pub fn decode_parquet(bytes: Vec<u8>, name: &str, label: &str) -> Result<Table, TableError> {
    let (reader, mut columns) = open_parquet(bytes, label)?;
    for batch in reader {
        let batch = batch.map_err(|err| file_error(label, format!("reading Parquet: {err}")))?;
        append_batch(&mut columns, &batch, label)?;
    }
    Table::new(name, columns)
}

/// Decodes a Parquet file held in memory a chunk of rows at a time (the reader's batches, about a thousand
/// rows), handing each to `visit` as a table called `name`, so that a large file is never decoded whole.
/// `visit` is called at least once: an empty file gives one empty chunk with the file's columns.
///
/// # Errors
/// As [`decode_parquet`], and whatever `visit` returns.
pub fn decode_parquet_chunks(
    bytes: Vec<u8>,
    name: &str,
    label: &str,
    mut visit: impl FnMut(&Table) -> Result<(), TableError>,
) -> Result<(), TableError> {
    let (reader, empty) = open_parquet(bytes, label)?;
    let mut visited = false;
    for batch in reader {
        let batch = batch.map_err(|err| file_error(label, format!("reading Parquet: {err}")))?;
        let mut columns = empty.clone();
        append_batch(&mut columns, &batch, label)?;
        visit(&Table::new(name, columns)?)?;
        visited = true;
    }
    if !visited {
        visit(&Table::new(name, empty)?)?;
    }
    Ok(())
}

/// The file's record-batch reader and its columns, empty.
fn open_parquet(bytes: Vec<u8>, label: &str) -> Result<(ParquetRecordBatchReader, Vec<Column>), TableError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
        .map_err(|err| file_error(label, format!("reading the Parquet footer: {err}")))?;
    let schema = builder.schema().clone();
    let mut columns: Vec<Column> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let data = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => ColumnData::Utf8(Vec::new()),
            DataType::Int64 | DataType::Int32 => ColumnData::Int64(Vec::new()),
            DataType::Float64 => ColumnData::Float64(Vec::new()),
            DataType::Boolean => ColumnData::Bool(Vec::new()),
            DataType::Date32 => ColumnData::Date(Vec::new()),
            other => {
                return Err(TableError::UnsupportedColumnType {
                    path: label.to_owned(),
                    column: field.name().clone(),
                    data_type: other.to_string(),
                });
            }
        };
        columns.push(Column { name: field.name().clone(), data });
    }
    let reader = builder.build().map_err(|err| file_error(label, format!("reading Parquet: {err}")))?;
    Ok((reader, columns))
}

fn append_batch(columns: &mut [Column], batch: &RecordBatch, label: &str) -> Result<(), TableError> {
    for (column, array) in columns.iter_mut().zip(batch.columns()) {
        append(&mut column.data, array.as_ref()).ok_or_else(|| {
            file_error(label, format!("column {}: unexpected Arrow array type", column.name))
        })?;
    }
    Ok(())
}

fn append(data: &mut ColumnData, array: &dyn Array) -> Option<()> {
    match data {
        ColumnData::Utf8(values) => {
            if let Some(strings) = array.as_string_opt::<i32>() {
                values.extend(strings.iter().map(|value| value.map(str::to_owned)));
            } else {
                values.extend(array.as_string_opt::<i64>()?.iter().map(|value| value.map(str::to_owned)));
            }
        }
        ColumnData::Int64(values) => {
            if let Some(ints) = array.as_primitive_opt::<Int64Type>() {
                values.extend(ints.iter());
            } else {
                values
                    .extend(array.as_primitive_opt::<Int32Type>()?.iter().map(|value| value.map(i64::from)));
            }
        }
        ColumnData::Float64(values) => values.extend(array.as_primitive_opt::<Float64Type>()?.iter()),
        ColumnData::Bool(values) => values.extend(array.as_boolean_opt()?.iter()),
        ColumnData::Date(values) => {
            for days in array.as_primitive_opt::<Date32Type>()?.iter() {
                values.push(match days {
                    Some(days) => Some(days_to_date(days)?),
                    None => None,
                });
            }
        }
    }
    Some(())
}

/// Writes `table` to `path` as Parquet (snappy, deterministic).
///
/// # Errors
/// [`TableError::File`] naming `path` when encoding or writing fails.
pub fn write_parquet(table: &Table, path: &Path) -> Result<(), TableError> {
    let label = path.display().to_string();
    let bytes = encode_parquet(table, &label)?;
    fs::write(path, bytes).map_err(|err| file_error(&label, format!("writing: {err}")))
}

/// Reads the Parquet file at `path` into a table called `name`.
///
/// # Errors
/// As [`decode_parquet`], plus [`TableError::File`] when the file cannot be read.
pub fn read_parquet(path: &Path, name: &str) -> Result<Table, TableError> {
    let label = path.display().to_string();
    let bytes = fs::read(path).map_err(|err| file_error(&label, format!("reading: {err}")))?;
    decode_parquet(bytes, name, &label)
}

/// Writes `table` to `path` as CSV: a header row of column names, then one row per table row.
///
/// Nulls are empty fields (so a null and an empty string look the same: use Parquet when that matters),
/// dates are ISO 8601 (`2024-01-31`), booleans `true`/`false`.
///
/// # Errors
/// [`TableError::File`] naming `path` when the file cannot be written.
pub fn write_csv(table: &Table, path: &Path) -> Result<(), TableError> {
    let mut writer = CsvWriter::create(path, table)?;
    writer.write(table)?;
    writer.finish().map(drop)
}

/// Writes a table as CSV in chunks: the header once, then each chunk's rows. Into a file
/// ([`CsvWriter::create`]) or any sink ([`CsvWriter::from_writer`]).
pub struct CsvWriter<W: std::io::Write = fs::File> {
    writer: csv::Writer<W>,
    label: String,
    rows: usize,
}

impl CsvWriter<fs::File> {
    /// Creates the file and writes the header of `shape`'s columns.
    ///
    /// # Errors
    /// [`TableError::File`] when the file cannot be created or written.
    pub fn create(path: &Path, shape: &Table) -> Result<CsvWriter<fs::File>, TableError> {
        let label = path.display().to_string();
        let file = fs::File::create(path).map_err(|err| file_error(&label, format!("creating: {err}")))?;
        CsvWriter::from_writer(file, shape, &label)
    }
}

impl<W: std::io::Write> CsvWriter<W> {
    /// Writes the header of `shape`'s columns into `sink`; `label` names the sink in errors.
    ///
    /// # Errors
    /// [`TableError::File`] when the header cannot be written.
    pub fn from_writer(sink: W, shape: &Table, label: &str) -> Result<CsvWriter<W>, TableError> {
        let mut writer = csv::Writer::from_writer(sink);
        let header: Vec<&str> = shape.columns().iter().map(|column| column.name.as_str()).collect();
        writer
            .write_record(&header)
            .map_err(|err| file_error(label, format!("writing: {}", csv_error(&err))))?;
        Ok(CsvWriter { writer, label: label.to_owned(), rows: 0 })
    }

    /// Appends the rows of `chunk`.
    ///
    /// # Errors
    /// [`TableError::File`] naming the row (never its content) that could not be written.
    pub fn write(&mut self, chunk: &Table) -> Result<(), TableError> {
        for row in 0..chunk.n_rows() {
            let fields = chunk.columns().iter().map(|column| column.data.text_at(row).unwrap_or_default());
            self.rows += 1;
            self.writer.write_record(fields).map_err(|err| {
                file_error(&self.label, format!("writing row {}: {}", self.rows, csv_error(&err)))
            })?;
        }
        Ok(())
    }

    /// Flushes what is buffered and returns the sink.
    ///
    /// # Errors
    /// [`TableError::File`] when the flush fails.
    pub fn finish(self) -> Result<W, TableError> {
        let label = self.label;
        self.writer.into_inner().map_err(|err| file_error(&label, format!("writing: {}", err.error())))
    }
}

/// The CSV error without any field content (csv's messages for UTF-8 problems can quote data).
fn csv_error(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "CSV encoding failed".to_owned(),
    }
}
