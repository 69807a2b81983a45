//! The one interface the store's modules speak SQL through, over SQLite or PostgreSQL.
//!
//! A module opens no connection and names no driver. It gets a [`Tx`] from `Store::read` or `Store::write`
//! and calls [`Tx::execute`], [`Tx::query`], [`Tx::query_one`] or [`Tx::query_opt`] with SQL written once,
//! numbered placeholders (`?1`, `?2`, ...) and [`Value`] parameters made with [`params!`]; bulk inserts go
//! through [`Tx::insert_many`] (hundreds of rows per statement). Rows come back as [`Row`]s, read by
//! column name with typed getters whose errors name the operation and the column.
//!
//! What keeps one SQL text valid on both:
//! - placeholders are `?N`, rewritten to PostgreSQL's `$N` once per statement, outside quoted text;
//! - every computed column is named (`COALESCE(MAX(id), 0) + 1 AS next`): the backends name expressions
//!   differently, and rows are read by name;
//! - integers are `BIGINT` (PostgreSQL's `INTEGER` is 32 bits); PostgreSQL booleans (`EXISTS (...)`) are read
//!   as the integers 0 and 1, as SQLite returns them;
//! - ids are assigned inside the writing transaction (`COALESCE(MAX(id), 0) + 1`), which the write lock
//!   makes safe: no `last_insert_rowid`, no `AUTOINCREMENT`/`SERIAL`;
//! - upserts are `INSERT ... ON CONFLICT (key) DO UPDATE SET column = excluded.column`.
//!
//! Writers are serialized on both: SQLite's `BEGIN IMMEDIATE` takes the database's write lock; on PostgreSQL
//! every writing transaction first takes one transaction-scoped advisory lock, so a writer reads the audit
//! chain's head only once the previous writer has committed. Reads run in one snapshot (SQLite's deferred
//! transaction, PostgreSQL's `REPEATABLE READ READ ONLY`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{IsolationLevel, NoTls};
use rusqlite::TransactionBehavior;
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::config::DatabaseUrl;
use crate::error::{DbError, StoreError, db_error};

/// How long a writer waits for another process's write lock before giving up (both backends).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The session settings of every PostgreSQL connection: the same lock wait as SQLite's busy timeout, and
/// UTC for the one time the database itself writes (`schema_migrations.applied_at`).
const POSTGRES_SESSION: &str = "SET lock_timeout = '10s'; SET TIME ZONE 'UTC'";

/// Taken first by every PostgreSQL writing transaction (and migration), released at its end: the
/// counterpart of SQLite's `BEGIN IMMEDIATE`. The key is ASCII `kiban` read as a number. An advisory lock
/// needs no table privilege, so a least-privileged database role (INSERT and SELECT on the append-only
/// tables) can still take it.
const POSTGRES_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(461329555822)";

/// An open database connection of either kind.
pub(crate) enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Postgres>),
}

pub(crate) struct Postgres {
    client: postgres::Client,
    /// Prepared statements by their SQL as written (`?N` placeholders), so a loop of inserts is parsed once.
    statements: HashMap<String, postgres::Statement>,
}

/// Which SQL dialect a transaction speaks: for the few statements written per backend (migrations).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// What a transaction may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    /// One consistent snapshot; no lock on writers.
    Read,
    /// Holds the store's write lock from the first statement to commit.
    Write,
}

