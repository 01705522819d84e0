//! Where a command finds the state database: SQLite in `--state`, or PostgreSQL named by
//! `--database-url` (`ACCORD_DATABASE_URL`). The URL may hold a password, so it is never
//! printed: not in `--help`, not in errors, not in debug output.

use std::fmt;
use std::path::Path;

use anyhow::bail;

use crate::state::{DATABASE_FILE, PostgresUrl, State};

/// A `postgres://` URL as given on the command line, kept out of every printout.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl From<String> for DatabaseUrl {
    fn from(url: String) -> DatabaseUrl {
        DatabaseUrl(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

/// The `--database-url` option, shared by every command that opens the state.
#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Keep the state in this PostgreSQL database instead of SQLite in the state folder:
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (add `?sslmode=verify-full` for TLS).
    /// The state folder still holds a generated master key.
    #[arg(
        long,
        env = "ACCORD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<DatabaseUrl>,
}

impl DatabaseArgs {
    /// The URL's text, for [`State::open_or_connect`].
    pub fn url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|url| url.0.as_str())
    }

    /// The PostgreSQL database named, checked to be a `postgres://` URL.
    pub fn postgres(&self) -> anyhow::Result<Option<PostgresUrl>> {
        Ok(self.url().map(PostgresUrl::parse).transpose()?)
    }

    /// Opens the state: PostgreSQL when a URL is given, else SQLite in `dir`.
    pub async fn open(&self, dir: &Path) -> anyhow::Result<State> {
        Ok(State::open_or_connect(dir, self.url()).await?)
    }

    /// Opens a state that must already exist, for the commands that only read it. A
    /// SQLite state folder without a database fails with `missing`; a PostgreSQL database
    /// is brought up to date and read, empty or not.
    pub async fn open_existing(&self, dir: &Path, missing: &str) -> anyhow::Result<State> {
        if self.url().is_none() && !dir.join(DATABASE_FILE).exists() {
            bail!("no state in {}: {missing}", dir.display());
        }
        self.open(dir).await
    }
}
