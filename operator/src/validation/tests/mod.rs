//! Each check is fed one bad document in an otherwise valid Trust, and must point at the
//! exact line and column with the exact message. This file holds the Trust builder; the
//! checks are in `schema`, `meaning` and `signatures`.

mod meaning;
mod schema;
mod signatures;

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::resources::DataSharingAgreement;
use crate::signing::ApproverKey;
pub(super) use crate::signing::generate_key_pair;

/// A small valid Trust, written as one file per resource, that a test then breaks.
pub(super) struct Trust {
    pub(super) dir: tempfile::TempDir,
    pub(super) docs: Vec<(String, Value)>,
    pub(super) key: ApproverKey,
}

impl Trust {
    pub(super) fn new() -> Trust {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keyring")).unwrap();
        let (private, public) = generate_key_pair().unwrap();
        std::fs::write(dir.path().join("dpo.key"), private).unwrap();
        std::fs::write(dir.path().join("keyring/dpo.pub"), public).unwrap();
        let key = ApproverKey::load(&dir.path().join("dpo.key")).unwrap();
        let mut trust = Trust {
            dir,
            docs: Vec::new(),
            key,
        };
        trust.add("school.yaml", school("ashby"));
        trust.add("partner.yaml", partner("hub"));
        trust.add("agreement.yaml", agreement("homework", "hub", &["ashby"]));
        trust.add("consent.yaml", consent_rule("ashby-out", "ashby"));
        trust.add("erasure.yaml", erasure("ashby-erase", "ashby"));
        trust
    }

    pub(super) fn add(&mut self, file: &str, doc: Value) -> &mut Self {
        self.docs.push((file.to_owned(), doc));
        self
    }

    /// Changes the document in `file` at a JSON pointer (`None` removes the value).
    pub(super) fn edit(&mut self, file: &str, pointer: &str, value: Option<Value>) -> &mut Self {
        let doc = &mut self.docs.iter_mut().find(|(f, _)| f == file).unwrap().1;
        let (parent, leaf) = pointer.rsplit_once('/').unwrap();
        let target = doc.pointer_mut(parent).unwrap();
        match (target, value) {
            (Value::Object(map), Some(v)) => {
                map.insert(leaf.to_owned(), v);
            }
            (Value::Object(map), None) => {
                map.remove(leaf);
            }
            (Value::Array(items), Some(v)) => items[leaf.parse::<usize>().unwrap()] = v,
            _ => panic!("cannot edit {pointer}"),
        }
        self
    }

    /// Writes the files, signing each agreement as it stands, and returns the folder.
    pub(super) fn write(&self) -> PathBuf {
        for (file, doc) in &self.docs {
            let mut doc = doc.clone();
            let readable = serde_json::from_value::<DataSharingAgreement>(doc.clone());
            if let (Ok(agreement), None) = (readable, doc["spec"].get("approval")) {
                let approval = self
                    .key
                    .approve(doc["metadata"]["name"].as_str().unwrap(), &agreement.spec);
                doc["spec"]["approval"] = serde_json::to_value(approval).unwrap();
            }
            std::fs::write(
                self.dir.path().join(file),
                serde_yaml::to_string(&doc).unwrap(),
            )
            .unwrap();
        }
        self.dir.path().to_owned()
    }

    pub(super) fn text(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }

    pub(super) fn findings(&self) -> Vec<Finding> {
        let dir = self.write();
        validate_paths(&[dir], &KeyringSource::default()).findings
    }

    /// The findings as `file:line:column: severity: message` with the folder left out.
    pub(super) fn lines(&self) -> Vec<String> {
        let prefix = format!("{}/", self.dir.path().display());
        self.findings()
            .iter()
            .map(|f| f.to_string().replace(&prefix, ""))
            .collect()
    }

    /// Where `needle` starts in `file`: `file:line:column`, the column of its first byte.
    pub(super) fn at(&self, file: &str, needle: &str) -> String {
        self.write();
        let text = self.text(file);
        let (n, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle))
            .expect("needle in file");
        format!("{file}:{}:{}", n + 1, line.find(needle).unwrap() + 1)
    }

    pub(super) fn expect(&self, file: &str, needle: &str, severity: &str, message: &str) {
        let expected = format!("{}: {severity}: {message}", self.at(file, needle));
        let lines = self.lines();
        assert!(
            lines.contains(&expected),
            "expected\n  {expected}\nin\n  {}",
            lines.join("\n  ")
        );
    }
}

fn meta(kind: &str, name: &str) -> Value {
    json!({ "apiVersion": "accord.dev/v1alpha1", "kind": kind, "metadata": { "name": name, "namespace": "trust" } })
}

fn with_spec(mut doc: Value, spec: Value) -> Value {
    doc["spec"] = spec;
    doc
}

pub(super) fn school(name: &str) -> Value {
    with_spec(
        meta("School", name),
        json!({
            "urn": "100001", "laEstab": "2024001", "displayName": "Ashby Primary",
            "mis": { "oneRosterRest": {
                "baseUrl": "https://mis.example/ims/oneroster/v1p1", "version": "1.1",
                "tokenUrl": "https://mis.example/token",
                "clientIdRef": { "name": "mis", "key": "id" }, "clientSecretRef": { "name": "mis", "key": "secret" } } },
            "dataLocation": { "country": "GB", "region": "London" },
        }),
    )
}

pub(super) fn partner(name: &str) -> Value {
    with_spec(
        meta("Partner", name),
        json!({
            "displayName": "Homework Hub", "endpoint": "https://hub.example/batches",
            "auth": { "signing": "hmacSha256", "secretRef": { "name": "hub", "key": "secret" } },
            "dataLocation": { "country": "GB" }, "privacyContact": "privacy@hub.example",
        }),
    )
}

pub(super) fn agreement(name: &str, partner: &str, schools: &[&str]) -> Value {
    with_spec(
        meta("DataSharingAgreement", name),
        json!({
            "partner": partner, "schools": { "names": schools },
            "purpose": "Set and mark homework", "lawfulBasis": "publicTask",
            "data": { "students": ["givenName", "yearGroup"] },
            "consent": "optOut", "delivery": { "mode": "push" },
            "validFrom": "2026-09-01", "validUntil": "2027-08-31",
        }),
    )
}

pub(super) fn consent_rule(name: &str, school: &str) -> Value {
    with_spec(
        meta("ConsentRule", name),
        json!({
            "school": school, "scope": { "agreements": ["homework"] }, "exclude": ["stu-0001"],
        }),
    )
}

pub(super) fn erasure(name: &str, school: &str) -> Value {
    with_spec(
        meta("ErasureRequest", name),
        json!({
            "school": school, "sourcedId": "stu-0002", "reason": "leftSchool",
        }),
    )
}
