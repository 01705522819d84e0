//! The figures status shows about flows, computed from the ledger alone: who each
//! agreement's partner holds, which fields, when it last confirmed a delivery, how many
//! bytes it received; and, for one person, every partner that received them and whether
//! each acknowledged their deletion.
//!
//! A share counts once its batch is acknowledged; a deletion notice counts once its
//! notice is acknowledged, since until then the partner still holds the data.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Entry, EntryKind};

/// People by `sourcedId`. A large delivery puts every pupil of a school in one of these,
/// so it hashes with a fast non-cryptographic hasher rather than the default one.
pub type People = HashSet<String, foldhash::fast::RandomState>;

/// What flowed under one agreement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgreementFlows {
    /// People the partner holds: by school, their `sourcedId`s.
    pub people: BTreeMap<String, People>,
    /// Fields the partner holds, as `area.field`.
    pub fields: BTreeSet<String>,
    /// When the partner last acknowledged a message, RFC 3339.
    pub last_delivery: Option<String>,
    /// Bytes of every acknowledged message.
    pub bytes: u64,
    /// Messages acknowledged.
    pub batches: u64,
}

impl AgreementFlows {
    /// How many people the partner holds, at every school.
    pub fn people_count(&self) -> usize {
        self.people.values().map(HashSet::len).sum()
    }
}

/// The flows of every agreement, by `namespace/name`.
pub fn agreement_flows(entries: &[Entry]) -> BTreeMap<String, AgreementFlows> {
    let acked: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.body.kind == EntryKind::Acknowledgement)
        .map(|e| e.body.batch.as_str())
        .collect();

    // Per agreement, school and area: the people held and the fields held.
    type Area = (People, BTreeSet<String>);
    let mut held: BTreeMap<(&str, &str, &str), Area> = BTreeMap::new();
    let mut flows: BTreeMap<String, AgreementFlows> = BTreeMap::new();
    for entry in entries {
        let body = &entry.body;
        let place = (
            body.agreement.as_str(),
            body.school.as_str(),
            body.area.as_str(),
        );
        match body.kind {
            EntryKind::Share if acked.contains(body.batch.as_str()) => {
                let area = held.entry(place).or_default();
                area.0.extend(body.subjects.iter().cloned());
                area.1 = body.fields.iter().cloned().collect();
            }
            EntryKind::DeletionNotice if acked.contains(body.batch.as_str()) => {
                let Some(area) = held.get_mut(&place) else {
                    continue;
                };
                match body.reason.as_str() {
                    "noLongerShared" => body.subjects.iter().for_each(|s| {
                        area.0.remove(s);
                    }),
                    "fieldsWithdrawn" => body.fields.iter().for_each(|f| {
                        area.1.remove(f);
                    }),
                    _ => {
                        held.remove(&place);
                    }
                }
            }
            EntryKind::Acknowledgement => {
                let flow = flows.entry(body.agreement.clone()).or_default();
                flow.bytes += body.bytes;
                flow.batches += 1;
                if flow
                    .last_delivery
                    .as_deref()
                    .is_none_or(|last| last < body.at.as_str())
                {
                    flow.last_delivery = Some(body.at.clone());
                }
            }
            _ => {}
        }
    }

    for ((agreement, school, area), (people, fields)) in held {
        let flow = flows.entry(agreement.to_owned()).or_default();
        if area != "classes" && !people.is_empty() {
            let at_school = flow.people.entry(school.to_owned()).or_default();
            if at_school.is_empty() {
                *at_school = people;
            } else {
                at_school.extend(people);
            }
        }
        flow.fields
            .extend(fields.into_iter().map(|f| format!("{area}.{f}")));
    }
    flows
}

/// One partner's part in what happened to one person's data, under one agreement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonAtPartner {
    /// The agreement.
    pub agreement: String,
    /// The partner.
    pub partner: String,
    /// Where the partner keeps data.
    pub partner_location: String,
    /// Fields sent, as `area.field`.
    pub fields: BTreeSet<String>,
    /// When data was first committed to the partner.
    pub first_shared: Option<String>,
    /// When data was last committed to the partner.
    pub last_shared: Option<String>,
    /// Whether the last share was acknowledged.
    pub delivered: bool,
    /// The deletion notice after the last share, if any: when it was committed.
    pub notified_at: Option<String>,
    /// When the partner acknowledged that notice.
    pub acknowledged_at: Option<String>,
    /// The notice's reason.
    pub reason: Option<String>,
}

