//! The in-memory table type: named, typed, nullable columns of equal length.

use std::fmt;

use kiban_model::NaiveDate;

/// The values of one column. Every variant is nullable.
#[derive(Clone, PartialEq)]
pub enum ColumnData {
    Utf8(Vec<Option<String>>),
    Int64(Vec<Option<i64>>),
    Float64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<NaiveDate>>),
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Utf8(values) => values.len(),
            ColumnData::Int64(values) => values.len(),
            ColumnData::Float64(values) => values.len(),
            ColumnData::Bool(values) => values.len(),
            ColumnData::Date(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the type, as written in manifests and reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            ColumnData::Utf8(_) => "string",
            ColumnData::Int64(_) => "int64",
            ColumnData::Float64(_) => "float64",
            ColumnData::Bool(_) => "bool",
            ColumnData::Date(_) => "date",
        }
    }

    /// The value at `row` as text (dates ISO 8601, `None` for null). Used by CSV writers and scanners.
    pub fn text_at(&self, row: usize) -> Option<String> {
        match self {
            ColumnData::Utf8(values) => values[row].clone(),
            ColumnData::Int64(values) => values[row].map(|v| v.to_string()),
            ColumnData::Float64(values) => values[row].map(|v| v.to_string()),
            ColumnData::Bool(values) => values[row].map(|v| v.to_string()),
            ColumnData::Date(values) => values[row].map(|v| v.format("%Y-%m-%d").to_string()),
        }
    }

    /// Keeps the rows whose `keep` flag is set.
    pub fn filter(&self, keep: &[bool]) -> ColumnData {
        fn pick<T: Clone>(values: &[T], keep: &[bool]) -> Vec<T> {
            values.iter().zip(keep).filter(|(_, keep)| **keep).map(|(value, _)| value.clone()).collect()
        }
        match self {
            ColumnData::Utf8(values) => ColumnData::Utf8(pick(values, keep)),
            ColumnData::Int64(values) => ColumnData::Int64(pick(values, keep)),
            ColumnData::Float64(values) => ColumnData::Float64(pick(values, keep)),
            ColumnData::Bool(values) => ColumnData::Bool(pick(values, keep)),
            ColumnData::Date(values) => ColumnData::Date(pick(values, keep)),
        }
    }
}

/// One named column.
#[derive(Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

impl Column {
    pub fn new(name: &str, data: ColumnData) -> Column {
        Column { name: name.to_owned(), data }
    }
}

/// A named table. Invariant: every column has `n_rows` values and column names are unique.
#[derive(Clone, PartialEq)]
pub struct Table {
    name: String,
    n_rows: usize,
    columns: Vec<Column>,
}

/// Why a table could not be built or encoded. Messages name columns and positions, never values.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("table {table}: column {column} has {actual} rows, expected {expected}")]
    RaggedColumn { table: String, column: String, expected: usize, actual: usize },
    #[error("table {table}: column name {column} appears twice")]
    DuplicateColumn { table: String, column: String },
    #[error("table {table}: invalid table or column name {name:?}: use ASCII letters, digits and '_'")]
    InvalidName { table: String, name: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: column {column} has type {data_type}, which kiban does not read")]
    UnsupportedColumnType { path: String, column: String, data_type: String },
    #[error("table {table} is missing")]
    MissingTable { table: String },
    #[error("table {table}: column {column} is missing")]
    MissingColumn { table: String, column: String },
    #[error("table {table}: column {column} has type {actual}, expected {expected}")]
    ColumnType { table: String, column: String, expected: &'static str, actual: &'static str },
    #[error("table {table}: row {row}, column {column}: {reason}")]
    InvalidValue { table: String, column: String, row: usize, reason: &'static str },
    #[error("more than 4,294,967,294 {what}: too many to hold in memory")]
    Capacity { what: &'static str },
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Table {
    /// Builds a table, checking that the columns have equal length and unique, plain names.
    ///
    /// # Errors
    /// [`TableError::RaggedColumn`], [`TableError::DuplicateColumn`] or [`TableError::InvalidName`].
    pub fn new(name: &str, columns: Vec<Column>) -> Result<Table, TableError> {
        if !valid_name(name) {
            return Err(TableError::InvalidName { table: name.to_owned(), name: name.to_owned() });
        }
        let n_rows = columns.first().map_or(0, |column| column.data.len());
        for (idx, column) in columns.iter().enumerate() {
            if !valid_name(&column.name) {
                return Err(TableError::InvalidName { table: name.to_owned(), name: column.name.clone() });
            }
            if column.data.len() != n_rows {
                return Err(TableError::RaggedColumn {
                    table: name.to_owned(),
                    column: column.name.clone(),
                    expected: n_rows,
                    actual: column.data.len(),
                });
            }
            if columns[..idx].iter().any(|other| other.name == column.name) {
                return Err(TableError::DuplicateColumn {
                    table: name.to_owned(),
                    column: column.name.clone(),
                });
            }
        }
        Ok(Table { name: name.to_owned(), n_rows, columns })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Keeps the rows whose `keep` flag is set.
    ///
    /// # Panics
    /// When `keep` does not have one flag per row (a caller bug, not an input problem).
    pub fn filter_rows(&self, keep: &[bool]) -> Table {
        assert_eq!(keep.len(), self.n_rows, "filter_rows needs one flag per row");
        let columns = self
            .columns
            .iter()
            .map(|column| Column { name: column.name.clone(), data: column.data.filter(keep) })
            .collect();
        let n_rows = keep.iter().filter(|keep| **keep).count();
        Table { name: self.name.clone(), n_rows, columns }
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tables hold patient data: show the shape only.
        let columns: Vec<(&str, &str)> =
            self.columns.iter().map(|column| (column.name.as_str(), column.data.type_name())).collect();
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("n_rows", &self.n_rows)
            .field("columns", &columns)
            .finish()
    }
}

impl fmt::Debug for ColumnData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ColumnData({}, {} rows)", self.type_name(), self.len())
    }
}

impl fmt::Debug for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Column({}: {:?})", self.name, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_and_duplicate_columns() {
        let a = Column::new("a", ColumnData::Int64(vec![Some(1), None]));
        let b = Column::new("b", ColumnData::Utf8(vec![Some("x".to_owned())]));
        assert!(matches!(Table::new("t", vec![a.clone(), b]), Err(TableError::RaggedColumn { .. })));
        assert!(matches!(
            Table::new("t", vec![a.clone(), a.clone()]),
            Err(TableError::DuplicateColumn { .. })
        ));
        assert!(matches!(Table::new("t t", vec![a.clone()]), Err(TableError::InvalidName { .. })));
        let table = Table::new("t", vec![a]).unwrap();
        assert_eq!(
            table.filter_rows(&[false, true]).column("a").unwrap().data,
            ColumnData::Int64(vec![None])
        );
    }
}
