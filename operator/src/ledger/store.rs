//! The ledger's store: the `ledger` and `ledger_subjects` tables of the state database,
//! SQLite or PostgreSQL. Entries are appended inside the state's write transaction, and
//! both schemas refuse UPDATE and DELETE on the ledger with triggers.

use std::time::SystemTime;

use sqlx::{QueryBuilder, Sqlite};

use super::chain::{body_text, hash_text};
use super::{Entry, EntryBody, LedgerStore};
use crate::state::backend::{StateRow, on_pool, on_tx};
use crate::state::{Pool, State, StateError, WriteTx, unix_seconds};

/// The ledger kept in the state database's `ledger` table, in SQLite or PostgreSQL,
/// whichever the [`State`] is in.
#[derive(Clone, Debug)]
pub struct Ledger {
    state: State,
}

/// The ledger's earlier name, from when SQLite was its only store.
pub type SqliteLedger = Ledger;

impl Ledger {
    /// The ledger of this state database.
    pub fn new(state: State) -> Ledger {
        Ledger { state }
    }

    /// The sequence number of the last entry, 0 when the ledger is empty: a cheap way to
    /// tell whether anything was appended since a reader last looked.
    pub async fn last_seq(&self) -> Result<i64, StateError> {
        let sql = "SELECT COALESCE(MAX(seq), 0) FROM ledger";
        on_pool!(self.state, pool => sqlx::query_scalar(sql).fetch_one(pool).await)
            .map_err(StateError::query("read the ledger's last position"))
    }
}

impl LedgerStore for Ledger {
    type Error = StateError;

    async fn append(&self, bodies: &[EntryBody]) -> Result<Vec<Entry>, StateError> {
        // The write transaction takes the database's write lock first (BEGIN IMMEDIATE,
        // or an advisory lock on PostgreSQL), so a concurrent writer waits instead of both
        // reading the same last entry.
        let mut tx = self.state.begin_write("start a ledger append").await?;
        let written = append_in(&mut tx, bodies).await?;
        tx.commit()
            .await
            .map_err(StateError::query("commit a ledger append"))?;
        Ok(written)
    }

    async fn entries(&self) -> Result<Vec<Entry>, StateError> {
        let sql = "SELECT seq, body, prev_hash, hash FROM ledger ORDER BY seq";
        on_pool!(self.state, pool => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("read the ledger"))?;
            rows.iter().map(entry_from_row).collect()
        })
    }

    async fn entries_about(&self, school: &str, subject: &str) -> Result<Vec<Entry>, StateError> {
        let sql = "SELECT l.seq, l.body, l.prev_hash, l.hash FROM ledger_subjects s \
                   JOIN ledger l ON l.seq = s.seq WHERE s.school = $1 AND s.subject = $2 \
                   ORDER BY l.seq";
        on_pool!(self.state, pool => {
            let rows = sqlx::query(sql)
                .bind(school)
                .bind(subject)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("read one person's ledger entries"))?;
            rows.iter().map(entry_from_row).collect()
        })
    }

    async fn acknowledgements(&self, batches: &[String]) -> Result<Vec<Entry>, StateError> {
        let mut found = Vec::new();
        for chunk in batches.chunks(500) {
            let rows = match self.state.backend() {
                Pool::Sqlite(pool) => {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "SELECT seq, body, prev_hash, hash FROM ledger \
                         WHERE json_extract(body, '$.batch') IN (",
                    );
                    let mut list = query.separated(", ");
                    for batch in chunk {
                        list.push_bind(batch);
                    }
                    query.push(
                        ") AND json_extract(body, '$.kind') = 'acknowledgement' ORDER BY seq",
                    );
                    let rows = query.build().fetch_all(pool).await;
                    rows.map_err(StateError::query("read acknowledgements"))?
                        .iter()
                        .map(entry_from_row)
                        .collect::<Result<Vec<_>, _>>()?
                }
                // The same expression as the `ledger_batch` index, so the index is used.
                Pool::Postgres(pool) => {
                    let sql = "SELECT seq, body, prev_hash, hash FROM ledger \
                               WHERE (body::jsonb) ->> 'batch' = ANY($1) \
                               AND (body::jsonb) ->> 'kind' = 'acknowledgement' ORDER BY seq";
                    let rows = sqlx::query(sql).bind(chunk).fetch_all(pool).await;
                    rows.map_err(StateError::query("read acknowledgements"))?
                        .iter()
                        .map(entry_from_row)
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            found.extend(rows);
        }
        found.sort_by_key(|e| e.seq);
        Ok(found)
    }
}

/// Rows per multi-row INSERT: 2,000 bound values, well under SQLite's limit of 32,766
/// and PostgreSQL's of 65,535.
const ENTRIES_PER_INSERT: usize = 400;

