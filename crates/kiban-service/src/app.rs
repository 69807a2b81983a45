//! The application a command or a request runs in: the store with its keys, the data directory, the clock.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use kiban_audit::{AuditEvent, Outcome};
use kiban_store::{DatabaseConfig, Store, StoreKeys};

use crate::audit_ref::{AuditAction, ObjectRef};

/// One kiban deployment as the service sees it: its data directory, its store (database, vault and key
/// store under the operator's KEK) and its clock. Shared by every request (`App` is `Sync`); a server
/// keeps one in an `Arc`.
pub struct App {
    pub(crate) data_dir: PathBuf,
    pub(crate) store: Store,
    pub(crate) progress: bool,
    /// A fixed time for tests (password expiry, session expiry, allowed hours); `None` reads the clock.
    /// Behind a lock so a test can move it while a server shares the `App`.
    clock: std::sync::RwLock<Option<DateTime<Utc>>>,
}

impl App {
    /// Opens (creating if needed) the data directory and its store, with the database `database` names,
    /// under the KEK from `KIBAN_MASTER_KEY`, `KIBAN_KEY_FILE` or the data directory's key file.
    /// `progress` draws progress bars on a terminal (the CLI's choice; a server passes `false`).
    ///
    /// # Errors
    /// When the directory or database cannot be created, reached or migrated, or the key store does not
    /// open under the KEK.
    pub fn open(
        data_dir: &Path,
        database: &DatabaseConfig,
        progress: bool,
    ) -> Result<App, crate::ServiceError> {
        App::open_inner(data_dir, database, progress).map_err(crate::ServiceError::from)
    }

    fn open_inner(data_dir: &Path, database: &DatabaseConfig, progress: bool) -> Result<App> {
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
        Ok(App { data_dir: data_dir.to_owned(), store, progress, clock: std::sync::RwLock::new(None) })
    }

    /// Fixes the clock (tests: password and session expiry, allowed hours).
    #[must_use]
    pub fn with_clock(self, at: DateTime<Utc>) -> App {
        self.set_clock(Some(at));
        self
    }

    /// Moves a fixed clock, or (`None`) goes back to the system's (tests).
    pub fn set_clock(&self, at: Option<DateTime<Utc>>) {
        *self.clock.write().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// The current time: the one place operations read the clock (the operating system's, which a
    /// certified producer keeps synchronized with a trusted time source; tests fix it).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.read().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or_else(Utc::now)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether any account exists (the demo runs only where none does; `kiban init` only once).
    ///
    /// # Errors
    /// A store failure.
    pub fn has_users(&self) -> Result<bool, crate::ServiceError> {
        Ok(self.store.has_users()?)
    }

    /// The context of one operation by `actor`.
    pub(crate) fn as_actor(&self, actor: &str) -> Ctx<'_> {
        Ctx { app: self, actor: actor.to_owned(), steps: None }
    }
}

/// What one operation runs with: the application and who acts. Built only inside the service, from a
/// [`crate::Session`] (or, before a session exists, the name the user gave: init, enroll, login).
pub(crate) struct Ctx<'a> {
    app: &'a App,
    pub(crate) actor: String,
    /// Who follows a long operation's steps (a server's job page), if anyone.
    pub(crate) steps: Option<&'a StepObserver>,
}

/// Told each step of a long operation as it starts: the step's name, its number (from 1) and how many
/// there are. Names are fixed texts, never data.
pub type StepObserver = dyn Fn(&'static str, usize, usize) + Sync;

impl Deref for Ctx<'_> {
    type Target = App;
    fn deref(&self) -> &App {
        self.app
    }
}

impl Ctx<'_> {
    /// Tells the observer, if any, that step `number` of `total`, `name`, starts.
    pub(crate) fn step(&self, name: &'static str, number: usize, total: usize) {
        if let Some(observer) = self.steps {
            observer(name, number, total);
        }
    }

    /// An audit event by this context's actor, now.
    pub(crate) fn event(
        &self,
        action: AuditAction,
        object: &ObjectRef,
        outcome: Outcome,
        detail: String,
    ) -> AuditEvent {
        self.event_by(&self.actor, action, object, outcome, detail)
    }

    /// An audit event by `actor` (a user acting before their session exists: init, enroll, login), now.
    pub(crate) fn event_by(
        &self,
        actor: &str,
        action: AuditAction,
        object: &ObjectRef,
        outcome: Outcome,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            actor: actor.to_owned(),
            action: action.name().to_owned(),
            object: object.to_string(),
            outcome,
            detail,
        }
    }

    /// [`Ctx::audit_failure`] by `actor`.
    pub(crate) fn audit_failure_by(
        &self,
        actor: &str,
        action: AuditAction,
        object: &ObjectRef,
        outcome: Outcome,
        error: &anyhow::Error,
    ) {
        let event = self.event_by(actor, action, object, outcome, format!("{error:#}"));
        if let Err(audit_error) = self.store.append_audit(event) {
            tracing::error!(%audit_error, "could not record a failed operation in the audit log");
        }
    }

    /// Records a refused or failed operation in the audit log, keeping the original error if that fails too.
    pub(crate) fn audit_failure(
        &self,
        action: AuditAction,
        object: &ObjectRef,
        outcome: Outcome,
        error: &anyhow::Error,
    ) {
        self.audit_failure_by(&self.actor.clone(), action, object, outcome, error);
    }
}
