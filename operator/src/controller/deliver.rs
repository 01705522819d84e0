//! Delivery in a pass: for every agreement and school, work out what the partner should
//! hold, commit what must change (deletion notices first, then records) to the outbox
//! with its ledger entries, then push the outbox.
//!
//! An agreement in effect is synchronised; one that expired, no longer covers a school or
//! is no longer declared is ended there (its partner is told to delete everything it
//! holds); one whose signature fails, or that is suspended, is frozen: nothing at all is
//! sent under it, not even deletion notices, until it is signed again or resumed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value};
use tracing::{info, warn};

use super::{Controller, ControllerError, Declaration};
use crate::catalogue::Area;
use crate::delivery::sync::{self, Sync, Target, TargetArea, Upserts, subject_of};
use crate::delivery::wire::{Deletion, DeletionNotice, Message, RecordsBatch, new_batch_key};
use crate::delivery::{audience, project_area};
use crate::ledger::{EntryBody, EntryKind};
use crate::plan::{AgreementPlan, Effect, Plan};
use crate::resources::{DataSharingAgreement, DeliveryMode, ObjectKey, Partner, ResourceSet};
use crate::state::{HoldingChange, NewMessage, unix_seconds};

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
    /// Every declared school's cached records, decrypted once for this pass.
    pub(super) async fn cached_records(
        &self,
        plan: &Plan,
        now: Timestamp,
    ) -> Result<BTreeMap<ObjectKey, SchoolRecords>, ControllerError> {
        let mut all = BTreeMap::new();
        for school_plan in &plan.schools {
            let school = school_plan.key.to_string();
            let mut areas = SchoolRecords::new();
            for entry in self.cache.entries(&school).await? {
                let Ok(Some(bytes)) = self
                    .cache
                    .get(&school, entry.area, SystemTime::from(now))
                    .await
                else {
                    continue;
                };
                match serde_json::from_slice::<Vec<Map<String, Value>>>(&bytes) {
                    Ok(records) => {
                        areas.insert(entry.area, records);
                    }
                    Err(_) => {
                        warn!(%school, area = %entry.area, "Cache entry is not a list of records; skipped until the next read")
                    }
                }
            }
            all.insert(school_plan.key.clone(), areas);
        }
        Ok(all)
    }

    /// Commits what every agreement must send this pass. Returns the agreements frozen,
    /// whose outbox must not be sent either.
    pub(super) async fn commit_deliveries(
        &self,
        declaration: &Declaration,
        plan: &Plan,
        records: &BTreeMap<ObjectKey, SchoolRecords>,
        now: Timestamp,
    ) -> Result<BTreeSet<String>, ControllerError> {
        let resources = &declaration.resources;
        let held_places = self.state().held_places().await?;
        let mut frozen = BTreeSet::new();

        for agreement_plan in &plan.agreements {
            let Some(agreement) = agreement_of(resources, &agreement_plan.key) else {
                continue;
            };
            let key = agreement_plan.key.to_string();
            let partner = resources.partner(&agreement_plan.key.namespace, &agreement.spec.partner);
            let flow = flow(agreement_plan);
            if flow == Flow::Freeze {
                frozen.insert(key.clone());
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
                let target = target(agreement, school_key, resources, cached);
                if agreement.spec.delivery.mode == DeliveryMode::Push {
                    // A push is a use: the areas it reads stay warm.
                    for area in target.areas.keys() {
                        self.cache
                            .touch(&school, *area, SystemTime::from(now))
                            .await?;
                    }
                }
                let upserts = self.upserts_due(agreement, &key, &school, now).await?;
                let mut plan = sync::sync(&target, &held, upserts);
                if agreement.spec.delivery.mode == DeliveryMode::Pull {
                    // A pulling partner takes records when it asks; only notices wait for it.
                    plan.upserts.clear();
                }
                self.commit_sync(&key, &school, partner, mode(agreement, partner), &plan, now)
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
                self.commit_sync(
                    &key,
                    &place.school,
                    partner,
                    mode(agreement, partner),
                    &plan,
                    now,
                )
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
            self.commit_sync(&place.agreement, &place.school, partner, mode, &plan, now)
                .await?;
        }
        Ok(frozen)
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

    /// Commits one agreement's sync at one school as messages, in order.
    async fn commit_sync(
        &self,
        agreement: &str,
        school: &str,
        partner: &Partner,
        mode: &str,
        plan: &Sync,
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        if plan.is_empty() {
            return Ok(());
        }
        let context = LedgerContext {
            at: now.to_string(),
            school: school.to_owned(),
            agreement: agreement.to_owned(),
            partner: ObjectKey::of(partner).to_string(),
            partner_location: location(partner),
        };
        let created_at = unix_seconds(SystemTime::from(now));

        if !plan.deletions.is_empty() {
            let batch = new_batch_key().map_err(crate::cache::CacheError::Random)?;
            let message = Message::Deletion(DeletionNotice {
                batch: batch.clone(),
                agreement: agreement.to_owned(),
                school: school.to_owned(),
                deletions: plan
                    .deletions
                    .iter()
                    .map(|d| Deletion {
                        area: d.area,
                        reason: d.reason,
                        sourced_ids: d.records.clone(),
                        fields: d.fields.clone(),
                    })
                    .collect(),
            });
            let ledger: Vec<EntryBody> = plan
                .deletions
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
            let changes: Vec<HoldingChange<'_>> = plan
                .deletions
                .iter()
                .map(|d| match (&d.records, &d.fields) {
                    (Some(ids), _) => HoldingChange::DeleteRecords { area: d.area, ids },
                    (None, Some(fields)) => HoldingChange::DeleteFields {
                        area: d.area,
                        fields,
                    },
                    (None, None) => HoldingChange::DeleteArea { area: d.area },
                })
                .collect();
            let count = plan.deletions.len() as u64;
            let subjects: BTreeSet<&String> =
                plan.deletions.iter().flat_map(|d| &d.subjects).collect();
            let subjects: Vec<String> = subjects.into_iter().cloned().collect();
            let row = Row {
                kind: "deletion",
                mode,
                records: count,
                subjects: &subjects,
                created_at,
            };
            self.commit(&message, &context, &row, &changes, &ledger)
                .await?;
            info!(agreement, school, partner = %context.partner, deletions = count, "Deletion notice committed");
        }

        for upsert in &plan.upserts {
            for chunk in upsert.records.chunks(BATCH_RECORDS) {
                let batch = new_batch_key().map_err(crate::cache::CacheError::Random)?;
                let records: Vec<Map<String, Value>> =
                    chunk.iter().map(|(r, _)| r.clone()).collect();
                let subjects: BTreeSet<&str> = chunk
                    .iter()
                    .filter_map(|(r, _)| subject_of(upsert.area, r))
                    .collect();
                let ledger = [EntryBody {
                    kind: EntryKind::Share,
                    area: upsert.area.to_string(),
                    fields: upsert.fields.clone(),
                    subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                    records: chunk.len() as u64,
                    batch: batch.clone(),
                    ..context.body()
                }];
                let changes = [HoldingChange::Upsert {
                    area: upsert.area,
                    fields: &upsert.fields,
                    records: chunk
                        .iter()
                        .filter_map(|(r, digest)| {
                            Some((sync::record_id(r)?, subject_of(upsert.area, r), *digest))
                        })
                        .collect(),
                }];
                let message = Message::Records(RecordsBatch {
                    batch,
                    agreement: agreement.to_owned(),
                    school: school.to_owned(),
                    area: upsert.area,
                    fields: upsert.fields.clone(),
                    records,
                });
                let row = Row {
                    kind: "records",
                    mode,
                    records: chunk.len() as u64,
                    subjects: &[],
                    created_at,
                };
                self.commit(&message, &context, &row, &changes, &ledger)
                    .await?;
            }
        }
        Ok(())
    }

    async fn commit(
        &self,
        message: &Message,
        context: &LedgerContext,
        row: &Row<'_>,
        changes: &[HoldingChange<'_>],
        ledger: &[EntryBody],
    ) -> Result<(), ControllerError> {
        let body = serde_json::to_vec(message).unwrap_or_default();
        let sealed = self
            .cache
            .seal_message(&context.school, message.batch(), &body)
            .await?;
        let row = NewMessage {
            batch: message.batch(),
            partner: &context.partner,
            agreement: &context.agreement,
            school: &context.school,
            kind: row.kind,
            mode: row.mode,
            sealed: &sealed,
            records: row.records,
            subjects: row.subjects,
            created_at: row.created_at,
            changes,
        };
        self.state().commit_message(&row, ledger).await?;
        Ok(())
    }
}

/// The outbox columns of a message besides its body.
struct Row<'a> {
    kind: &'a str,
    mode: &'a str,
    records: u64,
    subjects: &'a [String],
    created_at: i64,
}

/// The parts of a ledger entry shared by every entry of one agreement at one school.
pub(super) struct LedgerContext {
    pub(super) at: String,
    pub(super) school: String,
    pub(super) agreement: String,
    pub(super) partner: String,
    pub(super) partner_location: String,
}

impl LedgerContext {
    pub(super) fn body(&self) -> EntryBody {
        EntryBody {
            at: self.at.clone(),
            school: self.school.clone(),
            agreement: self.agreement.clone(),
            partner: self.partner.clone(),
            partner_location: self.partner_location.clone(),
            ..EntryBody::default()
        }
    }
}

/// What the agreement should have shared at the school: each area it names, projected
/// for the people consent allows there.
pub(crate) fn target(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    resources: &ResourceSet,
    cached: &SchoolRecords,
) -> Target {
    let roll = roll(cached);
    let audience = audience(
        agreement,
        school,
        &resources.consent_rules,
        &resources.erasures,
        roll.iter().map(String::as_str),
    );
    let mut target = Target::default();
    for (area, fields) in &agreement.spec.data.0 {
        let records = cached.get(area).map(Vec::as_slice).unwrap_or_default();
        target.areas.insert(
            *area,
            TargetArea {
                fields: fields.clone(),
                records: project_area(agreement, *area, records, &audience),
            },
        );
    }
    target
}

/// Everyone on a school's roll in the cache: pupils, staff and contacts.
pub(crate) fn roll(cached: &SchoolRecords) -> BTreeSet<String> {
    [Area::Students, Area::Staff, Area::Contacts]
        .iter()
        .filter_map(|area| cached.get(area))
        .flatten()
        .filter_map(|r| sync::record_id(r).map(str::to_owned))
        .collect()
}

/// Everyone any cached record is about, in every area.
pub(super) fn everyone(cached: &SchoolRecords) -> BTreeSet<String> {
    cached
        .iter()
        .flat_map(|(area, records)| records.iter().filter_map(|r| subject_of(*area, r)))
        .map(str::to_owned)
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
