//! Versioned schema migrations, embedded in the binary and applied in order, each in its own transaction.
//! The version numbers are the same on both backends: each migration is portable SQL plus a part written
//! for each backend (the append-only triggers).

use crate::db::{Access, Backend, Dialect, Tx, params};
use crate::error::{DbError, StoreError, db_error};

/// One schema version: portable SQL plus the SQLite-specific and PostgreSQL-specific parts.
struct Migration {
    version: i64,
    name: &'static str,
    portable: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

// Invariant: versions are 1, 2, 3, ... in order. A released migration never changes; fix forward.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        portable: include_str!("../migrations/0001_init.sql"),
        sqlite: include_str!("../migrations/sqlite/0001_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0001_append_only.sql"),
    },
    Migration {
        version: 2,
        name: "optout_linkage_material",
        portable: include_str!("../migrations/0002_optout_linkage_material.sql"),
        sqlite: include_str!("../migrations/sqlite/0002_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0002_append_only.sql"),
    },
    Migration {
        version: 3,
        name: "security",
        portable: include_str!("../migrations/0003_security.sql"),
        sqlite: include_str!("../migrations/sqlite/0003_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0003_append_only.sql"),
    },
    Migration {
        version: 4,
        name: "release_lifecycle",
        portable: include_str!("../migrations/0004_release_lifecycle.sql"),
        sqlite: include_str!("../migrations/sqlite/0004_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0004_append_only.sql"),
    },
    Migration {
        version: 5,
        name: "zones",
        portable: include_str!("../migrations/0005_zones.sql"),
        sqlite: include_str!("../migrations/sqlite/0005_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0005_append_only.sql"),
    },
];

const CREATE_SCHEMA_MIGRATIONS: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// Applies every migration the database lacks. Safe to run again, and safe when two processes open the
/// same store at once: each migration runs under the store's write lock and re-checks whether it was
/// applied.
pub(crate) fn apply(db: &mut Backend) -> Result<(), StoreError> {
    const OPERATION: &str = "creating schema_migrations";
    let tx = db.begin(Access::Write).map_err(db_error(OPERATION))?;
    tx.execute_batch(OPERATION, CREATE_SCHEMA_MIGRATIONS)?;
    tx.commit().map_err(db_error(OPERATION))?;

    let known = MIGRATIONS.last().map_or(0, |migration| migration.version);
    let found = {
        let tx = db.begin(Access::Read).map_err(db_error("reading schema_migrations"))?;
        applied_versions(&tx)?.last().copied().unwrap_or(0)
    };
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for migration in MIGRATIONS {
        let (version, name) = (migration.version, migration.name);
        let migration_error = |source: DbError| StoreError::Migration { version, name, source };
        let tx = db.begin(Access::Write).map_err(migration_error)?;
        apply_one(&tx, migration).map_err(|error| match error {
            StoreError::Db { source, .. } => migration_error(source),
            other => other,
        })?;
        tx.commit().map_err(migration_error)?;
    }
    Ok(())
}

/// Applies `migration` in `tx` unless it is already there.
fn apply_one(tx: &Tx<'_>, migration: &Migration) -> Result<(), StoreError> {
    const OPERATION: &str = "applying a schema migration";
    let applied = tx
        .query_one(
            OPERATION,
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1) AS applied",
            params![migration.version],
        )?
        .i64("applied")?;
    if applied != 0 {
        return Ok(());
    }
    tx.execute_batch(OPERATION, migration.portable)?;
    tx.execute_batch(
        OPERATION,
        match tx.dialect() {
            Dialect::Sqlite => migration.sqlite,
            Dialect::Postgres => migration.postgres,
        },
    )?;
    tx.execute(
        OPERATION,
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, CURRENT_TIMESTAMP)",
        params![migration.version],
    )?;
    Ok(())
}

pub(crate) fn applied_versions(tx: &Tx<'_>) -> Result<Vec<i64>, StoreError> {
    tx.query(
        "reading schema_migrations",
        "SELECT version FROM schema_migrations ORDER BY version",
        params![],
    )?
    .iter()
    .map(|row| row.i64("version"))
    .collect()
}
