//! The holdings: what each partner holds, record by record, with a digest of what was
//! sent, so an unchanged record is not sent again and a withdrawn one can be deleted.
//! Changed only inside the outbox's transactions, together with the message that causes
//! the change.

use std::collections::{BTreeMap, HashMap};

use super::backend::{Pool, WriteTx, on_pool, on_tx};
use super::{State, StateError};
use crate::catalogue::Area;
use crate::delivery::sync::{Held, HeldArea, HeldRecord, RecordDigest};

/// One change to what a partner holds.
#[derive(Clone, Debug)]
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
    /// What the partner of `agreement` holds at `school`.
    pub async fn held(&self, agreement: &str, school: &str) -> Result<Held, StateError> {
        let mut held = Held::default();
        let read = || StateError::query("read what a partner holds");
        let sql = "SELECT area, fields FROM held_areas WHERE agreement = $1 AND school = $2";
        let areas: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(agreement)
            .bind(school)
            .fetch_all(pool)
            .await)
        .map_err(read())?;
        for (area, fields) in areas {
            let Ok(area) = area.parse::<Area>() else {
                continue;
            };
            let fields = serde_json::from_str(&fields).unwrap_or_default();
            held.areas.insert(
                area,
                HeldArea {
                    fields,
                    records: BTreeMap::new(),
                },
            );
        }

        let sql = "SELECT p.area, r.record_id, r.subject, r.digest \
                   FROM held_records r JOIN holding_places p ON p.id = r.place \
                   WHERE p.agreement = $1 AND p.school = $2";
        let records: Vec<(String, String, Option<String>, Vec<u8>)> =
            on_pool!(self, pool => sqlx::query_as(sql)
                .bind(agreement)
                .bind(school)
                .fetch_all(pool)
                .await)
            .map_err(read())?;
        for (area, record_id, subject, bytes) in records {
            let Ok(area) = area.parse::<Area>() else {
                continue;
            };
            let mut digest = [0u8; 16];
            if bytes.len() == digest.len() {
                digest.copy_from_slice(&bytes);
            }
            held.areas
                .entry(area)
                .or_default()
                .records
                .insert(record_id, HeldRecord { subject, digest });
        }
        Ok(held)
    }

    /// Every agreement and school at which a partner holds something.
    pub async fn held_places(&self) -> Result<Vec<HeldPlace>, StateError> {
        let sql = "SELECT DISTINCT agreement, school, partner FROM held_areas \
                   ORDER BY agreement, school";
        let rows: Vec<(String, String, String)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
                .map_err(StateError::query("read where partners hold data"))?;
        Ok(rows
            .into_iter()
            .map(|(agreement, school, partner)| HeldPlace {
                agreement,
                school,
                partner,
            })
            .collect())
    }
}

/// A change to what a partner holds under one agreement at one school, made ready to
/// write before the write transaction starts: records to upsert are already one JSON
/// text, which a single statement unpacks, so a group of batches costs a few statements
/// rather than one per few hundred records.
#[derive(Debug)]
pub(super) struct Staged<'a> {
    agreement: &'a str,
    school: &'a str,
    partner: &'a str,
    change: HoldingChange<'a>,
    /// For an upsert: `[[record id, subject or null, digest in hex], …]`.
    rows: String,
}

/// Stages changes in order, merging each run of upserts to the same place with the same
/// fields into one. `changes` gives each change with its agreement, school and partner.
pub(super) fn stage<'a>(
    backend: &Pool,
    changes: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a HoldingChange<'a>)>,
) -> Vec<Staged<'a>> {
    let mut staged: Vec<Staged<'a>> = Vec::new();
    for (agreement, school, partner, change) in changes {
        if let (
            Some(last),
            HoldingChange::Upsert {
                area,
                fields,
                records,
            },
        ) = (staged.last_mut(), change)
            && let HoldingChange::Upsert {
                area: last_area,
                fields: last_fields,
                records: last_records,
            } = &mut last.change
            && (last.agreement, last.school, last.partner) == (agreement, school, partner)
            && (*last_area, *last_fields) == (*area, *fields)
        {
            last_records.extend_from_slice(records);
            continue;
        }
        staged.push(Staged {
            agreement,
            school,
            partner,
            change: change.clone(),
            rows: String::new(),
        });
    }
    let postgres = matches!(backend, Pool::Postgres(_));
    for each in &mut staged {
        if let HoldingChange::Upsert { records, .. } = &mut each.change {
            each.rows = upsert_rows(records, postgres);
            // The rows carry them now.
            *records = Vec::new();
        }
    }
    staged
}

