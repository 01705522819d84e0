//! One agreement before and after: its standing on each side, what in its terms changed,
//! its partner, and the flow at each school it shares from.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::reach::{Hold, Roll, hold};
use super::school::school_change;
use super::{AgreementChange, ChangeKind, PartnerChange, PartnerView, SchoolChange, Standing};
use crate::plan::{AgreementPlan, Effect, agreement_plans};
use crate::resources::{DataSharingAgreement, ObjectKey, ResourceSet};
use crate::signing::{Keyring, Verification};

/// One side of the change: a declaration and the standing of its agreements.
pub(super) struct Side<'a> {
    declared: &'a ResourceSet,
    plans: Vec<AgreementPlan>,
}

impl<'a> Side<'a> {
    /// The side `declared`, with every agreement's standing at `now`.
    pub fn new(declared: &'a ResourceSet, keyring: &Keyring, now: Timestamp) -> Side<'a> {
        Side {
            declared,
            plans: agreement_plans(declared, keyring, now),
        }
    }

    /// The agreements declared.
    pub fn keys(&self) -> impl Iterator<Item = ObjectKey> + '_ {
        self.plans.iter().map(|p| p.key.clone())
    }

    fn find(&self, key: &ObjectKey) -> Option<(&'a DataSharingAgreement, &AgreementPlan)> {
        let plan = self.plans.iter().find(|p| p.key == *key)?;
        let agreement = self
            .declared
            .agreements
            .iter()
            .find(|a| ObjectKey::of(*a) == *key)?;
        Some((agreement, plan))
    }

    fn partner(&self, key: &ObjectKey, agreement: &DataSharingAgreement) -> PartnerView {
        let partner = self
            .declared
            .partner(&key.namespace, &agreement.spec.partner);
        let location = partner.map(|p| p.spec.data_location.clone());
        PartnerView {
            name: agreement.spec.partner.clone(),
            outside_uk_eea: location.as_ref().is_some_and(|l| !l.country.is_uk_or_eea()),
            location,
        }
    }

    /// What the partner holds at `school`, when the agreement shares from it at all.
    fn hold(
        &self,
        found: Option<(&DataSharingAgreement, &AgreementPlan)>,
        standing: &Standing,
        school: &ObjectKey,
        rolls: &BTreeMap<ObjectKey, Roll>,
    ) -> Option<Hold> {
        let (agreement, plan) = found?;
        if !standing.holds() || !plan.schools.contains(school) {
            return None;
        }
        let school_suspended = self.declared.school(school).is_some_and(|s| s.spec.suspend);
        let paused = matches!(standing, Standing::Paused { .. }) || school_suspended;
        Some(hold(
            agreement,
            school,
            self.declared,
            rolls.get(school),
            paused,
        ))
    }
}

/// How the agreement `key` changes from `old` to `new`.
pub(super) fn agreement_change(
    key: &ObjectKey,
    old: &Side<'_>,
    new: &Side<'_>,
    rolls: &BTreeMap<ObjectKey, Roll>,
) -> AgreementChange {
    let was = old.find(key);
    let is = new.find(key);
    let before = standing(was);
    let after = standing(is);
    let partner_before = was.map(|(a, _)| old.partner(key, a));
    let partner_after = is.map(|(a, _)| new.partner(key, a));
    let same_partner = match (&partner_before, &partner_after) {
        (Some(b), Some(a)) => b.name == a.name,
        _ => true,
    };

    let school_keys: BTreeSet<ObjectKey> = [was, is]
        .into_iter()
        .flatten()
        .flat_map(|(_, plan)| plan.schools.iter().cloned())
        .collect();
    let schools: Vec<SchoolChange> = school_keys
        .into_iter()
        .filter_map(|school| {
            let b = old.hold(was, &before, &school, rolls);
            let a = new.hold(is, &after, &school, rolls);
            (b.is_some() || a.is_some())
                .then(|| school_change(school, b.as_ref(), a.as_ref(), same_partner))
        })
        .collect();

    let spec_changes = match (was, is) {
        (Some((b, _)), Some((a, _))) => spec_changes(b, a),
        _ => Vec::new(),
    };
    let moved = match (&partner_before, &partner_after) {
        (Some(b), Some(a)) => b.location != a.location,
        _ => false,
    };
    let kind = kind(&before, &after, !spec_changes.is_empty(), moved, &schools);

    AgreementChange {
        agreement: key.clone(),
        kind,
        before,
        after,
        spec_changes,
        partner_before,
        partner_after,
        schools,
    }
}

