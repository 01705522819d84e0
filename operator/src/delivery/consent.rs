//! Who an agreement may share at one school: opt-out shares everyone not excluded, opt-in
//! only those included; exclusion always wins, and so does an erasure request.

use std::collections::BTreeSet;

use kube::ResourceExt;

use crate::resources::{ConsentMode, ConsentRule, DataSharingAgreement, ErasureRequest, ObjectKey};

/// The people an agreement may share at a school.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience {
    /// The sourcedIds that may be sent.
    pub allowed: BTreeSet<String>,
    /// People on the roll who may not be sent, and so must be deleted wherever they were.
    pub withheld: BTreeSet<String>,
}

impl Audience {
    /// Whether this person may be sent.
    pub fn allows(&self, sourced_id: &str) -> bool {
        self.allowed.contains(sourced_id)
    }
}

/// The audience of `agreement` at `school`, for the people on the school's roll.
pub fn audience<'a>(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    rules: &[ConsentRule],
    erasures: &[ErasureRequest],
    roll: impl IntoIterator<Item = &'a str>,
) -> Audience {
    let agreement_name = agreement.name_any();
    let applies = |rule: &ConsentRule| {
        let same_place = ObjectKey::new(
            rule.namespace().unwrap_or_else(|| "default".into()),
            rule.spec.school.clone(),
        ) == *school;
        let scope = &rule.spec.scope;
        let in_scope = scope.all == Some(true)
            || scope.partner.as_deref() == Some(agreement.spec.partner.as_str())
            || scope
                .agreements
                .iter()
                .flatten()
                .any(|a| *a == agreement_name);
        same_place && in_scope
    };
    let rules: Vec<&ConsentRule> = rules.iter().filter(|r| applies(r)).collect();
    let included: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.spec.include.iter().map(String::as_str))
        .collect();
    let excluded: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.spec.exclude.iter().map(String::as_str))
        .collect();
    let erased: BTreeSet<&str> = erasures
        .iter()
        .filter(|e| {
            ObjectKey::new(
                e.namespace().unwrap_or_else(|| "default".into()),
                e.spec.school.clone(),
            ) == *school
        })
        .filter(|e| e.spec.agreements.is_empty() || e.spec.agreements.contains(&agreement_name))
        .map(|e| e.spec.sourced_id.as_str())
        .collect();

    let mut audience = Audience {
        allowed: BTreeSet::new(),
        withheld: BTreeSet::new(),
    };
    for person in roll {
        let consented = match agreement.spec.consent {
            ConsentMode::OptOut => true,
            ConsentMode::OptIn => included.contains(person),
        };
        if consented && !excluded.contains(person) && !erased.contains(person) {
            audience.allowed.insert(person.to_owned());
        } else {
            audience.withheld.insert(person.to_owned());
        }
    }
    audience
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn agreement(consent: &str) -> DataSharingAgreement {
        serde_json::from_value(json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "DataSharingAgreement",
            "metadata": { "name": "reading", "namespace": "t" },
            "spec": { "partner": "quest", "schools": { "names": ["brook"] }, "purpose": "Reading club badges",
                "lawfulBasis": "consent", "data": { "students": ["givenName"] }, "consent": consent,
                "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        }))
        .unwrap()
    }

    fn rule(
        school: &str,
        scope: serde_json::Value,
        include: &[&str],
        exclude: &[&str],
    ) -> ConsentRule {
        serde_json::from_value(json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "ConsentRule",
            "metadata": { "name": "r", "namespace": "t" },
            "spec": { "school": school, "scope": scope, "include": include, "exclude": exclude },
        }))
        .unwrap()
    }

    fn erasure(sourced_id: &str) -> ErasureRequest {
        serde_json::from_value(json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "ErasureRequest",
            "metadata": { "name": "e", "namespace": "t" },
            "spec": { "school": "brook", "sourcedId": sourced_id, "reason": "rightToErasure" },
        }))
        .unwrap()
    }

    const ROLL: [&str; 4] = ["stu-1", "stu-2", "stu-3", "stu-4"];

    fn allowed(audience: &Audience) -> Vec<&str> {
        audience.allowed.iter().map(String::as_str).collect()
    }

    #[test]
    fn opt_out_shares_everyone_not_excluded() {
        let rules = [rule("brook", json!({ "all": true }), &[], &["stu-2"])];
        let audience = audience(
            &agreement("optOut"),
            &ObjectKey::new("t", "brook"),
            &rules,
            &[],
            ROLL,
        );
        assert_eq!(allowed(&audience), ["stu-1", "stu-3", "stu-4"]);
        assert!(audience.withheld.contains("stu-2"));
    }

    #[test]
    fn opt_in_shares_only_those_included() {
        let rules = [rule(
            "brook",
            json!({ "agreements": ["reading"] }),
            &["stu-3", "stu-9"],
            &[],
        )];
        let audience = audience(
            &agreement("optIn"),
            &ObjectKey::new("t", "brook"),
            &rules,
            &[],
            ROLL,
        );
        assert_eq!(
            allowed(&audience),
            ["stu-3"],
            "only people on the roll, and only those included"
        );
    }

    #[test]
    fn exclusion_wins_over_inclusion_from_any_rule() {
        let rules = [
            rule(
                "brook",
                json!({ "agreements": ["reading"] }),
                &["stu-1", "stu-2"],
                &[],
            ),
            rule("brook", json!({ "partner": "quest" }), &[], &["stu-1"]),
        ];
        let audience = audience(
            &agreement("optIn"),
            &ObjectKey::new("t", "brook"),
            &rules,
            &[],
            ROLL,
        );
        assert_eq!(allowed(&audience), ["stu-2"]);
    }

    #[test]
    fn an_erasure_request_always_wins() {
        let rules = [rule("brook", json!({ "all": true }), &["stu-1"], &[])];
        let audience = audience(
            &agreement("optIn"),
            &ObjectKey::new("t", "brook"),
            &rules,
            &[erasure("stu-1")],
            ROLL,
        );
        assert!(audience.allowed.is_empty());
    }

    #[test]
    fn rules_for_other_schools_or_agreements_do_not_apply() {
        let rules = [
            rule("ashby", json!({ "all": true }), &[], &["stu-1"]),
            rule(
                "brook",
                json!({ "agreements": ["homework"] }),
                &[],
                &["stu-2"],
            ),
            rule("brook", json!({ "partner": "hub" }), &[], &["stu-3"]),
        ];
        let audience = audience(
            &agreement("optOut"),
            &ObjectKey::new("t", "brook"),
            &rules,
            &[],
            ROLL,
        );
        assert_eq!(allowed(&audience), ROLL);
    }
}
