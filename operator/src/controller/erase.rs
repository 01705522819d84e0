//! Erasing people from the cache: a record stays only while some agreement that covers the
//! school would share it. So a pupil who is excluded, withdraws consent or is named by an
//! erasure request leaves the cache in the pass that learns of it, as well as being
//! deleted at every partner that received them.
//!
//! Agreements that are frozen (signature failing, suspended) still count: a tampered
//! agreement must not erase data any more than it may send it.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use rayon::prelude::*;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;
use tracing::info;

use super::deliver::{SchoolRecords, roll};
use super::{Controller, ControllerError, Declaration, Opened};
use crate::cache::CacheError;
use crate::catalogue::Area;
use crate::delivery::sync::{record_id, subject_of};
use crate::delivery::{Consent, shares};
use crate::ledger::{EntryBody, EntryKind, Ledger, LedgerStore};
use crate::plan::{Effect, Plan};
use crate::resources::{DataSharingAgreement, ObjectKey, ResourceSet};

impl Controller {
    /// Removes from each school's cache the records no agreement would share, and records
    /// in the ledger the erasure of each person an erasure request names.
    ///
    /// The records of this pass are cut at once; each area's cache entry is sealed and
    /// written back in a task of its own, so delivery goes ahead beside the write. Should
    /// a write fail, the pass fails once its deliveries are committed (none carries an
    /// erased record), and the next pass erases again.
    pub(super) async fn erase_from_cache(
        &self,
        declaration: &Declaration,
        plan: &Plan,
        records: &mut BTreeMap<ObjectKey, SchoolRecords>,
        texts: &Opened,
        now: Timestamp,
    ) -> Result<CacheWrites, ControllerError> {
        let mut writes = CacheWrites(Vec::new());
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

            let verdicts = verdicts(&agreements, school, resources, cached);
            let requested = requested_erasures(declaration, school);
            let mut erased: BTreeSet<String> = BTreeSet::new();
            let key = school.to_string();
            for entry in self.cache.entries(&key).await? {
                let (Some(area_records), Some(keep)) =
                    (cached.get_mut(&entry.area), verdicts.keep.get(&entry.area))
                else {
                    continue;
                };
                let links = (entry.area == Area::Contacts)
                    .then_some(verdicts.pupils.as_ref())
                    .flatten();
                let Some(split) = split(entry.area, area_records, keep, links) else {
                    continue;
                };
                erased.extend(split.removed.into_iter().filter(|s| requested.contains(s)));
                // The entry's text as read this pass; without it every record is written anew.
                let original = texts.get(&(key.clone(), entry.area)).map(Vec::as_slice);
                let payload = payload(original, keep, area_records, &split.rewritten);
                let (cache, school, area) = (self.cache.clone(), key.clone(), entry.area);
                let (kept, expires) = (area_records.len() as u64, entry.expires_at);
                let gone = keep.iter().filter(|k| !**k).count();
                writes.0.push(tokio::spawn(async move {
                    cache.put(&school, area, &payload, kept, expires).await?;
                    info!(%school, %area, records = gone, "Records no agreement shares erased from the cache");
                    Ok(())
                }));
            }
            self.record_erasures(&key, erased, now).await?;
        }
        Ok(writes)
    }

    /// One ledger entry for the people an erasure request names and the cache no longer
    /// holds, unless the ledger already records their erasure.
    async fn record_erasures(
        &self,
        school: &str,
        erased: BTreeSet<String>,
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        let ledger = Ledger::new(self.state().clone());
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

/// Cache entries being written back after an erasure.
#[must_use = "the erasure is not in the cache until its writes are finished"]
pub(super) struct CacheWrites(Vec<JoinHandle<Result<(), CacheError>>>);

impl CacheWrites {
    /// Waits for every write, giving the first failure.
    pub(super) async fn finish(self) -> Result<(), ControllerError> {
        let mut first = Ok(());
        for write in self.0 {
            let written = match write.await {
                Ok(written) => written,
                // Writing never panics by itself; carry on a panic from below.
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            };
            if first.is_ok() {
                first = written.map_err(ControllerError::from);
            }
        }
        first
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

/// Which cached records stay: per area, one verdict per record, and the pupils who stay
/// (when some agreement shares pupils), whom contacts keep their links to.
struct Verdicts {
    keep: BTreeMap<Area, Vec<bool>>,
    pupils: Option<HashSet<String>>,
}

/// A record stays while some agreement covering the school names its area and would
/// share it under its consent.
fn verdicts(
    agreements: &[&DataSharingAgreement],
    school: &ObjectKey,
    resources: &ResourceSet,
    cached: &SchoolRecords,
) -> Verdicts {
    let roll = roll(cached);
    let consents: Vec<(&DataSharingAgreement, Consent<'_>)> = agreements
        .iter()
        .map(|a| {
            let consent = Consent::of(a, school, &resources.consent_rules, &resources.erasures);
            (*a, consent)
        })
        .collect();
    let mut keep = BTreeMap::new();
    for (area, records) in cached {
        let sharing: Vec<_> = consents
            .iter()
            .filter(|(a, _)| a.spec.data.0.contains_key(area))
            .map(|(_, consent)| consent.over(&roll))
            .collect();
        let verdict = records
            .par_iter()
            .map(|r| record_id(r).is_some() && sharing.iter().any(|c| shares(*area, r, c)))
            .collect();
        keep.insert(*area, verdict);
    }
    // Only contacts' links are checked against the pupils who stay.
    let pupils_shared = cached.contains_key(&Area::Contacts)
        && agreements
            .iter()
            .any(|a| a.spec.data.0.contains_key(&Area::Students));
    let pupils = pupils_shared.then(|| {
        let students = cached
            .get(&Area::Students)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let kept = keep
            .get(&Area::Students)
            .map(Vec::as_slice)
            .unwrap_or_default();
        students
            .iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .filter_map(|(r, _)| record_id(r).map(str::to_owned))
            .collect()
    });
    Verdicts { keep, pupils }
}

/// What [`split`] changed.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    /// The people of the records removed.
    removed: BTreeSet<String>,
    /// For each record kept, whether it changed (links cut).
    rewritten: Vec<bool>,
}

/// Removes the records whose verdict is false, and cuts contacts' links to pupils who do
/// not stay; returns what went and what changed, or `None` when nothing changed.
fn split(
    area: Area,
    records: &mut Vec<Map<String, Value>>,
    keep: &[bool],
    pupils: Option<&HashSet<String>>,
) -> Option<Split> {
    let linked = |link: &Value| {
        link.as_str()
            .is_some_and(|l| pupils.is_none_or(|p| p.contains(l)))
    };
    // Only contacts are given the pupils, and only theirs are looked at.
    let cut = |record: &Map<String, Value>| {
        pupils.is_some()
            && matches!(record.get("studentSourcedIds"),
                Some(Value::Array(links)) if !links.iter().all(linked))
    };
    let changed = keep.iter().any(|k| !k) || records.iter().zip(keep).any(|(r, k)| *k && cut(r));
    if !changed {
        return None;
    }
    let mut removed = BTreeSet::new();
    let mut rewritten = Vec::new();
    let mut verdict = keep.iter();
    records.retain_mut(|record| {
        if verdict.next().copied().unwrap_or(false) {
            let changed = cut(record);
            if changed && let Some(Value::Array(links)) = record.get_mut("studentSourcedIds") {
                links.retain(|l| linked(l));
            }
            rewritten.push(changed);
            true
        } else {
            if let Some(subject) = subject_of(area, record) {
                removed.insert(subject.to_owned());
            }
            false
        }
    });
    Some(Split { removed, rewritten })
}

/// The area's JSON once `split` has run: the text of each record kept unchanged copied
/// from `original` (the entry as read), and only changed records written again, so a
/// large area losing a few people is not serialised anew. Falls back to writing every
/// record when `original` is missing or does not line up with the verdicts.
fn payload(
    original: Option<&[u8]>,
    keep: &[bool],
    kept: &[Map<String, Value>],
    rewritten: &[bool],
) -> Vec<u8> {
    let whole = || serde_json::to_vec(kept).unwrap_or_default();
    let Some(original) = original else {
        return whole();
    };
    let Ok(raw) = serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(original) else {
        return whole();
    };
    if raw.len() != keep.len() || kept.len() != rewritten.len() {
        return whole();
    }
    let mut out = Vec::with_capacity(original.len());
    out.push(b'[');
    let mut kept = kept.iter().zip(rewritten);
    for (text, _) in raw.iter().zip(keep).filter(|(_, k)| **k) {
        let Some((record, changed)) = kept.next() else {
            return whole();
        };
        if out.len() > 1 {
            out.push(b',');
        }
        if *changed {
            // Writing a map of JSON values into memory cannot fail.
            let _ = serde_json::to_writer(&mut out, record);
        } else {
            out.extend_from_slice(text.get().as_bytes());
        }
    }
    if kept.next().is_some() {
        return whole();
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn records(values: Value) -> Vec<Map<String, Value>> {
        serde_json::from_value(values).unwrap()
    }

    #[test]
    fn nothing_changes_when_every_record_stays_and_every_link_holds() {
        let mut contacts =
            records(json!([{ "sourcedId": "con-1", "studentSourcedIds": ["stu-1"] }]));
        let pupils = HashSet::from(["stu-1".to_owned()]);
        assert_eq!(
            split(Area::Contacts, &mut contacts, &[true], Some(&pupils)),
            None
        );
        assert_eq!(contacts.len(), 1);
    }

    #[test]
    fn the_rewritten_area_is_the_kept_records_with_only_changed_ones_written_again() {
        let original = br#"[{"sourcedId":"con-1","studentSourcedIds":["stu-1","stu-2"]},{"sourcedId":"con-2","studentSourcedIds":["stu-2"]},{"sourcedId":"con-3","studentSourcedIds":["stu-1"],"note":"kept as read"}]"#;
        let mut contacts: Vec<Map<String, Value>> = serde_json::from_slice(original).unwrap();
        let pupils = HashSet::from(["stu-1".to_owned()]);
        let keep = [true, false, true];
        let split = split(Area::Contacts, &mut contacts, &keep, Some(&pupils)).unwrap();
        assert_eq!(split.rewritten, vec![true, false]);

        let spliced = payload(Some(original), &keep, &contacts, &split.rewritten);
        let read: Vec<Map<String, Value>> = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(read, contacts);
        assert!(
            spliced.ends_with(
                br#"{"sourcedId":"con-3","studentSourcedIds":["stu-1"],"note":"kept as read"}]"#
            ),
            "an unchanged record keeps its text"
        );
        // Verdicts that do not line up with what was read: every record is written.
        let fallback = payload(Some(original), &[true, true], &contacts, &split.rewritten);
        assert_eq!(fallback, serde_json::to_vec(&contacts).unwrap());
        assert_eq!(payload(None, &keep, &contacts, &split.rewritten), fallback);
    }

    #[test]
    fn records_that_go_name_their_people_and_contacts_lose_links_to_pupils_who_went() {
        let mut students = records(json!([{ "sourcedId": "stu-1" }, { "sourcedId": "stu-2" }]));
        let removed = split(Area::Students, &mut students, &[true, false], None).map(|s| s.removed);
        assert_eq!(removed, Some(BTreeSet::from(["stu-2".to_owned()])));
        assert_eq!(students, records(json!([{ "sourcedId": "stu-1" }])));

        let mut contacts = records(json!([
            { "sourcedId": "con-1", "studentSourcedIds": ["stu-1", "stu-2"] },
            { "sourcedId": "con-2", "studentSourcedIds": ["stu-2"] },
        ]));
        let pupils = HashSet::from(["stu-1".to_owned()]);
        let removed =
            split(Area::Contacts, &mut contacts, &[true, false], Some(&pupils)).map(|s| s.removed);
        assert_eq!(removed, Some(BTreeSet::from(["con-2".to_owned()])));
        assert_eq!(
            contacts,
            records(json!([{ "sourcedId": "con-1", "studentSourcedIds": ["stu-1"] }]))
        );
    }
}
