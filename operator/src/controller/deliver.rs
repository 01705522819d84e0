//! Delivery in a pass: for every agreement and school, work out what the partner should
//! hold, commit what must change (deletion notices first, then records) to the outbox
//! with its ledger entries, then push the outbox.
//!
//! An agreement in effect is synchronised; one that expired, no longer covers a school or
//! is no longer declared is ended there (its partner is told to delete everything it
//! holds); one whose signature fails, or that is suspended, is frozen: nothing at all is
//! sent under it, not even deletion notices, until it is signed again or resumed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tracing::{info, warn};

use super::push::Queued;
use super::{Controller, ControllerError, Declaration, Opened};
use crate::catalogue::Area;
use crate::delivery::Roll;
use crate::delivery::sync::{
    self, PlannedDeletion, PlannedUpsert, RecordDigest, Sync, Target, TargetArea, Upserts,
    subject_of,
};
use crate::delivery::wire::{Deletion, DeletionNotice, deletion_body, new_batch_key, records_body};
use crate::delivery::{Consent, Projected, project_area};
use crate::ledger::{EntryBody, EntryKind};
use crate::plan::{AgreementPlan, Effect, Plan};
use crate::resources::{DataSharingAgreement, DeliveryMode, ObjectKey, Partner, ResourceSet};
use crate::state::unix_seconds;
use tokio::sync::mpsc;

mod prepared;
mod writes;

use prepared::{Content, LedgerContext, Prepared};
use writes::{WRITES_AHEAD, Writes};

/// Records per batch: about 100 KiB of JSON for a typical agreement.
pub const BATCH_RECORDS: usize = 1_000;

/// A school's cached records, by area, decrypted for this pass.
pub(crate) type SchoolRecords = BTreeMap<Area, Vec<Map<String, Value>>>;

/// What happens to an agreement's flows at one school.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Deliver,
    End,
    Freeze,
}

impl Controller {
    /// Every declared school's cached records, parsed once for this pass from what
    /// [`Controller::facts`] opened (an entry this pass read again is opened now), with
    /// the text each area was parsed from.
    ///
    /// Gap: an extraction Job that replaces an entry after the facts were gathered is not
    /// seen until the next pass, and an erasure in this pass writes the area back from the
    /// version it parsed, replacing the Job's newer one until the school is read again.
    pub(super) async fn cached_records(
        &self,
        plan: &Plan,
        now: Timestamp,
        mut opened: Opened,
    ) -> Result<(BTreeMap<ObjectKey, SchoolRecords>, Opened), ControllerError> {
        let mut all = BTreeMap::new();
        let mut texts = Opened::new();
        for school_plan in &plan.schools {
            let school = school_plan.key.to_string();
            let mut areas = SchoolRecords::new();
            for entry in self.cache.entries(&school).await? {
                let bytes = match opened.remove(&(school.clone(), entry.area)) {
                    Some(bytes) => bytes,
                    None => match self
                        .cache
                        .get(&school, entry.area, SystemTime::from(now))
                        .await
                    {
                        Ok(Some(bytes)) => bytes,
                        _ => continue,
                    },
                };
                match parse_records(&bytes) {
                    Ok(records) => {
                        areas.insert(entry.area, records);
                        texts.insert((school.clone(), entry.area), bytes);
                    }
                    Err(_) => {
                        warn!(%school, area = %entry.area, "Cache entry is not a list of records; skipped until the next read")
                    }
                }
            }
            all.insert(school_plan.key.clone(), areas);
        }
        Ok((all, texts))
    }

