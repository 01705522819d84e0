//! Consent rules and erasure requests refer to schools, agreements and partners that exist.

use super::super::declared::{Declared, DeclaredSet};
use super::super::finding::Finding;
use crate::resources::{ConsentMode, ConsentRule, DataSharingAgreement, Kind};

/// Reports references that do not resolve, and rules that could have no effect.
pub fn check(set: &DeclaredSet<'_>, findings: &mut Vec<Finding>) {
    for rule in &set.consent_rules {
        consent_rule(set, rule, findings);
    }
    for erasure in &set.erasures {
        let spec = &erasure.resource.spec;
        let id = erasure.id();
        let namespace = &erasure.namespace;
        if !set.has(Kind::School, namespace, &spec.school) {
            findings.push(erasure.error(
                "/spec/school",
                format!(
                    "erasure request {id}: school \"{}\" is not declared in namespace {namespace}",
                    spec.school
                ),
            ));
        }
        for (i, name) in spec.agreements.iter().enumerate() {
            if !set.has(Kind::DataSharingAgreement, namespace, name) {
                findings.push(erasure.error(
                    &format!("/spec/agreements/{i}"),
                    format!("erasure request {id}: agreement \"{name}\" is not declared in namespace {namespace}"),
                ));
            }
        }
    }
}

fn consent_rule(
    set: &DeclaredSet<'_>,
    rule: &Declared<'_, ConsentRule>,
    findings: &mut Vec<Finding>,
) {
    let spec = &rule.resource.spec;
    let id = rule.id();
    let namespace = &rule.namespace;

    if !set.has(Kind::School, namespace, &spec.school) {
        findings.push(rule.error(
            "/spec/school",
            format!("consent rule {id}: school \"{}\" is not declared in namespace {namespace}: add that School or correct the name", spec.school),
        ));
    }

    let scope = &spec.scope;
    let set_members = [
        scope.agreements.is_some(),
        scope.partner.is_some(),
        scope.all.is_some(),
    ];
    if set_members.iter().filter(|m| **m).count() != 1 {
        findings.push(rule.error(
            "/spec/scope",
            format!(
                "consent rule {id}: set exactly one of scope.agreements, scope.partner, scope.all"
            ),
        ));
        return;
    }

    let mut in_scope: Vec<&Declared<'_, DataSharingAgreement>> = Vec::new();
    if let Some(names) = &scope.agreements {
        for (i, name) in names.iter().enumerate() {
            match set.agreement(namespace, name) {
                None if set.has(Kind::DataSharingAgreement, namespace, name) => {}
                None => findings.push(rule.error(
                    &format!("/spec/scope/agreements/{i}"),
                    format!("consent rule {id}: agreement \"{name}\" is not declared in namespace {namespace}: add it or correct the name"),
                )),
                Some(agreement) => {
                    if !covers(set, agreement, &spec.school) {
                        findings.push(rule.warning(
                            &format!("/spec/scope/agreements/{i}"),
                            format!("consent rule {id}: agreement {name} does not cover school {}, so this entry has no effect", spec.school),
                        ));
                    }
                    in_scope.push(agreement);
                }
            }
        }
    }
    if let Some(partner) = &scope.partner {
        if !set.has(Kind::Partner, namespace, partner) {
            findings.push(rule.error(
                "/spec/scope/partner",
                format!("consent rule {id}: partner \"{partner}\" is not declared in namespace {namespace}: add it or correct the name"),
            ));
        }
        in_scope.extend(
            set.agreements
                .iter()
                .filter(|a| &a.namespace == namespace && &a.resource.spec.partner == partner),
        );
    }
    if scope.all == Some(true) {
        in_scope.extend(set.agreements.iter().filter(|a| &a.namespace == namespace));
    }

    if !spec.include.is_empty()
        && !in_scope.is_empty()
        && in_scope
            .iter()
            .all(|a| a.resource.spec.consent != ConsentMode::OptIn)
    {
        findings.push(rule.warning(
            "/spec/include",
            format!("consent rule {id}: include has no effect: no opt-in agreement is in scope (opt-out agreements already share everyone not excluded)"),
        ));
    }
}

/// Whether an agreement covers a school, by name or by selector.
fn covers(
    set: &DeclaredSet<'_>,
    agreement: &Declared<'_, DataSharingAgreement>,
    school: &str,
) -> bool {
    let schools = &agreement.resource.spec.schools;
    schools.names.iter().any(|n| n == school)
        || set
            .school(&agreement.namespace, school)
            .is_some_and(|s| schools.includes(&s.resource))
}
