//! Writing what a pass found: every resource's status, and the mark an invalid change
//! leaves on the resources it concerns.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::json;

use super::push::PushReport;
use super::status::{self, DeliveryObservation, Revisions, SchoolObservation};
use super::{Controller, ControllerError, reference};
use crate::ledger::summary::{agreement_flows, person_flows};
use crate::ledger::{Ledger, LedgerStore};
use crate::plan::Plan;
use crate::resources::status::{reasons, set_condition, types};
use crate::resources::{Kind, ObjectKey, ResourceSet};
use crate::state::Revision;

impl Controller {
    pub(super) async fn write_statuses(
        &self,
        resources: &ResourceSet,
        plan: &Plan,
        observations: &BTreeMap<ObjectKey, SchoolObservation>,
        pushed: &PushReport,
        rolls: &BTreeMap<ObjectKey, BTreeSet<String>>,
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        // Every figure about flows comes from the ledger.
        let ledger = Ledger::new(self.state().clone());
        let mut flows = agreement_flows(&ledger.entries().await?);
        let last_deliveries: BTreeMap<String, String> = flows
            .iter()
            .filter_map(|(agreement, f)| Some((agreement.clone(), f.last_delivery.clone()?)))
            .collect();
        let revisions = Revisions {
            applied: self.state().revision(Revision::LastApplied).await?,
            attempted: self.state().revision(Revision::LastAttempted).await?,
        };
        self.forget_undeclared(resources).await?;
        for school in &resources.schools {
            let key = ObjectKey::of(school);
            let Some(school_plan) = plan.schools.iter().find(|p| p.key == key) else {
                continue;
            };
            let seen = observations.get(&key).cloned().unwrap_or_default();
            let previous = self.previous_status(Kind::School, &key).await?;
            let mut status =
                status::school_status(previous, school, school_plan, &seen, &revisions, now);
            self.keep_invalid_mark(Kind::School, &key, &mut status.conditions, now);
            self.store(Kind::School, &key, school, &status).await?;
        }
        for agreement in &resources.agreements {
            let key = ObjectKey::of(agreement);
            let Some(agreement_plan) = plan.agreements.iter().find(|p| p.key == key) else {
                continue;
            };
            let previous = self
                .previous_status(Kind::DataSharingAgreement, &key)
                .await?;
            let name = key.to_string();
            let delivery = DeliveryObservation {
                // Each agreement is declared once, so its flows are taken, not copied.
                flows: flows.remove(&name).unwrap_or_default(),
                hold: pushed.holds.get(&name).cloned(),
                pending: pushed.pending.get(&name).copied().unwrap_or(0),
            };
            let changed = self.changed_since_signed(agreement, agreement_plan).await?;
            let mut status = status::agreement_status(
                previous,
                agreement.metadata.generation,
                agreement_plan,
                &changed,
                &delivery,
                &revisions,
                now,
            );
            self.keep_invalid_mark(
                Kind::DataSharingAgreement,
                &key,
                &mut status.conditions,
                now,
            );
            self.store(Kind::DataSharingAgreement, &key, agreement, &status)
                .await?;
        }
        for partner in &resources.partners {
            let key = ObjectKey::of(partner);
            let mut status: crate::resources::PartnerStatus = self
                .previous_status(Kind::Partner, &key)
                .await?
                .unwrap_or_default();
            let in_effect = plan
                .agreements
                .iter()
                .filter(|a| a.in_effect())
                .filter(|a| {
                    resources
                        .agreements
                        .iter()
                        .any(|d| ObjectKey::of(d) == a.key && d.spec.partner == key.name)
                });
            status.agreements = Some(in_effect.count() as i64);
            status.last_delivery_time = resources
                .agreements
                .iter()
                .filter(|d| {
                    d.namespace().as_deref() == Some(key.namespace.as_str())
                        && d.spec.partner == key.name
                })
                .filter_map(|d| last_deliveries.get(&ObjectKey::of(d).to_string()).cloned())
                .max()
                .and_then(|t| t.parse().ok())
                .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
            let (ready, reason) = if partner.spec.suspend {
                (false, reasons::SUSPENDED)
            } else {
                (true, reasons::CONVERGED)
            };
            set_condition(
                &mut status.conditions,
                types::READY,
                Some(ready),
                reason,
                "",
                partner.metadata.generation,
                now,
            );
            status.observed_generation = partner.metadata.generation;
            self.store(Kind::Partner, &key, partner, &status).await?;
        }
        for rule in &resources.consent_rules {
            let key = ObjectKey::of(rule);
            let mut status: crate::resources::ConsentRuleStatus = self
                .previous_status(Kind::ConsentRule, &key)
                .await?
                .unwrap_or_default();
            set_condition(
                &mut status.conditions,
                types::READY,
                Some(true),
                reasons::CONVERGED,
                "applied to every delivery in scope",
                rule.metadata.generation,
                now,
            );
            status.observed_generation = rule.metadata.generation;
            status.included = Some(rule.spec.include.len() as i64);
            status.excluded = Some(rule.spec.exclude.len() as i64);
            self.store(Kind::ConsentRule, &key, rule, &status).await?;
        }
        for erasure in &resources.erasures {
            let key = ObjectKey::of(erasure);
            let previous = self.previous_status(Kind::ErasureRequest, &key).await?;
            let school = ObjectKey::new(key.namespace.clone(), erasure.spec.school.clone());
            let history = ledger
                .history(&school.to_string(), &erasure.spec.sourced_id)
                .await?;
            let in_cache = rolls
                .get(&school)
                .is_some_and(|roll| roll.contains(&erasure.spec.sourced_id));
            let status =
                status::erasure_status(previous, erasure, &person_flows(&history), in_cache, now);
            self.store(Kind::ErasureRequest, &key, erasure, &status)
                .await?;
        }
        Ok(())
    }

