//! Who an agreement may share at one school: opt-out shares everyone not excluded, opt-in
//! only those included; exclusion always wins, and so does an erasure request.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use kube::ResourceExt;
use serde_json::{Map, Value};

use super::sync::record_id;
use crate::resources::{ConsentMode, ConsentRule, DataSharingAgreement, ErasureRequest, ObjectKey};

/// People by sourcedId, asked about once per record in a pass, so hashed with a fast
/// non-cryptographic hasher (sourcedIds come from the school's own MIS and the Trust's
/// declarations).
type People<'a> = HashSet<&'a str, foldhash::fast::RandomState>;

/// Everyone on a school's roll: the people its pupil, staff and contact records are
/// about. Gathered the first time someone is looked up, since an agreement that shares
/// only people's own records never asks (see [`Allows::allows_listed`]).
#[derive(Debug, Default)]
pub struct Roll<'a> {
    lists: Vec<&'a [Map<String, Value>]>,
    people: OnceLock<People<'a>>,
}

impl<'a> Roll<'a> {
    /// The roll of these lists of records, each record naming its person by `sourcedId`.
    pub fn of(lists: impl IntoIterator<Item = &'a [Map<String, Value>]>) -> Roll<'a> {
        Roll {
            lists: lists.into_iter().collect(),
            people: OnceLock::new(),
        }
    }

    /// Whether this person is on the roll.
    pub fn contains(&self, sourced_id: &str) -> bool {
        self.people
            .get_or_init(|| {
                let lists = self.lists.iter().copied().flatten();
                lists.filter_map(record_id).collect()
            })
            .contains(sourced_id)
    }
}

impl<'a> FromIterator<&'a str> for Roll<'a> {
    fn from_iter<I: IntoIterator<Item = &'a str>>(people: I) -> Roll<'a> {
        Roll {
            lists: Vec::new(),
            people: OnceLock::from(people.into_iter().collect::<People<'a>>()),
        }
    }
}

/// The people an agreement may share at a school.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience {
    /// The sourcedIds that may be sent.
    pub allowed: BTreeSet<String>,
    /// People on the roll who may not be sent, and so must be deleted wherever they were.
    pub withheld: BTreeSet<String>,
}

/// Who may be sent, asked one person at a time.
pub trait Allows {
    /// Whether this person may be sent.
    fn allows(&self, sourced_id: &str) -> bool;
    /// Whether this person may be sent, asked of a record that is itself their entry on
    /// the roll (a pupil's own record), so that being on the roll goes without asking.
    fn allows_listed(&self, sourced_id: &str) -> bool {
        self.allows(sourced_id)
    }
    /// Whether this person is on the roll and may not be sent.
    fn withholds(&self, sourced_id: &str) -> bool;
}

impl Allows for Audience {
    fn allows(&self, sourced_id: &str) -> bool {
        self.allowed.contains(sourced_id)
    }

    fn withholds(&self, sourced_id: &str) -> bool {
        self.withheld.contains(sourced_id)
    }
}

impl Audience {
    /// Whether this person may be sent.
    pub fn allows(&self, sourced_id: &str) -> bool {
        self.allowed.contains(sourced_id)
    }
}

/// The consent that applies to one agreement at one school: the rules and erasure requests
/// that name it, kept as the few people they list rather than the whole roll, so that
/// asking about one person costs a lookup in those lists.
#[derive(Clone, Debug)]
pub struct Consent<'a> {
    mode: ConsentMode,
    included: People<'a>,
    excluded: People<'a>,
    erased: People<'a>,
}

impl<'a> Consent<'a> {
    /// The rules and requests of `agreement` at `school`.
    pub fn of(
        agreement: &DataSharingAgreement,
        school: &ObjectKey,
        rules: &'a [ConsentRule],
        erasures: &'a [ErasureRequest],
    ) -> Consent<'a> {
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
        Consent {
            mode: agreement.spec.consent,
            included: rules
                .iter()
                .flat_map(|r| r.spec.include.iter().map(String::as_str))
                .collect(),
            excluded: rules
                .iter()
                .flat_map(|r| r.spec.exclude.iter().map(String::as_str))
                .collect(),
            erased: erasures
                .iter()
                .filter(|e| {
                    ObjectKey::new(
                        e.namespace().unwrap_or_else(|| "default".into()),
                        e.spec.school.clone(),
                    ) == *school
                })
                .filter(|e| {
                    e.spec.agreements.is_empty() || e.spec.agreements.contains(&agreement_name)
                })
                .map(|e| e.spec.sourced_id.as_str())
                .collect(),
        }
    }

    /// Whether a person on the roll may be sent: consented (opt-out: not excluded; opt-in:
    /// included), not excluded by any rule, and not named by an erasure request.
    pub fn permits(&self, person: &str) -> bool {
        let consented = match self.mode {
            ConsentMode::OptOut => true,
            ConsentMode::OptIn => self.included.contains(person),
        };
        consented && !self.excluded.contains(person) && !self.erased.contains(person)
    }

    /// Whether an exclusion or an erasure request names this person, whether or not they
    /// are on the roll.
    pub fn names_as_withheld(&self, person: &str) -> bool {
        self.excluded.contains(person) || self.erased.contains(person)
    }

    /// This consent over a school's roll, asked one person at a time.
    pub fn over<'r, 'p>(&'r self, roll: &'r Roll<'p>) -> OnRoll<'r, 'p> {
        OnRoll {
            consent: self,
            roll,
        }
    }
}

