//! What a partner holds: the records it was sent, less what it was told to delete.
//!
//! Holdings are the result of applying messages in the order they arrived. The receiver
//! keeps them in memory while it runs, and [`Holdings::load`] rebuilds them from a store's
//! journal, so a test can read exactly what a partner holds after the receiver stopped.
//!
//! Each record is kept as the JSON text it arrived as and parsed only when asked for: a
//! million records of a few fields take a few hundred MiB rather than gigabytes of parsed
//! values, and applying a batch does not build a map per record.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::StoreError;
use super::journal;
use crate::catalogue::{Area, SOURCED_ID};
use crate::delivery::wire::{DeletionNotice, DeletionScope, Message, RecordsBatch};

/// One record as a partner holds it: a JSON object with its `sourcedId`.
pub type Record = Map<String, Value>;

/// A record as it is kept: its text as received.
pub(super) type Kept = Box<RawValue>;

/// A message as the receiver reads it, each record kept as its text.
pub(super) type Received = Message<Kept>;

/// The areas whose records are about one person each, keyed by that person's `sourcedId`.
pub const PERSON_AREAS: [Area; 5] = [
    Area::Students,
    Area::Staff,
    Area::Contacts,
    Area::Demographics,
    Area::Attendance,
];

/// Where a record is held: agreement, school and area.
type Place = (String, String, Area);

/// Everything a partner holds, and which messages it applied.
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    areas: BTreeMap<Place, BTreeMap<String, Kept>>,
    batches: Vec<String>,
    applied: HashSet<String>,
    deletion_notices: usize,
    duplicates: Vec<String>,
}

impl Holdings {
    /// Replays the journal in `store` (a receiver's `--store` folder) in arrival order.
    pub fn load(store: &Path) -> Result<Holdings, StoreError> {
        let mut holdings = Holdings::default();
        for entry in journal::entries(store)? {
            holdings.apply(entry.read()?);
        }
        holdings.duplicates = journal::duplicates(store)?;
        Ok(holdings)
    }

    /// Applies one message: records replace those with the same `sourcedId`, deletions
    /// remove what they name. Records without a string `sourcedId` are passed over; the
    /// receiver refuses such batches before they reach here.
    pub(super) fn apply(&mut self, message: Received) {
        let batch = message.batch().to_owned();
        match message {
            Message::Records(records) => self.upsert(records),
            Message::Deletion(notice) => self.delete(notice),
        }
        self.applied.insert(batch.clone());
        self.batches.push(batch);
    }

    /// Whether the message with this idempotency key was applied.
    pub fn has_applied(&self, batch: &str) -> bool {
        self.applied.contains(batch)
    }

    /// The record with this `sourcedId` held under the agreement, school and area.
    pub fn holds(
        &self,
        agreement: &str,
        school: &str,
        area: Area,
        sourced_id: &str,
    ) -> Option<Record> {
        self.area(agreement, school, area)?
            .get(sourced_id)
            .map(|kept| parsed(kept))
    }

    /// Every record held under the agreement, school and area, by `sourcedId`.
    pub fn records(&self, agreement: &str, school: &str, area: Area) -> Vec<Record> {
        self.area(agreement, school, area)
            .map(|records| records.values().map(|kept| parsed(kept)).collect())
            .unwrap_or_default()
    }

    /// The `sourcedId`s of everyone with a record in a [person area](PERSON_AREAS) under
    /// the agreement and school.
    pub fn people(&self, agreement: &str, school: &str) -> BTreeSet<String> {
        PERSON_AREAS
            .into_iter()
            .filter_map(|area| self.area(agreement, school, area))
            .flat_map(|records| records.keys().cloned())
            .collect()
    }

    /// Every (agreement, school, area) that holds at least one record.
    pub fn places(&self) -> impl Iterator<Item = (&str, &str, Area)> {
        self.areas
            .iter()
            .filter(|(_, records)| !records.is_empty())
            .map(|((agreement, school, area), _)| (agreement.as_str(), school.as_str(), *area))
    }

    /// How many records are held in all.
    pub fn record_count(&self) -> usize {
        self.areas.values().map(BTreeMap::len).sum()
    }

    /// The idempotency keys of the applied messages, in arrival order.
    pub fn batches(&self) -> &[String] {
        &self.batches
    }

    /// How many deletion notices were applied.
    pub fn deletion_notices(&self) -> usize {
        self.deletion_notices
    }

    /// The keys of messages received again after they were applied, in order. Read from
    /// the store's duplicates log by [`Holdings::load`]; a running receiver adds to it.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// Notes that a message with this key arrived again.
    pub(super) fn note_duplicate(&mut self, batch: &str) {
        self.duplicates.push(batch.to_owned());
    }

    fn area(&self, agreement: &str, school: &str, area: Area) -> Option<&BTreeMap<String, Kept>> {
        self.areas
            .get(&(agreement.to_owned(), school.to_owned(), area))
    }

    fn upsert(&mut self, batch: RecordsBatch<Kept>) {
        let held = self
            .areas
            .entry((batch.agreement, batch.school, batch.area))
            .or_default();
        for record in batch.records {
            if let Some(id) = sourced_id(&record) {
                let id = id.into_owned();
                held.insert(id, record);
            }
        }
    }

    fn delete(&mut self, notice: DeletionNotice) {
        self.deletion_notices += 1;
        for deletion in &notice.deletions {
            let place = (
                notice.agreement.clone(),
                notice.school.clone(),
                deletion.area,
            );
            match deletion.scope() {
                DeletionScope::Records(ids) => {
                    if let Some(held) = self.areas.get_mut(&place) {
                        for id in ids {
                            held.remove(id);
                        }
                    }
                }
                DeletionScope::Fields(fields) => {
                    // `sourcedId` is how records are matched, so it stays.
                    let fields = fields.iter().filter(|f| f.as_str() != SOURCED_ID);
                    let fields: Vec<&String> = fields.collect();
                    for kept in self
                        .areas
                        .get_mut(&place)
                        .into_iter()
                        .flat_map(|h| h.values_mut())
                    {
                        let mut record = parsed(kept);
                        for field in &fields {
                            record.remove(field.as_str());
                        }
                        // A map of JSON values always serialises.
                        if let Ok(text) = serde_json::value::to_raw_value(&record) {
                            *kept = text;
                        }
                    }
                }
                DeletionScope::Area => {
                    self.areas.remove(&place);
                }
            }
        }
    }
}

/// The `sourcedId` of a record as received, when it is a JSON object with one as a
/// string. Only that member is read.
pub(super) fn sourced_id(record: &RawValue) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Identified<'a> {
        #[serde(rename = "sourcedId", borrow)]
        sourced_id: Option<Cow<'a, str>>,
    }
    if !record.get().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Identified<'_>>(record.get())
        .ok()?
        .sourced_id
}

/// A kept record as a map. Kept text was read as a JSON object, so it parses.
fn parsed(kept: &RawValue) -> Record {
    serde_json::from_str(kept.get()).unwrap_or_default()
}
