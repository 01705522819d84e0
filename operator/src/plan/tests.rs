use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::resources::{DataSharingAgreement, School};
use crate::signing::{ApproverKey, Verification};

/// A declaration built up by a test, signed with a key of its own.
struct Setup {
    declared: ResourceSet,
    key: ApproverKey,
    keyring: Keyring,
}

impl Setup {
    fn new() -> Setup {
        let (key, public) = ApproverKey::generate("dpo").unwrap();
        let mut setup = Setup {
            declared: ResourceSet::default(),
            key,
            keyring: Keyring::from_keys([("dpo".into(), public)]),
        };
        setup.school("ashby", json!({}));
        setup.declared.partners.push(
            serde_json::from_value(json!({
                "apiVersion": "accord.dev/v1alpha1", "kind": "Partner",
                "metadata": { "name": "hub", "namespace": "t" },
                "spec": { "displayName": "Hub", "endpoint": "https://hub.example",
                    "auth": { "signing": "hmacSha256", "secretRef": { "name": "s", "key": "k" } },
                    "dataLocation": { "country": "GB" }, "privacyContact": "privacy@hub.example" },
            }))
            .unwrap(),
        );
        setup
    }

    fn school(&mut self, name: &str, extra: serde_json::Value) -> &mut Self {
        let mut doc = json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "School",
            "metadata": { "name": name, "namespace": "t", "labels": { "phase": "primary" } },
            "spec": { "urn": "100001", "laEstab": "2024001", "displayName": name,
                "mis": { "oneRosterCsv": { "path": "mis" } }, "dataLocation": { "country": "GB" } },
        });
        merge(&mut doc, extra);
        self.declared
            .schools
            .push(serde_json::from_value::<School>(doc).unwrap());
        self
    }

    /// Adds an agreement sharing `data`, with `extra` merged into it, and signs it.
    fn agreement(
        &mut self,
        name: &str,
        data: serde_json::Value,
        extra: serde_json::Value,
    ) -> &mut Self {
        let mut doc = json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "DataSharingAgreement",
            "metadata": { "name": name, "namespace": "t" },
            "spec": { "partner": "hub", "schools": { "names": ["ashby"] }, "purpose": "Homework for classes",
                "lawfulBasis": "publicTask", "data": data, "consent": "optOut",
                "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        });
        merge(&mut doc, extra);
        let mut agreement: DataSharingAgreement = serde_json::from_value(doc).unwrap();
        agreement.spec.approval = Some(self.key.approve(name, &agreement.spec));
        self.declared.agreements.push(agreement);
        self
    }

    /// Changes the last agreement after it was signed.
    fn tamper(&mut self, change: impl FnOnce(&mut DataSharingAgreement)) -> &mut Self {
        change(self.declared.agreements.last_mut().unwrap());
        self
    }

    fn plan(&self, facts: &Facts) -> Plan {
        plan(&self.declared, &self.keyring, facts)
    }

    fn school_plan(&self, facts: &Facts) -> SchoolPlan {
        self.plan(facts)
            .schools
            .into_iter()
            .find(|s| s.key.name == "ashby")
            .unwrap()
    }
}

