//! Writing each pass's statuses to the cluster: server-side apply of the status
//! subresource under one field manager, and an Event whenever `Ready` changes.
//!
//! The embedded controller keeps every status in the state database; this copies it onto
//! the object, so `kubectl get`, `kubectl wait` and the printer columns read the same
//! figures `accord status` does. A status equal to the one on the object is not written,
//! so a quiet namespace causes no writes and no watch events.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use serde_json::{Value, json};
use tracing::debug;

use super::OperatorError;
use super::declaration::Cluster;
use crate::resources::status::types;
use crate::resources::{
    API_VERSION, ConsentRule, DataSharingAgreement, ErasureRequest, Kind, ObjectKey, Partner,
    School,
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
    pub async fn publish(&self, cluster: &Cluster, state: &State) -> Result<(), OperatorError> {
        self.kind(&cluster.schools, Kind::School, state).await?;
        self.kind(&cluster.partners, Kind::Partner, state).await?;
        self.kind(&cluster.agreements, Kind::DataSharingAgreement, state)
            .await?;
        self.kind(&cluster.consent_rules, Kind::ConsentRule, state)
            .await?;
        self.kind(&cluster.erasures, Kind::ErasureRequest, state)
            .await?;
        Ok(())
    }

    async fn kind<K>(&self, objects: &[K], kind: Kind, state: &State) -> Result<(), OperatorError>
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
            let Some(status) = state
                .status::<Value>(&reference)
                .await?
                .and_then(|mut object| object.get_mut("status").map(Value::take))
            else {
                continue;
            };
            let current = object.status_value();
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
            self.announce(object, current.as_ref(), &status).await;
        }
        Ok(())
    }

    // An Event when Ready changes: Normal when it turns True, Warning otherwise.
    async fn announce<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        before: Option<&Value>,
        after: &Value,
    ) {
        let Some(ready) = ready(Some(after)) else {
            return;
        };
        if ready_status(before) == Some(ready.status.clone()) {
            return;
        }
        let event = Event {
            type_: if ready.status == "True" {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: ready.reason.clone(),
            note: Some(ready.message.chars().take(1000).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(%error, "Failed to record an event");
        }
    }
}

fn ready(status: Option<&Value>) -> Option<Condition> {
    let conditions = status?.get("conditions")?.as_array()?;
    conditions
        .iter()
        .filter_map(|c| serde_json::from_value::<Condition>(c.clone()).ok())
        .find(|c| c.type_ == types::READY)
}

fn ready_status(status: Option<&Value>) -> Option<String> {
    ready(status).map(|c| c.status)
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