impl Backend {
    /// Opens (creating if needed) the SQLite database at `path` in WAL mode, with foreign keys enforced.
    pub(crate) fn open_sqlite(path: &Path) -> Result<Backend, StoreError> {
        let open_error = |source: rusqlite::Error| StoreError::Open {
            path: path.display().to_string(),
            source: source.into(),
        };
        let db = rusqlite::Connection::open(path).map_err(open_error)?;
        db.busy_timeout(LOCK_TIMEOUT).map_err(open_error)?;
        // Switching a new database to WAL can meet another process doing the same; SQLite does not call
        // the busy handler there (the lock upgrade could deadlock), so wait here, as long as for a writer.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
                Err(rusqlite::Error::SqliteFailure(failure, _))
                    if failure.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < LOCK_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => break result.map_err(open_error)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { path: path.display().to_string(), mode });
        }
        db.pragma_update(None, "foreign_keys", "ON").map_err(open_error)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(open_error)?;
        Ok(Backend::Sqlite(db))
    }

    /// Connects to the PostgreSQL database at `url`, which must exist and be UTF-8.
    pub(crate) fn open_postgres(url: &DatabaseUrl) -> Result<Backend, StoreError> {
        let mut config: postgres::Config = url.expose().parse().map_err(|_| StoreError::DatabaseUrl)?;
        if config.get_application_name().is_none() {
            config.application_name("kiban");
        }
        let open_error =
            |source: postgres::Error| StoreError::Open { path: url.redacted(), source: source.into() };
        let mut client = config.connect(NoTls).map_err(open_error)?;
        client.batch_execute(POSTGRES_SESSION).map_err(open_error)?;
        let encoding: String = client
            .query_one("SHOW server_encoding", &[])
            .and_then(|row| row.try_get(0))
            .map_err(open_error)?;
        if encoding != "UTF8" {
            return Err(StoreError::NotUtf8 { database: url.redacted(), encoding });
        }
        Ok(Backend::Postgres(Box::new(Postgres { client, statements: HashMap::new() })))
    }

    /// Begins a transaction; dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    pub(crate) fn begin(&mut self, access: Access) -> Result<Tx<'_>, DbError> {
        match self {
            Backend::Sqlite(db) => {
                let behavior = match access {
                    Access::Read => TransactionBehavior::Deferred,
                    Access::Write => TransactionBehavior::Immediate,
                };
                Ok(Tx(Inner::Sqlite(db.transaction_with_behavior(behavior)?)))
            }
            Backend::Postgres(postgres) => {
                let Postgres { client, statements } = &mut **postgres;
                let tx = match access {
                    Access::Read => client
                        .build_transaction()
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()?,
                    Access::Write => {
                        let mut tx = client.transaction()?;
                        tx.batch_execute(POSTGRES_WRITE_LOCK)?;
                        tx
                    }
                };
                Ok(Tx(Inner::Postgres { tx: RefCell::new(tx), statements: RefCell::new(statements) }))
            }
        }
    }
}

/// One open transaction. Every query of the store goes through it.
pub(crate) struct Tx<'c>(Inner<'c>);

enum Inner<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    // The postgres client wants `&mut` for every call; the store's modules pass `&Tx` around (one
    // transaction, one thread), so the PostgreSQL side sits in `RefCell`s, borrowed for one call at a time.
    Postgres {
        tx: RefCell<postgres::Transaction<'c>>,
        statements: RefCell<&'c mut HashMap<String, postgres::Statement>>,
    },
}

