//! Agreement checks: partner and schools exist, fields are lawful to share as written,
//! the validity window makes sense, and a trusted approver signed exactly this spec.

use jiff::civil::Date;

use super::super::KeyringState;
use super::super::declared::{Declared, DeclaredSet};
use super::super::finding::Finding;
use crate::catalogue::Category;
use crate::resources::{
    ConsentMode, DataSharingAgreement, DeliveryMode, Kind, LawfulBasis, SpecialCategoryCondition,
    selects,
};
use crate::signing::{Verification, verify};

/// Reports agreements that could not lawfully or safely take effect as written.
pub fn check(set: &DeclaredSet<'_>, keyring: &KeyringState, findings: &mut Vec<Finding>) {
    for agreement in &set.agreements {
        partner_and_schools(set, agreement, findings);
        special_category(agreement, findings);
        consent_basis(agreement, findings);
        validity(agreement, findings);
        signature(agreement, keyring, findings);
    }
}

fn partner_and_schools(
    set: &DeclaredSet<'_>,
    agreement: &Declared<'_, DataSharingAgreement>,
    findings: &mut Vec<Finding>,
) {
    let spec = &agreement.resource.spec;
    let id = agreement.id();
    let namespace = &agreement.namespace;

    match set.partner(namespace, &spec.partner) {
        None if set.has(Kind::Partner, namespace, &spec.partner) => {}
        None => findings.push(agreement.error(
            "/spec/partner",
            format!("agreement {id}: partner \"{}\" is not declared in namespace {namespace}: add that Partner or correct the name", spec.partner),
        )),
        Some(partner) => {
            if spec.delivery.mode == DeliveryMode::Push && partner.resource.spec.endpoint.is_none() {
                findings.push(agreement.error(
                    "/spec/delivery/mode",
                    format!("agreement {id}: delivery is push but partner {} has no endpoint: give the partner an https endpoint or use pull", spec.partner),
                ));
            }
        }
    }
    if spec.delivery.mode == DeliveryMode::Pull && spec.delivery.interval.is_some() {
        findings.push(agreement.error(
            "/spec/delivery/interval",
            format!(
                "agreement {id}: delivery.interval applies to push only: remove it or use mode push"
            ),
        ));
    }

    for (i, name) in spec.schools.names.iter().enumerate() {
        if !set.has(Kind::School, namespace, name) {
            findings.push(agreement.error(
                &format!("/spec/schools/names/{i}"),
                format!("agreement {id}: school \"{name}\" is not declared in namespace {namespace}: add that School or correct the name"),
            ));
        }
    }
    if let Some(selector) = &spec.schools.selector {
        let matched = set
            .schools
            .iter()
            .filter(|s| &s.namespace == namespace)
            .filter(|s| {
                selects(
                    selector,
                    s.resource
                        .metadata
                        .labels
                        .as_ref()
                        .unwrap_or(&Default::default()),
                )
            })
            .count();
        if matched == 0 {
            findings.push(agreement.warning(
                "/spec/schools/selector",
                format!("agreement {id}: the school selector matches no declared school, so nothing will flow"),
            ));
        }
    }
    if spec.schools.names.is_empty() && spec.schools.selector.is_none() {
        findings.push(agreement.error(
            "/spec/schools",
            format!("agreement {id}: name at least one school or give a selector"),
        ));
    }
}

fn special_category(agreement: &Declared<'_, DataSharingAgreement>, findings: &mut Vec<Finding>) {
    let spec = &agreement.resource.spec;
    let id = agreement.id();
    let mut any_special = false;

    for (area, fields) in &spec.data.0 {
        for (i, name) in fields.iter().enumerate() {
            let Some(field) = area.field(name) else {
                continue;
            };
            if field.category != Category::Special {
                continue;
            }
            any_special = true;
            if spec.special_category_condition.is_none() {
                findings.push(agreement.error(
                    &format!("/spec/data/{area}/{i}"),
                    format!("agreement {id}: {area}.{name} is special category data (GDPR Art. 9): set specialCategoryCondition to the Art. 9(2) condition that allows sharing it"),
                ));
            }
        }
    }

    if !any_special && spec.special_category_condition.is_some() {
        findings.push(agreement.warning(
            "/spec/specialCategoryCondition",
            format!("agreement {id}: specialCategoryCondition is set but no special category field is shared: remove it"),
        ));
    }
}

