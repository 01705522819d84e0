//! The rows behind the encrypted cache: wrapped school keys, the master key check and the
//! sealed entries. Everything here is already ciphertext; sealing and opening it is
//! [`crate::cache`]'s job.

use std::time::SystemTime;

use super::backend::{StateRow, on_pool};
use super::{State, StateError, from_unix_seconds};
use crate::catalogue::Area;

/// What the cache knows about one entry without decrypting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    /// The data area the entry holds.
    pub area: Area,
    /// How many records the extract held.
    pub record_count: u64,
    /// When the entry was last written.
    pub created_at: SystemTime,
    /// When the entry is erased.
    pub expires_at: SystemTime,
    /// When a delivery or a partner pull last used it.
    pub last_used_at: SystemTime,
}

/// Bytes sealed with AES-256-GCM and the nonce they were sealed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// Ciphertext followed by the authentication tag.
    pub(crate) bytes: Vec<u8>,
    /// The 96-bit nonce.
    pub(crate) nonce: Vec<u8>,
}

/// A stored cache entry as the database holds it.
#[derive(Clone, Debug)]
pub(crate) struct StoredEntry {
    /// The sealed extract.
    pub(crate) sealed: Sealed,
    /// When the entry expires, in unix seconds.
    pub(crate) expires_at: i64,
}

/// A new or refreshed entry to store.
pub(crate) struct NewEntry<'a> {
    /// The sealed extract.
    pub(crate) sealed: &'a Sealed,
    /// How many records the extract holds.
    pub(crate) record_count: u64,
    /// When it was written, in unix seconds.
    pub(crate) created_at: i64,
    /// When it expires, in unix seconds.
    pub(crate) expires_at: i64,
}

