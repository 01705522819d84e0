//! The git revisions the controller has applied and attempted, so a restart knows where
//! it left off and `accord status` can say which commit is in force.

use std::time::SystemTime;

use super::backend::on_pool;
use super::{State, StateError, unix_seconds};

/// Which revision is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revision {
    /// The last revision whose resources were converged without error.
    LastApplied,
    /// The last revision the controller tried to converge, successfully or not.
    LastAttempted,
}

impl Revision {
    /// The key the revision is stored under.
    pub fn key(self) -> &'static str {
        match self {
            Revision::LastApplied => "lastApplied",
            Revision::LastAttempted => "lastAttempted",
        }
    }
}

impl State {
    /// The stored revision, or `None` before the first one was recorded.
    pub async fn revision(&self, which: Revision) -> Result<Option<String>, StateError> {
        let sql = "SELECT value FROM revisions WHERE key = $1";
        on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(which.key())
            .fetch_optional(pool)
            .await)
        .map_err(StateError::query("read a git revision"))
    }

    /// Records `value` (a commit id) as the revision, replacing the earlier one.
    pub async fn set_revision(&self, which: Revision, value: &str) -> Result<(), StateError> {
        let sql = "INSERT INTO revisions (key, value, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                   updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(which.key())
            .bind(value)
            .bind(unix_seconds(SystemTime::now()))
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("record a git revision"))
    }
}

impl State {
    /// Remembers the canonical form of an agreement whose signature verified.
    pub async fn put_verified_agreement(
        &self,
        agreement: &str,
        canonical: &str,
    ) -> Result<(), StateError> {
        let sql = "INSERT INTO verified_agreements (agreement, canonical) VALUES ($1, $2) \
                   ON CONFLICT (agreement) DO UPDATE SET canonical = excluded.canonical";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(agreement)
            .bind(canonical)
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("remember a verified agreement"))
    }

    /// The canonical form the agreement last verified with.
    pub async fn verified_agreement(&self, agreement: &str) -> Result<Option<String>, StateError> {
        let sql = "SELECT canonical FROM verified_agreements WHERE agreement = $1";
        on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(agreement)
            .fetch_optional(pool)
            .await)
        .map_err(StateError::query("read a verified agreement"))
    }
}
