//! The outbox (messages committed to partners) and the holdings (what each partner holds),
//! written together with their ledger entries in one transaction.

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{State, StateError};
use crate::catalogue::Area;
use crate::delivery::sync::{Held, HeldArea, HeldRecord, RecordDigest};
use crate::ledger::{Entry, EntryBody, append_in};

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

/// One change to what a partner holds.
#[derive(Debug)]
pub enum HoldingChange<'a> {
    /// Records added or replaced, with the area's fields now.
    Upsert {
        /// The area.
        area: Area,
        /// The fields the records carry.
        fields: &'a [String],
        /// `(record id, subject, digest)`.
        records: Vec<(&'a str, Option<&'a str>, RecordDigest)>,
    },
    /// Records deleted.
    DeleteRecords {
        /// The area.
        area: Area,
        /// Their ids.
        ids: &'a [String],
    },
    /// Fields removed from every record.
    DeleteFields {
        /// The area.
        area: Area,
        /// The fields.
        fields: &'a [String],
    },
    /// The whole area deleted.
    DeleteArea {
        /// The area.
        area: Area,
    },
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

/// Where an agreement holds data at a school, for agreements no longer declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldPlace {
    /// The agreement.
    pub agreement: String,
    /// The school.
    pub school: String,
    /// The partner named when the data was sent.
    pub partner: String,
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StateError::query("start committing a message"))?;
        for message in messages {
            sqlx::query(
                "INSERT INTO outbox (batch, partner, agreement, school, kind, mode, sealed, records, subjects, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(message.batch)
            .bind(message.partner)
            .bind(message.agreement)
            .bind(message.school)
            .bind(message.kind)
            .bind(message.mode)
            .bind(message.sealed)
            .bind(i64::try_from(message.records).unwrap_or(i64::MAX))
            .bind(serde_json::to_string(message.subjects).unwrap_or_else(|_| "[]".into()))
            .bind(message.created_at)
            .execute(&mut *tx)
            .await
            .map_err(StateError::query("write a message to the outbox"))?;
            for change in message.changes {
                apply(
                    &mut tx,
                    message.agreement,
                    message.school,
                    message.partner,
                    change,
                )
                .await?;
            }
        }
        let entries = append_in(&mut tx, ledger).await?;
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StateError::query("start recording a pull"))?;
        for change in changes {
            apply(&mut tx, agreement, school, partner, change).await?;
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StateError::query("start an acknowledgement"))?;
        let updated = sqlx::query(
            "UPDATE outbox SET acked_at = ?, attempts = attempts + 1, last_error = NULL, refused = 0 \
             WHERE batch = ? AND acked_at IS NULL",
        )
        .bind(at)
        .bind(batch)
        .execute(&mut *tx)
        .await
        .map_err(StateError::query("mark a message acknowledged"))?;
        // Acknowledged once: a second confirmation of the same batch changes nothing.
        if updated.rows_affected() == 1 {
            append_in(&mut tx, std::slice::from_ref(ledger)).await?;
        }
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
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, refused = ? \
             WHERE batch = ?",
        )
        .bind(at)
        .bind(error)
        .bind(refused)
        .bind(batch)
        .execute(&self.pool)
        .await
        .map_err(StateError::query("record a failed send"))?;
        Ok(())
    }

    /// Messages not yet acknowledged, in the order they were committed; all partners when
    /// `partner` is `None`.
    pub async fn pending(&self, partner: Option<&str>) -> Result<Vec<Pending>, StateError> {
        let rows = sqlx::query(
            "SELECT id, batch, partner, agreement, school, kind, mode, sealed, records, subjects, created_at, \
             attempts, last_error, refused FROM outbox \
             WHERE acked_at IS NULL AND (? IS NULL OR partner = ?) ORDER BY id",
        )
        .bind(partner)
        .bind(partner)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("read the outbox"))?;
        Ok(rows.iter().map(pending_from_row).collect())
    }

    /// Messages not yet acknowledged, as [`State::pending`] gives them but without their
    /// bodies, which [`State::sealed`] reads one at a time: a large backlog is sent without
    /// holding every body in memory.
    pub async fn pending_heads(&self) -> Result<Vec<Pending>, StateError> {
        let rows = sqlx::query(
            "SELECT id, batch, partner, agreement, school, kind, mode, X'' AS sealed, records, subjects, \
             created_at, attempts, last_error, refused FROM outbox WHERE acked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("read the outbox"))?;
        Ok(rows.iter().map(pending_from_row).collect())
    }

    /// The sealed body of a message.
    pub async fn sealed(&self, batch: &str) -> Result<Vec<u8>, StateError> {
        let row = sqlx::query("SELECT sealed FROM outbox WHERE batch = ?")
            .bind(batch)
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::query("read a message from the outbox"))?;
        Ok(row.get("sealed"))
    }

    /// Drops undelivered messages of a school whose key was destroyed: they can no longer
    /// be opened, and what they carried is gone with the key.
    pub async fn drop_pending_of_school(&self, school: &str) -> Result<u64, StateError> {
        let done = sqlx::query("DELETE FROM outbox WHERE school = ? AND acked_at IS NULL")
            .bind(school)
            .execute(&self.pool)
            .await
            .map_err(StateError::query("drop a school's undelivered messages"))?;
        Ok(done.rows_affected())
    }

    /// When records were last committed for the agreement at the school, unix seconds.
    pub async fn last_records_at(
        &self,
        agreement: &str,
        school: &str,
    ) -> Result<Option<i64>, StateError> {
        let row = sqlx::query(
            "SELECT MAX(created_at) AS at FROM outbox WHERE agreement = ? AND school = ? AND kind = 'records'",
        )
        .bind(agreement)
        .bind(school)
        .fetch_one(&self.pool)
        .await
        .map_err(StateError::query("read when records were last sent"))?;
        Ok(row.get("at"))
    }

    /// What the partner of `agreement` holds at `school`.
    pub async fn held(&self, agreement: &str, school: &str) -> Result<Held, StateError> {
        let mut held = Held::default();
        let areas =
            sqlx::query("SELECT area, fields FROM held_areas WHERE agreement = ? AND school = ?")
                .bind(agreement)
                .bind(school)
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::query("read what a partner holds"))?;
        for row in areas {
            let Ok(area) = row.get::<&str, _>("area").parse::<Area>() else {
                continue;
            };
            let fields = serde_json::from_str(row.get::<&str, _>("fields")).unwrap_or_default();
            held.areas.insert(
                area,
                HeldArea {
                    fields,
                    records: BTreeMap::new(),
                },
            );
        }
        let records = sqlx::query(
            "SELECT area, record_id, subject, digest FROM holdings WHERE agreement = ? AND school = ?",
        )
        .bind(agreement)
        .bind(school)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("read what a partner holds"))?;
        for row in records {
            let Ok(area) = row.get::<&str, _>("area").parse::<Area>() else {
                continue;
            };
            let mut digest = [0u8; 16];
            let bytes: &[u8] = row.get("digest");
            if bytes.len() == digest.len() {
                digest.copy_from_slice(bytes);
            }
            held.areas.entry(area).or_default().records.insert(
                row.get("record_id"),
                HeldRecord {
                    subject: row.get("subject"),
                    digest,
                },
            );
        }
        Ok(held)
    }

    /// Every agreement and school at which a partner holds something.
    pub async fn held_places(&self) -> Result<Vec<HeldPlace>, StateError> {
        let rows = sqlx::query(
            "SELECT DISTINCT agreement, school, partner FROM held_areas ORDER BY agreement, school",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("read where partners hold data"))?;
        Ok(rows
            .iter()
            .map(|row| HeldPlace {
                agreement: row.get("agreement"),
                school: row.get("school"),
                partner: row.get("partner"),
            })
            .collect())
    }
}

