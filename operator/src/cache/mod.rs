//! The encrypted cache of MIS extracts, one entry per school and data area.
//!
//! Envelope encryption: each school has its own random AES-256 data key, stored only
//! wrapped under the [`MasterKey`]; each entry is sealed under its school's data key with
//! associated data naming the school and area, so a row moved elsewhere fails to open.
//! Deleting a school's key row destroys every entry at once (crypto-shredding). An entry
//! that fails authentication is erased and reported, never served: the MIS is read again.
//! What is sealed is packed first ([`packing`]): the JSON of an extract shrinks to a
//! fraction of its size.
//!
//! Data keys are unwrapped for each call and wiped when it returns; nothing secret is kept
//! in memory between calls except the master key.
//!
//! Limitation: the plaintext handed to [`Cache::put`] and returned by [`Cache::get`] is
//! ordinary memory that is not wiped; callers should drop pupil records promptly.

mod error;
mod master_key;
mod packing;
mod seal;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::catalogue::Area;
use crate::state::{EntryMeta, NewEntry, Sealed, State, unix_seconds};

pub use error::{CacheError, MasterKeyError};
pub use master_key::{KeyOrigin, KeySources, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey};

use packing::{pack, unpack};
use seal::{CHECK_AAD, CHECK_PLAINTEXT, SealError, SecretKey, entry_aad, key_aad, message_aad};

/// The encrypted cache over a state database.
#[derive(Debug)]
pub struct Cache {
    state: State,
    master: MasterKey,
}

impl Cache {
    /// A cache over `state` under `master`. The first call on a new state records a check
    /// value sealed under the key; later calls refuse a different key with
    /// [`CacheError::WrongMasterKey`].
    pub async fn new(state: State, master: MasterKey) -> Result<Cache, CacheError> {
        let cache = Cache { state, master };
        cache.check_master_key().await?;
        Ok(cache)
    }

    /// The state database underneath.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Stores `plaintext` as the school's entry for `area`, replacing an earlier one,
    /// sealed under the school's data key (created on first use). Its creation time is the
    /// system clock's; when it was last used is kept across refreshes.
    pub async fn put(
        &self,
        school: &str,
        area: Area,
        plaintext: &[u8],
        record_count: u64,
        expires_at: SystemTime,
    ) -> Result<(), CacheError> {
        let key = self.data_key(school).await?;
        let aad = entry_aad(school, area);
        let sealed = key
            .seal(&pack(plaintext), &aad)
            .map_err(|error| match error {
                SealError::Random(source) => CacheError::Random(source),
                SealError::TooLong => CacheError::TooLarge {
                    school: school.to_owned(),
                    area,
                    bytes: plaintext.len(),
                },
            })?;

        let entry = NewEntry {
            sealed: &sealed,
            record_count,
            created_at: unix_seconds(SystemTime::now()),
            expires_at: unix_seconds(expires_at),
        };
        self.state.upsert_entry(school, area, entry).await?;
        Ok(())
    }

    /// The school's entry for `area`, or `None` when there is none or it has expired by
    /// `now` (an expired entry is erased on the way). An entry that fails authentication
    /// is erased and reported as [`CacheError::Corrupt`]. Reading is not a use: call
    /// [`Cache::touch`] when a delivery or pull serves the data.
    pub async fn get(
        &self,
        school: &str,
        area: Area,
        now: SystemTime,
    ) -> Result<Option<Vec<u8>>, CacheError> {
        let Some(stored) = self.state.entry(school, area).await? else {
            return Ok(None);
        };

        if stored.expires_at <= unix_seconds(now) {
            self.state.delete_entry(school, area).await?;
            return Ok(None);
        }

        let key = self.data_key(school).await?;
        let opened = key.open(&stored.sealed, &entry_aad(school, area));
        match opened.ok().and_then(unpack) {
            Some(plaintext) => Ok(Some(plaintext)),
            None => {
                self.state.delete_entry(school, area).await?;
                Err(CacheError::Corrupt {
                    school: school.to_owned(),
                    area,
                })
            }
        }
    }

