//! `accord validate`: schema checks, then checks of meaning across all resources.
//!
//! Findings always point at the YAML node they are about, so a Trust's IT team can go
//! straight to the line. The schema is the one the CRDs publish, so what passes here
//! passes the apiserver too; the meaning checks add what a schema cannot say: that
//! references resolve, that special category data has an Art. 9 condition, that an
//! agreement is signed by a trusted approver, that no YAML names a person.

mod declared;
mod finding;
mod meaning;
mod schema;

use std::path::{Path, PathBuf};

pub use declared::{Declared, DeclaredSet};
pub use finding::{Finding, OutputFormat, Severity, render};
pub use schema::SchemaSet;

use crate::manifest::{Document, Pos, load_paths};
use crate::signing::Keyring;

/// What `validate` found, and what it read.
#[derive(Debug, Default)]
pub struct Report {
    /// Every finding, in file and line order.
    pub findings: Vec<Finding>,
    /// How many Accord resources were read.
    pub resources: usize,
    /// The resources that passed the schema, typed.
    pub declared: crate::resources::ResourceSet,
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Where the keyring is: a folder given on the command line, or `keyring/` beside the files.
#[derive(Clone, Debug, Default)]
pub struct KeyringSource {
    /// The folder given with `--keyring`.
    pub dir: Option<PathBuf>,
}

impl KeyringSource {
    /// The keyring folder for these paths: the one given, or the first `keyring/` found
    /// beside (or inside, for folders) the paths validated.
    pub fn resolve(&self, paths: &[PathBuf]) -> Option<PathBuf> {
        if let Some(dir) = &self.dir {
            return Some(dir.clone());
        }
        paths.iter().find_map(|path| {
            let base = if path.is_dir() {
                path.as_path()
            } else {
                path.parent().unwrap_or(Path::new("."))
            };
            let candidate = base.join("keyring");
            candidate.is_dir().then_some(candidate)
        })
    }
}

/// Validates every YAML file named or under a named folder.
pub fn validate_paths(paths: &[PathBuf], keyring: &KeyringSource) -> Report {
    let loaded = load_paths(paths);
    let mut findings: Vec<Finding> = loaded
        .errors
        .iter()
        .map(|e| Finding::error(&e.file, e.pos, e.message.clone()))
        .collect();

    let keyring_dir = keyring.resolve(paths);
    let keyring = match &keyring_dir {
        Some(dir) => match Keyring::load(dir) {
            Ok(keyring) => KeyringState::Loaded(keyring),
            Err(error) => {
                findings.push(Finding::error(
                    dir,
                    Pos { line: 1, column: 1 },
                    error.to_string(),
                ));
                KeyringState::Broken
            }
        },
        None => KeyringState::Missing,
    };

    let report = validate_documents(&loaded.documents, &keyring);
    findings.extend(report.findings);
    findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Report {
        findings,
        resources: report.resources,
        declared: report.declared,
    }
}

/// The keyring, as far as it could be read.
#[derive(Debug)]
pub enum KeyringState {
    /// Read.
    Loaded(Keyring),
    /// No keyring folder was found or given.
    Missing,
    /// The keyring could not be read; that is already a finding.
    Broken,
}

/// Validates documents already read.
pub fn validate_documents(documents: &[Document], keyring: &KeyringState) -> Report {
    let schemas = SchemaSet::new();
    let mut findings = Vec::new();
    let mut set = DeclaredSet::default();

    for document in documents {
        let before = findings.len();
        let Some(kind) = schemas.check(document, &mut findings) else {
            continue;
        };
        set.declare(kind, document);
        if findings.len() == before {
            set.add(kind, document, &mut findings);
        }
    }

    let resources = set.len();
    meaning::check(&set, keyring, &mut findings);
    let declared = set.to_resources();
    Report {
        findings,
        resources,
        declared,
    }
}

#[cfg(test)]
mod tests;