fn merge(doc: &mut serde_json::Value, extra: serde_json::Value) {
    match (doc, extra) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            for (k, v) in from {
                merge(into.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn fresh(now: &str) -> Facts {
    Facts {
        now: at(now),
        schools: BTreeMap::new(),
    }
}

fn fields(plan: &SchoolPlan) -> Vec<String> {
    plan.authorised
        .areas()
        .flat_map(|a| plan.authorised.fields(a).map(move |f| format!("{a}.{f}")))
        .collect()
}

/// Facts as they stand right after a read of exactly what `plan` asked for.
fn after_read(plan: &SchoolPlan, read_at: &str) -> Facts {
    let read = at(read_at);
    let expires = read
        .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(24 * 30))
        .unwrap();
    let cache = plan
        .extract_fields
        .areas()
        .map(|a| {
            (
                a,
                EntryFacts {
                    expires_at: expires,
                    last_used_at: None,
                },
            )
        })
        .collect();
    let seen = SchoolFacts {
        last_extraction: Some(read),
        extracted_fields: plan.extract_fields.clone(),
        refresh_handled: None,
        cache,
    };
    Facts {
        now: read,
        schools: BTreeMap::from([(plan.key.clone(), seen)]),
    }
}

#[test]
fn only_fields_some_agreement_names_are_authorised() {
    let mut setup = Setup::new();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    setup.agreement(
        "b",
        json!({ "students": ["yearGroup"], "classes": ["title"] }),
        json!({}),
    );
    let plan = setup.school_plan(&fresh("2026-12-03T10:00:00Z"));
    assert_eq!(
        fields(&plan),
        [
            "students.givenName",
            "students.sourcedId",
            "students.yearGroup",
            "classes.sourcedId",
            "classes.title"
        ]
    );
}

#[test]
fn a_tampered_agreement_authorises_nothing() {
    let mut setup = Setup::new();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    setup.tamper(|a| {
        a.spec
            .data
            .0
            .entry(Area::Students)
            .or_default()
            .push("dateOfBirth".into())
    });
    let plan = setup.plan(&fresh("2026-12-03T10:00:00Z"));
    assert!(matches!(
        plan.agreements[0].effect,
        Effect::Unverified(Verification::Mismatch { .. })
    ));
    assert!(plan.schools[0].authorised.areas().next().is_none());
    assert_eq!(plan.schools[0].extract, None);
}

#[test]
fn agreements_outside_their_window_or_suspended_authorise_nothing() {
    for (extra, effect) in [
        (
            json!({ "spec": { "validFrom": "2027-01-01" } }),
            "NotYetValid",
        ),
        (json!({ "spec": { "validUntil": "2026-11-30" } }), "Expired"),
        (json!({ "spec": { "suspend": true } }), "Suspended"),
    ] {
        let mut setup = Setup::new();
        setup.agreement("a", json!({ "students": ["givenName"] }), extra);
        let plan = setup.plan(&fresh("2026-12-03T10:00:00Z"));
        assert!(
            format!("{:?}", plan.agreements[0].effect).starts_with(effect),
            "{:?}",
            plan.agreements[0].effect
        );
        assert!(plan.schools[0].authorised.areas().next().is_none());
    }
}

#[test]
fn a_school_is_read_first_then_only_when_something_changes() {
    let mut setup = Setup::new();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    let first = setup.school_plan(&fresh("2026-12-03T10:00:00Z"));
    assert_eq!(first.extract, Some(ExtractReason::FirstExtraction));

    let facts = after_read(&first, "2026-12-03T10:00:00Z");
    let settled = setup.school_plan(&facts);
    assert_eq!(settled.extract, None);
    assert_eq!(settled.next_refresh, Some(at("2026-12-04T02:00:00Z")));
    assert!(settled.drop.is_empty());
}

#[test]
fn dropping_a_field_from_an_agreement_reads_again_without_it() {
    let mut setup = Setup::new();
    setup.agreement(
        "a",
        json!({ "students": ["givenName", "email"] }),
        json!({}),
    );
    let facts = after_read(
        &setup.school_plan(&fresh("2026-12-03T10:00:00Z")),
        "2026-12-03T10:00:00Z",
    );

    setup.declared.agreements.clear();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    let plan = setup.school_plan(&facts);
    assert_eq!(plan.extract, Some(ExtractReason::FieldsChanged));
    assert_eq!(fields(&plan), ["students.givenName", "students.sourcedId"]);
}

#[test]
fn the_refresh_annotation_asks_for_one_read() {
    let mut setup = Setup::new();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    let mut facts = after_read(
        &setup.school_plan(&fresh("2026-12-03T10:00:00Z")),
        "2026-12-03T10:00:00Z",
    );
    setup.declared.schools.clear();
    setup.school(
        "ashby",
        json!({ "metadata": { "annotations": { REFRESH_REQUESTED_AT: "2026-12-03T10:05:00Z" } } }),
    );

    assert_eq!(
        setup.school_plan(&facts).extract,
        Some(ExtractReason::Requested)
    );
    facts
        .schools
        .values_mut()
        .for_each(|s| s.refresh_handled = Some("2026-12-03T10:05:00Z".into()));
    assert_eq!(setup.school_plan(&facts).extract, None);
}

#[test]
fn the_schedule_and_expiry_bring_a_read() {
    let mut setup = Setup::new();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    let mut facts = after_read(
        &setup.school_plan(&fresh("2026-12-03T10:00:00Z")),
        "2026-12-03T10:00:00Z",
    );

    facts.now = at("2026-12-04T02:00:00Z");
    assert_eq!(
        setup.school_plan(&facts).extract,
        Some(ExtractReason::Scheduled)
    );

    facts.now = at("2027-01-10T00:00:00Z");
    let plan = setup.school_plan(&facts);
    assert_eq!(
        plan.extract,
        Some(ExtractReason::CacheMissing(Area::Students))
    );
    assert!(plan.drop.contains(&Area::Students));
}

#[test]
fn pull_only_areas_are_cold_until_pulled() {
    let mut setup = Setup::new();
    setup.agreement(
        "a",
        json!({ "students": ["givenName"] }),
        json!({ "spec": { "delivery": { "mode": "pull" } } }),
    );

    let plan = setup.school_plan(&fresh("2026-12-03T10:00:00Z"));
    assert_eq!(
        plan.temperature.get(&Area::Students),
        Some(&Temperature::Cold)
    );
    assert_eq!(plan.extract, None, "a cold area is not read on schedule");

    let mut facts = fresh("2026-12-03T10:00:00Z");
    let used = EntryFacts {
        expires_at: at("2027-01-01T00:00:00Z"),
        last_used_at: Some(at("2026-12-01T00:00:00Z")),
    };
    facts.schools.insert(
        plan.key.clone(),
        SchoolFacts {
            cache: BTreeMap::from([(Area::Students, used)]),
            ..Default::default()
        },
    );
    assert_eq!(
        setup.school_plan(&facts).temperature.get(&Area::Students),
        Some(&Temperature::Hot)
    );
}

#[test]
fn an_area_no_agreement_uses_any_more_is_dropped() {
    let mut setup = Setup::new();
    setup.agreement(
        "a",
        json!({ "students": ["givenName"], "classes": ["title"] }),
        json!({}),
    );
    let facts = after_read(
        &setup.school_plan(&fresh("2026-12-03T10:00:00Z")),
        "2026-12-03T10:00:00Z",
    );
    setup.declared.agreements.clear();
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({}));
    assert_eq!(
        setup.school_plan(&facts).drop,
        BTreeSet::from([Area::Classes])
    );
}

#[test]
fn a_school_no_longer_declared_is_shredded() {
    let setup = Setup::new();
    let mut facts = fresh("2026-12-03T10:00:00Z");
    facts
        .schools
        .insert(ObjectKey::new("t", "closed-school"), SchoolFacts::default());
    let plan = setup.plan(&facts);
    assert_eq!(
        plan.shred,
        BTreeSet::from([ObjectKey::new("t", "closed-school")])
    );
}

#[test]
fn selectors_pick_schools_by_label() {
    let mut setup = Setup::new();
    setup.school(
        "brook",
        json!({ "metadata": { "labels": { "phase": "secondary" } } }),
    );
    setup.agreement("a", json!({ "students": ["givenName"] }), json!({ "spec": { "schools": { "names": [], "selector": { "matchLabels": { "phase": "primary" } } } } }));
    let plan = setup.plan(&fresh("2026-12-03T10:00:00Z"));
    assert_eq!(plan.agreements[0].schools, [ObjectKey::new("t", "ashby")]);
}
