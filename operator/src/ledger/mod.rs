//! The ledger: an append-only, hash-chained record of every flow of personal data.
//!
//! Every share, deletion notice, acknowledgement and erasure is one entry naming who
//! (a sourcedId), which fields, which partner, where the partner keeps the data, under
//! which agreement, when, and in which batch. Each entry's hash covers its body and the
//! hash before it, so editing, deleting or reordering any entry breaks the chain from
//! there on, and [`verify`] says where. The storage is behind [`LedgerStore`]; SQLite
//! is the embedded store and PostgreSQL the one for clusters, both in [`Ledger`].

mod chain;
mod store;
pub mod summary;

use serde::{Deserialize, Serialize};

pub use chain::{ChainError, hash_entry, verify};
pub use store::{Ledger, SqliteLedger};
pub(crate) use store::{Staged, append_in, append_staged};

/// What an entry records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// Records about these people were committed to a partner: written to the outbox to
    /// be pushed, or served to a partner's pull.
    #[default]
    Share,
    /// A partner was told to delete some or all it holds about these people or areas.
    DeletionNotice,
    /// A partner confirmed a batch or a deletion notice.
    Acknowledgement,
    /// These people's data was erased from Accord's cache.
    Erasure,
}

impl EntryKind {
    /// The name used in the ledger's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Share => "share",
            EntryKind::DeletionNotice => "deletionNotice",
            EntryKind::Acknowledgement => "acknowledgement",
            EntryKind::Erasure => "erasure",
        }
    }
}

/// The body of an entry: everything but its place in the chain. Never holds the value of
/// a field, only its name; people appear only by MIS sourcedId.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryBody {
    /// What happened.
    pub kind: EntryKind,
    /// When, RFC 3339.
    pub at: String,
    /// The school, `namespace/name`.
    pub school: String,
    /// The agreement, `namespace/name`; empty for a cache erasure.
    pub agreement: String,
    /// The partner, `namespace/name`; empty for a cache erasure.
    pub partner: String,
    /// Where the partner keeps the data: country code and region.
    pub partner_location: String,
    /// The data area.
    pub area: String,
    /// The fields concerned, by catalogue name. For a deletion notice, the fields to
    /// delete; empty when whole records or the whole area go.
    pub fields: Vec<String>,
    /// The people concerned, by MIS sourcedId, sorted. Empty for an area holding no
    /// personal data (classes) or a notice that deletes a whole area.
    pub subjects: Vec<String>,
    /// How many records the entry covers.
    pub records: u64,
    /// For an acknowledgement, the bytes the partner received.
    pub bytes: u64,
    /// The batch (its idempotency key).
    pub batch: String,
    /// Why, for a deletion notice or an erasure (`noLongerShared`, `fieldsWithdrawn`,
    /// `areaWithdrawn`, `agreementEnded`, `erasureRequest`, `leftMis`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
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

    /// The entries about one person at one school, in sequence order.
    async fn entries_about(&self, school: &str, subject: &str) -> Result<Vec<Entry>, Self::Error>;

    /// The acknowledgements of these batches, in sequence order.
    async fn acknowledgements(&self, batches: &[String]) -> Result<Vec<Entry>, Self::Error>;

    /// Everything about one person at one school: the entries naming them and the
    /// acknowledgements of those entries' batches, in sequence order.
    async fn history(&self, school: &str, subject: &str) -> Result<Vec<Entry>, Self::Error> {
        let mut entries = self.entries_about(school, subject).await?;
        let batches: std::collections::BTreeSet<String> = entries
            .iter()
            .filter(|e| e.body.kind != EntryKind::Acknowledgement && !e.body.batch.is_empty())
            .map(|e| e.body.batch.clone())
            .collect();
        let batches: Vec<String> = batches.into_iter().collect();
        entries.extend(self.acknowledgements(&batches).await?);
        entries.sort_by_key(|e| e.seq);
        entries.dedup_by_key(|e| e.seq);
        Ok(entries)
    }
}

#[cfg(test)]
pub(crate) mod tests;