/// Entries ready to append: each body as the JSON text that is both stored and hashed,
/// written before the write transaction starts.
#[derive(Debug)]
pub(crate) struct Staged<'a> {
    bodies: &'a [EntryBody],
    texts: Vec<String>,
}

impl<'a> Staged<'a> {
    pub(crate) fn new(bodies: &'a [EntryBody]) -> Staged<'a> {
        Staged {
            bodies,
            texts: bodies.iter().map(body_text).collect(),
        }
    }
}

/// Appends entries inside the caller's write transaction, chaining each to the one before
/// and indexing who each is about, so a delivery commits its ledger entries and its outbox
/// row together or not at all. The transaction holds the write lock, so two writers can
/// never chain to the same last entry; the primary key on `seq` refuses it all the same.
pub(crate) async fn append_in(
    tx: &mut WriteTx,
    bodies: &[EntryBody],
) -> Result<Vec<Entry>, StateError> {
    append_staged(tx, Staged::new(bodies)).await
}

/// [`append_in`], for entries staged beforehand.
pub(crate) async fn append_staged(
    tx: &mut WriteTx,
    staged: Staged<'_>,
) -> Result<Vec<Entry>, StateError> {
    let Staged { bodies, texts } = staged;
    if bodies.is_empty() {
        return Ok(Vec::new());
    }
    let sql = "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1";
    let last: Option<(i64, Vec<u8>)> = on_tx!(&mut *tx, conn => sqlx::query_as(sql)
        .fetch_optional(conn)
        .await)
    .map_err(StateError::query("read the ledger's last entry"))?;
    let (mut seq, mut prev_hash) = match last {
        Some((seq, hash)) => (seq, to_hash(hash)),
        None => (0, [0u8; 32]),
    };
    let first = seq + 1;

    let written_at = unix_seconds(SystemTime::now());
    let mut written = Vec::with_capacity(bodies.len());
    for (body, text) in bodies.iter().zip(&texts) {
        seq += 1;
        let hash = hash_text(&prev_hash, text);
        written.push(Entry {
            seq,
            body: body.clone(),
            prev_hash,
            hash,
        });
        prev_hash = hash;
    }

    let rows: Vec<(&Entry, &String)> = written.iter().zip(&texts).collect();
    for chunk in rows.chunks(ENTRIES_PER_INSERT) {
        on_tx!(&mut *tx, conn => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO ledger (seq, body, prev_hash, hash, written_at) ",
            );
            insert.push_values(chunk, |mut row, (entry, text)| {
                row.push_bind(entry.seq)
                    .push_bind(text.as_str())
                    .push_bind(entry.prev_hash.to_vec())
                    .push_bind(entry.hash.to_vec())
                    .push_bind(written_at);
            });
            insert.build().execute(conn).await.map(drop)
        })
        .map_err(StateError::query("append to the ledger"))?;
    }

    // Who each new entry is about, read from the entries just written. A person named
    // twice in one entry is indexed once.
    let sql = match tx {
        WriteTx::Sqlite(_) => {
            "INSERT INTO ledger_subjects (school, subject, seq) \
             SELECT l.body ->> '$.school', s.value, l.seq \
             FROM ledger l, json_each(l.body, '$.subjects') s \
             WHERE l.seq BETWEEN $1 AND $2 ON CONFLICT DO NOTHING"
        }
        WriteTx::Postgres(_) => {
            "INSERT INTO ledger_subjects (school, subject, seq) \
             SELECT (l.body::jsonb) ->> 'school', s.value, l.seq \
             FROM ledger l, jsonb_array_elements_text((l.body::jsonb) -> 'subjects') s \
             WHERE l.seq BETWEEN $1 AND $2 ON CONFLICT DO NOTHING"
        }
    };
    on_tx!(&mut *tx, conn => sqlx::query(sql)
        .bind(first)
        .bind(seq)
        .execute(conn)
        .await
        .map(drop))
    .map_err(StateError::query("index the ledger's subjects"))?;
    Ok(written)
}

fn entry_from_row(row: &impl StateRow) -> Result<Entry, StateError> {
    let read = || StateError::query("read a ledger entry");
    let body = row.text("body").map_err(read())?;
    Ok(Entry {
        seq: row.int("seq").map_err(read())?,
        // A body that no longer parses was edited; an empty body keeps the entry in the
        // chain so verification reports it rather than skipping it.
        body: serde_json::from_str(&body).unwrap_or_default(),
        prev_hash: to_hash(row.bytes("prev_hash").map_err(read())?),
        hash: to_hash(row.bytes("hash").map_err(read())?),
    })
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
