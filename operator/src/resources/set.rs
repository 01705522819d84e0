//! A whole declaration: every resource of every kind, as the controller acts on it.

use std::fmt;

use kube::ResourceExt;

use super::{ConsentRule, DataSharingAgreement, ErasureRequest, Partner, School};

/// A resource's identity: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> ObjectKey {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a resource, with `default` for a missing namespace.
    pub fn of<K: ResourceExt>(resource: &K) -> ObjectKey {
        ObjectKey {
            namespace: resource.namespace().unwrap_or_else(|| "default".to_owned()),
            name: resource.name_any(),
        }
    }

    /// Parses `namespace/name`.
    pub fn parse(text: &str) -> Option<ObjectKey> {
        let (namespace, name) = text.split_once('/')?;
        Some(ObjectKey::new(namespace, name))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Every declared resource, by kind.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ResourceSet {
    /// Schools.
    pub schools: Vec<School>,
    /// Partners.
    pub partners: Vec<Partner>,
    /// Agreements.
    pub agreements: Vec<DataSharingAgreement>,
    /// Consent rules.
    pub consent_rules: Vec<ConsentRule>,
    /// Erasure requests.
    pub erasures: Vec<ErasureRequest>,
}

impl ResourceSet {
    /// The school with this key.
    pub fn school(&self, key: &ObjectKey) -> Option<&School> {
        self.schools.iter().find(|s| &ObjectKey::of(*s) == key)
    }

    /// The partner `name` in `namespace`.
    pub fn partner(&self, namespace: &str, name: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| {
            p.namespace().as_deref().unwrap_or("default") == namespace && p.name_any() == name
        })
    }

    /// How many resources there are.
    pub fn len(&self) -> usize {
        self.schools.len()
            + self.partners.len()
            + self.agreements.len()
            + self.consent_rules.len()
            + self.erasures.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
