//! The rows behind the encrypted cache: wrapped school keys, the master key check and the
//! sealed entries. Everything here is already ciphertext; sealing and opening it is
//! [`crate::cache`]'s job.

use std::time::SystemTime;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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
        let row = sqlx::query("SELECT wrapped_key, key_nonce FROM school_keys WHERE school = ?")
            .bind(school)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::query("read a school's wrapped data key"))?;
        row.map(|row| sealed(&row, "wrapped_key", "key_nonce"))
            .transpose()
    }

    /// Some school's wrapped data key, with the school, or `None` when no school has one.
    pub(crate) async fn any_wrapped_key(&self) -> Result<Option<(String, Sealed)>, StateError> {
        let row = sqlx::query(
            "SELECT school, wrapped_key, key_nonce FROM school_keys ORDER BY school LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::query("read a wrapped data key"))?;

        let Some(row) = row else { return Ok(None) };
        let school = row.try_get("school").map_err(read_error)?;
        Ok(Some((school, sealed(&row, "wrapped_key", "key_nonce")?)))
    }

    /// Stores the school's wrapped data key unless it already has one; says whether it
    /// was stored, so a caller that lost a race reads the winner's key instead.
    pub(crate) async fn insert_wrapped_key(
        &self,
        school: &str,
        key: &Sealed,
        now: i64,
    ) -> Result<bool, StateError> {
        let done = sqlx::query(
            "INSERT INTO school_keys (school, wrapped_key, key_nonce, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (school) DO NOTHING",
        )
        .bind(school)
        .bind(&key.bytes)
        .bind(&key.nonce)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StateError::query("store a school's wrapped data key"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the school's data key and, through the foreign key, every entry sealed
    /// under it. Says whether the school had a key.
    pub(crate) async fn delete_school_key(&self, school: &str) -> Result<bool, StateError> {
        let done = sqlx::query("DELETE FROM school_keys WHERE school = ?")
            .bind(school)
            .execute(&self.pool)
            .await
            .map_err(StateError::query("delete a school's data key"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The value sealed under the master key when the state was created.
    pub(crate) async fn master_key_check(&self) -> Result<Option<Sealed>, StateError> {
        let row = sqlx::query("SELECT sealed, nonce FROM master_key_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::query("read the master key check"))?;
        row.map(|row| sealed(&row, "sealed", "nonce")).transpose()
    }

    /// Stores the master key check unless one exists; says whether it was stored.
    pub(crate) async fn insert_master_key_check(
        &self,
        check: &Sealed,
        now: i64,
    ) -> Result<bool, StateError> {
        let done = sqlx::query(
            "INSERT INTO master_key_check (id, sealed, nonce, created_at) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&check.bytes)
        .bind(&check.nonce)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StateError::query("store the master key check"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an entry, replacing the school's earlier entry for the area but keeping
    /// when it was last used: a refresh is not a use.
    pub(crate) async fn upsert_entry(
        &self,
        school: &str,
        area: Area,
        entry: NewEntry<'_>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO cache_entries \
             (school, area, ciphertext, nonce, created_at, expires_at, last_used_at, record_count) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (school, area) DO UPDATE SET \
             ciphertext = excluded.ciphertext, nonce = excluded.nonce, \
             created_at = excluded.created_at, expires_at = excluded.expires_at, \
             record_count = excluded.record_count",
        )
        .bind(school)
        .bind(area.as_str())
        .bind(&entry.sealed.bytes)
        .bind(&entry.sealed.nonce)
        .bind(entry.created_at)
        .bind(entry.expires_at)
        .bind(entry.created_at)
        .bind(i64::try_from(entry.record_count).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(StateError::query("store a cache entry"))?;
        Ok(())
    }

    /// The school's sealed entry for the area, if there is one.
    pub(crate) async fn entry(
        &self,
        school: &str,
        area: Area,
    ) -> Result<Option<StoredEntry>, StateError> {
        let row = sqlx::query(
            "SELECT ciphertext, nonce, expires_at FROM cache_entries \
             WHERE school = ? AND area = ?",
        )
        .bind(school)
        .bind(area.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::query("read a cache entry"))?;

        let Some(row) = row else { return Ok(None) };
        let sealed = sealed(&row, "ciphertext", "nonce")?;
        let expires_at = row.try_get("expires_at").map_err(read_error)?;
        Ok(Some(StoredEntry { sealed, expires_at }))
    }

    /// Deletes the school's entry for the area; says whether there was one.
    pub(crate) async fn delete_entry(&self, school: &str, area: Area) -> Result<bool, StateError> {
        let done = sqlx::query("DELETE FROM cache_entries WHERE school = ? AND area = ?")
            .bind(school)
            .bind(area.as_str())
            .execute(&self.pool)
            .await
            .map_err(StateError::query("delete a cache entry"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the entry was used at `now`; says whether there was one.
    pub(crate) async fn touch_entry(
        &self,
        school: &str,
        area: Area,
        now: i64,
    ) -> Result<bool, StateError> {
        let done =
            sqlx::query("UPDATE cache_entries SET last_used_at = ? WHERE school = ? AND area = ?")
                .bind(now)
                .bind(school)
                .bind(area.as_str())
                .execute(&self.pool)
                .await
                .map_err(StateError::query("record the use of a cache entry"))?;
        Ok(done.rows_affected() == 1)
    }

    /// What the school's entries are, without their contents, in catalogue order.
    pub(crate) async fn entry_metas(&self, school: &str) -> Result<Vec<EntryMeta>, StateError> {
        let rows = sqlx::query(
            "SELECT area, record_count, created_at, expires_at, last_used_at \
             FROM cache_entries WHERE school = ?",
        )
        .bind(school)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("list a school's cache entries"))?;

        let mut metas = Vec::with_capacity(rows.len());
        for row in rows {
            let count: i64 = row.try_get("record_count").map_err(read_error)?;
            metas.push(EntryMeta {
                area: area(school, &row)?,
                record_count: u64::try_from(count).unwrap_or(0),
                created_at: from_unix_seconds(row.try_get("created_at").map_err(read_error)?),
                expires_at: from_unix_seconds(row.try_get("expires_at").map_err(read_error)?),
                last_used_at: from_unix_seconds(row.try_get("last_used_at").map_err(read_error)?),
            });
        }
        metas.sort_by_key(|meta| meta.area);
        Ok(metas)
    }

    /// Deletes every entry that expired at or before `now` and says which they were.
    pub(crate) async fn delete_expired(&self, now: i64) -> Result<Vec<(String, Area)>, StateError> {
        let rows =
            sqlx::query("DELETE FROM cache_entries WHERE expires_at <= ? RETURNING school, area")
                .bind(now)
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::query("erase expired cache entries"))?;

        let mut erased = Vec::with_capacity(rows.len());
        for row in rows {
            let school: String = row.try_get("school").map_err(read_error)?;
            let area = area(&school, &row)?;
            erased.push((school, area));
        }
        erased.sort();
        Ok(erased)
    }
}

fn sealed(row: &SqliteRow, bytes: &str, nonce: &str) -> Result<Sealed, StateError> {
    Ok(Sealed {
        bytes: row.try_get(bytes).map_err(read_error)?,
        nonce: row.try_get(nonce).map_err(read_error)?,
    })
}

fn area(school: &str, row: &SqliteRow) -> Result<Area, StateError> {
    let name: String = row.try_get("area").map_err(read_error)?;
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
