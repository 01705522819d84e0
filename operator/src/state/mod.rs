//! The state database: everything the controller remembers between runs, in one SQLite
//! file under the state folder, or in a PostgreSQL database when a cluster runs more than
//! one replica.
//!
//! It holds the wrapped school data keys and encrypted cache entries (sealed by
//! [`crate::cache`], stored here as opaque bytes), the status last written for each
//! resource, the git revisions applied or attempted, the outbox, what each partner holds,
//! and the ledger's rows. All SQL lives in this module and in [`crate::ledger`]'s store.
//! Each backend has its own embedded migrations (`migrations/sqlite/`,
//! `migrations/postgres/`) with the same versions and the same tables; timestamps are
//! unix seconds in a 64-bit integer column in both.
//!
//! SQLite is the embedded default ([`State::open`]); PostgreSQL is chosen with a
//! `postgres://` URL ([`State::connect`]). The master key file, when generated, stays in
//! the state folder either way.

pub(crate) mod backend;
mod cache_rows;
mod error;
mod extractions;
mod holdings;
mod outbox;
mod revisions;
mod status;
mod time;

#[cfg(test)]
pub(crate) mod tests;

// The throwaway PostgreSQL server the integration tests use, shared with the unit tests.
#[cfg(test)]
#[path = "../../../tests/postgres_env/mod.rs"]
pub(crate) mod postgres_env;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use backend::PostgresUrl;
pub(crate) use backend::{Pool, WriteTx};
pub use cache_rows::EntryMeta;
pub(crate) use cache_rows::{NewEntry, Sealed};
pub use error::StateError;
pub use extractions::ExtractionRecord;
pub use holdings::{HeldPlace, HoldingChange};
pub use outbox::{Acknowledged, NewMessage, Pending, StagedMessages};
pub use revisions::Revision;
pub use status::ResourceRef;
pub use time::{from_unix_seconds, unix_seconds};

/// The database file's name inside the state folder.
pub const DATABASE_FILE: &str = "state.db";

/// The SQLite schema, embedded at build time from `migrations/sqlite/`.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The PostgreSQL schema, embedded from `migrations/postgres/`: the same versions, each
/// meaning the same change, in PostgreSQL's dialect.
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// An open state database. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct State {
    dir: PathBuf,
    pool: Pool,
    postgres: Option<PostgresUrl>,
}

impl State {
    /// Opens the SQLite state database in `dir`, creating the folder (mode 0700) and the
    /// database file (mode 0600) when missing, and brings its schema up to date.
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

        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StateError::Migrate { path, source })?;

        Ok(State {
            dir: dir.to_path_buf(),
            pool: Pool::Sqlite(pool),
            postgres: None,
        })
    }

    /// Connects to the PostgreSQL state database at `url` and brings its schema up to
    /// date. `dir` is still the state folder: the master key is generated there when no
    /// other source gives one.
    pub async fn connect(url: &PostgresUrl, dir: &Path) -> Result<State, StateError> {
        let pool = url.connect().await.map_err(|source| StateError::Connect {
            database: url.to_string(),
            source,
        })?;

        // The migrator takes PostgreSQL's advisory lock itself, so two replicas starting
        // together apply each migration once.
        POSTGRES_MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StateError::MigrateDatabase {
                database: url.to_string(),
                source,
            })?;

        Ok(State {
            dir: dir.to_path_buf(),
            pool: Pool::Postgres(pool),
            postgres: Some(url.clone()),
        })
    }

    /// Opens the state the command line names: PostgreSQL when `database_url` is given,
    /// else SQLite in `dir`.
    pub async fn open_or_connect(
        dir: &Path,
        database_url: Option<&str>,
    ) -> Result<State, StateError> {
        match database_url {
            Some(url) => State::connect(&PostgresUrl::parse(url)?, dir).await,
            None => State::open(dir).await,
        }
    }

    /// The state folder: the SQLite database's, and the generated master key's.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite database file's path; `None` on PostgreSQL.
    pub fn database_path(&self) -> Option<PathBuf> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.dir.join(DATABASE_FILE)),
            Pool::Postgres(_) => None,
        }
    }

    /// Makes erased rows leave the database's logs, as far as the backend allows.
    ///
    /// SQLite: moves everything from the write-ahead log into the database file and
    /// empties the log, so erased bytes (already overwritten by `secure_delete`) leave the
    /// log too. PostgreSQL: vacuums the key and cache tables so erased rows are pruned from
    /// their pages; it has no `secure_delete`, and a `CHECKPOINT` needs rights an
    /// application role rarely has.
    ///
    /// Limitation: a SQLite reader holding an old snapshot can keep part of the log from
    /// being emptied; the next checkpoint finishes the job.
    /// Limitation: on PostgreSQL the write-ahead log, its archive and replicas keep erased
    /// rows until the server recycles them; the shredded school key is what makes them
    /// unreadable, as with a backup.
    pub async fn checkpoint(&self) -> Result<(), StateError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .map(drop),
            // VACUUM cannot run in a transaction or a prepared statement, so it goes as
            // plain text; a role that does not own the tables gets a warning, not an error.
            Pool::Postgres(pool) => sqlx::raw_sql("VACUUM school_keys, cache_entries")
                .execute(pool)
                .await
                .map(drop),
        }
        .map_err(StateError::query(
            "clear erased rows (WAL checkpoint or VACUUM)",
        ))
    }

    /// The connection pool, for the modules that keep their own tables here (the ledger)
    /// and for tests that reach under the typed functions.
    pub(crate) fn backend(&self) -> &Pool {
        &self.pool
    }

    /// Begins a write transaction holding the database's write lock, so that ledger
    /// appends inside it chain to the true last entry.
    pub(crate) async fn begin_write(&self, action: &'static str) -> Result<WriteTx, StateError> {
        self.pool
            .begin_write()
            .await
            .map_err(StateError::query(action))
    }

    /// Runs one statement of raw SQL, for tests that tamper with rows as an attacker
    /// would; returns the rows it changed.
    #[cfg(test)]
    pub(crate) async fn execute_sql(&self, sql: &str) -> Result<u64, sqlx::Error> {
        backend::on_pool!(self, pool => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|done| done.rows_affected()))
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Names the database without its password: the SQLite file, or the PostgreSQL host,
/// port, database and user.
impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.postgres {
            Some(url) => write!(f, "{url}"),
            None => write!(f, "{}", self.dir.join(DATABASE_FILE).display()),
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "State({self})")
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
