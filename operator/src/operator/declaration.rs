//! The cluster's resources as a declaration folder: every object of the five kinds in the
//! namespace, written as the YAML files `accord run` reads, beside the keyring from a
//! ConfigMap and the referenced Secrets in the `<name>/<key>` layout of a mounted Secret.
//!
//! Writing the same folder `accord run` reads means the operator validates, plans and acts
//! through exactly the embedded controller's path; nothing about a pass differs but where
//! the resources came from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Map, Value, json};

use crate::resources::{
    API_VERSION, ConsentRule, DataSharingAgreement, ErasureRequest, Kind, ObjectKey, Partner,
    School,
};

/// Every Accord object in the namespace, as the apiserver returned them.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
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

/// Where a pass's declaration is written.
#[derive(Clone, Debug)]
pub struct Folder {
    /// The declaration: one folder per kind, and `keyring/`.
    pub trust: PathBuf,
    /// The Secrets, as `<name>/<key>`.
    pub secrets: PathBuf,
}

impl Folder {
    /// The folder under `work`.
    pub fn under(work: &Path) -> Folder {
        Folder {
            trust: work.join("trust"),
            secrets: work.join("secrets"),
        }
    }
}

impl Cluster {
    /// Lists the five kinds in `namespace`.
    pub async fn list(client: &Client, namespace: &str) -> Result<Cluster, kube::Error> {
        let params = ListParams::default();
        Ok(Cluster {
            schools: Api::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items,
            partners: Api::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items,
            agreements: Api::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items,
            consent_rules: Api::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items,
            erasures: Api::namespaced(client.clone(), namespace)
                .list(&params)
                .await?
                .items,
        })
    }

    /// Agreements that stay in the declaration: not being deleted, and not naming a
    /// partner that is. The rest are left out, so the pass ends them at their partner.
    fn kept_agreements(&self) -> impl Iterator<Item = &DataSharingAgreement> {
        let leaving: BTreeSet<String> = self
            .partners
            .iter()
            .filter(|p| deleting(*p))
            .map(ResourceExt::name_any)
            .collect();
        self.agreements
            .iter()
            .filter(move |a| !deleting(*a) && !leaving.contains(&a.spec.partner))
    }

    /// Writes the declaration folder: every kept object as a YAML file. A School being
    /// deleted is left out, with the consent rules and erasure requests about it, so the
    /// pass destroys its key and tells its partners to delete; a Partner being deleted
    /// stays, so its deletion notices can still reach it. Relative MIS paths are taken from
    /// `mis_root`.
    pub fn write(&self, folder: &Folder, mis_root: &Path) -> std::io::Result<()> {
        for dir in ["schools", "partners", "agreements", "consent", "erasures"] {
            let path = folder.trust.join(dir);
            if path.exists() {
                std::fs::remove_dir_all(&path)?;
            }
            private_dir(&path)?;
        }
        let trust = &folder.trust;
        for school in self.schools.iter().filter(|s| !deleting(*s)) {
            let mut school = school.clone();
            let mis = &mut school.spec.mis;
            for path in [
                mis.one_roster_csv.as_mut().map(|c| &mut c.path),
                mis.ctf.as_mut().map(|c| &mut c.path),
            ]
            .into_iter()
            .flatten()
            {
                *path = mis_root.join(&*path).display().to_string();
            }
            write_object(trust, "schools", Kind::School, &school, &school.spec)?;
        }
        for partner in &self.partners {
            write_object(trust, "partners", Kind::Partner, partner, &partner.spec)?;
        }
        let kind = Kind::DataSharingAgreement;
        for agreement in self.kept_agreements() {
            write_object(trust, "agreements", kind, agreement, &agreement.spec)?;
        }

        // A consent rule naming an agreement that is going, or gone since, would make the
        // declaration invalid, as it would in git: the agreement's name is dropped from the
        // rule, and a rule left with no agreement is left out.
        let kept: BTreeSet<String> = self.kept_agreements().map(ResourceExt::name_any).collect();
        // Likewise a consent rule or erasure request about a school that is going: its
        // school's data is about to be destroyed and its partners told to delete.
        let leaving: BTreeSet<String> = self
            .schools
            .iter()
            .filter(|s| deleting(*s))
            .map(ResourceExt::name_any)
            .collect();
        for rule in &self.consent_rules {
            if leaving.contains(&rule.spec.school) {
                continue;
            }
            let mut rule = rule.clone();
            if let Some(agreements) = rule.spec.scope.agreements.as_mut() {
                let before = agreements.len();
                agreements.retain(|name| kept.contains(name));
                if before > 0 && agreements.is_empty() {
                    continue;
                }
            }
            write_object(trust, "consent", Kind::ConsentRule, &rule, &rule.spec)?;
        }
        for erasure in self
            .erasures
            .iter()
            .filter(|e| !leaving.contains(&e.spec.school))
        {
            write_object(
                trust,
                "erasures",
                Kind::ErasureRequest,
                erasure,
                &erasure.spec,
            )?;
        }
        Ok(())
    }

