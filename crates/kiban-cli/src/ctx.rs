//! The context every command runs in: the store, the acting user, the clock.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use kiban_audit::{AuditEvent, Outcome};
use kiban_store::{DatabaseConfig, Store, StoreKeys};

/// What a command needs besides its arguments.
pub struct Ctx {
    pub data_dir: PathBuf,
    pub store: Store,
    pub actor: String,
    pub progress: bool,
    /// A fixed time for tests (password expiry, session expiry, allowed hours); `None` reads the clock.
    pub clock: Option<DateTime<Utc>>,
    /// Where `kiban login` keeps the session token; `None` is the default place (see
    /// `security::session_file`).
    pub session_file: Option<PathBuf>,
}

impl Ctx {
    /// Opens (creating if needed) the project directory and its store, on SQLite.
    ///
    /// # Errors
    /// When the directory or database cannot be created or migrated.
    pub fn open(data_dir: &Path, actor: &str, progress: bool) -> Result<Ctx> {
        Ctx::open_with(data_dir, &DatabaseConfig::Sqlite, actor, progress)
    }

    /// Opens (creating if needed) the project directory and its store, with the database `database` names.
    ///
    /// # Errors
    /// When the directory or database cannot be created, reached or migrated.
    pub fn open_with(data_dir: &Path, database: &DatabaseConfig, actor: &str, progress: bool) -> Result<Ctx> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the project directory {}", data_dir.display()))?;
        let mut store = Store::open_with(data_dir, database)
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let master = crate::keys::master_key(data_dir)?;
        let keystore_dir = crate::keys::keystore_dir(data_dir);
        store.set_keys(
            StoreKeys::open(&master, &keystore_dir)
                .with_context(|| format!("opening the key store {}", keystore_dir.display()))?,
        );
        Ok(Ctx {
            data_dir: data_dir.to_owned(),
            store,
            actor: actor.to_owned(),
            progress,
            clock: None,
            session_file: None,
        })
    }

    /// The current time: the one place commands read the clock (the operating system's, which a
    /// certified producer keeps synchronized with a trusted time source; tests fix it with `clock`).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    /// An audit event by this context's actor, now.
    pub fn event(&self, action: &str, object: &str, outcome: Outcome, detail: String) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            actor: self.actor.clone(),
            action: action.to_owned(),
            object: object.to_owned(),
            outcome,
            detail,
        }
    }

    /// An audit event by `actor` (a user acting before their session exists: init, enroll, login), now.
    pub fn event_by(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        outcome: Outcome,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            outcome,
            detail,
        }
    }

    /// [`Ctx::audit_failure`] by `actor`.
    pub fn audit_failure_by(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        outcome: Outcome,
        error: &anyhow::Error,
    ) {
        let event = self.event_by(actor, action, object, outcome, format!("{error:#}"));
        if let Err(audit_error) = self.store.append_audit(event) {
            tracing::error!(%audit_error, "could not record a failed operation in the audit log");
        }
    }

    /// Records a refused or failed operation in the audit log, keeping the original error if that fails too.
    pub fn audit_failure(&self, action: &str, object: &str, outcome: Outcome, error: &anyhow::Error) {
        let event = self.event(action, object, outcome, format!("{error:#}"));
        if let Err(audit_error) = self.store.append_audit(event) {
            tracing::error!(%audit_error, "could not record a failed operation in the audit log");
        }
    }
}
