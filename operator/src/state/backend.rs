//! The two databases the state can live in, SQLite and PostgreSQL, behind one pool type.
//!
//! Each query is written once where the dialects agree (`$1`-style placeholders, which
//! sqlx's SQLite driver reads too, `ON CONFLICT`, `RETURNING`) and compiled for each
//! driver by [`on_pool!`] and [`on_tx!`]; where they differ, the caller picks the text
//! per backend. Neither path goes through sqlx's `Any` driver, so SQLite keeps its native
//! driver and its speed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{ConnectOptions, Connection, Postgres, Row, Sqlite, Transaction};

use super::StateError;

/// The lock every write transaction on PostgreSQL takes first, so that writers queue as
/// they do under SQLite's `BEGIN IMMEDIATE` and two ledger appends never chain to the
/// same last entry. The number is arbitrary but fixed: "accord" in ASCII.
const WRITE_LOCK: i64 = 0x6163_636f_7264;

/// How many connections a PostgreSQL pool keeps: the controller, the partner API and the
/// portal each hold one at a time, with room for a pass's parallel reads.
const POSTGRES_CONNECTIONS: u32 = 8;

/// A connection pool to one of the two databases.
#[derive(Clone)]
pub(crate) enum Pool {
    /// The embedded SQLite file under the state folder.
    Sqlite(SqlitePool),
    /// A PostgreSQL database, for clusters.
    Postgres(PgPool),
}

/// A write transaction on either backend, holding the write lock until it ends.
pub(crate) enum WriteTx {
    /// Begun with `BEGIN IMMEDIATE`.
    Sqlite(Transaction<'static, Sqlite>),
    /// Begun with `BEGIN` and holding the transaction-scoped advisory lock [`WRITE_LOCK`].
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` once per backend with `$pool` bound to the state's pool: the same text
/// compiles against each driver's own types.
macro_rules! on_pool {
    ($state:expr, $pool:ident => $body:expr) => {
        match $state.backend() {
            $crate::state::backend::Pool::Sqlite($pool) => $body,
            $crate::state::backend::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of a [`WriteTx`], once per backend.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::state::backend::WriteTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::state::backend::WriteTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

impl Pool {
    /// Begins a write transaction that holds the database's write lock.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match self {
            Pool::Sqlite(pool) => Ok(WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(WriteTx::Postgres(tx))
            }
        }
    }

    /// Closes every connection, waiting for queries in flight.
    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

impl WriteTx {
    /// Commits the transaction, releasing the write lock.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await,
            WriteTx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A PostgreSQL database to connect to, parsed from a `postgres://` URL. Shown only by
/// host, port, database and user: the password never leaves this type.
#[derive(Clone)]
pub struct PostgresUrl {
    options: PgConnectOptions,
    shown: String,
}

impl PostgresUrl {
    /// Parses `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…`).
    pub fn parse(url: &str) -> Result<PostgresUrl, StateError> {
        let invalid = |reason: String| StateError::DatabaseUrl { reason };
        let parsed = url::Url::parse(url).map_err(|error| {
            invalid(format!(
                "{error}; write postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!(
                "scheme {:?} is not postgres; SQLite needs no URL, only --state",
                parsed.scheme()
            )));
        }
        let options = PgConnectOptions::from_str(url)
            .map(|o| o.application_name("accord"))
            .map_err(|error| {
                // The driver's message names an option, not the password; any copy of the
                // password in it is masked all the same.
                invalid(format!(
                    "the driver refused it: {}",
                    redacted(&error.to_string(), &parsed)
                ))
            })?;
        let shown = format!(
            "{}:{}/{} as {}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username()),
            options.get_username()
        );
        Ok(PostgresUrl { options, shown })
    }

    /// Opens a pool of connections to the database.
    pub(crate) async fn connect(&self) -> Result<PgPool, sqlx::Error> {
        // One connection first, so that a refused connection or login is reported as
        // itself: the pool would retry a refused connection until it timed out.
        self.options.connect().await?.close().await?;
        PoolOptions::<Postgres>::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options.clone())
            .await
    }
}

/// Host, port, database and user; never the password.
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://{}", self.shown)
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

// Removes the URL's password from a message, should a driver ever echo it.
fn redacted(message: &str, url: &url::Url) -> String {
    match url.password() {
        Some(password) if !password.is_empty() => message.replace(password, "***"),
        _ => message.to_owned(),
    }
}

/// Reading the column types the state database uses from a row of either backend, for
/// the helpers that turn rows into values and so cannot know the driver.
pub(crate) trait StateRow {
    /// A TEXT column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable TEXT column.
    fn text_or_null(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// An INTEGER (SQLite) or BIGINT (PostgreSQL) column.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable INTEGER or BIGINT column.
    fn int_or_null(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A BLOB (SQLite) or BYTEA (PostgreSQL) column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
    /// A flag: INTEGER 0 or 1 in SQLite, BOOLEAN in PostgreSQL.
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
}

macro_rules! state_row {
    ($row:ty) => {
        impl StateRow for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn text_or_null(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn int_or_null(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
                self.try_get(column)
            }
            fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}

state_row!(SqliteRow);
state_row!(PgRow);