impl State {
    /// The school's wrapped data key, if it has one.
    pub(crate) async fn wrapped_key(&self, school: &str) -> Result<Option<Sealed>, StateError> {
        let sql = "SELECT wrapped_key, key_nonce FROM school_keys WHERE school = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(school)
                .fetch_optional(pool)
                .await
                .map_err(StateError::query("read a school's wrapped data key"))?;
            row.map(|row| sealed(&row, "wrapped_key", "key_nonce")).transpose()
        })
    }

    /// Some school's wrapped data key, with the school, or `None` when no school has one.
    pub(crate) async fn any_wrapped_key(&self) -> Result<Option<(String, Sealed)>, StateError> {
        let sql = "SELECT school, wrapped_key, key_nonce FROM school_keys ORDER BY school LIMIT 1";
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .fetch_optional(pool)
                .await
                .map_err(StateError::query("read a wrapped data key"))?;
            let Some(row) = row else { return Ok(None) };
            let school = row.text("school").map_err(read_error)?;
            Ok(Some((school, sealed(&row, "wrapped_key", "key_nonce")?)))
        })
    }

    /// Stores the school's wrapped data key unless it already has one; says whether it
    /// was stored, so a caller that lost a race reads the winner's key instead.
    pub(crate) async fn insert_wrapped_key(
        &self,
        school: &str,
        key: &Sealed,
        now: i64,
    ) -> Result<bool, StateError> {
        let sql = "INSERT INTO school_keys (school, wrapped_key, key_nonce, created_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (school) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(school)
            .bind(&key.bytes)
            .bind(&key.nonce)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("store a school's wrapped data key"))?;
        Ok(done == 1)
    }

    /// Deletes the school's data key and, through the foreign key, every entry sealed
    /// under it. Says whether the school had a key.
    pub(crate) async fn delete_school_key(&self, school: &str) -> Result<bool, StateError> {
        let sql = "DELETE FROM school_keys WHERE school = $1";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(school)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("delete a school's data key"))?;
        Ok(done == 1)
    }

    /// The value sealed under the master key when the state was created.
    pub(crate) async fn master_key_check(&self) -> Result<Option<Sealed>, StateError> {
        let sql = "SELECT sealed, nonce FROM master_key_check WHERE id = 1";
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .fetch_optional(pool)
                .await
                .map_err(StateError::query("read the master key check"))?;
            row.map(|row| sealed(&row, "sealed", "nonce")).transpose()
        })
    }

    /// Stores the master key check unless one exists; says whether it was stored.
    pub(crate) async fn insert_master_key_check(
        &self,
        check: &Sealed,
        now: i64,
    ) -> Result<bool, StateError> {
        let sql = "INSERT INTO master_key_check (id, sealed, nonce, created_at) \
                   VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(&check.bytes)
            .bind(&check.nonce)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("store the master key check"))?;
        Ok(done == 1)
    }

    /// Stores an entry, replacing the school's earlier entry for the area but keeping
    /// when it was last used: a refresh is not a use.
    pub(crate) async fn upsert_entry(
        &self,
        school: &str,
        area: Area,
        entry: NewEntry<'_>,
    ) -> Result<(), StateError> {
        let sql = "INSERT INTO cache_entries \
             (school, area, ciphertext, nonce, created_at, expires_at, last_used_at, record_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $5, $7) \
             ON CONFLICT (school, area) DO UPDATE SET \
             ciphertext = excluded.ciphertext, nonce = excluded.nonce, \
             created_at = excluded.created_at, expires_at = excluded.expires_at, \
             record_count = excluded.record_count";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(school)
            .bind(area.as_str())
            .bind(&entry.sealed.bytes)
            .bind(&entry.sealed.nonce)
            .bind(entry.created_at)
            .bind(entry.expires_at)
            .bind(i64::try_from(entry.record_count).unwrap_or(i64::MAX))
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("store a cache entry"))
    }

    /// The school's sealed entry for the area, if there is one.
    pub(crate) async fn entry(
        &self,
        school: &str,
        area: Area,
    ) -> Result<Option<StoredEntry>, StateError> {
        let sql = "SELECT ciphertext, nonce, expires_at FROM cache_entries \
                   WHERE school = $1 AND area = $2";
        on_pool!(self, pool => {
            let row = sqlx::query(sql)
                .bind(school)
                .bind(area.as_str())
                .fetch_optional(pool)
                .await
                .map_err(StateError::query("read a cache entry"))?;
            let Some(row) = row else { return Ok(None) };
            let sealed = sealed(&row, "ciphertext", "nonce")?;
            let expires_at = row.int("expires_at").map_err(read_error)?;
            Ok(Some(StoredEntry { sealed, expires_at }))
        })
    }

    /// Deletes the school's entry for the area; says whether there was one.
    pub(crate) async fn delete_entry(&self, school: &str, area: Area) -> Result<bool, StateError> {
        let sql = "DELETE FROM cache_entries WHERE school = $1 AND area = $2";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(school)
            .bind(area.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("delete a cache entry"))?;
        Ok(done == 1)
    }

    /// Records that the entry was used at `now`; says whether there was one.
    pub(crate) async fn touch_entry(
        &self,
        school: &str,
        area: Area,
        now: i64,
    ) -> Result<bool, StateError> {
        let sql = "UPDATE cache_entries SET last_used_at = $1 WHERE school = $2 AND area = $3";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(now)
            .bind(school)
            .bind(area.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(StateError::query("record the use of a cache entry"))?;
        Ok(done == 1)
    }

    /// What the school's entries are, without their contents, in catalogue order.
    pub(crate) async fn entry_metas(&self, school: &str) -> Result<Vec<EntryMeta>, StateError> {
        let sql = "SELECT area, record_count, created_at, expires_at, last_used_at \
                   FROM cache_entries WHERE school = $1";
        let mut metas = on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(school)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("list a school's cache entries"))?;
            rows.iter()
                .map(|row| entry_meta(school, row))
                .collect::<Result<Vec<_>, _>>()?
        });
        metas.sort_by_key(|meta| meta.area);
        Ok(metas)
    }

    /// Deletes every entry that expired at or before `now` and says which they were.
    pub(crate) async fn delete_expired(&self, now: i64) -> Result<Vec<(String, Area)>, StateError> {
        let sql = "DELETE FROM cache_entries WHERE expires_at <= $1 RETURNING school, area";
        let mut erased = on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("erase expired cache entries"))?;
            let mut erased = Vec::with_capacity(rows.len());
            for row in rows {
                let school = row.text("school").map_err(read_error)?;
                let area = area(&school, &row)?;
                erased.push((school, area));
            }
            erased
        });
        erased.sort();
        Ok(erased)
    }
}

fn entry_meta(school: &str, row: &impl StateRow) -> Result<EntryMeta, StateError> {
    let count = row.int("record_count").map_err(read_error)?;
    Ok(EntryMeta {
        area: area(school, row)?,
        record_count: u64::try_from(count).unwrap_or(0),
        created_at: from_unix_seconds(row.int("created_at").map_err(read_error)?),
        expires_at: from_unix_seconds(row.int("expires_at").map_err(read_error)?),
        last_used_at: from_unix_seconds(row.int("last_used_at").map_err(read_error)?),
    })
}

fn sealed(row: &impl StateRow, bytes: &str, nonce: &str) -> Result<Sealed, StateError> {
    Ok(Sealed {
        bytes: row.bytes(bytes).map_err(read_error)?,
        nonce: row.bytes(nonce).map_err(read_error)?,
    })
}

fn area(school: &str, row: &impl StateRow) -> Result<Area, StateError> {
    let name = row.text("area").map_err(read_error)?;
    name.parse().map_err(|_| StateError::UnknownArea {
        school: school.to_owned(),
        area: name,
    })
}

fn read_error(source: sqlx::Error) -> StateError {
    StateError::Query {
        action: "read a cache row",
        source,
    }
}
