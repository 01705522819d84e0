//! Every resource has one name per kind and namespace.

use std::collections::HashMap;

use super::super::declared::{Declared, DeclaredSet};
use super::super::finding::Finding;

/// Reports resources declared twice.
pub fn check(set: &DeclaredSet<'_>, findings: &mut Vec<Finding>) {
    unique("School", &set.schools, findings);
    unique("Partner", &set.partners, findings);
    unique("DataSharingAgreement", &set.agreements, findings);
    unique("ConsentRule", &set.consent_rules, findings);
    unique("ErasureRequest", &set.erasures, findings);
}

fn unique<T>(kind: &str, resources: &[Declared<'_, T>], findings: &mut Vec<Finding>) {
    let mut first: HashMap<(&str, &str), &Declared<'_, T>> = HashMap::new();
    for resource in resources {
        let key = (resource.namespace.as_str(), resource.name.as_str());
        match first.get(&key) {
            Some(earlier) => {
                let at = earlier.pos("/metadata/name");
                findings.push(resource.error(
                    "/metadata/name",
                    format!(
                        "{kind} {} is declared twice (first at {}:{}): rename or remove one",
                        resource.id(),
                        earlier.doc.file.display(),
                        at.line
                    ),
                ));
            }
            None => {
                first.insert(key, resource);
            }
        }
    }
}