// Consent under Art. 6(1)(a) or Art. 9(2)(a) must be given, so it cannot be presumed.
fn consent_basis(agreement: &Declared<'_, DataSharingAgreement>, findings: &mut Vec<Finding>) {
    let spec = &agreement.resource.spec;
    if spec.consent == ConsentMode::OptIn {
        return;
    }
    let id = agreement.id();
    if spec.lawful_basis == LawfulBasis::Consent {
        findings.push(agreement.error(
            "/spec/consent",
            format!("agreement {id}: lawfulBasis consent needs consent: optIn, since consent cannot be presumed"),
        ));
    }
    if spec.special_category_condition == Some(SpecialCategoryCondition::ExplicitConsent) {
        findings.push(agreement.error(
            "/spec/consent",
            format!(
                "agreement {id}: specialCategoryCondition explicitConsent needs consent: optIn"
            ),
        ));
    }
}

fn validity(agreement: &Declared<'_, DataSharingAgreement>, findings: &mut Vec<Finding>) {
    let spec = &agreement.resource.spec;
    let id = agreement.id();
    let from = date(agreement, "/spec/validFrom", &spec.valid_from, findings);
    let until = spec
        .valid_until
        .as_deref()
        .and_then(|u| date(agreement, "/spec/validUntil", u, findings));
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        findings.push(agreement.error(
                "/spec/validUntil",
                format!("agreement {id}: validUntil {until} is not after validFrom {from}: correct one of the dates"),
            ));
    }
}

fn date(
    agreement: &Declared<'_, DataSharingAgreement>,
    pointer: &str,
    text: &str,
    findings: &mut Vec<Finding>,
) -> Option<Date> {
    match text.parse::<Date>() {
        Ok(date) => Some(date),
        Err(_) => {
            findings.push(agreement.error(
                pointer,
                format!(
                    "agreement {}: {text} is not a day of the calendar",
                    agreement.id()
                ),
            ));
            None
        }
    }
}

fn signature(
    agreement: &Declared<'_, DataSharingAgreement>,
    keyring: &KeyringState,
    findings: &mut Vec<Finding>,
) {
    let id = agreement.id();
    let file = agreement.doc.file.display();
    let keyring = match keyring {
        KeyringState::Loaded(keyring) => keyring,
        KeyringState::Broken => return,
        KeyringState::Missing => {
            findings.push(agreement.error(
                "/spec/approval",
                format!("agreement {id}: no keyring to check its signature against: add keyring/ beside the files or pass --keyring DIR"),
            ));
            return;
        }
    };

    let message = match verify(keyring, &agreement.name, &agreement.resource.spec) {
        Verification::Valid { .. } => return,
        Verification::Unsigned => (
            "/spec",
            format!(
                "agreement {id} is not signed, so it cannot take effect: an approver runs `accord sign {file} --key KEY`"
            ),
        ),
        Verification::UntrustedKey { key_id } => (
            "/spec/approval/keyId",
            format!(
                "agreement {id}: signing key \"{key_id}\" is not in the keyring: add {key_id}.pub to the keyring or re-sign with a trusted key"
            ),
        ),
        Verification::Malformed { .. } => (
            "/spec/approval/signature",
            format!(
                "agreement {id}: the signature is not a valid Ed25519 signature: re-sign with `accord sign {file} --key KEY`"
            ),
        ),
        Verification::Mismatch { key_id } => (
            "/spec/approval/signature",
            format!(
                "agreement {id}: the signature by \"{key_id}\" does not match the spec, which has changed since it was signed: an approver must review and re-sign it"
            ),
        ),
    };
    findings.push(agreement.error(message.0, message.1).about_approval());
}