/// A [`Consent`] over the people on a school's roll: nobody off the roll is allowed.
#[derive(Clone, Copy, Debug)]
pub struct OnRoll<'r, 'p> {
    consent: &'r Consent<'r>,
    roll: &'r Roll<'p>,
}

impl Allows for OnRoll<'_, '_> {
    fn allows(&self, sourced_id: &str) -> bool {
        self.roll.contains(sourced_id) && self.consent.permits(sourced_id)
    }

    fn allows_listed(&self, sourced_id: &str) -> bool {
        self.consent.permits(sourced_id)
    }

    fn withholds(&self, sourced_id: &str) -> bool {
        if self.roll.contains(sourced_id) {
            !self.consent.permits(sourced_id)
        } else {
            // Erasing a pupil takes them off the cached roll; what names them must still
            // hold back the records about them, such as their enrollments.
            self.consent.names_as_withheld(sourced_id)
        }
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
    let consent = Consent::of(agreement, school, rules, erasures);
    let mut audience = Audience {
        allowed: BTreeSet::new(),
        withheld: BTreeSet::new(),
    };
    for person in roll {
        if consent.permits(person) {
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
    fn a_person_an_exclusion_or_erasure_names_is_withheld_off_the_roll_too() {
        // Erasing a pupil takes them out of the cached roll; their enrollments, read again
        // from the MIS, must not then pass as those of someone the school does not list.
        let rules = [rule("brook", json!({ "all": true }), &[], &["stu-8"])];
        let agreement = agreement("optOut");
        let erasures = [erasure("stu-9")];
        let consent = Consent::of(&agreement, &ObjectKey::new("t", "brook"), &rules, &erasures);
        let roll: Roll<'_> = ["stu-1"].into_iter().collect();
        let on_roll = consent.over(&roll);
        assert!(on_roll.withholds("stu-8") && on_roll.withholds("stu-9"));
        assert!(!on_roll.allows("stu-8") && !on_roll.allows("stu-9"));
        assert!(
            !on_roll.withholds("stf-7"),
            "a teacher the school does not list is not withheld"
        );
        let enrollment = |user: &str| {
            json!({ "sourcedId": format!("enr-{user}"), "userSourcedId": user })
                .as_object()
                .unwrap()
                .clone()
        };
        let area = crate::catalogue::Area::Enrollments;
        assert!(!crate::delivery::shares(
            area,
            &enrollment("stu-9"),
            &on_roll
        ));
        assert!(!crate::delivery::shares(
            area,
            &enrollment("stu-8"),
            &on_roll
        ));
        assert!(crate::delivery::shares(
            area,
            &enrollment("stf-7"),
            &on_roll
        ));
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

    #[test]
    fn the_roll_is_everyone_its_lists_name_and_a_listed_person_needs_only_consent() {
        let records = |ids: &[&str]| -> Vec<Map<String, Value>> {
            ids.iter()
                .map(|id| json!({ "sourcedId": id }).as_object().unwrap().clone())
                .collect()
        };
        let (pupils, staff) = (records(&["stu-1", "stu-2"]), records(&["stf-1"]));
        let no_id = vec![json!({ "givenName": "x" }).as_object().unwrap().clone()];
        let roll = Roll::of([pupils.as_slice(), staff.as_slice(), no_id.as_slice()]);
        assert!(roll.contains("stu-2") && roll.contains("stf-1"));
        assert!(!roll.contains("stu-3") && !roll.contains("x"));

        let rules = [rule("brook", json!({ "all": true }), &[], &["stu-2"])];
        let agreement = agreement("optOut");
        let consent = Consent::of(&agreement, &ObjectKey::new("t", "brook"), &rules, &[]);
        let on_roll = consent.over(&roll);
        assert!(on_roll.allows_listed("stu-1") && !on_roll.allows_listed("stu-2"));
        assert!(on_roll.allows("stu-1") && !on_roll.allows("stu-3"));
    }
}