impl Tx<'_> {
    pub(crate) fn dialect(&self) -> Dialect {
        match self.0 {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub(crate) fn execute(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, StoreError> {
        self.execute_raw(sql, params).map_err(db_error(operation))
    }

    /// Runs one query and returns all its rows.
    pub(crate) fn query(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<Row>, StoreError> {
        self.query_raw(operation, sql, params).map_err(db_error(operation))
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(operation, sql, params)?.into_iter().next())
    }

    /// The next `id` of `table` (one past the largest): assigned inside the writing transaction, whose lock
    /// keeps two writers from taking the same one.
    pub(crate) fn next_id(&self, operation: &'static str, table: &str) -> Result<i64, StoreError> {
        self.query_one(
            operation,
            &format!("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM {table}"),
            params![],
        )?
        .i64("next")
    }

    /// The first row of a query that always returns one (an aggregate, `EXISTS`).
    pub(crate) fn query_one(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[Value],
    ) -> Result<Row, StoreError> {
        self.query_opt(operation, sql, params)?.ok_or(StoreError::Db { operation, source: DbError::NoRow })
    }

    /// Inserts `rows` into `table`'s `columns`, [`ROWS_PER_INSERT`] rows per statement (one round trip
    /// each on PostgreSQL), the rest one by one. Returns the number of rows inserted.
    pub(crate) fn insert_many<const N: usize>(
        &self,
        operation: &'static str,
        table: &str,
        columns: [&str; N],
        rows: impl IntoIterator<Item = [Value; N]>,
    ) -> Result<u64, StoreError> {
        let chunk_sql = insert_sql(table, &columns, ROWS_PER_INSERT);
        let mut chunk = Vec::with_capacity(N * ROWS_PER_INSERT);
        let mut inserted = 0;
        for row in rows {
            chunk.extend(row);
            if chunk.len() == N * ROWS_PER_INSERT {
                inserted += self.execute(operation, &chunk_sql, &chunk)?;
                chunk.clear();
            }
        }
        // Single-row statements for the remainder, so only two statements per table are ever prepared.
        let row_sql = insert_sql(table, &columns, 1);
        for row in chunk.chunks(N) {
            inserted += self.execute(operation, &row_sql, row)?;
        }
        Ok(inserted)
    }

    /// Runs several statements without parameters (a migration script). The SQL is passed as is: it may
    /// be dialect-specific.
    pub(crate) fn execute_batch(&self, operation: &'static str, sql: &str) -> Result<(), StoreError> {
        match &self.0 {
            Inner::Sqlite(tx) => tx.execute_batch(sql).map_err(db_error(operation)),
            Inner::Postgres { tx, .. } => tx.borrow_mut().batch_execute(sql).map_err(db_error(operation)),
        }
    }

    pub(crate) fn commit(self) -> Result<(), DbError> {
        match self.0 {
            Inner::Sqlite(tx) => tx.commit()?,
            Inner::Postgres { tx, .. } => tx.into_inner().commit()?,
        }
        Ok(())
    }

    fn execute_raw(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match &self.0 {
            Inner::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(sql)?;
                let changed = statement.execute(rusqlite::params_from_iter(params))?;
                Ok(u64::try_from(changed).unwrap_or(u64::MAX))
            }
            Inner::Postgres { tx, statements } => {
                let mut tx = tx.borrow_mut();
                let statement = prepare(&mut tx, &mut statements.borrow_mut(), sql)?;
                Ok(tx.execute(&statement, &postgres_params(params))?)
            }
        }
    }

    fn query_raw(&self, operation: &'static str, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match &self.0 {
            Inner::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(sql)?;
                let columns: Arc<[String]> =
                    statement.column_names().into_iter().map(str::to_owned).collect();
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                let mut read = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns.len())
                        .map(|index| sqlite_value(row.get_ref(index)?))
                        .collect::<Result<Vec<_>, DbError>>()?;
                    read.push(Row { operation, columns: Arc::clone(&columns), values });
                }
                Ok(read)
            }
            Inner::Postgres { tx, statements } => {
                let mut tx = tx.borrow_mut();
                let statement = prepare(&mut tx, &mut statements.borrow_mut(), sql)?;
                let columns: Arc<[String]> =
                    statement.columns().iter().map(|column| column.name().to_owned()).collect();
                tx.query(&statement, &postgres_params(params))?
                    .iter()
                    .map(|row| {
                        let values = (0..columns.len())
                            .map(|index| postgres_value(row, index))
                            .collect::<Result<Vec<_>, DbError>>()?;
                        Ok(Row { operation, columns: Arc::clone(&columns), values })
                    })
                    .collect()
            }
        }
    }
}

/// How many rows [`Tx::insert_many`] writes per statement: well under both backends' limits on parameters
/// (SQLite 32,766, PostgreSQL 65,535) for tables of up to 60 columns.
const ROWS_PER_INSERT: usize = 500;

/// `INSERT INTO table (a, b) VALUES (?1, ?2), (?3, ?4), ...` for `n_rows` rows.
fn insert_sql(table: &str, columns: &[&str], n_rows: usize) -> String {
    let values: Vec<String> = (0..n_rows)
        .map(|row| {
            let placeholders: Vec<String> =
                (1..=columns.len()).map(|column| format!("?{}", row * columns.len() + column)).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), values.join(", "))
}

/// The prepared form of `sql` on this connection, parsed on first use.
fn prepare(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    // Prepared statements belong to the connection, not the transaction: one prepared here outlives a
    // rollback.
    let statement = tx.prepare(&dollar_placeholders(sql))?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

/// Rewrites numbered placeholders `?N` to PostgreSQL's `$N`, leaving quoted strings and identifiers alone.
/// The store's SQL has no comments, so none are looked for.
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    let mut rewritten = String::with_capacity(sql.len());
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            // A doubled quote inside a string closes and reopens it, which comes out the same.
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) => {
                rewritten.push('$');
                continue;
            }
            None => {}
        }
        rewritten.push(c);
    }
    rewritten
}

/// A parameter or column value, the same on both backends.
#[derive(Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A value can be patient data: only its kind is shown.
        f.write_str(match self {
            Value::Null => "Null",
            Value::Int(_) => "Int(..)",
            Value::Real(_) => "Real(..)",
            Value::Text(_) => "Text(..)",
            Value::Bytes(_) => "Bytes(..)",
        })
    }
}

/// What can be a query parameter. [`params!`] calls it on each argument, by reference.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// Query parameters: `params![id, name, published_on]` is `&[Value]`, each argument taken by reference.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::db::ToValue::to_value(&$value)),*] as &[$crate::db::Value]
    };
}
pub(crate) use params;

