//! Which database a store uses: embedded SQLite in the data directory, or PostgreSQL at a URL.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use postgres::config::Host;

/// Where the operational database lives. The vault stays under the data directory either way.
#[derive(Clone, Debug, Default)]
pub enum DatabaseConfig {
    /// `{data_dir}/kiban.db`, embedded: nothing to set up.
    #[default]
    Sqlite,
    /// A PostgreSQL database (it must exist, with `ENCODING 'UTF8'`; kiban creates its tables).
    Postgres(DatabaseUrl),
}

impl DatabaseConfig {
    /// PostgreSQL at `url` when one is given, SQLite otherwise.
    pub fn from_url(url: Option<DatabaseUrl>) -> DatabaseConfig {
        url.map_or(DatabaseConfig::Sqlite, DatabaseConfig::Postgres)
    }
}

/// A PostgreSQL connection string: a URL (`postgresql://user:password@host:5432/kiban`) or key-value pairs
/// (`host=/run/postgresql user=kiban dbname=kiban`).
///
/// It may hold a password, so it never prints as given: `Debug` and `Display` show [`DatabaseUrl::redacted`].
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    /// The user, hosts, ports and database name, never the password or other options:
    /// `user=kiban host=db.example port=5432 dbname=kiban`. What errors and logs show.
    pub fn redacted(&self) -> String {
        // A string that does not parse is not shown at all: the parser's complaint could quote part of it.
        let Ok(config) = self.0.parse::<postgres::Config>() else {
            return "(an invalid PostgreSQL connection string)".to_owned();
        };
        let mut parts = Vec::new();
        if let Some(user) = config.get_user() {
            parts.push(format!("user={user}"));
        }
        for host in config.get_hosts() {
            parts.push(match host {
                Host::Tcp(name) => format!("host={name}"),
                Host::Unix(path) => format!("host={}", path.display()),
            });
        }
        for port in config.get_ports() {
            parts.push(format!("port={port}"));
        }
        if let Some(dbname) = config.get_dbname() {
            parts.push(format!("dbname={dbname}"));
        }
        if parts.is_empty() { "(PostgreSQL defaults)".to_owned() } else { parts.join(" ") }
    }

    /// The connection string as given, password included: only for connecting.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Parses nothing: the string is checked when the store connects. For command-line parsers.
impl FromStr for DatabaseUrl {
    type Err = Infallible;

    fn from_str(url: &str) -> Result<DatabaseUrl, Infallible> {
        Ok(DatabaseUrl::new(url))
    }
}
