//! What can go wrong with the state database, each error naming the file, server or row
//! involved and what to do about it. A PostgreSQL server is named by host, port, database
//! and user, never by its URL, which may hold a password.

use std::io;
use std::path::PathBuf;

use sqlx::migrate::MigrateError;

/// A failure to open, migrate, read or write the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state folder could not be created.
    #[error("cannot create state folder {dir}: {source}; check that its parent is writable")]
    CreateDir {
        /// The folder that was to be created.
        dir: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// The database file could not be created.
    #[error("cannot create state database {path}: {source}; check the folder's permissions")]
    CreateDatabase {
        /// The database file.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// SQLite could not open the database file.
    #[error(
        "cannot open state database {path}: {source}; check that it is a SQLite file and that \
         no other process holds it locked"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// The embedded migrations could not be applied.
    #[error(
        "cannot bring state database {path} up to date: {source}; it may have been written by \
         a newer Accord, so run that version or move the state folder aside"
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The migrator's error.
        source: MigrateError,
    },

    /// `--database-url` (or `ACCORD_DATABASE_URL`) is not a PostgreSQL URL.
    #[error("the state database URL is not usable: {reason}")]
    DatabaseUrl {
        /// What is wrong with it, without its password.
        reason: String,
    },

    /// The PostgreSQL server could not be reached or refused the connection.
    #[error(
        "cannot connect to state database {database}: {source}; check that the server is \
         running and reachable, that the database exists, and the URL's user and password"
    )]
    Connect {
        /// Host, port, database and user; never the password.
        database: String,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// The embedded PostgreSQL migrations could not be applied.
    #[error(
        "cannot bring state database {database} up to date: {source}; check that its user \
         may create tables, or run the Accord version that last wrote it"
    )]
    MigrateDatabase {
        /// Host, port, database and user; never the password.
        database: String,
        /// The migrator's error.
        source: MigrateError,
    },

    /// A query failed.
    #[error("state database: cannot {action}: {source}")]
    Query {
        /// What the query was for, as a phrase: "read the status of a resource".
        action: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// A status could not be turned into JSON.
    #[error("cannot encode the status of {resource} as JSON: {source}")]
    EncodeStatus {
        /// The resource, as `kind namespace/name`.
        resource: String,
        /// The serializer's error.
        source: serde_json::Error,
    },

    /// A stored status is not the JSON its reader expects.
    #[error(
        "stored status of {resource} does not match this version of Accord: {source}; the \
         controller rewrites it on its next reconcile"
    )]
    DecodeStatus {
        /// The resource, as `kind namespace/name`.
        resource: String,
        /// The deserializer's error.
        source: serde_json::Error,
    },

    /// A cache row names an area that is not in the data catalogue.
    #[error(
        "cache entry of school {school} names unknown area {area:?}; remove the row or open \
         the state with the Accord version that wrote it"
    )]
    UnknownArea {
        /// The school the row belongs to.
        school: String,
        /// The stored area name.
        area: String,
    },
}

impl StateError {
    /// A closure that wraps a driver error with what the query was for.
    pub(crate) fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
        move |source| StateError::Query { action, source }
    }
}
