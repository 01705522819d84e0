//! What the ledger says flowed, per agreement, for the operator's metrics and Events.
//!
//! The figures are folded from the ledger's entries alone, the same source as every
//! status figure, so `/metrics` and `kubectl get dsa` can never disagree about what a
//! partner received.

use std::collections::{BTreeMap, BTreeSet};

use crate::ledger::summary::agreement_flows;
use crate::ledger::{Entry, EntryKind};

/// The flows of one agreement, as the ledger records them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgreementTally {
    /// The partner, `namespace/name`.
    pub partner: String,
    /// People the partner holds now.
    pub people: u64,
    /// Batches of records the partner acknowledged.
    pub batches: u64,
    /// Bytes of every message the partner acknowledged.
    pub bytes: u64,
    /// Deletion notices the partner acknowledged.
    pub deletion_notices: u64,
}

/// A deletion notice the partner acknowledged: one message, possibly over several areas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeAcknowledged {
    /// The agreement, `namespace/name`.
    pub agreement: String,
    /// The partner, `namespace/name`.
    pub partner: String,
    /// Why the partner was told to delete (`noLongerShared`, `agreementEnded`, ...).
    pub reason: String,
    /// How many people the notice names.
    pub people: usize,
    /// The areas it covers.
    pub areas: BTreeSet<String>,
}

/// Every agreement's tally, by `namespace/name`.
pub fn tally(entries: &[Entry]) -> BTreeMap<String, AgreementTally> {
    let acked: BTreeSet<&str> = acknowledged(entries).collect();
    let mut tallies: BTreeMap<String, AgreementTally> = BTreeMap::new();
    let mut share_batches: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut notice_batches: BTreeSet<(&str, &str)> = BTreeSet::new();
    for entry in entries {
        let body = &entry.body;
        if body.agreement.is_empty() {
            continue;
        }
        let batch = (body.agreement.as_str(), body.batch.as_str());
        match body.kind {
            EntryKind::Share if acked.contains(body.batch.as_str()) => {
                share_batches.insert(batch);
            }
            EntryKind::DeletionNotice if acked.contains(body.batch.as_str()) => {
                notice_batches.insert(batch);
            }
            _ => {}
        }
        let tally = tallies.entry(body.agreement.clone()).or_default();
        if tally.partner.is_empty() {
            tally.partner = body.partner.clone();
        }
    }
    for (agreement, _) in share_batches {
        tallies.entry(agreement.to_owned()).or_default().batches += 1;
    }
    for (agreement, _) in notice_batches {
        tallies
            .entry(agreement.to_owned())
            .or_default()
            .deletion_notices += 1;
    }
    for (agreement, flows) in agreement_flows(entries) {
        let tally = tallies.entry(agreement).or_default();
        tally.people = flows.people_count() as u64;
        tally.bytes = flows.bytes;
    }
    tallies
}

/// The deletion notices whose acknowledgement the ledger recorded after position `seen`.
pub fn notices_acknowledged_after(entries: &[Entry], seen: i64) -> Vec<NoticeAcknowledged> {
    let fresh: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.seq > seen && e.body.kind == EntryKind::Acknowledgement)
        .map(|e| e.body.batch.as_str())
        .collect();
    let mut notices: BTreeMap<&str, NoticeAcknowledged> = BTreeMap::new();
    let mut people: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for entry in entries {
        let body = &entry.body;
        if body.kind != EntryKind::DeletionNotice || !fresh.contains(body.batch.as_str()) {
            continue;
        }
        let notice = notices
            .entry(body.batch.as_str())
            .or_insert_with(|| NoticeAcknowledged {
                agreement: body.agreement.clone(),
                partner: body.partner.clone(),
                reason: body.reason.clone(),
                people: 0,
                areas: BTreeSet::new(),
            });
        notice.areas.insert(body.area.clone());
        people
            .entry(body.batch.as_str())
            .or_default()
            .extend(body.subjects.iter().map(String::as_str));
    }
    notices
        .into_iter()
        .map(|(batch, mut notice)| {
            notice.people = people.get(batch).map_or(0, BTreeSet::len);
            notice
        })
        .collect()
}

fn acknowledged(entries: &[Entry]) -> impl Iterator<Item = &str> {
    entries
        .iter()
        .filter(|e| e.body.kind == EntryKind::Acknowledgement)
        .map(|e| e.body.batch.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EntryBody;

    fn entry(seq: i64, kind: EntryKind, batch: &str, subjects: &[&str], bytes: u64) -> Entry {
        Entry {
            seq,
            body: EntryBody {
                kind,
                agreement: "trust/hub".to_owned(),
                partner: "trust/hub".to_owned(),
                school: "trust/ashby".to_owned(),
                area: "students".to_owned(),
                fields: vec!["givenName".to_owned()],
                subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                batch: batch.to_owned(),
                bytes,
                reason: if kind == EntryKind::DeletionNotice {
                    "noLongerShared".to_owned()
                } else {
                    String::new()
                },
                ..EntryBody::default()
            },
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn only_acknowledged_messages_count_as_delivered() {
        let entries = [
            entry(1, EntryKind::Share, "b1", &["p1", "p2", "p3"], 0),
            entry(2, EntryKind::Acknowledgement, "b1", &[], 300),
            entry(3, EntryKind::Share, "b2", &["p4"], 0),
            entry(4, EntryKind::DeletionNotice, "n1", &["p2"], 0),
            entry(5, EntryKind::Acknowledgement, "n1", &[], 40),
        ];
        let hub = &tally(&entries)["trust/hub"];
        assert_eq!(hub.partner, "trust/hub");
        assert_eq!(hub.batches, 1, "b2 was never acknowledged");
        assert_eq!(hub.deletion_notices, 1);
        assert_eq!(hub.bytes, 340);
        assert_eq!(hub.people, 2, "p2 was deleted, p4 never arrived");
    }

    #[test]
    fn a_notice_is_announced_once_when_its_acknowledgement_is_new() {
        let entries = [
            entry(1, EntryKind::DeletionNotice, "n1", &["p1", "p2"], 0),
            entry(2, EntryKind::DeletionNotice, "n2", &["p3"], 0),
            entry(3, EntryKind::Acknowledgement, "n1", &[], 40),
            entry(4, EntryKind::Acknowledgement, "n2", &[], 40),
        ];
        let fresh = notices_acknowledged_after(&entries, 3);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].people, 1);
        assert_eq!(fresh[0].reason, "noLongerShared");
        assert!(notices_acknowledged_after(&entries, 4).is_empty());
    }
}