    /// Commits what every agreement must send this pass, handing each group of messages
    /// to `committed` once its transaction is done, so the pusher sends it while the next
    /// is prepared.
    pub(super) async fn commit_deliveries(
        &self,
        declaration: &Declaration,
        plan: &Plan,
        records: &BTreeMap<ObjectKey, SchoolRecords>,
        now: Timestamp,
        committed: mpsc::Sender<Vec<Queued>>,
    ) -> Result<(), ControllerError> {
        let resources = &declaration.resources;
        let held_places = self.state().held_places().await?;
        // Everyone on each school's roll, for all its agreements: gathered once, if asked.
        let rolls: BTreeMap<&ObjectKey, Roll<'_>> = records
            .iter()
            .map(|(school, cached)| (school, roll(cached)))
            .collect();
        let no_roll = Roll::default();

        for agreement_plan in &plan.agreements {
            let Some(agreement) = agreement_of(resources, &agreement_plan.key) else {
                continue;
            };
            let key = agreement_plan.key.to_string();
            let partner = resources.partner(&agreement_plan.key.namespace, &agreement.spec.partner);
            let flow = flow(agreement_plan);
            if flow == Flow::Freeze {
                continue;
            }

            let covered: BTreeSet<String> = if flow == Flow::Deliver {
                agreement_plan
                    .schools
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            } else {
                BTreeSet::new()
            };
            for school_key in &agreement_plan.schools {
                let school = school_key.to_string();
                if !covered.contains(&school) {
                    continue;
                }
                if resources.school(school_key).is_some_and(|s| s.spec.suspend) {
                    continue;
                }
                let Some(partner) = partner else { continue };
                let held = self.state().held(&key, &school).await?;
                let empty = SchoolRecords::new();
                let cached = records.get(school_key).unwrap_or(&empty);
                let roll = rolls.get(school_key).unwrap_or(&no_roll);
                let target = target(agreement, school_key, resources, cached, roll);
                if agreement.spec.delivery.mode == DeliveryMode::Push {
                    // A push is a use: the areas it reads stay warm.
                    for area in target.areas.keys() {
                        self.cache
                            .touch(&school, *area, SystemTime::from(now))
                            .await?;
                    }
                }
                let upserts = self.upserts_due(agreement, &key, &school, now).await?;
                let mut plan = sync::sync(target, &held, upserts);
                if agreement.spec.delivery.mode == DeliveryMode::Pull {
                    // A pulling partner takes records when it asks; only notices wait for it.
                    plan.upserts.clear();
                }
                let mode = mode(agreement, partner);
                self.commit_sync(&key, &school, partner, mode, plan, now, &committed)
                    .await?;
            }

            // Schools it no longer covers, or every school when it ended.
            for place in held_places.iter().filter(|p| p.agreement == key) {
                if covered.contains(&place.school) {
                    continue;
                }
                let Some(partner) = partner else { continue };
                let held = self.state().held(&key, &place.school).await?;
                let plan = sync::end(&held);
                let mode = mode(agreement, partner);
                self.commit_sync(&key, &place.school, partner, mode, plan, now, &committed)
                    .await?;
            }
        }

        // Agreements no longer declared: their partners delete everything.
        let declared: BTreeSet<String> = resources
            .agreements
            .iter()
            .map(|a| ObjectKey::of(a).to_string())
            .collect();
        for place in held_places
            .iter()
            .filter(|p| !declared.contains(&p.agreement))
        {
            let Some(partner) = ObjectKey::parse(&place.partner)
                .and_then(|p| resources.partner(&p.namespace, &p.name))
            else {
                warn!(agreement = %place.agreement, partner = %place.partner, "Partner of a removed agreement is not declared; its deletion notice waits");
                continue;
            };
            let held = self.state().held(&place.agreement, &place.school).await?;
            let plan = sync::end(&held);
            let mode = if partner.spec.endpoint.is_some() {
                "push"
            } else {
                "pull"
            };
            self.commit_sync(
                &place.agreement,
                &place.school,
                partner,
                mode,
                plan,
                now,
                &committed,
            )
            .await?;
        }
        Ok(())
    }

