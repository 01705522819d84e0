//! Which agreements are in effect, and for which schools.

use jiff::civil::Date;
use k8s_openapi::jiff::{Timestamp, tz::TimeZone};
use kube::ResourceExt;

use crate::resources::{DataSharingAgreement, ObjectKey, ResourceSet};
use crate::signing::{Keyring, Verification, verify};

/// Whether an agreement lets data flow, and if not, the first reason why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Signed, within its validity window, not suspended, its partner declared and active.
    InEffect,
    /// The signature check failed.
    Unverified(Verification),
    /// `validFrom` is in the future.
    NotYetValid(Date),
    /// `validUntil` has passed.
    Expired(Date),
    /// The agreement or its partner is suspended.
    Suspended,
    /// The partner is not declared.
    MissingPartner,
}

/// One agreement's standing.
#[derive(Clone, Debug)]
pub struct AgreementPlan {
    /// The agreement.
    pub key: ObjectKey,
    /// The signature check.
    pub verification: Verification,
    /// Whether it is in effect.
    pub effect: Effect,
    /// The declared schools it covers (by name or selector), in order.
    pub schools: Vec<ObjectKey>,
}

impl AgreementPlan {
    /// Whether data may flow under this agreement.
    pub fn in_effect(&self) -> bool {
        self.effect == Effect::InEffect
    }
}

/// The standing of every declared agreement at `now`.
pub fn agreement_plans(
    declared: &ResourceSet,
    keyring: &Keyring,
    now: Timestamp,
) -> Vec<AgreementPlan> {
    let today = now.to_zoned(TimeZone::UTC).date();
    declared
        .agreements
        .iter()
        .map(|agreement| {
            let key = ObjectKey::of(agreement);
            let verification = verify(keyring, &key.name, &agreement.spec);
            let effect = effect(declared, agreement, &key, &verification, today);
            let schools = covered_schools(declared, agreement, &key.namespace);
            AgreementPlan {
                key,
                verification,
                effect,
                schools,
            }
        })
        .collect()
}

fn effect(
    declared: &ResourceSet,
    agreement: &DataSharingAgreement,
    key: &ObjectKey,
    verification: &Verification,
    today: Date,
) -> Effect {
    let spec = &agreement.spec;
    if !verification.is_valid() {
        return Effect::Unverified(verification.clone());
    }
    let Some(partner) = declared.partner(&key.namespace, &spec.partner) else {
        return Effect::MissingPartner;
    };
    if spec.suspend || partner.spec.suspend {
        return Effect::Suspended;
    }
    // Validation refuses malformed dates; should one slip through, the agreement stays off.
    match spec.valid_from.parse::<Date>() {
        Ok(from) if today < from => return Effect::NotYetValid(from),
        Ok(_) => {}
        Err(_) => return Effect::NotYetValid(Date::MAX),
    }
    if let Some(until) = &spec.valid_until {
        match until.parse::<Date>() {
            Ok(until) if today > until => return Effect::Expired(until),
            Ok(_) => {}
            Err(_) => return Effect::Expired(Date::MIN),
        }
    }
    Effect::InEffect
}

fn covered_schools(
    declared: &ResourceSet,
    agreement: &DataSharingAgreement,
    namespace: &str,
) -> Vec<ObjectKey> {
    let selection = &agreement.spec.schools;
    declared
        .schools
        .iter()
        .filter(|school| school.namespace().as_deref().unwrap_or("default") == namespace)
        .filter(|school| selection.includes(school))
        .map(ObjectKey::of)
        .collect()
}
