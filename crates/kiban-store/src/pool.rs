//! A small pool of database connections, so several requests (a server's) can read and write at once.
//!
//! Connections are opened on demand up to a limit and kept for reuse. Writers still serialize on the
//! database's own write lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock), which also holds
//! across processes; the pool only lets readers run beside a writer and beside each other. A connection
//! that failed mid-transaction is rolled back by its driver on drop, so one returned to the pool is clean.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::config::DatabaseUrl;
use crate::db::Backend;
use crate::error::StoreError;

/// How many connections one store opens at most.
pub(crate) const MAX_CONNECTIONS: usize = 8;

/// How long a caller waits for a free connection before the store reports it busy.
const WAIT: Duration = Duration::from_secs(30);

/// How a pool opens a new connection.
pub(crate) enum Opener {
    Sqlite(PathBuf),
    Postgres(DatabaseUrl),
}

impl Opener {
    pub(crate) fn open(&self) -> Result<Backend, StoreError> {
        match self {
            Opener::Sqlite(path) => Backend::open_sqlite(path),
            Opener::Postgres(url) => Backend::open_postgres(url),
        }
    }
}

pub(crate) struct Pool {
    opener: Opener,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Backend>,
    /// Connections open, idle or lent out.
    open: usize,
}

/// A connection lent out by the pool; it goes back when dropped.
pub(crate) struct Conn<'p> {
    pool: &'p Pool,
    backend: Option<Backend>,
}

impl Pool {
    /// A pool that already holds `first` (the connection the migrations ran on).
    pub(crate) fn new(opener: Opener, first: Backend) -> Pool {
        Pool { opener, state: Mutex::new(State { idle: vec![first], open: 1 }), returned: Condvar::new() }
    }

    /// An idle connection, a new one when all are lent out and the limit allows, or the next one returned.
    pub(crate) fn get(&self) -> Result<Conn<'_>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(backend) = state.idle.pop() {
                return Ok(Conn { pool: self, backend: Some(backend) });
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                drop(state);
                return match self.opener.open() {
                    Ok(backend) => Ok(Conn { pool: self, backend: Some(backend) }),
                    Err(error) => {
                        self.state.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                        self.returned.notify_one();
                        Err(error)
                    }
                };
            }
            let (next, timeout) =
                self.returned.wait_timeout(state, WAIT).unwrap_or_else(PoisonError::into_inner);
            state = next;
            if timeout.timed_out() && state.idle.is_empty() && state.open >= MAX_CONNECTIONS {
                return Err(StoreError::Busy { waited_secs: WAIT.as_secs() });
            }
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(backend) = self.backend.take() {
            self.pool.state.lock().unwrap_or_else(PoisonError::into_inner).idle.push(backend);
            self.pool.returned.notify_one();
        }
    }
}

impl Deref for Conn<'_> {
    type Target = Backend;
    fn deref(&self) -> &Backend {
        self.backend.as_ref().expect("a lent connection is present until dropped")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Backend {
        self.backend.as_mut().expect("a lent connection is present until dropped")
    }
}