    /// For an agreement whose signature no longer matches, which parts changed since the
    /// version last verified; for a verified one, remembers this version.
    async fn changed_since_signed(
        &self,
        agreement: &crate::resources::DataSharingAgreement,
        plan: &crate::plan::AgreementPlan,
    ) -> Result<Vec<String>, ControllerError> {
        let key = plan.key.to_string();
        let now = crate::signing::canonical_json(&plan.key.name, &agreement.spec);
        match plan.verification {
            crate::signing::Verification::Valid { .. } => {
                self.state()
                    .put_verified_agreement(&key, &now.to_string())
                    .await?;
                Ok(Vec::new())
            }
            crate::signing::Verification::Mismatch { .. } => {
                let signed = self.state().verified_agreement(&key).await?;
                Ok(signed
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .map(|signed| crate::signing::changed_paths(&signed, &now))
                    .unwrap_or_default())
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn previous_status<S: serde::de::DeserializeOwned>(
        &self,
        kind: Kind,
        key: &ObjectKey,
    ) -> Result<Option<S>, ControllerError> {
        let stored: Option<serde_json::Value> = self.state().status(&reference(kind, key)).await?;
        Ok(stored.and_then(|object| serde_json::from_value(object.get("status")?.clone()).ok()))
    }

    /// Stores the whole object (metadata, spec, status), as `kubectl get -o yaml` shows it.
    async fn store<R: serde::Serialize, S: serde::Serialize>(
        &self,
        kind: Kind,
        key: &ObjectKey,
        resource: &R,
        status: &S,
    ) -> Result<(), ControllerError> {
        let mut object = serde_json::to_value(resource).unwrap_or_default();
        object["status"] = serde_json::to_value(status).unwrap_or_default();
        // Embedded mode has no apiserver to stamp creation, so the first pass that saw the
        // resource stands in for it, as AGE in the tables.
        let previous: Option<serde_json::Value> =
            self.state().status(&reference(kind, key)).await?;
        let created = previous
            .and_then(|p| {
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| Timestamp::now().to_string());
        object["metadata"]["creationTimestamp"] = serde_json::Value::String(created);
        self.state()
            .upsert_status(&reference(kind, key), &object)
            .await?;
        Ok(())
    }

    /// Keeps `Stalled=True, Invalid` on a resource whose latest change was refused, over
    /// what the pass found of the last valid declaration.
    fn keep_invalid_mark(
        &self,
        kind: Kind,
        key: &ObjectKey,
        conditions: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
        now: Timestamp,
    ) {
        if let Some((_, _, finding)) = self.invalid.iter().find(|(k, o, _)| *k == kind && o == key)
        {
            set_condition(
                conditions,
                types::STALLED,
                Some(true),
                reasons::INVALID,
                invalid_message(finding),
                None,
                now,
            );
        }
    }

    pub(super) async fn mark_invalid(
        &self,
        affected: &[(Kind, ObjectKey, String)],
        now: Timestamp,
    ) -> Result<(), ControllerError> {
        for (kind, key, finding) in affected {
            let reference = reference(*kind, key);
            let mut object: serde_json::Value = self.state().status(&reference).await?.unwrap_or_else(|| {
                json!({ "apiVersion": crate::resources::API_VERSION, "kind": kind.as_str(), "metadata": { "name": key.name, "namespace": key.namespace } })
            });
            let mut conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> =
                serde_json::from_value(object["status"]["conditions"].clone()).unwrap_or_default();
            let message = invalid_message(finding);
            set_condition(
                &mut conditions,
                types::STALLED,
                Some(true),
                reasons::INVALID,
                message,
                None,
                now,
            );
            if object["status"].is_null() {
                object["status"] = json!({});
            }
            object["status"]["conditions"] = serde_json::to_value(conditions).unwrap_or_default();
            self.state().upsert_status(&reference, &object).await?;
        }
        Ok(())
    }

    /// Drops the status of every resource that is no longer declared, so `accord status`
    /// shows what the folder declares, not what it once did.
    async fn forget_undeclared(&self, resources: &ResourceSet) -> Result<(), ControllerError> {
        let declared: std::collections::BTreeSet<(Kind, ObjectKey)> = resources
            .schools
            .iter()
            .map(|r| (Kind::School, ObjectKey::of(r)))
            .chain(
                resources
                    .partners
                    .iter()
                    .map(|r| (Kind::Partner, ObjectKey::of(r))),
            )
            .chain(
                resources
                    .agreements
                    .iter()
                    .map(|r| (Kind::DataSharingAgreement, ObjectKey::of(r))),
            )
            .chain(
                resources
                    .consent_rules
                    .iter()
                    .map(|r| (Kind::ConsentRule, ObjectKey::of(r))),
            )
            .chain(
                resources
                    .erasures
                    .iter()
                    .map(|r| (Kind::ErasureRequest, ObjectKey::of(r))),
            )
            .collect();
        for kind in Kind::ALL {
            for (stored, _) in self
                .state()
                .statuses::<serde_json::Value>(kind.as_str())
                .await?
            {
                let key = ObjectKey::new(stored.namespace.clone(), stored.name.clone());
                if !declared.contains(&(kind, key)) {
                    self.state().remove_status(&stored).await?;
                }
            }
        }
        Ok(())
    }
}

fn invalid_message(finding: &str) -> String {
    format!(
        "the latest change is invalid and was not applied ({finding}); the last valid declaration keeps running"
    )
}
