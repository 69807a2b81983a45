//! Versioned schema migrations, embedded in the binary and applied in order, each in its own transaction.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{StoreError, db_error};

/// One schema version: portable SQL plus the SQLite-specific part.
struct Migration {
    version: i64,
    name: &'static str,
    portable: &'static str,
    sqlite: &'static str,
}

// Invariant: versions are 1, 2, 3, ... in order. A released migration never changes; fix forward.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        portable: include_str!("../migrations/0001_init.sql"),
        sqlite: include_str!("../migrations/sqlite/0001_append_only.sql"),
    },
    Migration {
        version: 2,
        name: "optout_linkage_material",
        portable: include_str!("../migrations/0002_optout_linkage_material.sql"),
        sqlite: include_str!("../migrations/sqlite/0002_append_only.sql"),
    },
];

const CREATE_SCHEMA_MIGRATIONS: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// Applies every migration the database lacks. Safe to run again, and safe when two processes open the
/// same store at once: each migration runs in `BEGIN IMMEDIATE` and re-checks whether it was applied.
pub(crate) fn apply(db: &mut Connection) -> Result<(), StoreError> {
    db.execute(CREATE_SCHEMA_MIGRATIONS, []).map_err(db_error("creating schema_migrations"))?;
    let known = MIGRATIONS.last().map_or(0, |migration| migration.version);
    let found = applied_versions(db)?.last().copied().unwrap_or(0);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for migration in MIGRATIONS {
        let error =
            |source| StoreError::Migration { version: migration.version, name: migration.name, source };
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(error)?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
                [migration.version],
                |row| row.get(0),
            )
            .map_err(error)?;
        if applied {
            continue;
        }
        tx.execute_batch(migration.portable).map_err(error)?;
        tx.execute_batch(migration.sqlite).map_err(error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, CURRENT_TIMESTAMP)",
            [migration.version],
        )
        .map_err(error)?;
        tx.commit().map_err(error)?;
    }
    Ok(())
}

pub(crate) fn applied_versions(db: &Connection) -> Result<Vec<i64>, StoreError> {
    let error = db_error("reading schema_migrations");
    let mut statement =
        db.prepare("SELECT version FROM schema_migrations ORDER BY version").map_err(&error)?;
    let versions = statement.query_map([], |row| row.get(0)).map_err(&error)?;
    versions.collect::<Result<Vec<i64>, _>>().map_err(&error)
}
