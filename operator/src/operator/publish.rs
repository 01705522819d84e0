//! Writing each pass's statuses to the cluster: server-side apply of the status
//! subresource under one field manager, and an Event on each transition a person would
//! want told about: `Ready` changing, `Verified` turning False, `Stalled` turning True, and
//! a partner acknowledging a deletion notice.
//!
//! The embedded controller keeps every status in the state database; this copies it onto
//! the object, so `kubectl get`, `kubectl wait` and the printer columns read the same
//! figures `accord status` does. A status equal to the one on the object is not written,
//! so a quiet namespace causes no writes and no watch events.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use serde_json::{Value, json};
use tracing::debug;

use super::OperatorError;
use super::declaration::Cluster;
use super::extraction::with_job;
use super::metrics::Metrics;
use super::tally::NoticeAcknowledged;
use crate::resources::status::types;
use crate::resources::{
    API_VERSION, ConsentRule, DataSharingAgreement, ErasureRequest, ExtractionJobStatus, Kind,
    ObjectKey, Partner, School,
};
use crate::state::{ResourceRef, State};

/// The field manager of every status the operator writes.
pub const FIELD_MANAGER: &str = "accord-operator";

/// Writes statuses and Events.
pub struct Publisher {
    client: Client,
    recorder: Recorder,
}

impl Publisher {
    /// A publisher whose Events name `instance` (the pod) as their reporter.
    pub fn new(client: Client, instance: String) -> Publisher {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(instance),
        };
        Publisher {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }

    /// Applies the stored status of every object in `cluster` whose status differs.
    pub async fn publish(
        &self,
        cluster: &Cluster,
        state: &State,
        metrics: &Metrics,
        jobs: &BTreeMap<ObjectKey, ExtractionJobStatus>,
    ) -> Result<(), OperatorError> {
        let out = (state, metrics);
        let none = BTreeMap::new();
        self.kind(&cluster.schools, Kind::School, out, jobs).await?;
        self.kind(&cluster.partners, Kind::Partner, out, &none)
            .await?;
        self.kind(&cluster.agreements, Kind::DataSharingAgreement, out, &none)
            .await?;
        self.kind(&cluster.consent_rules, Kind::ConsentRule, out, &none)
            .await?;
        self.kind(&cluster.erasures, Kind::ErasureRequest, out, &none)
            .await?;
        Ok(())
    }

    /// An Event on each agreement whose partner acknowledged a deletion notice; on the
    /// partner when the agreement is gone from the cluster.
    pub async fn announce_notices(&self, cluster: &Cluster, notices: &[NoticeAcknowledged]) {
        for notice in notices {
            let target = cluster
                .agreements
                .iter()
                .find(|a| ObjectKey::of(*a).to_string() == notice.agreement)
                .map(|a| a.object_ref(&()))
                .or_else(|| {
                    cluster
                        .partners
                        .iter()
                        .find(|p| ObjectKey::of(*p).to_string() == notice.partner)
                        .map(|p| p.object_ref(&()))
                });
            let Some(target) = target else {
                continue;
            };
            let areas: Vec<&str> = notice.areas.iter().map(String::as_str).collect();
            let event = Event {
                type_: EventType::Normal,
                reason: DELETION_NOTICE_SENT.to_owned(),
                note: Some(format!(
                    "partner {} acknowledged a deletion notice ({}) for {} people in {}",
                    notice.partner,
                    notice.reason,
                    notice.people,
                    areas.join(", ")
                )),
                action: "Notify".to_owned(),
                secondary: None,
            };
            self.record(&event, &target).await;
        }
    }

    async fn kind<K>(
        &self,
        objects: &[K],
        kind: Kind,
        (state, metrics): (&State, &Metrics),
        jobs: &BTreeMap<ObjectKey, ExtractionJobStatus>,
    ) -> Result<(), OperatorError>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + StatusOf
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
    {
        for object in objects {
            let key = ObjectKey::of(object);
            let reference = ResourceRef::new(kind.as_str(), &key.namespace, &key.name);
            // The state keeps the whole object as `accord status` shows it.
            let Some(mut status) = state
                .status::<Value>(&reference)
                .await?
                .and_then(|mut object| object.get_mut("status").map(Value::take))
            else {
                continue;
            };
            let current = object.status_value();
            // The extraction Jobs are the operator's to report: the state knows nothing of them.
            if let Some(job) = jobs.get(&key) {
                let generation = object.meta().generation;
                with_job(
                    &mut status,
                    current.as_ref(),
                    job,
                    generation,
                    Timestamp::now(),
                );
            }
            if current.as_ref() == Some(&status) {
                continue;
            }
            let api: Api<K> = Api::namespaced(self.client.clone(), &key.namespace);
            let patch =
                json!({ "apiVersion": API_VERSION, "kind": kind.as_str(), "status": status });
            let params = PatchParams::apply(FIELD_MANAGER).force();
            match api
                .patch_status(&key.name, &params, &Patch::Apply(&patch))
                .await
            {
                Ok(_) => debug!(kind = kind.as_str(), object = %key, "Status written"),
                // Deleted since the pass listed it: nothing to write to.
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(error) => return Err(error.into()),
            }
            for transition in transitions(current.as_ref(), &status) {
                if transition.type_ == types::STALLED {
                    metrics.failure(kind.as_str(), &transition.reason);
                }
                if kind == Kind::ErasureRequest
                    && is_ready(&transition)
                    && let Some(took) = erasure_took(object, &transition)
                {
                    metrics.erasure_ready(took);
                }
                let event = event_of(&transition);
                self.record(&event, &object.object_ref(&())).await;
            }
        }
        Ok(())
    }