/// Partners declared on both sides whose data location differs.
pub(super) fn partner_changes(before: &ResourceSet, after: &ResourceSet) -> Vec<PartnerChange> {
    let mut changes: Vec<PartnerChange> = after
        .partners
        .iter()
        .filter_map(|partner| {
            let key = ObjectKey::of(partner);
            let old = before.partner(&key.namespace, &key.name)?;
            let (was, is) = (&old.spec.data_location, &partner.spec.data_location);
            if was == is {
                return None;
            }
            let agreements = after
                .agreements
                .iter()
                .filter(|a| a.spec.partner == key.name)
                .filter(|a| a.namespace().as_deref().unwrap_or("default") == key.namespace)
                .map(ResourceExt::name_any)
                .collect();
            Some(PartnerChange {
                leaves_uk_eea: was.country.is_uk_or_eea() && !is.country.is_uk_or_eea(),
                before: was.clone(),
                after: is.clone(),
                agreements,
                partner: key,
            })
        })
        .collect();
    changes.sort_by(|a, b| a.partner.cmp(&b.partner));
    changes
}

fn standing(found: Option<(&DataSharingAgreement, &AgreementPlan)>) -> Standing {
    let Some((agreement, plan)) = found else {
        return Standing::Absent;
    };
    let stopped = |reason: String| Standing::Stopped { reason };
    match &plan.effect {
        Effect::InEffect => Standing::InEffect,
        Effect::Suspended if agreement.spec.suspend => Standing::Paused {
            reason: "the agreement is suspended".to_owned(),
        },
        Effect::Suspended => Standing::Paused {
            reason: format!("partner {} is suspended", agreement.spec.partner),
        },
        // As the controller does: an agreement whose signature fails, or whose partner is
        // gone, is frozen. Nothing is sent under it, deletion notices included.
        Effect::Unverified(verification) => Standing::Paused {
            reason: unverified(verification),
        },
        Effect::MissingPartner => Standing::Paused {
            reason: format!("its partner {} is not declared", agreement.spec.partner),
        },
        Effect::NotYetValid(date) => stopped(format!("it takes effect on {date}")),
        Effect::Expired(date) => stopped(format!("its validity ended on {date}")),
    }
}

fn unverified(verification: &Verification) -> String {
    match verification {
        Verification::Valid { .. } => "its signature verifies".to_owned(),
        Verification::Unsigned => "it is not signed".to_owned(),
        Verification::UntrustedKey { key_id } => {
            format!("it is signed by {key_id}, a key not in the keyring")
        }
        Verification::Malformed { key_id } => {
            format!("its signature by {key_id} is not a valid Ed25519 signature")
        }
        Verification::Mismatch { key_id } => format!(
            "its spec changed since {key_id} signed it: an approver must review and re-sign"
        ),
    }
}

/// The spec's top-level keys whose values differ; the signature and `suspend` are left
/// out, as signing leaves them out.
fn spec_changes(before: &DataSharingAgreement, after: &DataSharingAgreement) -> Vec<String> {
    let object = |agreement: &DataSharingAgreement| {
        let mut value = serde_json::to_value(&agreement.spec).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("approval");
            object.remove("suspend");
        }
        value.as_object().cloned().unwrap_or_default()
    };
    let (b, a) = (object(before), object(after));
    let names: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    names
        .into_iter()
        .filter(|name| b.get(*name) != a.get(*name))
        .cloned()
        .collect()
}

fn kind(
    before: &Standing,
    after: &Standing,
    spec_changed: bool,
    partner_moved: bool,
    schools: &[SchoolChange],
) -> ChangeKind {
    use Standing::{Absent, InEffect, Paused, Stopped};
    match (before, after) {
        (Absent, Absent) => ChangeKind::Unchanged,
        (Absent, _) => ChangeKind::Added,
        (_, Absent) => ChangeKind::Removed,
        (InEffect | Paused { .. }, Stopped { .. }) => ChangeKind::Stopped,
        (Stopped { .. }, InEffect | Paused { .. }) => ChangeKind::Started,
        (InEffect, Paused { .. }) => ChangeKind::Paused,
        (Paused { .. }, InEffect) => ChangeKind::Resumed,
        _ if spec_changed => ChangeKind::Changed,
        _ if partner_moved || schools.iter().any(SchoolChange::changes) => ChangeKind::Affected,
        _ => ChangeKind::Unchanged,
    }
}