/// Every partner that received the person, from the entries about them and the
/// acknowledgements of their batches, in sequence order.
pub fn person_flows(entries: &[Entry]) -> Vec<PersonAtPartner> {
    let mut by_agreement: BTreeMap<(String, String), PersonAtPartner> = BTreeMap::new();
    let mut shared_batches: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut notices: BTreeMap<String, (String, String)> = BTreeMap::new();
    for entry in entries {
        let body = &entry.body;
        let key = (body.agreement.clone(), body.partner.clone());
        match body.kind {
            EntryKind::Share => {
                let at = by_agreement
                    .entry(key.clone())
                    .or_insert_with(|| PersonAtPartner {
                        agreement: body.agreement.clone(),
                        partner: body.partner.clone(),
                        partner_location: body.partner_location.clone(),
                        ..PersonAtPartner::default()
                    });
                at.fields
                    .extend(body.fields.iter().map(|f| format!("{}.{f}", body.area)));
                at.first_shared.get_or_insert_with(|| body.at.clone());
                at.last_shared = Some(body.at.clone());
                at.delivered = false;
                at.notified_at = None;
                at.acknowledged_at = None;
                at.reason = None;
                shared_batches
                    .entry(key)
                    .or_default()
                    .insert(body.batch.clone());
            }
            EntryKind::DeletionNotice => {
                if let Some(at) = by_agreement.get_mut(&key)
                    && at.notified_at.is_none()
                {
                    at.notified_at = Some(body.at.clone());
                    at.reason = Some(body.reason.clone());
                    notices.insert(body.batch.clone(), key);
                }
            }
            EntryKind::Acknowledgement => {
                if let Some(key) = notices.get(&body.batch)
                    && let Some(at) = by_agreement.get_mut(key)
                {
                    at.acknowledged_at = Some(body.at.clone());
                }
                if shared_batches
                    .get(&key)
                    .is_some_and(|b| b.contains(&body.batch))
                    && let Some(at) = by_agreement.get_mut(&key)
                {
                    at.delivered = true;
                }
            }
            EntryKind::Erasure => {}
        }
    }
    by_agreement.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EntryBody;

    fn entry(seq: i64, kind: EntryKind, batch: &str, subjects: &[&str], reason: &str) -> Entry {
        Entry {
            seq,
            body: EntryBody {
                kind,
                at: format!("2026-12-03T10:00:{seq:02}Z"),
                school: "t/ashby".into(),
                agreement: "t/homework".into(),
                partner: "t/hub".into(),
                partner_location: "GB/London".into(),
                area: if kind == EntryKind::Acknowledgement {
                    String::new()
                } else {
                    "students".into()
                },
                fields: vec!["givenName".into()],
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
                records: subjects.len() as u64,
                bytes: 100,
                batch: batch.into(),
                reason: reason.into(),
            },
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn people_count_only_once_acknowledged_and_leave_when_their_deletion_is() {
        let mut entries = vec![entry(1, EntryKind::Share, "b1", &["stu-1", "stu-2"], "")];
        let flows = agreement_flows(&entries);
        assert!(
            flows
                .get("t/homework")
                .is_none_or(|f| f.people_count() == 0),
            "not yet acknowledged"
        );

        entries.push(entry(2, EntryKind::Acknowledgement, "b1", &[], "records"));
        let flows = &agreement_flows(&entries)["t/homework"];
        assert_eq!(flows.people_count(), 2);
        assert_eq!(
            flows.fields,
            BTreeSet::from(["students.givenName".to_owned()])
        );
        assert_eq!(flows.last_delivery.as_deref(), Some("2026-12-03T10:00:02Z"));
        assert_eq!(flows.bytes, 100);

        entries.push(entry(
            3,
            EntryKind::DeletionNotice,
            "n1",
            &["stu-2"],
            "noLongerShared",
        ));
        assert_eq!(
            agreement_flows(&entries)["t/homework"].people_count(),
            2,
            "until acknowledged"
        );
        entries.push(entry(
            4,
            EntryKind::Acknowledgement,
            "n1",
            &["stu-2"],
            "deletion",
        ));
        let flows = &agreement_flows(&entries)["t/homework"];
        let left: Vec<(&str, &str)> = flows
            .people
            .iter()
            .flat_map(|(school, people)| people.iter().map(|p| (school.as_str(), p.as_str())))
            .collect();
        assert_eq!(left, [("t/ashby", "stu-1")]);
        assert_eq!(flows.batches, 2);
    }

    #[test]
    fn one_persons_notice_and_its_acknowledgement_are_tracked_per_partner() {
        let entries = vec![
            entry(1, EntryKind::Share, "b1", &["stu-1"], ""),
            entry(2, EntryKind::Acknowledgement, "b1", &[], "records"),
            entry(
                3,
                EntryKind::DeletionNotice,
                "n1",
                &["stu-1"],
                "noLongerShared",
            ),
        ];
        let flows = person_flows(&entries);
        assert_eq!(flows.len(), 1);
        assert_eq!(
            flows[0].notified_at.as_deref(),
            Some("2026-12-03T10:00:03Z")
        );
        assert_eq!(flows[0].acknowledged_at, None);

        let mut acked = entries.clone();
        acked.push(entry(
            4,
            EntryKind::Acknowledgement,
            "n1",
            &["stu-1"],
            "deletion",
        ));
        assert_eq!(
            person_flows(&acked)[0].acknowledged_at.as_deref(),
            Some("2026-12-03T10:00:04Z")
        );

        // Shared again after the deletion: the old notice no longer answers for it.
        acked.push(entry(5, EntryKind::Share, "b2", &["stu-1"], ""));
        assert_eq!(person_flows(&acked)[0].notified_at, None);
    }
}
