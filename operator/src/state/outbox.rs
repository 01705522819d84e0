//! The outbox: messages committed to partners, written together with their ledger entries
//! and the holdings they change ([`holdings`](super::holdings)) in one transaction, then
//! marked acknowledged or failed as they are sent.

use sqlx::QueryBuilder;

use super::backend::{Pool, StateRow, on_pool, on_tx};
use super::holdings::{self, HoldingChange, apply, stage};
use super::{State, StateError};
use crate::ledger::{Entry, EntryBody, Staged, append_in, append_staged};

/// Messages per multi-row INSERT into the outbox: 900 bound values, well under SQLite's
/// limit of 32,766 and PostgreSQL's of 65,535.
const MESSAGES_PER_INSERT: usize = 100;

/// A message to commit: its outbox row, and how it changes what the partner holds.
#[derive(Debug)]
pub struct NewMessage<'a> {
    /// The idempotency key.
    pub batch: &'a str,
    /// The partner, `namespace/name`.
    pub partner: &'a str,
    /// The agreement, `namespace/name`.
    pub agreement: &'a str,
    /// The school, `namespace/name`.
    pub school: &'a str,
    /// `records` or `deletion`.
    pub kind: &'a str,
    /// `push`, or `pull` for a notice the partner collects from the partner API.
    pub mode: &'a str,
    /// The body, sealed under the school's data key.
    pub sealed: &'a [u8],
    /// Records or deletions it carries.
    pub records: u64,
    /// For a deletion notice, the people it concerns.
    pub subjects: &'a [String],
    /// Unix seconds.
    pub created_at: i64,
    /// What the partner will hold once it is applied.
    pub changes: &'a [HoldingChange<'a>],
}

/// A partner's confirmation of one message, to record with [`State::acknowledge_all`].
#[derive(Clone, Copy, Debug)]
pub struct Acknowledged<'a> {
    /// The idempotency key.
    pub batch: &'a str,
    /// Unix seconds.
    pub at: i64,
    /// Its ledger entry.
    pub entry: &'a EntryBody,
}

/// Messages made ready to commit by [`State::stage_messages`].
#[derive(Debug)]
pub struct StagedMessages<'a> {
    messages: &'a [NewMessage<'a>],
    changes: Vec<holdings::Staged<'a>>,
    ledger: Staged<'a>,
}

/// A message waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its place in the outbox: messages go in this order.
    pub id: i64,
    /// The idempotency key.
    pub batch: String,
    /// The partner.
    pub partner: String,
    /// The agreement.
    pub agreement: String,
    /// The school.
    pub school: String,
    /// `records` or `deletion`.
    pub kind: String,
    /// `push` or `pull`.
    pub mode: String,
    /// The sealed body.
    pub sealed: Vec<u8>,
    /// Records or deletions it carries.
    pub records: u64,
    /// For a deletion notice, the people it concerns.
    pub subjects: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// How many sends were tried.
    pub attempts: i64,
    /// Why the last send failed.
    pub last_error: Option<String>,
    /// Whether the partner refused it (a 4xx other than 429).
    pub refused: bool,
}

