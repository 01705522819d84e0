//! What to send one partner under one agreement at one school, from what it should hold
//! and what it already holds. Pure: the caller reads both from the cache and the state
//! database and commits the result.
//!
//! Deletions come before records, in one notice: records held that the agreement no
//! longer shares (the person left, consent no longer allows them, an erasure request
//! names them), fields and areas the agreement no longer names, and everything when the
//! agreement ended at this school. Records are sent when new or changed since they were
//! last sent, compared by a digest of exactly what was sent.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::Projected;
use super::wire::DeletionReason;
use crate::catalogue::{Area, SOURCED_ID};

/// A digest of a record as sent.
pub type RecordDigest = [u8; 16];

/// What the agreement should have shared at the school now.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Per area it shares: the fields, and the projected records.
    pub areas: BTreeMap<Area, TargetArea>,
}

/// One area the agreement shares.
#[derive(Clone, Debug, Default)]
pub struct TargetArea {
    /// The fields named for this area (besides `sourcedId`).
    pub fields: Vec<String>,
    /// The records, projected.
    pub records: Vec<Projected>,
}

/// What the partner holds under the agreement at the school, as far as Accord knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Held {
    /// Per area.
    pub areas: BTreeMap<Area, HeldArea>,
}

/// One area the partner holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeldArea {
    /// The fields it holds.
    pub fields: Vec<String>,
    /// Its records by record sourcedId.
    pub records: BTreeMap<String, HeldRecord>,
}

/// One record the partner holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRecord {
    /// The person it is about, if any.
    pub subject: Option<String>,
    /// The digest of what was sent.
    pub digest: RecordDigest,
}

/// One deletion to send, with the people it concerns for the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedDeletion {
    /// The area.
    pub area: Area,
    /// Why.
    pub reason: DeletionReason,
    /// Records to delete; `None` for fields or the whole area.
    pub records: Option<Vec<String>>,
    /// Fields to delete; `None` for records or the whole area.
    pub fields: Option<Vec<String>>,
    /// The people concerned, sorted.
    pub subjects: Vec<String>,
}

/// Records to send in one area.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedUpsert {
    /// The area.
    pub area: Area,
    /// The fields the records carry.
    pub fields: Vec<String>,
    /// The records, new or changed, with their digests.
    pub records: Vec<(Projected, RecordDigest)>,
}

/// What to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sync {
    /// Deletions, sent first.
    pub deletions: Vec<PlannedDeletion>,
    /// Records, sent after.
    pub upserts: Vec<PlannedUpsert>,
}

impl Sync {
    /// Whether nothing needs sending.
    pub fn is_empty(&self) -> bool {
        self.deletions.is_empty() && self.upserts.is_empty()
    }
}

/// Whether records are sent this time; deletions always are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserts {
    /// Send new and changed records.
    Due,
    /// Only deletions now: the push interval has not passed.
    NotDue,
}

/// The sync for an agreement that is in effect at the school.
pub fn sync(target: Target, held: &Held, upserts: Upserts) -> Sync {
    let mut plan = Sync::default();

    for (area, holding) in &held.areas {
        let Some(wanted) = target.areas.get(area) else {
            plan.deletions
                .push(whole_area(*area, holding, DeletionReason::AreaWithdrawn));
            continue;
        };

        let wanted_ids: BTreeSet<&str> = wanted.records.iter().map(Projected::id).collect();
        let gone: Vec<(&String, &HeldRecord)> = holding
            .records
            .iter()
            .filter(|(id, _)| !wanted_ids.contains(id.as_str()))
            .collect();
        if !gone.is_empty() {
            plan.deletions.push(PlannedDeletion {
                area: *area,
                reason: DeletionReason::NoLongerShared,
                records: Some(gone.iter().map(|(id, _)| (*id).clone()).collect()),
                fields: None,
                subjects: subjects(gone.iter().map(|(_, r)| *r)),
            });
        }

        let dropped: Vec<String> = holding
            .fields
            .iter()
            .filter(|f| !wanted.fields.contains(f))
            .cloned()
            .collect();
        if !dropped.is_empty() {
            plan.deletions.push(PlannedDeletion {
                area: *area,
                reason: DeletionReason::FieldsWithdrawn,
                records: None,
                fields: Some(dropped),
                subjects: subjects(holding.records.values()),
            });
        }
    }

    // A field newly named has to reach every record, so the interval does not hold it back.
    // The target is consumed: records to send move into the plan rather than being copied.
    for (area, wanted) in target.areas {
        let holding = held.areas.get(&area);
        let fields_changed = holding.is_none_or(|h| h.fields != wanted.fields);
        if upserts == Upserts::NotDue && !fields_changed {
            continue;
        }
        // Digests are taken on every core, the order kept.
        let records: Vec<(Projected, RecordDigest)> = wanted
            .records
            .into_par_iter()
            .filter_map(|record| {
                let digest = digest(record.json());
                let same = holding
                    .and_then(|h| h.records.get(record.id()))
                    .is_some_and(|r| r.digest == digest);
                (!same).then_some((record, digest))
            })
            .collect();
        if !records.is_empty() {
            plan.upserts.push(PlannedUpsert {
                area,
                fields: wanted.fields,
                records,
            });
        }
    }
    plan
}

/// The sync for an agreement that ended at the school: delete everything it holds.
pub fn end(held: &Held) -> Sync {
    Sync {
        deletions: held
            .areas
            .iter()
            .map(|(area, holding)| whole_area(*area, holding, DeletionReason::AgreementEnded))
            .collect(),
        upserts: Vec::new(),
    }
}

/// The person a record is about: a person's own sourcedId, an enrollment's user; none for
/// a class.
pub fn subject_of(area: Area, record: &Map<String, Value>) -> Option<&str> {
    let key = match area {
        Area::Classes => return None,
        Area::Enrollments => "userSourcedId",
        _ => SOURCED_ID,
    };
    record.get(key).and_then(Value::as_str)
}

/// The record's own sourcedId.
pub fn record_id(record: &Map<String, Value>) -> Option<&str> {
    record.get(SOURCED_ID).and_then(Value::as_str)
}

/// The digest of a record as it is sent: SHA-256 of its JSON text (keys sorted, as
/// [`Projected`] writes it), truncated.
pub fn digest(json: &str) -> RecordDigest {
    let hash = Sha256::digest(json.as_bytes());
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&hash[..16]);
    digest
}

fn whole_area(area: Area, holding: &HeldArea, reason: DeletionReason) -> PlannedDeletion {
    PlannedDeletion {
        area,
        reason,
        records: None,
        fields: None,
        subjects: subjects(holding.records.values()),
    }
}

fn subjects<'a>(records: impl Iterator<Item = &'a HeldRecord>) -> Vec<String> {
    let set: BTreeSet<&str> = records.filter_map(|r| r.subject.as_deref()).collect();
    set.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests;