    /// Whether the agreement's push interval has passed at the school.
    async fn upserts_due(
        &self,
        agreement: &DataSharingAgreement,
        key: &str,
        school: &str,
        now: Timestamp,
    ) -> Result<Upserts, ControllerError> {
        let Some(interval) = agreement
            .spec
            .delivery
            .interval
            .as_deref()
            .and_then(|i| crate::resources::Duration::parse(i).ok())
        else {
            return Ok(Upserts::Due);
        };
        let last = self.state().last_records_at(key, school).await?;
        let now = unix_seconds(SystemTime::from(now));
        let interval = i64::try_from(interval.0.as_secs()).unwrap_or(i64::MAX);
        Ok(match last {
            Some(last) if now.saturating_sub(last) < interval => Upserts::NotDue,
            _ => Upserts::Due,
        })
    }

    /// Commits one agreement's sync at one school as messages, in order: the deletion
    /// notice, then the records in batches. Messages are committed in groups, each group
    /// in one transaction, and the next group is sealed while the last one is written;
    /// each written group goes to `committed`, in order.
    #[allow(clippy::too_many_arguments)]
    async fn commit_sync(
        &self,
        agreement: &str,
        school: &str,
        partner: &Partner,
        mode: &'static str,
        plan: Sync,
        now: Timestamp,
        committed: &mpsc::Sender<Vec<Queued>>,
    ) -> Result<(), ControllerError> {
        if plan.is_empty() {
            return Ok(());
        }
        let context = Arc::new(LedgerContext {
            at: now.to_string(),
            school: school.to_owned(),
            agreement: agreement.to_owned(),
            partner: ObjectKey::of(partner).to_string(),
            partner_location: location(partner),
            mode,
            created_at: unix_seconds(SystemTime::from(now)),
        });

        let mut writes = Writes::default();
        let mut group = Vec::new();
        let mut grouped = 0;
        let deletions = plan.deletions.len();
        if deletions > 0 {
            group.push(self.prepare_deletion(&context, plan.deletions).await?);
        }
        for upsert in plan.upserts {
            let PlannedUpsert {
                area,
                fields,
                records,
            } = upsert;
            let mut rest = records.into_iter().peekable();
            while rest.peek().is_some() {
                let (records, digests): (Vec<_>, Vec<_>) =
                    rest.by_ref().take(BATCH_RECORDS).unzip();
                grouped += records.len();
                group.push(
                    self.prepare_records(&context, area, &fields, records, digests)
                        .await?,
                );
                if grouped >= GROUP_RECORDS {
                    grouped = 0;
                    writes.start(self.state(), &context, std::mem::take(&mut group));
                    while writes.in_flight() > WRITES_AHEAD {
                        let done = writes.next_written().await?;
                        hand_on(&context, done, committed).await;
                    }
                }
            }
        }
        if !group.is_empty() {
            writes.start(self.state(), &context, group);
        }
        while writes.in_flight() > 0 {
            let written = writes.next_written().await?;
            hand_on(&context, written, committed).await;
        }
        if deletions > 0 {
            info!(agreement, school, partner = %context.partner, deletions, "Deletion notice committed");
        }
        Ok(())
    }

    /// A deletion notice, sealed, with its ledger entries.
    async fn prepare_deletion(
        &self,
        context: &LedgerContext,
        deletions: Vec<PlannedDeletion>,
    ) -> Result<Prepared, ControllerError> {
        let batch = new_batch_key().map_err(crate::cache::CacheError::Random)?;
        let ledger: Vec<EntryBody> = deletions
            .iter()
            .map(|d| EntryBody {
                kind: EntryKind::DeletionNotice,
                area: d.area.to_string(),
                fields: d.fields.clone().unwrap_or_default(),
                subjects: d.subjects.clone(),
                records: d.records.as_ref().map_or(0, |r| r.len() as u64),
                batch: batch.clone(),
                reason: d.reason.as_str().to_owned(),
                ..context.body()
            })
            .collect();
        let subjects: BTreeSet<&String> = deletions.iter().flat_map(|d| &d.subjects).collect();
        let subjects: Vec<String> = subjects.into_iter().cloned().collect();
        let notice = DeletionNotice {
            batch: batch.clone(),
            agreement: context.agreement.clone(),
            school: context.school.clone(),
            deletions: deletions
                .into_iter()
                .map(|d| Deletion {
                    area: d.area,
                    reason: d.reason,
                    sourced_ids: d.records,
                    fields: d.fields,
                })
                .collect(),
        };
        let body = deletion_body(&notice);
        self.seal(
            context,
            batch,
            Content::Deletion(notice),
            body,
            subjects,
            ledger,
        )
        .await
    }

