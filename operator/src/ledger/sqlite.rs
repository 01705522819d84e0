//! The ledger in the SQLite state database.

use std::time::SystemTime;

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

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

    /// The sequence number of the last entry, 0 when the ledger is empty: a cheap way to
    /// tell whether anything was appended since a reader last looked.
    pub async fn last_seq(&self) -> Result<i64, StateError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM ledger")
            .fetch_one(self.state.pool())
            .await
            .map_err(StateError::query("read the ledger's last position"))?;
        Ok(row.get("seq"))
    }
}

impl LedgerStore for SqliteLedger {
    type Error = StateError;

    async fn append(&self, bodies: &[EntryBody]) -> Result<Vec<Entry>, StateError> {
        // IMMEDIATE takes the write lock first, so a concurrent writer waits instead of
        // both reading the same last entry.
        let mut tx = self
            .state
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StateError::query("start a ledger append"))?;
        let written = append_in(&mut tx, bodies).await?;
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
        Ok(rows.iter().map(entry_from_row).collect())
    }

    async fn entries_about(&self, school: &str, subject: &str) -> Result<Vec<Entry>, StateError> {
        let rows = sqlx::query(
            "SELECT l.seq, l.body, l.prev_hash, l.hash FROM ledger_subjects s \
             JOIN ledger l ON l.seq = s.seq WHERE s.school = ? AND s.subject = ? ORDER BY l.seq",
        )
        .bind(school)
        .bind(subject)
        .fetch_all(self.state.pool())
        .await
        .map_err(StateError::query("read one person's ledger entries"))?;
        Ok(rows.iter().map(entry_from_row).collect())
    }

    async fn acknowledgements(&self, batches: &[String]) -> Result<Vec<Entry>, StateError> {
        let mut found = Vec::new();
        for chunk in batches.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT seq, body, prev_hash, hash FROM ledger WHERE json_extract(body, '$.batch') IN (",
            );
            let mut list = query.separated(", ");
            for batch in chunk {
                list.push_bind(batch);
            }
            query.push(") AND json_extract(body, '$.kind') = 'acknowledgement' ORDER BY seq");
            let rows = query
                .build()
                .fetch_all(self.state.pool())
                .await
                .map_err(StateError::query("read acknowledgements"))?;
            found.extend(rows.iter().map(entry_from_row));
        }
        found.sort_by_key(|e| e.seq);
        Ok(found)
    }
}

/// Rows per multi-row INSERT: well under SQLite's limit of 32,766 bound values.
const ROWS_PER_INSERT: usize = 2_000;

/// Appends entries inside the caller's transaction, chaining each to the one before and
/// indexing who each is about, so a delivery commits its ledger entries and its outbox
/// row together or not at all. Holding the write transaction means two writers can never
/// chain to the same last entry.
pub(crate) async fn append_in(
    tx: &mut SqliteConnection,
    bodies: &[EntryBody],
) -> Result<Vec<Entry>, StateError> {
    let last = sqlx::query("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(StateError::query("read the ledger's last entry"))?;
    let (mut seq, mut prev_hash) = match last {
        Some(row) => (row.get::<i64, _>("seq"), to_hash(row.get("hash"))),
        None => (0, [0u8; 32]),
    };

    let written_at = unix_seconds(SystemTime::now());
    let mut written = Vec::with_capacity(bodies.len());
    for body in bodies {
        seq += 1;
        let hash = hash_entry(&prev_hash, body);
        written.push(Entry {
            seq,
            body: body.clone(),
            prev_hash,
            hash,
        });
        prev_hash = hash;
    }

    for chunk in written.chunks(ROWS_PER_INSERT / 5) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO ledger (seq, body, prev_hash, hash, written_at) ",
        );
        insert.push_values(chunk, |mut row, entry| {
            row.push_bind(entry.seq)
                .push_bind(serde_json::to_string(&entry.body).unwrap_or_default())
                .push_bind(entry.prev_hash.to_vec())
                .push_bind(entry.hash.to_vec())
                .push_bind(written_at);
        });
        insert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(StateError::query("append to the ledger"))?;
    }

    let subjects: Vec<(&str, &str, i64)> = written
        .iter()
        .flat_map(|e| {
            e.body
                .subjects
                .iter()
                .map(move |s| (e.body.school.as_str(), s.as_str(), e.seq))
        })
        .collect();
    for chunk in subjects.chunks(ROWS_PER_INSERT / 3) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT OR IGNORE INTO ledger_subjects (school, subject, seq) ",
        );
        insert.push_values(chunk, |mut row, (school, subject, seq)| {
            row.push_bind(*school).push_bind(*subject).push_bind(*seq);
        });
        insert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(StateError::query("index the ledger's subjects"))?;
    }
    Ok(written)
}

fn entry_from_row(row: &SqliteRow) -> Entry {
    Entry {
        seq: row.get("seq"),
        // A body that no longer parses was edited; an empty body keeps the entry in the
        // chain so verification reports it rather than skipping it.
        body: serde_json::from_str(row.get::<&str, _>("body")).unwrap_or_default(),
        prev_hash: to_hash(row.get("prev_hash")),
        hash: to_hash(row.get("hash")),
    }
}

fn to_hash(bytes: Vec<u8>) -> [u8; 32] {
    let mut hash = [0u8; 32];
    if bytes.len() == 32 {
        hash.copy_from_slice(&bytes);
    }
    hash
}

#[cfg(test)]
mod tests;
