//! What `plan_change` says about changes a Trust makes, and the small builders the tests
//! share: a Trust of two schools and one partner, and a roll for each school.

mod fields;
mod people;
mod standing;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::*;
use crate::resources::DataSharingAgreementSpec;
use crate::signing::ApproverKey;

/// A Trust built up by a test: one partner, two schools, and what the test adds.
#[derive(Clone)]
struct Trust {
    set: ResourceSet,
}

impl Trust {
    fn new() -> Trust {
        let mut trust = Trust {
            set: ResourceSet::default(),
        };
        for name in ["ashby", "brook"] {
            trust.set.schools.push(resource(json!({
                "kind": "School", "metadata": { "name": name, "namespace": "t" },
                "spec": { "urn": "100001", "laEstab": "2024001", "displayName": name,
                    "mis": { "oneRosterCsv": { "path": "mis" } },
                    "dataLocation": { "country": "GB" } },
            })));
        }
        trust.set.partners.push(resource(json!({
            "kind": "Partner", "metadata": { "name": "hub", "namespace": "t" },
            "spec": { "displayName": "Hub", "endpoint": "https://hub.example",
                "auth": { "signing": "hmacSha256", "secretRef": { "name": "s", "key": "k" } },
                "dataLocation": { "country": "GB", "region": "London" },
                "privacyContact": "privacy@hub.example" },
        })));
        trust
    }

    /// Adds an opt-out agreement with the hub for both schools, sharing `data`.
    fn agreement(mut self, name: &str, data: Value) -> Trust {
        self.set.agreements.push(resource(json!({
            "kind": "DataSharingAgreement", "metadata": { "name": name, "namespace": "t" },
            "spec": { "partner": "hub", "schools": { "names": ["ashby", "brook"] },
                "purpose": "Homework for classes", "lawfulBasis": "publicTask", "data": data,
                "consent": "optOut", "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        })));
        self
    }

    fn change(mut self, name: &str, change: impl FnOnce(&mut DataSharingAgreementSpec)) -> Trust {
        let agreement = self
            .set
            .agreements
            .iter_mut()
            .find(|a| a.metadata.name.as_deref() == Some(name));
        change(&mut agreement.expect("the agreement is declared").spec);
        self
    }

    fn consent(mut self, school: &str, include: &[&str], exclude: &[&str]) -> Trust {
        let name = format!("rule-{}", self.set.consent_rules.len());
        self.set.consent_rules.push(resource(json!({
            "kind": "ConsentRule", "metadata": { "name": name, "namespace": "t" },
            "spec": { "school": school, "scope": { "partner": "hub" },
                "include": include, "exclude": exclude },
        })));
        self
    }

    fn erasure(mut self, school: &str, sourced_id: &str) -> Trust {
        self.set.erasures.push(resource(json!({
            "kind": "ErasureRequest", "metadata": { "name": "erase", "namespace": "t" },
            "spec": { "school": school, "sourcedId": sourced_id, "reason": "rightToErasure" },
        })));
        self
    }

    fn partner_in(mut self, country: &str) -> Trust {
        self.set.partners[0].spec.data_location.country.0 = country.to_owned();
        self.set.partners[0].spec.data_location.region = None;
        self
    }

    /// Signs every agreement, as an approver would before merging.
    fn signed(mut self, key: &ApproverKey) -> Trust {
        for agreement in &mut self.set.agreements {
            let name = agreement.metadata.name.clone().unwrap_or_default();
            agreement.spec.approval = Some(key.approve(&name, &agreement.spec));
        }
        self
    }
}

fn resource<T: serde::de::DeserializeOwned>(mut doc: Value) -> T {
    doc["apiVersion"] = json!("accord.dev/v1alpha1");
    serde_json::from_value(doc).expect("a valid resource")
}

/// Ashby: five pupils, two staff, one contact of the first pupil. Brook: three pupils.
fn rolls() -> BTreeMap<ObjectKey, Roll> {
    let ids = |prefix: &str, n: usize| (1..=n).map(|i| format!("{prefix}{i}")).collect();
    let ashby = Roll {
        pupils: Some(ids("a-stu-", 5)),
        staff: Some(ids("a-stf-", 2)),
        contacts: Some(BTreeMap::from([(
            "a-con-1".to_owned(),
            BTreeSet::from(["a-stu-1".to_owned()]),
        )])),
    };
    let brook = Roll {
        pupils: Some(ids("b-stu-", 3)),
        staff: Some(BTreeSet::new()),
        contacts: Some(BTreeMap::new()),
    };
    BTreeMap::from([
        (ObjectKey::new("t", "ashby"), ashby),
        (ObjectKey::new("t", "brook"), brook),
    ])
}

struct Approver {
    key: ApproverKey,
    keyring: Keyring,
}

impl Approver {
    fn new() -> Approver {
        let (key, public) = ApproverKey::generate("dpo").expect("a key pair");
        Approver {
            key,
            keyring: Keyring::from_keys([("dpo".to_owned(), public)]),
        }
    }

    fn plan(&self, before: &Trust, after: &Trust) -> ChangePlan {
        self.plan_with(before, after, &rolls())
    }

    fn plan_with(
        &self,
        before: &Trust,
        after: &Trust,
        rolls: &BTreeMap<ObjectKey, Roll>,
    ) -> ChangePlan {
        let now = "2026-12-01T09:00:00Z".parse().expect("a timestamp");
        plan_change(
            &before.set,
            &self.keyring,
            &after.set,
            &self.keyring,
            rolls,
            now,
        )
    }
}

fn homework() -> Trust {
    Trust::new().agreement("homework", json!({ "students": ["givenName", "email"] }))
}

fn agreement<'a>(plan: &'a ChangePlan, name: &str) -> &'a AgreementChange {
    plan.agreements
        .iter()
        .find(|a| a.agreement.name == name)
        .expect("the agreement is planned")
}

fn school<'a>(change: &'a AgreementChange, name: &str) -> &'a SchoolChange {
    change
        .schools
        .iter()
        .find(|s| s.school.name == name)
        .expect("the school is planned")
}

fn names(fields: &[FieldRef]) -> Vec<String> {
    fields.iter().map(ToString::to_string).collect()
}