    /// Every `{name, key}` Secret reference in any spec, as (name, key).
    pub fn secret_refs(&self) -> BTreeSet<(String, String)> {
        let mut refs = BTreeSet::new();
        let specs = self
            .schools
            .iter()
            .map(|s| serde_json::to_value(&s.spec))
            .chain(self.partners.iter().map(|p| serde_json::to_value(&p.spec)));
        for spec in specs.flatten() {
            collect_refs(&spec, false, &mut refs);
        }
        refs
    }

    /// The key of every object of `kind`, with whether it is being deleted.
    pub fn keys(&self, kind: Kind) -> Vec<(ObjectKey, bool)> {
        fn of<K: Resource>(items: &[K]) -> Vec<(ObjectKey, bool)> {
            items
                .iter()
                .map(|o| (ObjectKey::of(o), deleting(o)))
                .collect()
        }
        match kind {
            Kind::School => of(&self.schools),
            Kind::Partner => of(&self.partners),
            Kind::DataSharingAgreement => of(&self.agreements),
            Kind::ConsentRule => of(&self.consent_rules),
            Kind::ErasureRequest => of(&self.erasures),
        }
    }
}

/// Every `{name, key}` Secret reference in one spec, as (name, key).
pub fn refs_of(spec: &Value) -> BTreeSet<(String, String)> {
    let mut refs = BTreeSet::new();
    collect_refs(spec, false, &mut refs);
    refs
}

/// Writes the keyring ConfigMap's entries into `<trust>/keyring/`. A missing ConfigMap
/// leaves the keyring empty, so no agreement verifies.
pub async fn write_keyring(
    client: &Client,
    namespace: &str,
    config_map: &str,
    folder: &Folder,
) -> Result<(), super::OperatorError> {
    let dir = folder.trust.join("keyring");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    private_dir(&dir)?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let Some(map) = api.get_opt(config_map).await? else {
        tracing::warn!(
            config_map,
            "Keyring ConfigMap not found; no agreement verifies"
        );
        return Ok(());
    };
    for (name, text) in map.data.unwrap_or_default() {
        if safe_name(&name) {
            std::fs::write(dir.join(name), text)?;
        }
    }
    Ok(())
}

