//! Erasing people from the cache: a record stays only while some agreement that covers the
//! school would share it. So a pupil who is excluded, withdraws consent or is named by an
//! erasure request leaves the cache in the pass that learns of it, as well as being
//! deleted at every partner that received them.
//!
//! Agreements that are frozen (signature failing, suspended) still count: a tampered
//! agreement must not erase data any more than it may send it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value};
use tracing::info;

use super::deliver::{SchoolRecords, target};
use super::{Controller, ControllerError, Declaration};
use crate::catalogue::Area;
use crate::delivery::sync::{record_id, subject_of};
use crate::ledger::{EntryBody, EntryKind, LedgerStore, SqliteLedger};
use crate::plan::{Effect, Plan};
use crate::resources::ObjectKey;

impl Controller {
    /// Removes from each school's cache the records no agreement would share, and records
    /// in the ledger the erasure of each person an erasure request names.
    pub(super) async fn erase_from_cache(
        &self,
        declaration: &Declaration,
        plan: &Plan,
        records: &mut BTreeMap<ObjectKey, SchoolRecords>,
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        let resources = &declaration.resources;
        for (school, cached) in records.iter_mut() {
            let agreements: Vec<_> = plan
                .agreements
                .iter()
                .filter(|a| !matches!(a.effect, Effect::Expired(_) | Effect::NotYetValid(_)))
                .filter(|a| a.schools.contains(school))
                .filter_map(|a| {
                    resources
                        .agreements
                        .iter()
                        .find(|d| ObjectKey::of(*d) == a.key)
                })
                .collect();
            if agreements.is_empty() {
                continue;
            }

            // Which records of each area some agreement still shares.
            let mut shared: BTreeMap<Area, BTreeSet<String>> = BTreeMap::new();
            for agreement in &agreements {
                for (area, wanted) in target(agreement, school, resources, &*cached).areas {
                    let ids = wanted
                        .records
                        .iter()
                        .filter_map(|r| record_id(r).map(str::to_owned));
                    shared.entry(area).or_default().extend(ids);
                }
            }

            let requested = requested_erasures(declaration, school);
            let mut erased: BTreeSet<String> = BTreeSet::new();
            let key = school.to_string();
            for entry in self.cache.entries(&key).await? {
                let Some(area_records) = cached.get(&entry.area) else {
                    continue;
                };
                let keep = shared.get(&entry.area);
                let pupils = shared.get(&Area::Students);
                let (kept, removed) = split(entry.area, area_records, keep, pupils);
                // Unchanged unless a record went or a contact lost a link.
                if removed.is_empty() && kept.as_slice() == area_records.as_slice() {
                    continue;
                }
                erased.extend(removed.iter().filter(|s| requested.contains(*s)).cloned());
                let payload = serde_json::to_vec(&kept).unwrap_or_default();
                self.cache
                    .put(
                        &key,
                        entry.area,
                        &payload,
                        kept.len() as u64,
                        entry.expires_at,
                    )
                    .await?;
                info!(school = %key, area = %entry.area, records = area_records.len() - kept.len(), "Records no agreement shares erased from the cache");
                cached.insert(entry.area, kept);
            }
            self.record_erasures(&key, erased, now).await?;
        }
        Ok(())
    }

    /// One ledger entry for the people an erasure request names and the cache no longer
    /// holds, unless the ledger already records their erasure.
    async fn record_erasures(
        &self,
        school: &str,
        erased: BTreeSet<String>,
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        let ledger = SqliteLedger::new(self.state().clone());
        let mut new = Vec::new();
        for subject in erased {
            let before = ledger.entries_about(school, &subject).await?;
            if !before.iter().any(|e| e.body.kind == EntryKind::Erasure) {
                new.push(subject);
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let count = new.len();
        ledger
            .append(&[EntryBody {
                kind: EntryKind::Erasure,
                at: now.to_string(),
                school: school.to_owned(),
                records: count as u64,
                subjects: new,
                reason: "erasureRequest".to_owned(),
                ..EntryBody::default()
            }])
            .await?;
        info!(%school, people = count, "Erasure recorded");
        Ok(())
    }
}

/// The people erasure requests name at the school for every agreement.
fn requested_erasures(declaration: &Declaration, school: &ObjectKey) -> BTreeSet<String> {
    declaration
        .resources
        .erasures
        .iter()
        .filter(|e| e.namespace().as_deref().unwrap_or("default") == school.namespace)
        .filter(|e| e.spec.school == school.name)
        .map(|e| e.spec.sourced_id.clone())
        .collect()
}

/// The records to keep, and the people of those removed. Contacts keep only their links to
/// pupils who stay in the cache.
fn split(
    area: Area,
    records: &[Map<String, Value>],
    keep: Option<&BTreeSet<String>>,
    pupils: Option<&BTreeSet<String>>,
) -> (Vec<Map<String, Value>>, BTreeSet<String>) {
    let mut kept = Vec::with_capacity(records.len());
    let mut removed = BTreeSet::new();
    for record in records {
        let stays = record_id(record).is_some_and(|id| keep.is_some_and(|k| k.contains(id)));
        if stays {
            let mut record = record.clone();
            if let (Some(Value::Array(links)), Some(pupils)) =
                (record.get_mut("studentSourcedIds"), pupils)
            {
                links.retain(|l| l.as_str().is_some_and(|l| pupils.contains(l)));
            }
            kept.push(record);
        } else if let Some(subject) = subject_of(area, record) {
            removed.insert(subject.to_owned());
        }
    }
    (kept, removed)
}
