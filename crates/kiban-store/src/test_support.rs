//! Test support for this crate's suite and the suites built on it (the CLI's): a PostgreSQL database
//! created for a test on the server `KIBAN_TEST_DATABASE_URL` names. Compiled for this crate's tests and,
//! for other crates' tests, with the `test-support` feature; never part of a release build.

use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming a PostgreSQL server where tests may create databases.
pub const TEST_DATABASE_URL_VAR: &str = "KIBAN_TEST_DATABASE_URL";

/// A database created on a test server for one test, and dropped (with its connections) after it.
pub struct PostgresTestDb {
    server_url: String,
    name: String,
    /// The connection string of the new database.
    pub url: String,
}

impl PostgresTestDb {
    /// Creates a fresh, empty database on the server `server_url` names (text in byte order, as on SQLite).
    ///
    /// # Panics
    /// When the server does not answer or refuses: a test set up to use it cannot go on.
    pub fn create(server_url: &str) -> PostgresTestDb {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name =
            format!("kiban_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut server = ::postgres::Client::connect(server_url, ::postgres::NoTls)
            .expect("KIBAN_TEST_DATABASE_URL is set but its server does not answer");
        server
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ))
            .expect("creating a test database");
        PostgresTestDb { url: with_dbname(server_url, &name), server_url: server_url.to_owned(), name }
    }
}

impl Drop for PostgresTestDb {
    fn drop(&mut self) {
        let dropped =
            ::postgres::Client::connect(&self.server_url, ::postgres::NoTls).and_then(|mut server| {
                server.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// `url` (a URL or key-value connection string) with its database replaced by `dbname`.
pub fn with_dbname(url: &str, dbname: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Key-value form: a later key wins.
        return format!("{url} dbname={dbname}");
    };
    let (location, query) =
        rest.split_once('?').map_or((rest, None), |(location, query)| (location, Some(query)));
    let authority = location.split_once('/').map_or(location, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{dbname}?{query}"),
        None => format!("{scheme}://{authority}/{dbname}"),
    }
}
