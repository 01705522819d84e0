//! The ledger in the SQLite state database.

use std::time::SystemTime;

use sqlx::Row;

use super::{Entry, EntryBody, LedgerStore, hash_entry};
use crate::state::{State, StateError, unix_seconds};

/// The ledger kept in the state database's `ledger` table.
#[derive(Clone, Debug)]
pub struct SqliteLedger {
    state: State,
}

impl SqliteLedger {
    /// The ledger of this state database.
    pub fn new(state: State) -> SqliteLedger {
        SqliteLedger { state }
    }
}

impl LedgerStore for SqliteLedger {
    type Error = StateError;

    async fn append(&self, bodies: &[EntryBody]) -> Result<Vec<Entry>, StateError> {
        // One transaction, so two writers can never chain to the same last entry.
        let mut tx = self
            .state
            .pool()
            .begin()
            .await
            .map_err(StateError::query("start a ledger append"))?;
        let last = sqlx::query("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(StateError::query("read the ledger's last entry"))?;
        let (mut seq, mut prev_hash) = match last {
            Some(row) => (row.get::<i64, _>("seq"), to_hash(row.get("hash"))),
            None => (0, [0u8; 32]),
        };

        let mut written = Vec::with_capacity(bodies.len());
        for body in bodies {
            seq += 1;
            let hash = hash_entry(&prev_hash, body);
            let json = serde_json::to_string(body).unwrap_or_default();
            sqlx::query("INSERT INTO ledger (seq, body, prev_hash, hash, written_at) VALUES (?, ?, ?, ?, ?)")
                .bind(seq)
                .bind(json)
                .bind(prev_hash.as_slice())
                .bind(hash.as_slice())
                .bind(unix_seconds(SystemTime::now()))
                .execute(&mut *tx)
                .await
                .map_err(StateError::query("append to the ledger"))?;
            written.push(Entry {
                seq,
                body: body.clone(),
                prev_hash,
                hash,
            });
            prev_hash = hash;
        }
        tx.commit()
            .await
            .map_err(StateError::query("commit a ledger append"))?;
        Ok(written)
    }

    async fn entries(&self) -> Result<Vec<Entry>, StateError> {
        let rows = sqlx::query("SELECT seq, body, prev_hash, hash FROM ledger ORDER BY seq")
            .fetch_all(self.state.pool())
            .await
            .map_err(StateError::query("read the ledger"))?;
        Ok(rows
            .iter()
            .map(|row| Entry {
                seq: row.get("seq"),
                // A body that no longer parses was edited; an empty body keeps the entry
                // in the chain so verification reports it rather than skipping it.
                body: serde_json::from_str(row.get::<&str, _>("body"))
                    .unwrap_or_else(|_| tampered_body()),
                prev_hash: to_hash(row.get("prev_hash")),
                hash: to_hash(row.get("hash")),
            })
            .collect())
    }
}

fn to_hash(bytes: Vec<u8>) -> [u8; 32] {
    let mut hash = [0u8; 32];
    if bytes.len() == 32 {
        hash.copy_from_slice(&bytes);
    }
    hash
}

fn tampered_body() -> EntryBody {
    EntryBody {
        kind: super::EntryKind::Share,
        at: String::new(),
        school: String::new(),
        subject: String::new(),
        agreement: String::new(),
        partner: String::new(),
        partner_location: String::new(),
        area: String::new(),
        fields: Vec::new(),
        batch: String::new(),
    }
}

#[cfg(test)]
mod tests;