/// The records of an upsert as one JSON array. PostgreSQL refuses a statement that
/// touches a row twice, so there a record named twice is written once, its last version
/// winning, as `INSERT OR REPLACE` makes it win in SQLite.
fn upsert_rows(records: &[(&str, Option<&str>, RecordDigest)], postgres: bool) -> String {
    let last: Option<HashMap<&str, usize, foldhash::fast::RandomState>> = postgres.then(|| {
        let mut last = HashMap::default();
        for (index, (id, _, _)) in records.iter().enumerate() {
            last.insert(*id, index);
        }
        last
    });
    let mut rows = Vec::with_capacity(records.len() * 64 + 2);
    rows.push(b'[');
    for (index, (id, subject, digest)) in records.iter().enumerate() {
        if last
            .as_ref()
            .is_some_and(|last| last.get(id) != Some(&index))
        {
            continue;
        }
        if rows.len() > 1 {
            rows.push(b',');
        }
        // Writing JSON strings into memory cannot fail.
        rows.push(b'[');
        let _ = serde_json::to_writer(&mut rows, id);
        rows.push(b',');
        let _ = serde_json::to_writer(&mut rows, subject);
        rows.extend_from_slice(b",\"");
        for byte in digest {
            rows.push(HEX[usize::from(byte >> 4)]);
            rows.push(HEX[usize::from(byte & 0x0f)]);
        }
        rows.extend_from_slice(b"\"]");
    }
    rows.push(b']');
    // Only JSON was written, and JSON is UTF-8.
    String::from_utf8(rows).unwrap_or_default()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) async fn apply(tx: &mut WriteTx, staged: &Staged<'_>) -> Result<(), StateError> {
    let Staged {
        agreement,
        school,
        partner,
        ref change,
        ref rows,
    } = *staged;
    match change {
        HoldingChange::Upsert { area, fields, .. } => {
            let fields = serde_json::to_string(fields).unwrap_or_else(|_| "[]".into());
            let sql = "INSERT INTO held_areas (agreement, school, area, partner, fields) \
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agreement, school, area) \
                       DO UPDATE SET partner = excluded.partner, fields = excluded.fields";
            on_tx!(&mut *tx, conn => sqlx::query(sql)
                .bind(agreement)
                .bind(school)
                .bind(area.as_str())
                .bind(partner)
                .bind(&fields)
                .execute(conn)
                .await
                .map(drop))
            .map_err(StateError::query("record the fields a partner holds"))?;
            let place = place(tx, agreement, school, *area).await?;
            upsert_holdings(tx, place, rows)
                .await
                .map_err(StateError::query("record what a partner holds"))?;
        }
        HoldingChange::DeleteRecords { area, ids } => {
            let place = place(tx, agreement, school, *area).await?;
            let sql = "DELETE FROM held_records WHERE place = $1 AND record_id = $2";
            for id in ids.iter() {
                at_place_with(tx, sql, place, id)
                    .await
                    .map_err(StateError::query("record a deletion at a partner"))?;
            }
        }
        HoldingChange::DeleteFields { area, fields } => {
            let sql = "SELECT fields FROM held_areas \
                       WHERE agreement = $1 AND school = $2 AND area = $3";
            let row: Option<String> = on_tx!(&mut *tx, conn => sqlx::query_scalar(sql)
                .bind(agreement)
                .bind(school)
                .bind(area.as_str())
                .fetch_optional(conn)
                .await)
            .map_err(StateError::query("read the fields a partner holds"))?;
            let held: Vec<String> = row
                .map(|fields| serde_json::from_str(&fields).unwrap_or_default())
                .unwrap_or_default();
            let kept: Vec<&String> = held.iter().filter(|f| !fields.contains(f)).collect();
            let kept = serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into());
            let sql = "UPDATE held_areas SET fields = $1 \
                       WHERE agreement = $2 AND school = $3 AND area = $4";
            on_tx!(&mut *tx, conn => sqlx::query(sql)
                .bind(&kept)
                .bind(agreement)
                .bind(school)
                .bind(area.as_str())
                .execute(conn)
                .await
                .map(drop))
            .map_err(StateError::query("record a field deletion at a partner"))?;
        }
        HoldingChange::DeleteArea { area } => {
            for statement in [
                "DELETE FROM held_records WHERE place IN (SELECT id FROM holding_places \
                 WHERE agreement = $1 AND school = $2 AND area = $3)",
                "DELETE FROM held_areas WHERE agreement = $1 AND school = $2 AND area = $3",
            ] {
                at_place(tx, statement, agreement, school, *area)
                    .await
                    .map_err(StateError::query("record an area deletion at a partner"))?;
            }
        }
    }
    Ok(())
}