    /// One batch of records, sealed, with its ledger entry.
    async fn prepare_records(
        &self,
        context: &LedgerContext,
        area: Area,
        fields: &[String],
        records: Vec<Projected>,
        digests: Vec<RecordDigest>,
    ) -> Result<Prepared, ControllerError> {
        let batch = new_batch_key().map_err(crate::cache::CacheError::Random)?;
        let subjects: BTreeSet<&str> = records.iter().filter_map(Projected::subject).collect();
        let ledger = vec![EntryBody {
            kind: EntryKind::Share,
            area: area.to_string(),
            fields: fields.to_vec(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            records: records.len() as u64,
            batch: batch.clone(),
            ..context.body()
        }];
        let body = records_body(
            &batch,
            &context.agreement,
            &context.school,
            area,
            fields,
            records.iter().map(Projected::json),
        );
        let content = Content::Records {
            area,
            fields: fields.to_vec(),
            records,
            digests,
        };
        self.seal(context, batch, content, body, Vec::new(), ledger)
            .await
    }

    async fn seal(
        &self,
        context: &LedgerContext,
        batch: String,
        content: Content,
        body: Vec<u8>,
        subjects: Vec<String>,
        ledger: Vec<EntryBody>,
    ) -> Result<Prepared, ControllerError> {
        let sealed = self
            .cache
            .seal_message(&context.school, &batch, &body)
            .await?;
        Ok(Prepared {
            batch,
            content,
            subjects,
            body,
            sealed,
            ledger,
        })
    }
}

/// Hands a written group to the pusher. When the pusher has stopped (it failed), the
/// messages wait in the outbox for the next pass.
async fn hand_on(
    context: &LedgerContext,
    group: Vec<Prepared>,
    committed: &mpsc::Sender<Vec<Queued>>,
) {
    let queued = group.into_iter().map(|p| p.queued(context)).collect();
    let _ = committed.send(queued).await;
}

/// Records committed in one transaction: about 2 MiB of sealed batches for a typical
/// agreement, so a large delivery pays for few commits without holding much in memory.
const GROUP_RECORDS: usize = 20 * BATCH_RECORDS;

/// A cache entry's records. The list is split into its records first, and they are
/// parsed on every core: an area can hold a million of them.
fn parse_records(text: &[u8]) -> Result<Vec<Map<String, Value>>, serde_json::Error> {
    let records: Vec<&RawValue> = serde_json::from_slice(text)?;
    records
        .par_iter()
        .map(|record| serde_json::from_str(record.get()))
        .collect()
}

/// What the agreement should have shared at the school: each area it names, projected
/// for the people consent allows there.
pub(crate) fn target(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    resources: &ResourceSet,
    cached: &SchoolRecords,
    roll: &Roll<'_>,
) -> Target {
    let consent = Consent::of(
        agreement,
        school,
        &resources.consent_rules,
        &resources.erasures,
    );
    let allows = consent.over(roll);
    let mut target = Target::default();
    for (area, fields) in &agreement.spec.data.0 {
        let records = cached.get(area).map(Vec::as_slice).unwrap_or_default();
        target.areas.insert(
            *area,
            TargetArea {
                fields: fields.clone(),
                records: project_area(agreement, *area, records, &allows),
            },
        );
    }
    target
}

/// Everyone on a school's roll in the cache: pupils, staff and contacts.
pub(crate) fn roll(cached: &SchoolRecords) -> Roll<'_> {
    Roll::of(
        [Area::Students, Area::Staff, Area::Contacts]
            .iter()
            .filter_map(|area| cached.get(area))
            .map(Vec::as_slice),
    )
}

