//! The ledger: an append-only, hash-chained record of every flow of personal data.
//!
//! Every share, deletion notice, acknowledgement and erasure is one entry naming who
//! (a sourcedId), which fields, which partner, where the partner keeps the data, under
//! which agreement, when, and in which batch. Each entry's hash covers its body and the
//! hash before it, so editing, deleting or reordering any entry breaks the chain from
//! there on, and [`verify`] says where. The storage is behind [`LedgerStore`]; SQLite
//! is the embedded store.

mod chain;
mod sqlite;

use serde::{Deserialize, Serialize};

pub use chain::{ChainError, hash_entry, verify};
pub use sqlite::SqliteLedger;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// Fields about a person were sent to (or pulled by) a partner.
    Share,
    /// A partner was told to delete some or all it holds about a person.
    DeletionNotice,
    /// A partner confirmed a batch or a deletion.
    Acknowledgement,
    /// A person's data was erased from Accord's cache.
    Erasure,
}

/// The body of an entry: everything but its place in the chain. Never holds a value of
/// a field, only its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryBody {
    /// What happened.
    pub kind: EntryKind,
    /// When, RFC 3339.
    pub at: String,
    /// The school, `namespace/name`.
    pub school: String,
    /// The person's MIS sourcedId.
    pub subject: String,
    /// The agreement, `namespace/name`.
    pub agreement: String,
    /// The partner, `namespace/name`.
    pub partner: String,
    /// Where the partner keeps the data: country code and region.
    pub partner_location: String,
    /// The data area.
    pub area: String,
    /// The fields concerned, by catalogue name.
    pub fields: Vec<String>,
    /// The batch (its idempotency key).
    pub batch: String,
}

/// One entry in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its position, from 1.
    pub seq: i64,
    /// What it records.
    pub body: EntryBody,
    /// The hash of the entry before (zeros for the first).
    pub prev_hash: [u8; 32],
    /// SHA-256 over `prev_hash` and the canonical body.
    pub hash: [u8; 32],
}

/// Where the ledger is kept.
#[allow(async_fn_in_trait)]
pub trait LedgerStore {
    /// The store's error.
    type Error: std::error::Error;

    /// Appends entries in order, chaining each to the one before, and returns them.
    async fn append(&self, bodies: &[EntryBody]) -> Result<Vec<Entry>, Self::Error>;

    /// Every entry, in sequence order.
    async fn entries(&self) -> Result<Vec<Entry>, Self::Error>;
}

#[cfg(test)]
pub(crate) mod tests;
