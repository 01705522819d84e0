//! What the portal knows about flows, computed from the ledger and kept until the ledger
//! grows: every agreement's figures and its deliveries. Building it reads every entry, so
//! it is built once per new ledger entry, not once per page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use serde::Serialize;

use crate::ledger::summary::{AgreementFlows, agreement_flows};
use crate::ledger::{Entry, EntryKind, Ledger, LedgerStore};
use crate::resources::{DataLocation, ObjectKey, ResourceSet};
use crate::state::{State, StateError};

use super::auth::Viewer;

/// The flows of every agreement, as of one ledger position.
#[derive(Clone, Debug, Default)]
pub struct FlowIndex {
    /// The last ledger entry it covers.
    pub seq: i64,
    /// Per agreement (`namespace/name`), what the partner holds.
    pub flows: BTreeMap<String, AgreementFlows>,
    /// Per agreement, every share and deletion notice, oldest first.
    pub events: BTreeMap<String, Vec<FlowEvent>>,
    /// Per agreement and school, the people the partner holds.
    pub held: BTreeMap<String, BTreeMap<String, usize>>,
    /// Per school, the people some partner holds.
    pub school_people: BTreeMap<String, usize>,
    /// Per partner and school, the people the partner holds under any agreement.
    pub partner_people: BTreeMap<String, BTreeMap<String, usize>>,
}

/// One share or deletion notice under an agreement: no one named, only how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowEvent {
    /// `share` or `deletionNotice`.
    pub kind: &'static str,
    /// When, RFC 3339.
    pub at: String,
    /// The school, `namespace/name`.
    pub school: String,
    /// The data area.
    pub area: String,
    /// The fields concerned.
    pub fields: Vec<String>,
    /// How many records.
    pub records: u64,
    /// How many people.
    pub people: usize,
    /// Whether the partner acknowledged it.
    pub acknowledged: bool,
    /// For a notice, why.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl FlowIndex {
    /// The index of these entries.
    pub fn build(entries: &[Entry]) -> FlowIndex {
        let acked: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e.body.kind == EntryKind::Acknowledgement)
            .map(|e| e.body.batch.as_str())
            .collect();
        let mut events: BTreeMap<String, Vec<FlowEvent>> = BTreeMap::new();
        for entry in entries {
            let body = &entry.body;
            let kind = match body.kind {
                EntryKind::Share => "share",
                EntryKind::DeletionNotice => "deletionNotice",
                _ => continue,
            };
            events
                .entry(body.agreement.clone())
                .or_default()
                .push(FlowEvent {
                    kind,
                    at: body.at.clone(),
                    school: body.school.clone(),
                    area: body.area.clone(),
                    fields: body.fields.clone(),
                    records: body.records,
                    people: body.subjects.len(),
                    acknowledged: acked.contains(body.batch.as_str()),
                    reason: body.reason.clone(),
                });
        }
        let partners: BTreeMap<&str, &str> = entries
            .iter()
            .map(|e| (e.body.agreement.as_str(), e.body.partner.as_str()))
            .collect();
        let flows = agreement_flows(entries);

        // Counted once here, so a page never walks every person the ledger names.
        let mut held: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        let mut at_school: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut at_partner: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for (agreement, flow) in &flows {
            let partner = partners
                .get(agreement.as_str())
                .copied()
                .unwrap_or_default();
            let counts = held.entry(agreement.clone()).or_default();
            for (school, people) in &flow.people {
                *counts.entry(school.clone()).or_default() += people.len();
                let people = people.iter().map(String::as_str);
                at_school.entry(school).or_default().extend(people.clone());
                at_partner
                    .entry((partner, school))
                    .or_default()
                    .extend(people);
            }
        }
        let mut partner_people: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for ((partner, school), people) in at_partner {
            partner_people
                .entry(partner.to_owned())
                .or_default()
                .insert(school.to_owned(), people.len());
        }
        let school_people = at_school
            .into_iter()
            .map(|(s, p)| (s.to_owned(), p.len()))
            .collect();
        FlowIndex {
            seq: entries.last().map_or(0, |e| e.seq),
            school_people,
            partner_people,
            held,
            flows,
            events,
        }
    }

    /// People the agreement's partner holds from one school.
    pub fn people_at(&self, agreement: &str, school: &str) -> usize {
        self.held
            .get(agreement)
            .and_then(|h| h.get(school))
            .copied()
            .unwrap_or(0)
    }

    /// People the agreement's partner holds from the schools the viewer sees.
    pub fn people_seen(&self, agreement: &str, viewer: &Viewer) -> usize {
        self.held.get(agreement).map_or(0, |h| {
            h.iter()
                .filter(|(s, _)| viewer.sees(s))
                .map(|(_, n)| n)
                .sum()
        })
    }

    /// People the partner (`namespace/name`) holds from the schools the viewer sees.
    pub fn partner_people_seen(&self, partner: &str, viewer: &Viewer) -> usize {
        self.partner_people.get(partner).map_or(0, |h| {
            h.iter()
                .filter(|(s, _)| viewer.sees(s))
                .map(|(_, n)| n)
                .sum()
        })
    }

    /// The data areas the agreement's partner holds, from its fields held.
    pub fn areas(&self, agreement: &str) -> BTreeSet<String> {
        self.flows.get(agreement).map_or_else(BTreeSet::new, |f| {
            f.fields
                .iter()
                .filter_map(|f| f.split_once('.').map(|(a, _)| a.to_owned()))
                .collect()
        })
    }
}