/// Per school, the people erasure requests name whom some cached record is still about.
pub(super) fn still_cached(
    resources: &ResourceSet,
    records: &BTreeMap<ObjectKey, SchoolRecords>,
) -> BTreeMap<ObjectKey, BTreeSet<String>> {
    let mut named: BTreeMap<ObjectKey, BTreeSet<&str>> = BTreeMap::new();
    for erasure in &resources.erasures {
        let namespace = erasure.namespace().unwrap_or_else(|| "default".to_owned());
        let school = ObjectKey::new(namespace, erasure.spec.school.clone());
        named
            .entry(school)
            .or_default()
            .insert(&erasure.spec.sourced_id);
    }
    named
        .into_iter()
        .filter_map(|(school, people)| {
            let cached = records.get(&school)?;
            let found = cached
                .iter()
                .flat_map(|(area, records)| records.iter().filter_map(|r| subject_of(*area, r)))
                .filter(|subject| people.contains(subject))
                .map(str::to_owned)
                .collect();
            Some((school, found))
        })
        .collect()
}

/// The agreements nothing may be sent under this pass, not even deletion notices.
pub(super) fn frozen(plan: &Plan) -> BTreeSet<String> {
    plan.agreements
        .iter()
        .filter(|a| flow(a) == Flow::Freeze)
        .map(|a| a.key.to_string())
        .collect()
}

fn flow(plan: &AgreementPlan) -> Flow {
    match plan.effect {
        Effect::InEffect => Flow::Deliver,
        Effect::Expired(_) | Effect::NotYetValid(_) => Flow::End,
        Effect::Unverified(_) | Effect::Suspended | Effect::MissingPartner => Flow::Freeze,
    }
}

fn mode(agreement: &DataSharingAgreement, partner: &Partner) -> &'static str {
    match agreement.spec.delivery.mode {
        DeliveryMode::Push if partner.spec.endpoint.is_some() => "push",
        _ => "pull",
    }
}

/// Where a partner keeps data: `GB/London`.
pub(crate) fn location(partner: &Partner) -> String {
    let location = &partner.spec.data_location;
    match &location.region {
        Some(region) => format!("{}/{region}", location.country.0),
        None => location.country.0.clone(),
    }
}

fn agreement_of<'a>(
    resources: &'a ResourceSet,
    key: &ObjectKey,
) -> Option<&'a DataSharingAgreement> {
    resources.agreements.iter().find(|a| {
        a.name_any() == key.name && a.namespace().as_deref().unwrap_or("default") == key.namespace
    })
}

#[cfg(test)]
mod tests {
    use super::parse_records;

    #[test]
    fn a_cache_entry_parses_to_its_records_in_order_and_anything_else_is_refused() {
        let records: Vec<String> = (0..5_000)
            .map(|i| format!(r#"{{"sourcedId":"stu-{i}","note":"a \"quoted\" [word]"}}"#))
            .collect();
        let text = format!("[{}]", records.join(","));
        let parsed = parse_records(text.as_bytes()).unwrap();
        assert_eq!(parsed.len(), 5_000);
        for (i, record) in parsed.iter().enumerate() {
            assert_eq!(record["sourcedId"], format!("stu-{i}").as_str());
            assert_eq!(record["note"], "a \"quoted\" [word]");
        }
        for bad in [
            r#"[{"sourcedId":"stu-1"}, 7]"#,
            r#"{"sourcedId":"stu-1"}"#,
            "[{",
        ] {
            assert!(parse_records(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
