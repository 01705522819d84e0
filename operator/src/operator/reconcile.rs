//! The kube-rs controllers, one per kind, and how a change reaches what it affects.
//!
//! Every reconcile asks for a pass over the namespace (see `pass`), so what it touches is
//! always brought up to date; the watches below make sure the right objects are
//! reconciled when something they depend on changes: an agreement when its schools,
//! partner, consent rules, erasure requests or the keyring change, a school or partner
//! when an agreement naming it or a Secret it names changes, a school when its extraction
//! Job changes.
//!
//! Agreements, partners and schools carry a finalizer. Deleting an agreement leaves it in
//! place until its partner has acknowledged the deletion notice and holds nothing more;
//! deleting a partner ends its agreements first; deleting a school destroys its data key
//! before the object goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::declaration::refs_of;
use super::pass::PassReport;
use super::{Context, OperatorError};
use crate::resources::{
    ConsentRule, DataSharingAgreement, ErasureRequest, ObjectKey, Partner, School,
};

/// The finalizer Accord puts on agreements, partners and schools.
pub const FINALIZER: &str = "accord.dev/cleanup";

/// How often a pass runs when nothing changes, so expiry and retention are enforced.
const IDLE: Duration = crate::controller::IDLE_PASS;

/// Runs the five controllers; dropping the future stops them.
pub async fn run(context: Arc<Context>) {
    let namespace = context.settings.namespace.clone();
    let client = context.client.clone();
    let config = watcher::Config::default();

    let agreements: Api<DataSharingAgreement> = Api::namespaced(client.clone(), &namespace);
    let agreement_controller = Controller::new(agreements.clone(), config.clone());
    let store = agreement_controller.store();
    let keyring = context.settings.keyring_config_map.clone();
    let agreement_run = agreement_controller
        .with_config(Config::default().debounce(Duration::from_millis(300)))
        .watches(
            Api::namespaced(client.clone(), &namespace),
            config.clone(),
            {
                let store = store.clone();
                move |school: School| agreements_of_school(&store, &school)
            },
        )
        .watches(
            Api::namespaced(client.clone(), &namespace),
            config.clone(),
            {
                let store = store.clone();
                move |partner: Partner| {
                    agreements_where(&store, |a| a.spec.partner == partner.name_any())
                }
            },
        )
        .watches(
            Api::namespaced(client.clone(), &namespace),
            config.clone(),
            {
                let store = store.clone();
                move |_: ConsentRule| agreements_where(&store, |_| true)
            },
        )
        .watches(
            Api::namespaced(client.clone(), &namespace),
            config.clone(),
            {
                let store = store.clone();
                move |_: ErasureRequest| agreements_where(&store, |_| true)
            },
        )
        .watches(
            Api::<ConfigMap>::namespaced(client.clone(), &namespace),
            watcher::Config::default().fields(&format!("metadata.name={keyring}")),
            {
                let store = store.clone();
                move |_: ConfigMap| agreements_where(&store, |_| true)
            },
        )
        .run(reconcile_agreement, error_policy, context.clone())
        .for_each(log_result);

    let schools: Api<School> = Api::namespaced(client.clone(), &namespace);
    let mut school_controller = Controller::new(schools, config.clone());
    let school_store = school_controller.store();
    school_controller = school_controller.watches(
        secrets_metadata(&client, &namespace),
        config.clone(),
        move |secret| referencing(&school_store, &secret.name_any(), |s: &School| &s.spec),
    );
    // A Job finishing reconciles its School, so delivery follows a read at once.
    if context.settings.extraction_jobs.is_some() {
        school_controller = school_controller.owns(
            Api::<Job>::namespaced(client.clone(), &namespace),
            watcher::Config::default().labels(super::extraction::SELECTOR),
        );
    }
    let school_run = school_controller
        .watches(
            agreements.clone(),
            config.clone(),
            |agreement: DataSharingAgreement| {
                let namespace = agreement.namespace().unwrap_or_default();
                agreement
                    .spec
                    .schools
                    .names
                    .iter()
                    .map(|name| ObjectRef::new(name).within(&namespace))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile_school, error_policy, context.clone())
        .for_each(log_result);

    let partners: Api<Partner> = Api::namespaced(client.clone(), &namespace);
    let partner_controller = Controller::new(partners, config.clone());
    let partner_store = partner_controller.store();
    let partner_run = partner_controller
        .watches(
            secrets_metadata(&client, &namespace),
            config.clone(),
            move |secret| referencing(&partner_store, &secret.name_any(), |p: &Partner| &p.spec),
        )
        .watches(
            agreements,
            config.clone(),
            |agreement: DataSharingAgreement| {
                let namespace = agreement.namespace().unwrap_or_default();
                Some(ObjectRef::new(&agreement.spec.partner).within(&namespace))
            },
        )
        .run(reconcile_partner, error_policy, context.clone())
        .for_each(log_result);

    let rules: Api<ConsentRule> = Api::namespaced(client.clone(), &namespace);
    let rule_run = Controller::new(rules, config.clone())
        .run(reconcile_plain, error_policy, context.clone())
        .for_each(log_result);

    let erasures: Api<ErasureRequest> = Api::namespaced(client, &namespace);
    let erasure_run = Controller::new(erasures, config)
        .run(reconcile_plain, error_policy, context)
        .for_each(log_result);

    futures::future::join5(
        agreement_run,
        school_run,
        partner_run,
        rule_run,
        erasure_run,
    )
    .await;
}

async fn reconcile_agreement(
    agreement: Arc<DataSharingAgreement>,
    context: Arc<Context>,
) -> Result<Action, OperatorError> {
    let key = ObjectKey::of(agreement.as_ref()).to_string();
    with_finalizer(agreement, context, move |report| {
        (!report.agreements_outstanding.contains(&key))
            .then_some(())
            .ok_or_else(|| OperatorError::AwaitingPartner(key.clone()))
    })
    .await
}

async fn reconcile_partner(
    partner: Arc<Partner>,
    context: Arc<Context>,
) -> Result<Action, OperatorError> {
    let key = ObjectKey::of(partner.as_ref()).to_string();
    with_finalizer(partner, context, move |report| {
        (!report.partners_outstanding.contains(&key))
            .then_some(())
            .ok_or_else(|| OperatorError::AwaitingPartner(key.clone()))
    })
    .await
}

async fn reconcile_school(
    school: Arc<School>,
    context: Arc<Context>,
) -> Result<Action, OperatorError> {
    let key = ObjectKey::of(school.as_ref());
    with_finalizer(school, context, move |report| {
        report
            .schools_shredded
            .contains(&key)
            .then_some(())
            .ok_or_else(|| OperatorError::AwaitingPass(key.to_string()))
    })
    .await
}

async fn reconcile_plain<K>(_: Arc<K>, context: Arc<Context>) -> Result<Action, OperatorError> {
    let report = context.pass(Instant::now()).await?;
    Ok(requeue(&report))
}

// Runs a pass under the finalizer: on apply the pass is all; on deletion the object goes
// once `released` says the pass has finished with it.
async fn with_finalizer<K>(
    object: Arc<K>,
    context: Arc<Context>,
    released: impl Fn(&PassReport) -> Result<(), OperatorError>,
) -> Result<Action, OperatorError>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(context.client.clone(), &namespace);
    let asked = Instant::now();
    finalizer(&api, FINALIZER, object, |event| async {
        match event {
            Finalizer::Apply(_) => {
                let report = context.pass(asked).await?;
                Ok::<_, OperatorError>(requeue(&report))
            }
            Finalizer::Cleanup(object) => {
                let report = context.pass(asked).await?;
                released(&report)?;
                info!(object = %ObjectKey::of(object.as_ref()), "Cleanup finished; finalizer removed");
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|error| match error {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => OperatorError::Finalizer(other.to_string()),
    })
}

fn requeue(report: &PassReport) -> Action {
    let wait = report
        .next_due
        .and_then(|due| {
            due.duration_since(k8s_openapi::jiff::Timestamp::now())
                .try_into()
                .ok()
        })
        .map_or(IDLE, |d: Duration| d.clamp(Duration::from_secs(1), IDLE));
    Action::requeue(wait)
}

fn error_policy<K: Resource<DynamicType = ()>>(
    _: Arc<K>,
    error: &OperatorError,
    context: Arc<Context>,
) -> Action {
    match error {
        // Waiting for a partner or a pass is normal during deletion: look again soon.
        OperatorError::AwaitingPartner(_) | OperatorError::AwaitingPass(_) => {
            Action::requeue(Duration::from_secs(2))
        }
        _ => {
            context.metrics.failure(&K::kind(&()), error.reason());
            Action::requeue(Duration::from_secs(10))
        }
    }
}

async fn log_result<K: Resource, E: std::fmt::Display>(result: Result<(ObjectRef<K>, Action), E>) {
    if let Err(error) = result {
        match error.to_string() {
            text if text.contains("awaiting") => tracing::debug!(error = %text, "Reconcile waits"),
            text => warn!(error = %text, "Reconcile failed"),
        }
    }
}

// Every Secret in the namespace as metadata only (an `Api` of `PartialObjectMeta` asks the
// apiserver for metadata): the watch never carries a Secret's values, and the pass reads
// only the Secrets that resources name.
fn secrets_metadata(client: &kube::Client, namespace: &str) -> Api<PartialObjectMeta<Secret>> {
    Api::namespaced(client.clone(), namespace)
}

// The objects in `store` whose spec names the Secret `name` in a `*Ref`.
fn referencing<K, S>(store: &Store<K>, name: &str, spec: impl Fn(&K) -> &S) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
    S: serde::Serialize,
{
    store
        .state()
        .iter()
        .filter(|object| {
            let spec = serde_json::to_value(spec(object)).unwrap_or_default();
            refs_of(&spec).iter().any(|(secret, _)| secret == name)
        })
        .map(|object| ObjectRef::from_obj(object.as_ref()))
        .collect()
}

fn agreements_where(
    store: &Store<DataSharingAgreement>,
    keep: impl Fn(&DataSharingAgreement) -> bool,
) -> Vec<ObjectRef<DataSharingAgreement>> {
    store
        .state()
        .iter()
        .filter(|a| keep(a))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

// Agreements that name the school, or choose schools by label (which may select it).
fn agreements_of_school(
    store: &Store<DataSharingAgreement>,
    school: &School,
) -> Vec<ObjectRef<DataSharingAgreement>> {
    let name = school.name_any();
    agreements_where(store, |a| {
        a.spec.schools.names.contains(&name) || a.spec.schools.selector.is_some()
    })
}
