//! Small builders of declared resources for the portal's unit tests.

use serde_json::{Value, json};

use crate::resources::ResourceSet;

/// A Trust in namespace `t` with no resources yet.
#[derive(Default)]
pub struct Trust(pub ResourceSet);

impl Trust {
    /// Adds a school kept in `country`.
    pub fn school(mut self, name: &str, country: &str) -> Trust {
        self.0.schools.push(resource(json!({
            "kind": "School", "metadata": { "name": name, "namespace": "t" },
            "spec": { "urn": "100001", "laEstab": "2024001", "displayName": name,
                "mis": { "oneRosterCsv": { "path": "mis" } },
                "dataLocation": { "country": country, "region": "London" } },
        })));
        self
    }

    /// Adds a partner keeping data in `country`.
    pub fn partner(mut self, name: &str, country: &str) -> Trust {
        self.0.partners.push(resource(json!({
            "kind": "Partner", "metadata": { "name": name, "namespace": "t" },
            "spec": { "displayName": name, "endpoint": "https://p.example",
                "auth": { "signing": "hmacSha256", "secretRef": { "name": "s", "key": "k" } },
                "dataLocation": { "country": country }, "privacyContact": "privacy@p.example" },
        })));
        self
    }

    /// Adds an agreement sending students' given names from `schools` to `partner`.
    pub fn agreement(mut self, name: &str, partner: &str, schools: &[&str]) -> Trust {
        self.0.agreements.push(resource(json!({
            "kind": "DataSharingAgreement", "metadata": { "name": name, "namespace": "t" },
            "spec": { "partner": partner, "schools": { "names": schools },
                "purpose": "Homework for classes", "lawfulBasis": "publicTask",
                "data": { "students": ["givenName"] }, "consent": "optOut",
                "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        })));
        self
    }

    /// Adds a consent rule excluding `exclude` from one agreement at one school.
    pub fn excluding(
        mut self,
        name: &str,
        school: &str,
        agreement: &str,
        exclude: &[&str],
    ) -> Trust {
        self.0.consent_rules.push(resource(json!({
            "kind": "ConsentRule", "metadata": { "name": name, "namespace": "t" },
            "spec": { "school": school, "scope": { "agreements": [agreement] },
                "exclude": exclude },
        })));
        self
    }
}

fn resource<K: serde::de::DeserializeOwned>(mut doc: Value) -> K {
    doc["apiVersion"] = json!("accord.dev/v1alpha1");
    serde_json::from_value(doc).expect("a valid test resource")
}