/// Writes each referenced Secret key as `<secrets>/<name>/<key>`, mode 0600, and removes
/// any written before that is no longer referenced. A missing Secret or key is left
/// missing: the connector or delivery that needs it says which. Each file is replaced
/// whole (written aside, then renamed), so the pull API, which reads tokens while passes
/// run, never finds one missing or half written.
pub async fn write_secrets(
    client: &Client,
    namespace: &str,
    refs: &BTreeSet<(String, String)>,
    folder: &Folder,
) -> Result<(), super::OperatorError> {
    private_dir(&folder.secrets)?;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let names: BTreeSet<&String> = refs.iter().map(|(name, _)| name).collect();
    let mut written: BTreeSet<PathBuf> = BTreeSet::new();
    for name in names {
        if !safe_name(name) {
            continue;
        }
        let Some(secret) = api.get_opt(name).await? else {
            continue;
        };
        let data = secret.data.unwrap_or_default();
        let dir = folder.secrets.join(name);
        private_dir(&dir)?;
        for (secret_name, key) in refs {
            if secret_name != name || !safe_name(key) {
                continue;
            }
            if let Some(bytes) = data.get(key) {
                let path = dir.join(key);
                let aside = dir.join(format!(".{key}.new"));
                write_private(&aside, &bytes.0)?;
                std::fs::rename(&aside, &path)?;
                written.insert(path);
            }
        }
        written.insert(dir);
    }
    remove_unwritten(&folder.secrets, &written)
}

// Removes what `written` does not name below `dir`: Secrets and keys no longer referenced.
fn remove_unwritten(dir: &Path, written: &BTreeSet<PathBuf>) -> Result<(), super::OperatorError> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if written.contains(&path) {
            if path.is_dir() {
                remove_unwritten(&path, written)?;
            }
        } else if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Whether the object is being deleted (its finalizers hold it).
pub fn deleting<K: Resource>(object: &K) -> bool {
    object.meta().deletion_timestamp.is_some()
}

fn write_object<K: Resource, S: serde::Serialize>(
    trust: &Path,
    dir: &str,
    kind: Kind,
    object: &K,
    spec: &S,
) -> std::io::Result<()> {
    let meta = object.meta();
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(object.meta().name));
    metadata.insert("namespace".into(), json!(meta.namespace));
    if let Some(generation) = meta.generation {
        metadata.insert("generation".into(), json!(generation));
    }
    if let Some(labels) = meta.labels.as_ref().filter(|l| !l.is_empty()) {
        metadata.insert("labels".into(), json!(labels));
    }
    let annotations: Map<String, Value> = meta
        .annotations
        .iter()
        .flatten()
        // kubectl's copy of the applied object is large and not Accord's to read.
        .filter(|(k, _)| !k.starts_with("kubectl.kubernetes.io/"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    let document = json!({
        "apiVersion": API_VERSION,
        "kind": kind.as_str(),
        "metadata": metadata,
        "spec": spec,
    });
    // JSON is YAML that no reader mistakes: serde_yaml would write Norway's `NO` bare,
    // which YAML 1.1 readers take for `false`.
    let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    let name = meta.name.clone().unwrap_or_default();
    std::fs::write(trust.join(dir).join(format!("{name}.yaml")), text)
}

// A Secret reference is an object with string `name` and `key` under a field named `*Ref`.
fn collect_refs(value: &Value, in_ref: bool, refs: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            if in_ref
                && let (Some(Value::String(name)), Some(Value::String(key))) =
                    (map.get("name"), map.get("key"))
            {
                refs.insert((name.clone(), key.clone()));
                return;
            }
            for (field, inner) in map {
                collect_refs(inner, field.ends_with("Ref"), refs);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, false, refs)),
        _ => {}
    }
}

// Names become file names: refuse anything that could leave the folder.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_are_found_only_under_ref_fields() {
        let spec = json!({
            "auth": { "secretRef": { "name": "hub", "key": "secret" } },
            "tls": { "caRef": { "name": "hub-ca", "key": "ca.crt" } },
            "other": { "name": "not-a-secret", "key": "x" },
        });
        let mut refs = BTreeSet::new();
        collect_refs(&spec, false, &mut refs);
        let found: Vec<_> = refs.iter().map(|(n, k)| format!("{n}/{k}")).collect();
        assert_eq!(found, ["hub/secret", "hub-ca/ca.crt"]);
    }

    #[test]
    fn names_that_would_leave_the_folder_are_refused() {
        assert!(safe_name("ca.crt"));
        assert!(!safe_name(".."));
        assert!(!safe_name("a/b"));
        assert!(!safe_name(""));
    }
}