impl State {
    /// Commits messages: their outbox rows, the ledger entries that record them, and the
    /// holdings they change, all or nothing, in the order given. Returns the ledger
    /// entries written. Several messages share one transaction so that a large delivery
    /// pays for one commit per group rather than one per batch.
    pub async fn commit_messages(
        &self,
        messages: &[NewMessage<'_>],
        ledger: &[EntryBody],
    ) -> Result<Vec<Entry>, StateError> {
        self.commit_staged(self.stage_messages(messages, ledger))
            .await
    }

    /// Makes messages ready for [`State::commit_staged`]: everything that needs no
    /// database, so that it can be done while another transaction holds the write lock.
    pub fn stage_messages<'a>(
        &self,
        messages: &'a [NewMessage<'a>],
        ledger: &'a [EntryBody],
    ) -> StagedMessages<'a> {
        let changes = stage(
            self.backend(),
            messages.iter().flat_map(|m| {
                m.changes
                    .iter()
                    .map(move |c| (m.agreement, m.school, m.partner, c))
            }),
        );
        StagedMessages {
            messages,
            changes,
            ledger: Staged::new(ledger),
        }
    }

    /// Commits staged messages as [`State::commit_messages`] does.
    pub async fn commit_staged(
        &self,
        staged: StagedMessages<'_>,
    ) -> Result<Vec<Entry>, StateError> {
        let StagedMessages {
            messages,
            changes,
            ledger,
        } = staged;
        let mut tx = self.begin_write("start committing a message").await?;
        for chunk in messages.chunks(MESSAGES_PER_INSERT) {
            on_tx!(&mut tx, conn => {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO outbox (batch, partner, agreement, school, kind, mode, \
                     records, subjects, created_at) ",
                );
                // Rows go in in the order given, so the outbox keeps the order to send.
                insert.push_values(chunk, |mut row, message| {
                    let subjects =
                        serde_json::to_string(message.subjects).unwrap_or_else(|_| "[]".into());
                    row.push_bind(message.batch)
                        .push_bind(message.partner)
                        .push_bind(message.agreement)
                        .push_bind(message.school)
                        .push_bind(message.kind)
                        .push_bind(message.mode)
                        .push_bind(i64::try_from(message.records).unwrap_or(i64::MAX))
                        .push_bind(subjects)
                        .push_bind(message.created_at);
                });
                insert.build().execute(conn).await.map(drop)
            })
            .map_err(StateError::query("write a message to the outbox"))?;
            on_tx!(&mut tx, conn => {
                let mut insert = QueryBuilder::new("INSERT INTO outbox_bodies (batch, sealed) ");
                insert.push_values(chunk, |mut row, message| {
                    row.push_bind(message.batch).push_bind(message.sealed);
                });
                insert.build().execute(conn).await.map(drop)
            })
            .map_err(StateError::query("write a message's body to the outbox"))?;
        }
        for change in &changes {
            apply(&mut tx, change).await?;
        }
        let entries = append_staged(&mut tx, ledger).await?;
        tx.commit()
            .await
            .map_err(StateError::query("commit a message"))?;
        Ok(entries)
    }

    /// Records records served to a partner's pull: what it now holds and the ledger
    /// entries of the share, together.
    pub async fn record_served(
        &self,
        agreement: &str,
        school: &str,
        partner: &str,
        changes: &[HoldingChange<'_>],
        ledger: &[EntryBody],
    ) -> Result<(), StateError> {
        let changes = stage(
            self.backend(),
            changes.iter().map(|c| (agreement, school, partner, c)),
        );
        let mut tx = self.begin_write("start recording a pull").await?;
        for change in &changes {
            apply(&mut tx, change).await?;
        }
        append_in(&mut tx, ledger).await?;
        tx.commit()
            .await
            .map_err(StateError::query("commit a pull"))?;
        Ok(())
    }

    /// Marks a message acknowledged and appends its acknowledgement to the ledger, together.
    pub async fn acknowledge(
        &self,
        batch: &str,
        at: i64,
        ledger: &EntryBody,
    ) -> Result<(), StateError> {
        self.acknowledge_all(&[Acknowledged {
            batch,
            at,
            entry: ledger,
        }])
        .await
    }

    /// Marks several messages acknowledged, each with its ledger entry, in one
    /// transaction. A message already acknowledged is left as it was and gets no second
    /// entry, so a confirmation that arrives twice changes nothing.
    pub async fn acknowledge_all(&self, acks: &[Acknowledged<'_>]) -> Result<(), StateError> {
        if acks.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write("start an acknowledgement").await?;
        let sql = "UPDATE outbox SET acked_at = $1, attempts = attempts + 1, last_error = NULL, \
                   refused = FALSE WHERE batch = $2 AND acked_at IS NULL";
        let mut entries = Vec::with_capacity(acks.len());
        for ack in acks {
            let updated = on_tx!(&mut tx, conn => sqlx::query(sql)
                .bind(ack.at)
                .bind(ack.batch)
                .execute(conn)
                .await
                .map(|done| done.rows_affected()))
            .map_err(StateError::query("mark a message acknowledged"))?;
            if updated == 1 {
                entries.push(ack.entry.clone());
            }
        }
        append_in(&mut tx, &entries).await?;
        tx.commit()
            .await
            .map_err(StateError::query("commit an acknowledgement"))?;
        Ok(())
    }

    /// Records a failed send: why, and whether the partner refused it outright.
    pub async fn record_failure(
        &self,
        batch: &str,
        at: i64,
        error: &str,
        refused: bool,
    ) -> Result<(), StateError> {
        let sql = "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = $1, \
                   last_error = $2, refused = $3 WHERE batch = $4";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(at)
            .bind(error)
            .bind(refused)
            .bind(batch)
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("record a failed send"))
    }

    /// Messages not yet acknowledged, in the order they were committed; all partners when
    /// `partner` is `None`.
    pub async fn pending(&self, partner: Option<&str>) -> Result<Vec<Pending>, StateError> {
        let sql = "SELECT o.id, o.batch, o.partner, o.agreement, o.school, o.kind, o.mode, \
                   b.sealed, o.records, o.subjects, o.created_at, o.attempts, o.last_error, \
                   o.refused FROM outbox o JOIN outbox_bodies b ON b.batch = o.batch \
                   WHERE o.acked_at IS NULL AND ($1 IS NULL OR o.partner = $1) ORDER BY o.id";
        on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(partner)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("read the outbox"))?;
            rows.iter().map(pending_from_row).collect()
        })
    }

    /// Messages not yet acknowledged, as [`State::pending`] gives them but without their
    /// bodies, which [`State::sealed`] reads one at a time: a large backlog is sent without
    /// holding every body in memory.
    pub async fn pending_heads(&self) -> Result<Vec<Pending>, StateError> {
        // An empty byte string is written X'' in SQLite and '' cast to BYTEA in PostgreSQL.
        let sql = match self.backend() {
            Pool::Sqlite(_) => {
                "SELECT id, batch, partner, agreement, school, kind, mode, X'' AS sealed, \
                 records, subjects, created_at, attempts, last_error, refused \
                 FROM outbox WHERE acked_at IS NULL ORDER BY id"
            }
            Pool::Postgres(_) => {
                "SELECT id, batch, partner, agreement, school, kind, mode, ''::bytea AS sealed, \
                 records, subjects, created_at, attempts, last_error, refused \
                 FROM outbox WHERE acked_at IS NULL ORDER BY id"
            }
        };
        on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("read the outbox"))?;
            rows.iter().map(pending_from_row).collect()
        })
    }

    /// The sealed body of a message.
    pub async fn sealed(&self, batch: &str) -> Result<Vec<u8>, StateError> {
        let sql = "SELECT sealed FROM outbox_bodies WHERE batch = $1";
        on_pool!(self, pool => sqlx::query_scalar(sql).bind(batch).fetch_one(pool).await)
            .map_err(StateError::query("read a message from the outbox"))
    }

    /// Drops undelivered messages of a school whose key was destroyed: they can no longer
    /// be opened, and what they carried is gone with the key.
    pub async fn drop_pending_of_school(&self, school: &str) -> Result<u64, StateError> {
        let sql = "DELETE FROM outbox WHERE school = $1 AND acked_at IS NULL";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(school)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("drop a school's undelivered messages"))
    }

    /// When records were last committed for the agreement at the school, unix seconds.
    pub async fn last_records_at(
        &self,
        agreement: &str,
        school: &str,
    ) -> Result<Option<i64>, StateError> {
        let sql = "SELECT MAX(created_at) FROM outbox \
                   WHERE agreement = $1 AND school = $2 AND kind = 'records'";
        on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(agreement)
            .bind(school)
            .fetch_one(pool)
            .await)
        .map_err(StateError::query("read when records were last sent"))
    }
}

fn pending_from_row(row: &impl StateRow) -> Result<Pending, StateError> {
    let read = || StateError::query("read the outbox");
    let subjects = row.text("subjects").map_err(read())?;
    Ok(Pending {
        id: row.int("id").map_err(read())?,
        batch: row.text("batch").map_err(read())?,
        partner: row.text("partner").map_err(read())?,
        agreement: row.text("agreement").map_err(read())?,
        school: row.text("school").map_err(read())?,
        kind: row.text("kind").map_err(read())?,
        mode: row.text("mode").map_err(read())?,
        sealed: row.bytes("sealed").map_err(read())?,
        records: u64::try_from(row.int("records").map_err(read())?).unwrap_or(0),
        subjects: serde_json::from_str(&subjects).unwrap_or_default(),
        created_at: row.int("created_at").map_err(read())?,
        attempts: row.int("attempts").map_err(read())?,
        last_error: row.text_or_null("last_error").map_err(read())?,
        refused: row.flag("refused").map_err(read())?,
    })
}