async fn apply(
    tx: &mut SqliteConnection,
    agreement: &str,
    school: &str,
    partner: &str,
    change: &HoldingChange<'_>,
) -> Result<(), StateError> {
    match change {
        HoldingChange::Upsert {
            area,
            fields,
            records,
        } => {
            let fields = serde_json::to_string(fields).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO held_areas (agreement, school, area, partner, fields) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (agreement, school, area) DO UPDATE SET partner = excluded.partner, fields = excluded.fields",
            )
            .bind(agreement)
            .bind(school)
            .bind(area.as_str())
            .bind(partner)
            .bind(fields)
            .execute(&mut *tx)
            .await
            .map_err(StateError::query("record the fields a partner holds"))?;
            for chunk in records.chunks(300) {
                let mut insert = QueryBuilder::<Sqlite>::new(
                    "INSERT OR REPLACE INTO holdings (agreement, school, area, record_id, subject, digest) ",
                );
                insert.push_values(chunk, |mut row, (id, subject, digest)| {
                    row.push_bind(agreement)
                        .push_bind(school)
                        .push_bind(area.as_str())
                        .push_bind(*id)
                        .push_bind(*subject)
                        .push_bind(digest.to_vec());
                });
                insert
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(StateError::query("record what a partner holds"))?;
            }
        }
        HoldingChange::DeleteRecords { area, ids } => {
            for id in ids.iter() {
                sqlx::query(
                    "DELETE FROM holdings WHERE agreement = ? AND school = ? AND area = ? AND record_id = ?",
                )
                .bind(agreement)
                .bind(school)
                .bind(area.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(StateError::query("record a deletion at a partner"))?;
            }
        }
        HoldingChange::DeleteFields { area, fields } => {
            let row = sqlx::query(
                "SELECT fields FROM held_areas WHERE agreement = ? AND school = ? AND area = ?",
            )
            .bind(agreement)
            .bind(school)
            .bind(area.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(StateError::query("read the fields a partner holds"))?;
            let held: Vec<String> = row
                .map(|r| serde_json::from_str(r.get::<&str, _>("fields")).unwrap_or_default())
                .unwrap_or_default();
            let kept: Vec<&String> = held.iter().filter(|f| !fields.contains(f)).collect();
            sqlx::query(
                "UPDATE held_areas SET fields = ? WHERE agreement = ? AND school = ? AND area = ?",
            )
            .bind(serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into()))
            .bind(agreement)
            .bind(school)
            .bind(area.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StateError::query("record a field deletion at a partner"))?;
        }
        HoldingChange::DeleteArea { area } => {
            for statement in [
                "DELETE FROM holdings WHERE agreement = ? AND school = ? AND area = ?",
                "DELETE FROM held_areas WHERE agreement = ? AND school = ? AND area = ?",
            ] {
                sqlx::query(statement)
                    .bind(agreement)
                    .bind(school)
                    .bind(area.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StateError::query("record an area deletion at a partner"))?;
            }
        }
    }
    Ok(())
}

fn pending_from_row(row: &SqliteRow) -> Pending {
    Pending {
        id: row.get("id"),
        batch: row.get("batch"),
        partner: row.get("partner"),
        agreement: row.get("agreement"),
        school: row.get("school"),
        kind: row.get("kind"),
        mode: row.get("mode"),
        sealed: row.get("sealed"),
        records: u64::try_from(row.get::<i64, _>("records")).unwrap_or(0),
        subjects: serde_json::from_str(row.get::<&str, _>("subjects")).unwrap_or_default(),
        created_at: row.get("created_at"),
        attempts: row.get("attempts"),
        last_error: row.get("last_error"),
        refused: row.get("refused"),
    }
}
