//! Loading the declared folder: validate it, and either take it as the new declaration or
//! keep the last valid one, so a typo never stops or widens a flow.

use std::path::{Path, PathBuf};

use crate::manifest::load_paths;
use crate::resources::{Kind, ObjectKey, ResourceSet};
use crate::signing::Keyring;
use crate::validation::{Finding, KeyringSource, KeyringState, Severity, validate_documents};

/// The result of reading the folder once.
#[derive(Debug)]
pub enum Loaded {
    /// Everything validated.
    Valid(Declaration),
    /// Something did not: what, and which resources it concerns.
    Invalid {
        /// The errors, each `file:line:column: error: message`.
        errors: Vec<Finding>,
        /// Resources declared in a file with an error, with that file's first error.
        affected: Vec<(Kind, ObjectKey, String)>,
    },
}

/// A declaration that validated, ready to act on.
#[derive(Clone, Debug)]
pub struct Declaration {
    /// The resources, with relative MIS paths made absolute.
    pub resources: ResourceSet,
    /// The trusted keys.
    pub keyring: Keyring,
}

/// Reads and validates everything under `path`.
pub fn load(path: &Path, keyring_dir: Option<PathBuf>) -> Loaded {
    load_all(&[path.to_owned()], keyring_dir)
}

/// Reads and validates every file named, and everything under every folder named, as one
/// declaration.
pub fn load_all(paths: &[PathBuf], keyring_dir: Option<PathBuf>) -> Loaded {
    let keyring_source = KeyringSource { dir: keyring_dir };
    let loaded = load_paths(paths);
    let mut errors: Vec<Finding> = loaded
        .errors
        .iter()
        .map(|e| Finding::error(&e.file, e.pos, e.message.clone()))
        .collect();

    let keyring = match keyring_source.resolve(paths) {
        Some(dir) => match Keyring::load(&dir) {
            Ok(keyring) => KeyringState::Loaded(keyring),
            Err(error) => {
                errors.push(Finding::error(
                    &dir,
                    crate::manifest::Pos { line: 1, column: 1 },
                    error.to_string(),
                ));
                KeyringState::Broken
            }
        },
        None => KeyringState::Missing,
    };
    let report = validate_documents(&loaded.documents, &keyring);
    // A failing signature does not refuse the declaration: the plan holds that agreement
    // unverified, so its flows stop and its status says why, while the rest goes on.
    let (approval, others): (Vec<Finding>, Vec<Finding>) = report
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .partition(|f| f.approval);
    errors.extend(others);
    for finding in &approval {
        tracing::warn!(finding = %finding, "Agreement not verified; its flows stop");
    }

    if errors.is_empty() {
        let keyring = match keyring {
            KeyringState::Loaded(keyring) => keyring,
            _ => Keyring::default(),
        };
        let mut resources = report.declared;
        absolute_mis_paths(&mut resources, &loaded.documents);
        return Loaded::Valid(Declaration { resources, keyring });
    }

    let mut affected = Vec::new();
    for document in &loaded.documents {
        let Some(first) = errors.iter().find(|e| e.file == *document.file) else {
            continue;
        };
        let root = &document.root;
        let kind = root
            .get("kind")
            .and_then(|n| n.as_str())
            .and_then(Kind::from_name);
        let name = root.at("/metadata/name").and_then(|n| n.as_str());
        let namespace = root
            .at("/metadata/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or("default");
        if let (Some(kind), Some(name)) = (kind, name) {
            affected.push((kind, ObjectKey::new(namespace, name), first.to_string()));
        }
    }
    Loaded::Invalid { errors, affected }
}

// A school's CSV or CTF path is relative to the file declaring it; the declaration is kept
// and acted on away from that file, so the path is made absolute once, here.
fn absolute_mis_paths(resources: &mut ResourceSet, documents: &[crate::manifest::Document]) {
    for school in &mut resources.schools {
        let key = ObjectKey::of(school);
        let Some(document) = documents.iter().find(|d| {
            d.root.get("kind").and_then(|n| n.as_str()) == Some("School")
                && d.root.at("/metadata/name").and_then(|n| n.as_str()) == Some(key.name.as_str())
                && d.root
                    .at("/metadata/namespace")
                    .and_then(|n| n.as_str())
                    .unwrap_or("default")
                    == key.namespace
        }) else {
            continue;
        };
        let base = document
            .file
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default();
        let base = base.canonicalize().unwrap_or(base);
        let mis = &mut school.spec.mis;
        for path in [
            mis.one_roster_csv.as_mut().map(|c| &mut c.path),
            mis.ctf.as_mut().map(|c| &mut c.path),
        ]
        .into_iter()
        .flatten()
        {
            *path = base.join(&*path).display().to_string();
        }
    }
}
