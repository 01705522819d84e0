//! The resources a Trust declared, typed, each with the document it came from.

use kube::ResourceExt;
use serde::de::DeserializeOwned;

use super::finding::Finding;
use crate::manifest::{Document, Pos};
use crate::resources::{ConsentRule, DataSharingAgreement, ErasureRequest, Kind, Partner, School};

/// The namespace a resource without one lands in, as `kubectl apply` does by default.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One declared resource and where it was declared.
#[derive(Debug)]
pub struct Declared<'a, T> {
    /// The document.
    pub doc: &'a Document,
    /// The namespace (`default` when the YAML names none).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The resource.
    pub resource: T,
}

impl<T> Declared<'_, T> {
    /// Where a JSON pointer into the document stands.
    pub fn pos(&self, pointer: &str) -> Pos {
        self.doc.root.locate(pointer)
    }

    /// An error at a JSON pointer into this resource's document.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> Finding {
        Finding::error(&self.doc.file, self.pos(pointer), message)
    }

    /// A warning at a JSON pointer into this resource's document.
    pub fn warning(&self, pointer: &str, message: impl Into<String>) -> Finding {
        Finding::warning(&self.doc.file, self.pos(pointer), message)
    }

    /// `namespace/name`, how messages name a resource.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Every declared resource, by kind.
#[derive(Debug, Default)]
pub struct DeclaredSet<'a> {
    /// Schools.
    pub schools: Vec<Declared<'a, School>>,
    /// Partners.
    pub partners: Vec<Declared<'a, Partner>>,
    /// Data sharing agreements.
    pub agreements: Vec<Declared<'a, DataSharingAgreement>>,
    /// Consent rules.
    pub consent_rules: Vec<Declared<'a, ConsentRule>>,
    /// Erasure requests.
    pub erasures: Vec<Declared<'a, ErasureRequest>>,
    /// Every `(kind, namespace, name)` declared, including resources that failed the
    /// schema, so one mistake is reported once rather than again by every reference to it.
    names: std::collections::HashSet<(Kind, String, String)>,
}

impl<'a> DeclaredSet<'a> {
    /// Notes that a document declares `kind` under its name, valid or not.
    pub fn declare(&mut self, kind: Kind, doc: &Document) {
        let name = doc.root.at("/metadata/name").and_then(|n| n.as_str());
        let namespace = doc
            .root
            .at("/metadata/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or(DEFAULT_NAMESPACE);
        if let Some(name) = name {
            self.names
                .insert((kind, namespace.to_owned(), name.to_owned()));
        }
    }

    /// Whether a resource of `kind` named `name` is declared in `namespace`.
    pub fn has(&self, kind: Kind, namespace: &str, name: &str) -> bool {
        self.names
            .contains(&(kind, namespace.to_owned(), name.to_owned()))
    }

    /// Reads a schema-valid document as its kind and adds it.
    pub fn add(&mut self, kind: Kind, doc: &'a Document, findings: &mut Vec<Finding>) {
        match kind {
            Kind::School => push(&mut self.schools, doc, findings),
            Kind::Partner => push(&mut self.partners, doc, findings),
            Kind::DataSharingAgreement => push(&mut self.agreements, doc, findings),
            Kind::ConsentRule => push(&mut self.consent_rules, doc, findings),
            Kind::ErasureRequest => push(&mut self.erasures, doc, findings),
        }
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

    /// The typed resources, without where they were declared.
    pub fn to_resources(&self) -> crate::resources::ResourceSet {
        fn all<T: Clone>(list: &[Declared<'_, T>]) -> Vec<T> {
            list.iter().map(|d| d.resource.clone()).collect()
        }
        crate::resources::ResourceSet {
            schools: all(&self.schools),
            partners: all(&self.partners),
            agreements: all(&self.agreements),
            consent_rules: all(&self.consent_rules),
            erasures: all(&self.erasures),
        }
    }

    /// The school `name` in `namespace`.
    pub fn school(&self, namespace: &str, name: &str) -> Option<&Declared<'a, School>> {
        self.schools
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// The partner `name` in `namespace`.
    pub fn partner(&self, namespace: &str, name: &str) -> Option<&Declared<'a, Partner>> {
        self.partners
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    /// The agreement `name` in `namespace`.
    pub fn agreement(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&Declared<'a, DataSharingAgreement>> {
        self.agreements
            .iter()
            .find(|a| a.namespace == namespace && a.name == name)
    }
}

fn push<'a, T>(list: &mut Vec<Declared<'a, T>>, doc: &'a Document, findings: &mut Vec<Finding>)
where
    T: DeserializeOwned + ResourceExt,
{
    // The schema has passed, so a failure here is a gap between schema and types; it is
    // still reported rather than trusted away.
    match serde_json::from_value::<T>(doc.root.to_json()) {
        Ok(resource) => {
            let namespace = resource
                .namespace()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
            let name = resource.name_any();
            list.push(Declared {
                doc,
                namespace,
                name,
                resource,
            });
        }
        Err(error) => findings.push(Finding::error(
            &doc.file,
            doc.root.pos,
            format!("cannot read resource: {error}"),
        )),
    }
}