/// The latest index, rebuilt when the ledger has grown.
///
/// Limitation: the rebuild reads every ledger entry; the first page after a new entry pays
/// for it.
#[derive(Debug, Default)]
pub struct IndexCache {
    latest: Mutex<Option<Arc<FlowIndex>>>,
}

impl IndexCache {
    /// The index as of the ledger's last entry.
    pub async fn current(&self, state: &State) -> Result<Arc<FlowIndex>, StateError> {
        let ledger = Ledger::new(state.clone());
        let last = ledger.last_seq().await?;
        if let Some(index) = self.latest.lock().ok().and_then(|l| l.clone())
            && index.seq == last
        {
            return Ok(index);
        }
        let index = Arc::new(FlowIndex::build(&ledger.entries().await?));
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(index.clone());
        }
        Ok(index)
    }
}

/// An agreement as the portal lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementView {
    /// `namespace/name`.
    pub key: String,
    /// Its name.
    pub name: String,
    /// The partner, `namespace/name`.
    pub partner: String,
    /// The declared schools it covers that the viewer sees, `namespace/name`.
    pub schools: Vec<String>,
    /// Areas the partner holds (from the ledger).
    pub areas: BTreeSet<String>,
    /// People the partner holds from schools the viewer sees (from the ledger).
    pub people: usize,
}

/// The agreements the viewer sees: those covering a school they see.
pub fn agreements(
    resources: &ResourceSet,
    index: &FlowIndex,
    viewer: &Viewer,
) -> Vec<AgreementView> {
    resources
        .agreements
        .iter()
        .filter_map(|agreement| {
            let key = ObjectKey::of(agreement).to_string();
            let namespace = agreement.namespace().unwrap_or_default();
            let schools: Vec<String> = resources
                .schools
                .iter()
                .filter(|s| s.namespace().unwrap_or_default() == namespace)
                .filter(|s| agreement.spec.schools.includes(s))
                .map(|s| ObjectKey::of(s).to_string())
                .filter(|s| viewer.sees(s))
                .collect();
            if schools.is_empty() && viewer.school.is_some() {
                return None;
            }
            Some(AgreementView {
                name: agreement.name_any(),
                partner: format!("{namespace}/{}", agreement.spec.partner),
                schools,
                areas: index.areas(&key),
                people: index.people_seen(&key, viewer),
                key,
            })
        })
        .collect()
}

/// One place data is kept, with what is there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Place {
    /// ISO country code.
    pub country: String,
    /// Region within it, or empty.
    pub region: String,
    /// Whether a transfer here leaves the UK and EEA.
    pub outside_uk_eea: bool,
    /// Schools whose cache is kept here, with the people on their roll Accord last read.
    pub caches: Vec<(String, u64)>,
    /// Partners that keep data here, with the people they hold (from the ledger).
    pub partners: Vec<(String, usize)>,
}

/// Where data is held and sent, grouped by country and region, for what the viewer sees.
/// `roll` gives each school's people as its status last reported them.
pub fn places(
    resources: &ResourceSet,
    index: &FlowIndex,
    viewer: &Viewer,
    roll: &BTreeMap<String, u64>,
) -> Vec<Place> {
    let mut places: BTreeMap<(String, String), Place> = BTreeMap::new();

    for school in &resources.schools {
        let key = ObjectKey::of(school).to_string();
        if viewer.sees(&key) {
            let people = roll.get(&key).copied().unwrap_or(0);
            place(&mut places, &school.spec.data_location)
                .caches
                .push((key, people));
        }
    }

    let seen = agreements(resources, index, viewer);
    for partner in &resources.partners {
        let key = ObjectKey::of(partner).to_string();
        let mine: Vec<&AgreementView> = seen.iter().filter(|a| a.partner == key).collect();
        if viewer.school.is_some() && mine.is_empty() {
            continue;
        }
        let people = index.partner_people_seen(&key, viewer);
        place(&mut places, &partner.spec.data_location)
            .partners
            .push((key, people));
    }
    places.into_values().collect()
}

