//! What the pages and the JSON API both need: the snapshot and the ledger's index as of
//! now, the schools a viewer may name, and one person's history. A person the viewer may
//! not see and a person the ledger does not know give the same answer, so a refusal never
//! tells whether someone exists.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;

use super::Shared;
use super::auth::Viewer;
use super::index::FlowIndex;
use crate::api::Snapshot;
use crate::ledger::summary::{PersonAtPartner, person_flows};
use crate::ledger::{EntryKind, Ledger, LedgerStore};
use crate::resources::ObjectKey;

/// Why the portal cannot answer now.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The controller has not finished a pass.
    #[error("the controller has not applied a declaration yet; try again shortly")]
    NoSnapshot,
    /// The ledger cannot be read.
    #[error("the ledger cannot be read now; try again")]
    Ledger,
}

/// The declaration in force and the ledger's figures.
pub async fn current(shared: &Shared) -> Result<(Arc<Snapshot>, Arc<FlowIndex>), Unavailable> {
    let snapshot = shared
        .published
        .borrow()
        .clone()
        .ok_or(Unavailable::NoSnapshot)?;
    let index = shared
        .portal
        .index
        .current(shared.cache.state())
        .await
        .map_err(|error| {
            tracing::warn!(%error, "Portal cannot read the ledger");
            Unavailable::Ledger
        })?;
    Ok((snapshot, index))
}

/// The schools the viewer sees, `namespace/name`, in declared order.
pub fn schools(snapshot: &Snapshot, viewer: &Viewer) -> Vec<String> {
    snapshot
        .resources
        .schools
        .iter()
        .map(|s| ObjectKey::of(s).to_string())
        .filter(|k| viewer.sees(k))
        .collect()
}

/// The declared school a form names, as `namespace/name` or a name unique in the Trust,
/// if the viewer sees it.
pub fn school(snapshot: &Snapshot, viewer: &Viewer, named: &str) -> Option<ObjectKey> {
    let named = named.trim();
    let mut found = snapshot
        .resources
        .schools
        .iter()
        .map(ObjectKey::of)
        .filter(|k| k.to_string() == named || (!named.contains('/') && k.name == named));
    let key = found.next()?;
    if found.next().is_some() || !viewer.sees(&key.to_string()) {
        return None;
    }
    Some(key)
}

/// What the ledger records about one person.
#[derive(Clone, Debug)]
pub struct Person {
    /// The school, `namespace/name`.
    pub school: String,
    /// Their sourcedId.
    pub subject: String,
    /// Every partner that received them.
    pub flows: Vec<PersonAtPartner>,
    /// When they were erased from Accord's cache, if they were.
    pub erased: Option<String>,
}

/// The person's history, or none when the viewer may not see the school or the ledger
/// records nothing about them.
pub async fn person(
    shared: &Shared,
    snapshot: &Snapshot,
    viewer: &Viewer,
    school: &str,
    subject: &str,
) -> Result<Option<Person>, Unavailable> {
    let Some(key) = self::school(snapshot, viewer, school) else {
        return Ok(None);
    };
    let subject = subject.trim();
    if subject.is_empty() {
        return Ok(None);
    }
    let ledger = Ledger::new(shared.cache.state().clone());
    let history = ledger
        .history(&key.to_string(), subject)
        .await
        .map_err(|_| Unavailable::Ledger)?;
    if history.is_empty() {
        return Ok(None);
    }
    let erased = history
        .iter()
        .find(|e| e.body.kind == EntryKind::Erasure)
        .map(|e| e.body.at.clone());
    Ok(Some(Person {
        school: key.to_string(),
        subject: subject.to_owned(),
        flows: person_flows(&history),
        erased,
    }))
}

/// Each school's people as its status last reported them, `namespace/name` → count.
pub async fn rolls(shared: &Shared) -> BTreeMap<String, u64> {
    shared
        .cache
        .state()
        .statuses::<serde_json::Value>("School")
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(r, status)| {
            (
                format!("{}/{}", r.namespace, r.name),
                status["people"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The agreements covering a school, by name, for the consent form.
pub fn agreements_of(snapshot: &Snapshot, school: &ObjectKey) -> Vec<String> {
    let Some(declared) = snapshot.resources.school(school) else {
        return Vec::new();
    };
    snapshot
        .resources
        .agreements
        .iter()
        .filter(|a| a.namespace() == declared.namespace() && a.spec.schools.includes(declared))
        .map(ResourceExt::name_any)
        .collect()
}