/// The number standing for an agreement, school and area in the held records, given
/// one the first time it is asked for.
async fn place(
    tx: &mut WriteTx,
    agreement: &str,
    school: &str,
    area: Area,
) -> Result<i64, StateError> {
    let sql = "INSERT INTO holding_places (agreement, school, area) VALUES ($1, $2, $3) \
               ON CONFLICT (agreement, school, area) DO NOTHING";
    at_place(tx, sql, agreement, school, area)
        .await
        .map_err(StateError::query("record where a partner holds records"))?;
    let sql = "SELECT id FROM holding_places WHERE agreement = $1 AND school = $2 AND area = $3";
    on_tx!(&mut *tx, conn => sqlx::query_scalar(sql)
        .bind(agreement)
        .bind(school)
        .bind(area.as_str())
        .fetch_one(conn)
        .await)
    .map_err(StateError::query("read where a partner holds records"))
}

/// Runs one statement whose parameters are an agreement, a school and an area.
async fn at_place(
    tx: &mut WriteTx,
    sql: &'static str,
    agreement: &str,
    school: &str,
    area: Area,
) -> Result<(), sqlx::Error> {
    on_tx!(&mut *tx, conn => sqlx::query(sql)
        .bind(agreement)
        .bind(school)
        .bind(area.as_str())
        .execute(conn)
        .await
        .map(drop))
}

/// Upserts the records of one staged change, unpacking its JSON rows in the database.
async fn upsert_holdings(tx: &mut WriteTx, place: i64, rows: &str) -> Result<(), sqlx::Error> {
    let sql = match tx {
        WriteTx::Sqlite(_) => {
            "INSERT OR REPLACE INTO held_records (place, record_id, subject, digest) \
             SELECT $1, r.value ->> 0, r.value ->> 1, unhex(r.value ->> 2) FROM jsonb_each($2) r"
        }
        WriteTx::Postgres(_) => {
            "INSERT INTO held_records (place, record_id, subject, digest) \
             SELECT $1, r ->> 0, r ->> 1, decode(r ->> 2, 'hex') \
             FROM jsonb_array_elements($2::jsonb) r \
             ON CONFLICT (place, record_id) \
             DO UPDATE SET subject = excluded.subject, digest = excluded.digest"
        }
    };
    at_place_with(tx, sql, place, rows).await
}

/// Runs one statement whose parameters are a place's number and one text.
async fn at_place_with(
    tx: &mut WriteTx,
    sql: &'static str,
    place: i64,
    text: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(&mut *tx, conn => sqlx::query(sql)
        .bind(place)
        .bind(text)
        .execute(conn)
        .await
        .map(drop))
}
