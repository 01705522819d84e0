//! What can go wrong with the cache and its master key, each error naming the school,
//! area, file or folder involved and what to do about it.

use std::io;
use std::path::PathBuf;

use crate::catalogue::Area;
use crate::state::StateError;

/// A failure to seal, store, open or erase a cache entry.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The state database failed underneath the cache.
    #[error(transparent)]
    State(#[from] StateError),

    /// The master key is not the one the state database was created with.
    #[error(
        "the master key does not open the state in {state}; supply the key this state was \
         created with (key file or ACCORD_MASTER_KEY; every replica needs the same one), or \
         start an empty cache by moving the state folder aside or using a new database"
    )]
    WrongMasterKey {
        /// The state database: the SQLite file, or the PostgreSQL server and database.
        state: String,
    },

    /// An entry failed authentication: it was altered, damaged or copied from elsewhere.
    /// It has been erased so the school's MIS is read again; it is never served.
    #[error(
        "cache entry {school}/{area} failed authentication and was erased; it is re-extracted \
         from the school's MIS on the next refresh"
    )]
    Corrupt {
        /// The school the entry belonged to.
        school: String,
        /// The entry's data area.
        area: Area,
    },

    /// A message waiting in the outbox failed authentication or its school's key is gone.
    #[error(
        "outbox message {batch} of school {school} cannot be opened; it is dropped and what it \
         carried is sent again from the cache"
    )]
    UnreadableMessage {
        /// The school.
        school: String,
        /// The batch.
        batch: String,
    },

    /// A school's wrapped data key failed authentication although the master key is right.
    /// The school's key and entries have been erased so its MIS is read again.
    #[error(
        "data key of school {school} failed authentication and was erased with the school's \
         cache; it is re-extracted from the school's MIS on the next refresh"
    )]
    CorruptKey {
        /// The school whose key was damaged.
        school: String,
    },

    /// The extract is larger than AES-GCM can seal under one nonce.
    #[error(
        "cache entry {school}/{area} of {bytes} bytes is larger than AES-GCM can seal; split \
         the extract into smaller entries"
    )]
    TooLarge {
        /// The school the entry is for.
        school: String,
        /// The entry's data area.
        area: Area,
        /// The plaintext's length.
        bytes: usize,
    },

    /// AES-GCM refused to seal a short value; a bug rather than a state of the world.
    #[error("cannot seal {what} with AES-256-GCM; this is a bug in Accord, please report it")]
    Seal {
        /// What was being sealed.
        what: &'static str,
    },

    /// The operating system gave no random bytes for a key or a nonce.
    #[error(
        "cannot draw random bytes from the operating system: {0}; check that getrandom(2) works"
    )]
    Random(getrandom::Error),
}

/// A failure to find, read, check or create the master key.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The key file could not be read.
    #[error("cannot read master key file {path}: {source}; check the path and its permissions")]
    ReadFile {
        /// The key file.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// The key file can be read or written by other users.
    #[error(
        "master key file {path} is open to group or others (mode {mode:03o}); run `chmod 600 \
         {path}` (for a Kubernetes Secret volume, set defaultMode: 0400)"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key is not 32 bytes in base64.
    #[error(
        "master key from {origin} is invalid: {reason}; it must be 32 random bytes in base64, \
         e.g. from `head -c 32 /dev/urandom | base64`"
    )]
    Invalid {
        /// Where the key came from: a file path or the environment variable.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The state folder for a generated key could not be created.
    #[error("cannot create state folder {dir} for the master key: {source}")]
    CreateDir {
        /// The state folder.
        dir: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// A generated key could not be written.
    #[error("cannot write new master key file {path}: {source}; check the folder's permissions")]
    WriteFile {
        /// The key file.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// The operating system gave no random bytes for a new key.
    #[error("cannot draw random bytes for a new master key: {0}; check that getrandom(2) works")]
    Random(getrandom::Error),
}