    /// Seals a message body for the outbox under the school's data key, so it is as
    /// protected as the cache it came from and shredded with it.
    pub async fn seal_message(
        &self,
        school: &str,
        batch: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, CacheError> {
        let key = self.data_key(school).await?;
        // Stored as nonce then ciphertext with its tag.
        key.seal(&pack(body), &message_aad(school, batch))
            .map(|sealed| [sealed.nonce, sealed.bytes].concat())
            .map_err(|error| match error {
                SealError::Random(source) => CacheError::Random(source),
                SealError::TooLong => CacheError::Seal {
                    what: "an outbox message",
                },
            })
    }

    /// Opens a message sealed by [`Cache::seal_message`].
    pub async fn open_message(
        &self,
        school: &str,
        batch: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CacheError> {
        let unreadable = || CacheError::UnreadableMessage {
            school: school.to_owned(),
            batch: batch.to_owned(),
        };
        if self.state.wrapped_key(school).await?.is_none() {
            return Err(unreadable());
        }
        let key = self.data_key(school).await?;
        let Some((nonce, bytes)) = sealed.split_at_checked(12) else {
            return Err(unreadable());
        };
        let sealed = Sealed {
            nonce: nonce.to_vec(),
            bytes: bytes.to_vec(),
        };
        key.open(&sealed, &message_aad(school, batch))
            .ok()
            .and_then(unpack)
            .ok_or_else(unreadable)
    }

    /// Records that a delivery or partner pull used the entry at `now`, so the area keeps
    /// being refreshed proactively. Says whether there was such an entry.
    pub async fn touch(
        &self,
        school: &str,
        area: Area,
        now: SystemTime,
    ) -> Result<bool, CacheError> {
        Ok(self
            .state
            .touch_entry(school, area, unix_seconds(now))
            .await?)
    }

    /// What the school's entries are (area, record count, times), without decrypting them.
    pub async fn entries(&self, school: &str) -> Result<Vec<EntryMeta>, CacheError> {
        Ok(self.state.entry_metas(school).await?)
    }

    /// Erases every entry of every school that expired at or before `now` and says which
    /// `(school, area)` pairs they were, sorted.
    pub async fn expire(&self, now: SystemTime) -> Result<Vec<(String, Area)>, CacheError> {
        Ok(self.state.delete_expired(unix_seconds(now)).await?)
    }

    /// Erases the school's entry for `area`; says whether there was one.
    ///
    /// Limitation: the data key is per school, so a copy of the database taken before the
    /// removal still opens this area with the master key until the school is shredded.
    pub async fn remove(&self, school: &str, area: Area) -> Result<bool, CacheError> {
        Ok(self.state.delete_entry(school, area).await?)
    }

    /// Destroys the school's data key and with it every entry of the school
    /// (crypto-shredding), then checkpoints so the erased rows leave the write-ahead log.
    /// Says whether the school had a key.
    ///
    /// Limitation: a backup of the whole database taken before shredding still holds the
    /// wrapped key and opens with the master key; backups must expire within the
    /// retention, or the master key must be rotated.
    pub async fn shred_school(&self, school: &str) -> Result<bool, CacheError> {
        let had_key = self.state.delete_school_key(school).await?;
        self.state.checkpoint().await?;
        Ok(had_key)
    }

    /// Seals the check value on a new state, or opens it to prove the master key right.
    async fn check_master_key(&self) -> Result<(), CacheError> {
        let master = self.master.secret();
        let wrong_key = || CacheError::WrongMasterKey {
            state: self.state.to_string(),
        };

        // A state without a check but with school keys (the check row was lost) is judged
        // by one of its keys, so a wrong master key cannot get its own check recorded.
        if self.state.master_key_check().await?.is_none() {
            if let Some((school, wrapped)) = self.state.any_wrapped_key().await? {
                master
                    .open(&wrapped, &key_aad(&school))
                    .map_err(|_| wrong_key())?;
            }
            let check = master
                .seal(CHECK_PLAINTEXT, CHECK_AAD)
                .map_err(seal_error("the master key check"))?;
            self.state
                .insert_master_key_check(&check, unix_seconds(SystemTime::now()))
                .await?;
        }

        // Read back rather than trust the insert: a concurrent first run may have won.
        let check = self.state.master_key_check().await?.ok_or_else(wrong_key)?;
        match master.open(&check, CHECK_AAD) {
            Ok(plaintext) if plaintext == CHECK_PLAINTEXT => Ok(()),
            _ => Err(wrong_key()),
        }
    }

    /// The school's data key, unwrapped; created and stored wrapped on first use. A key
    /// that fails to unwrap is shredded with the school's entries.
    async fn data_key(&self, school: &str) -> Result<SecretKey, CacheError> {
        let master = self.master.secret();
        let aad = key_aad(school);

        if self.state.wrapped_key(school).await?.is_none() {
            let key = SecretKey::random().map_err(CacheError::Random)?;
            let wrapped = master
                .seal(key.as_bytes(), &aad)
                .map_err(seal_error("a school data key"))?;
            let now = unix_seconds(SystemTime::now());
            if self.state.insert_wrapped_key(school, &wrapped, now).await? {
                return Ok(key);
            }
        }

        let wrapped = self.state.wrapped_key(school).await?;
        let unwrapped = wrapped.and_then(|wrapped| master.open(&wrapped, &aad).ok());
        let key = unwrapped
            .map(Zeroizing::new)
            .and_then(|bytes| SecretKey::from_slice(&bytes));
        match key {
            Some(key) => Ok(key),
            None => {
                self.shred_school(school).await?;
                Err(CacheError::CorruptKey {
                    school: school.to_owned(),
                })
            }
        }
    }
}

/// Maps a failure to seal a key or the check value, which are a few dozen bytes long.
fn seal_error(what: &'static str) -> impl FnOnce(SealError) -> CacheError {
    move |error| match error {
        SealError::Random(source) => CacheError::Random(source),
        SealError::TooLong => CacheError::Seal { what },
    }
}