    async fn record(&self, event: &Event, target: &k8s_openapi::api::core::v1::ObjectReference) {
        if let Err(error) = self.recorder.publish(event, target).await {
            tracing::warn!(%error, "Failed to record an event");
        }
    }
}

/// The reason of the Event recorded when a partner acknowledges a deletion notice.
pub const DELETION_NOTICE_SENT: &str = "DeletionNoticeSent";

/// The conditions whose change is worth an Event: `Ready` either way, `Verified` turning
/// False, `Stalled` turning True. A condition that first appears counts as a change.
fn transitions(before: Option<&Value>, after: &Value) -> Vec<Condition> {
    let was = conditions(before);
    conditions(Some(after))
        .into_iter()
        .filter(|now| {
            let changed = was
                .iter()
                .find(|c| c.type_ == now.type_)
                .is_none_or(|c| c.status != now.status);
            changed
                && match now.type_.as_str() {
                    types::READY => true,
                    types::VERIFIED => now.status == "False",
                    types::STALLED => now.status == "True",
                    _ => false,
                }
        })
        .collect()
}

fn is_ready(condition: &Condition) -> bool {
    condition.type_ == types::READY && condition.status == "True"
}

// Normal when Ready turns True, Warning for everything else worth telling.
fn event_of(condition: &Condition) -> Event {
    let note = format!(
        "{}={}: {}",
        condition.type_, condition.status, condition.message
    );
    Event {
        type_: if is_ready(condition) {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: condition.reason.clone(),
        note: Some(note.chars().take(1000).collect()),
        // One action per condition type: Events with the same reason and action are one
        // series to the recorder, which would hide the second note behind the first.
        action: match condition.type_.as_str() {
            types::VERIFIED => "Verify",
            types::STALLED => "Stall",
            _ => "Reconcile",
        }
        .to_owned(),
        secondary: None,
    }
}

// From the request's creation to its Ready condition's transition.
fn erasure_took<K: Resource>(object: &K, ready: &Condition) -> Option<std::time::Duration> {
    let created = object.meta().creation_timestamp.as_ref()?.0;
    ready
        .last_transition_time
        .0
        .duration_since(created)
        .try_into()
        .ok()
}

fn conditions(status: Option<&Value>) -> Vec<Condition> {
    status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| serde_json::from_value::<Condition>(c.clone()).ok())
        .collect()
}

/// An object's status as JSON, for comparing with the stored one.
pub trait StatusOf {
    /// The status, or `None` when the object has none yet.
    fn status_value(&self) -> Option<Value>;
}

macro_rules! status_of {
    ($($kind:ty),*) => {$(
        impl StatusOf for $kind {
            fn status_value(&self) -> Option<Value> {
                self.status.as_ref().and_then(|s| serde_json::to_value(s).ok())
            }
        }
    )*};
}

status_of!(
    School,
    Partner,
    DataSharingAgreement,
    ConsentRule,
    ErasureRequest
);

#[cfg(test)]
mod tests {
    use super::*;

    fn status(conditions: &[(&str, &str)]) -> Value {
        let conditions: Vec<Value> = conditions
            .iter()
            .map(|(type_, status)| {
                json!({
                    "type": type_, "status": status, "reason": "SignatureMismatch",
                    "message": "", "lastTransitionTime": "2026-12-01T10:00:00Z",
                })
            })
            .collect();
        json!({ "conditions": conditions })
    }

    fn types_of(found: Vec<Condition>) -> Vec<String> {
        found.into_iter().map(|c| c.type_).collect()
    }

    #[test]
    fn verified_turning_false_and_stalled_turning_true_are_announced() {
        let before = status(&[
            ("Ready", "False"),
            ("Verified", "True"),
            ("Stalled", "False"),
        ]);
        let after = status(&[
            ("Ready", "False"),
            ("Verified", "False"),
            ("Stalled", "True"),
        ]);
        assert_eq!(
            types_of(transitions(Some(&before), &after)),
            ["Verified", "Stalled"]
        );
    }

    #[test]
    fn recovering_is_announced_only_through_ready() {
        let before = status(&[
            ("Ready", "False"),
            ("Verified", "False"),
            ("Stalled", "True"),
        ]);
        let after = status(&[
            ("Ready", "True"),
            ("Verified", "True"),
            ("Stalled", "False"),
        ]);
        assert_eq!(types_of(transitions(Some(&before), &after)), ["Ready"]);
        assert!(transitions(Some(&after), &after).is_empty());
    }

    #[test]
    fn a_first_status_that_is_already_unverified_is_announced() {
        let after = status(&[("Ready", "False"), ("Verified", "False")]);
        assert_eq!(types_of(transitions(None, &after)), ["Ready", "Verified"]);
    }
}
