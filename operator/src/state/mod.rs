//! The state database: everything the controller remembers between runs, in one SQLite
//! file under the state folder.
//!
//! It holds the wrapped school data keys and encrypted cache entries (sealed by
//! [`crate::cache`], stored here as opaque bytes), the status last written for each
//! resource, and the git revisions applied or attempted. All SQL lives in this module so
//! that a PostgreSQL backend later touches one folder. The schema comes from the embedded
//! migrations in the crate's `migrations/` folder; timestamps are INTEGER unix seconds.
//!
//! Limitation: only SQLite is implemented; the schema is written to suit PostgreSQL too,
//! but no PostgreSQL backend exists yet.

mod cache_rows;
mod error;
mod extractions;
mod outbox;
mod revisions;
mod status;
mod time;

#[cfg(test)]
mod tests;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use cache_rows::EntryMeta;
pub(crate) use cache_rows::{NewEntry, Sealed};
pub use error::StateError;
pub use extractions::ExtractionRecord;
pub use outbox::{HeldPlace, HoldingChange, NewMessage, Pending};
pub use revisions::Revision;
pub use status::ResourceRef;
pub use time::{from_unix_seconds, unix_seconds};

/// The database file's name inside the state folder.
pub const DATABASE_FILE: &str = "state.db";

/// The schema, embedded at build time from the crate's `migrations/` folder.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// An open state database. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct State {
    dir: PathBuf,
    pool: SqlitePool,
}

impl State {
    /// Opens the state database in `dir`, creating the folder (mode 0700) and the database
    /// file (mode 0600) when missing, and brings its schema up to date.
    pub async fn open(dir: &Path) -> Result<State, StateError> {
        create_private_dir(dir)?;
        let path = dir.join(DATABASE_FILE);
        create_private_file(&path)?;

        // WAL lets the portal read while the controller writes; secure_delete overwrites
        // erased rows so a shredded key or an expired entry does not linger in free pages.
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON")
            // A delivery appends tens of megabytes; checkpointing every 16 MiB rather than
            // every 4 MiB copies each page back fewer times.
            .pragma("wal_autocheckpoint", "4000");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StateError::Open {
                path: path.clone(),
                source,
            })?;

        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StateError::Migrate { path, source })?;

        Ok(State {
            dir: dir.to_path_buf(),
            pool,
        })
    }

    /// The state folder this database lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file's path.
    pub fn database_path(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }

    /// Moves everything written so far from the write-ahead log into the database file and
    /// empties the log, so erased bytes leave the log too.
    ///
    /// Limitation: a reader holding an old snapshot can keep part of the log from being
    /// emptied; the next checkpoint finishes the job.
    pub async fn checkpoint(&self) -> Result<(), StateError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(StateError::query("checkpoint the write-ahead log"))?;
        Ok(())
    }

    /// The connection pool, for the modules that keep their own tables here (the ledger)
    /// and for tests that reach under the typed functions.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the state folder readable by its owner only; an existing folder is left as is.
///
/// Limitation: privacy rests on Unix permission bits, so the state folder, database and
/// key file are private only on Unix-like systems, the only ones this module builds for.
fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StateError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })
}

/// Creates the database file readable by its owner only before SQLite opens it, so it
/// never exists with the process umask's wider mode. SQLite gives its WAL and shared
/// memory files the database file's mode.
fn create_private_file(path: &Path) -> Result<(), StateError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| StateError::CreateDatabase {
            path: path.to_path_buf(),
            source,
        })
}