/// One result row: values by column name.
pub(crate) struct Row {
    operation: &'static str,
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn value(&self, column: &'static str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|name| name == column)
            .and_then(|index| self.values.get(index))
            .ok_or(StoreError::Column { operation: self.operation, column, problem: "is not in the result" })
    }

    fn error(&self, column: &'static str, problem: &'static str) -> StoreError {
        StoreError::Column { operation: self.operation, column, problem }
    }

    pub(crate) fn opt_i64(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Int(value) => Ok(Some(*value)),
            _ => Err(self.error(column, "is not an integer")),
        }
    }

    pub(crate) fn i64(&self, column: &'static str) -> Result<i64, StoreError> {
        self.opt_i64(column)?.ok_or_else(|| self.error(column, "is NULL"))
    }

    #[allow(dead_code, reason = "part of the interface; no table stores a floating-point number yet")]
    pub(crate) fn opt_f64(&self, column: &'static str) -> Result<Option<f64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Real(value) => Ok(Some(*value)),
            _ => Err(self.error(column, "is not a floating-point number")),
        }
    }

    pub(crate) fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(value) => Ok(Some(value.clone())),
            _ => Err(self.error(column, "is not text")),
        }
    }

    pub(crate) fn text(&self, column: &'static str) -> Result<String, StoreError> {
        self.opt_text(column)?.ok_or_else(|| self.error(column, "is NULL"))
    }

    #[allow(dead_code, reason = "part of the interface; no table stores bytes yet (wrapped keys will)")]
    pub(crate) fn opt_bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Bytes(value) => Ok(Some(value.clone())),
            _ => Err(self.error(column, "is not bytes")),
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(value) => ValueRef::Integer(*value),
            Value::Real(value) => ValueRef::Real(*value),
            Value::Text(value) => ValueRef::Text(value.as_bytes()),
            Value::Bytes(value) => ValueRef::Blob(value),
        }))
    }
}

fn sqlite_value(value: ValueRef<'_>) -> Result<Value, DbError> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(value) => Value::Int(value),
        ValueRef::Real(value) => Value::Real(value),
        ValueRef::Text(text) => {
            Value::Text(std::str::from_utf8(text).map_err(rusqlite::Error::Utf8Error)?.to_owned())
        }
        ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
    })
}

fn postgres_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|value| value as &(dyn ToSql + Sync)).collect()
}

/// Reads column `index` of a PostgreSQL row by its type: integers of any width and booleans as
/// [`Value::Int`], text types as [`Value::Text`], `bytea` as [`Value::Bytes`].
fn postgres_value(row: &postgres::Row, index: usize) -> Result<Value, DbError> {
    let ty = row.columns().get(index).map_or(&Type::UNKNOWN, postgres::Column::type_);
    let value = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(index)?.map(Value::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(index)?.map(|value| Value::Int(value.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(index)?.map(|value| Value::Int(value.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(index)?.map(|value| Value::Int(value.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(index)?.map(Value::Real)
    } else if *ty == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(index)?.map(|value| Value::Real(value.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Bytes)
    } else if <String as postgres::types::FromSql>::accepts(ty) {
        row.try_get::<_, Option<String>>(index)?.map(Value::Text)
    } else {
        let column = row.columns().get(index).map_or_else(String::new, |column| column.name().to_owned());
        return Err(DbError::UnsupportedType { column, type_name: ty.name().to_owned() });
    };
    Ok(value.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // The server infers each parameter's type from the statement; a value goes out in that type or
        // not at all. Error messages name the types, never the value.
        let mismatch = |what: &str| format!("{what} cannot be sent as {}", ty.name()).into();
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) if *ty == Type::INT8 => value.to_sql(ty, out),
            Value::Int(value) if *ty == Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
            Value::Int(value) if *ty == Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
            Value::Int(value) if *ty == Type::BOOL => (*value != 0).to_sql(ty, out),
            Value::Int(_) => Err(mismatch("an integer")),
            Value::Real(value) if *ty == Type::FLOAT8 => value.to_sql(ty, out),
            Value::Real(_) => Err(mismatch("a floating-point number")),
            Value::Text(value) if <&str as ToSql>::accepts(ty) => value.as_str().to_sql(ty, out),
            Value::Text(_) => Err(mismatch("text")),
            Value::Bytes(value) if *ty == Type::BYTEA => value.as_slice().to_sql(ty, out),
            Value::Bytes(_) => Err(mismatch("bytes")),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