fn place<'a>(
    places: &'a mut BTreeMap<(String, String), Place>,
    location: &DataLocation,
) -> &'a mut Place {
    let country = location.country.0.clone();
    let region = location.region.clone().unwrap_or_default();
    places
        .entry((country.clone(), region.clone()))
        .or_insert_with(|| Place {
            country,
            region,
            outside_uk_eea: !location.country.is_uk_or_eea(),
            ..Place::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EntryBody;
    use crate::portal::auth::Role;
    use crate::portal::fixtures::Trust;

    fn entry(seq: i64, kind: EntryKind, school: &str, batch: &str, subjects: &[&str]) -> Entry {
        Entry {
            seq,
            body: EntryBody {
                kind,
                at: format!("2026-12-03T10:00:{seq:02}Z"),
                school: format!("t/{school}"),
                agreement: "t/homework".into(),
                partner: "t/hub".into(),
                area: "students".into(),
                fields: vec!["givenName".into()],
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
                batch: batch.into(),
                ..EntryBody::default()
            },
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn viewer(school: Option<&str>) -> Viewer {
        Viewer {
            role: if school.is_some() {
                Role::SchoolStaff
            } else {
                Role::TrustDpo
            },
            school: school.map(str::to_owned),
            label: String::new(),
            expires: k8s_openapi::jiff::Timestamp::MAX,
        }
    }

    fn trust() -> ResourceSet {
        Trust::default()
            .school("ashby", "GB")
            .school("brook", "GB")
            .partner("hub", "US")
            .agreement("homework", "hub", &["ashby", "brook"])
            .0
    }

    #[test]
    fn only_acknowledged_shares_count_and_staff_see_only_their_school() {
        let entries = [
            entry(1, EntryKind::Share, "ashby", "b1", &["a-1", "a-2"]),
            entry(2, EntryKind::Acknowledgement, "ashby", "b1", &[]),
            entry(3, EntryKind::Share, "brook", "b2", &["b-1"]),
        ];
        let index = FlowIndex::build(&entries);
        assert_eq!(index.seq, 3);
        assert_eq!(index.people_at("t/homework", "t/ashby"), 2);
        assert_eq!(
            index.people_at("t/homework", "t/brook"),
            0,
            "not acknowledged"
        );
        assert_eq!(index.events["t/homework"].len(), 2);
        assert!(!index.events["t/homework"][1].acknowledged);

        let set = trust();
        let all = agreements(&set, &index, &viewer(None));
        assert_eq!(all[0].schools, ["t/ashby", "t/brook"]);
        let brook = agreements(&set, &index, &viewer(Some("t/brook")));
        assert_eq!(brook[0].schools, ["t/brook"]);
        assert_eq!(brook[0].people, 0);
    }

    #[test]
    fn places_group_caches_and_partners_and_mark_transfers_outside_the_uk_and_eea() {
        let entries = [
            entry(1, EntryKind::Share, "ashby", "b1", &["a-1", "a-2"]),
            entry(2, EntryKind::Acknowledgement, "ashby", "b1", &[]),
        ];
        let index = FlowIndex::build(&entries);
        let rolls = BTreeMap::from([("t/ashby".to_owned(), 200), ("t/brook".to_owned(), 150)]);
        let places = places(&trust(), &index, &viewer(None), &rolls);
        assert_eq!(places.len(), 2);
        let london = places.iter().find(|p| p.country == "GB").unwrap();
        assert!(!london.outside_uk_eea);
        assert_eq!(
            london.caches,
            [("t/ashby".into(), 200), ("t/brook".into(), 150)]
        );
        let us = places.iter().find(|p| p.country == "US").unwrap();
        assert!(us.outside_uk_eea);
        assert_eq!(us.partners, [("t/hub".into(), 2)]);

        let brook = super::places(&trust(), &index, &viewer(Some("t/brook")), &rolls);
        let us = brook.iter().find(|p| p.country == "US").unwrap();
        assert_eq!(
            us.partners,
            [("t/hub".into(), 0)],
            "Ashby's people are not Brook's"
        );
    }
}
