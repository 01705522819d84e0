//! The hash chain: how an entry's hash is made, and how a chain is checked.

use sha2::{Digest, Sha256};

use super::{Entry, EntryBody};

/// Where and how a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An entry's hash does not match its content: it was edited.
    #[error("ledger entry {seq} does not match its hash: it was changed after it was written")]
    Edited {
        /// The entry.
        seq: i64,
    },
    /// An entry does not follow the one before it: entries were removed or reordered.
    #[error(
        "ledger entry {seq} does not follow entry {previous}: entries were removed or reordered"
    )]
    Broken {
        /// The entry.
        seq: i64,
        /// The entry before it in the file.
        previous: i64,
    },
}

/// SHA-256 over the previous hash and the body's canonical JSON.
pub fn hash_entry(prev_hash: &[u8; 32], body: &EntryBody) -> [u8; 32] {
    hash_text(prev_hash, &body_text(body))
}

/// The body's canonical JSON, as it is hashed and stored. Struct fields serialise in
/// declaration order, so the JSON is the same every time.
pub(crate) fn body_text(body: &EntryBody) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// [`hash_entry`] for a body already written as [`body_text`].
pub(crate) fn hash_text(prev_hash: &[u8; 32], text: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

/// Checks a chain from its first entry: sequence numbers run 1, 2, 3 …, each entry
/// carries the hash of the one before, and each hash matches its content.
pub fn verify(entries: &[Entry]) -> Result<(), ChainError> {
    let mut prev_hash = [0u8; 32];
    let mut previous = 0;
    for entry in entries {
        if entry.seq != previous + 1 || entry.prev_hash != prev_hash {
            return Err(ChainError::Broken {
                seq: entry.seq,
                previous,
            });
        }
        if hash_entry(&entry.prev_hash, &entry.body) != entry.hash {
            return Err(ChainError::Edited { seq: entry.seq });
        }
        prev_hash = entry.hash;
        previous = entry.seq;
    }
    Ok(())
}
