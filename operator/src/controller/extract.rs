//! Reading one school's MIS with the connector its spec names, for exactly the planned
//! fields.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value};

use crate::cache::{Cache, CacheError};
use crate::catalogue::{Area, SOURCED_ID};
use crate::mis::rest::RestConfig;
use crate::mis::{Extract, FieldSet, MisError, ReadOptions};
use crate::plan::REFRESH_REQUESTED_AT;
use crate::resources::{ObjectKey, School, SecretKeyRef};
use crate::state::ExtractionRecord;

/// Why a school's MIS could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The export or service answered with something Accord will not accept.
    #[error(transparent)]
    Mis(#[from] MisError),
    /// A secret the connector needs is missing.
    #[error("secret {name}/{key} is missing: put it in {path}")]
    MissingSecret {
        /// The Secret's name.
        name: String,
        /// The key.
        key: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The school's spec names no connector Accord can use here.
    #[error("{0}")]
    Unsupported(String),
    /// The read was cut short (the task failed or the controller is stopping).
    #[error("the read was interrupted: {0}")]
    Interrupted(String),
}

/// Where secrets live in embedded mode: `<dir>/<secret name>/<key>`, the layout of a
/// mounted Kubernetes Secret volume.
#[derive(Clone, Debug)]
pub struct SecretsDir(pub PathBuf);

impl SecretsDir {
    /// Reads one secret.
    pub fn read(&self, reference: &SecretKeyRef) -> Result<Vec<u8>, ExtractError> {
        let path = self.0.join(&reference.name).join(&reference.key);
        std::fs::read(&path).map_err(|_| ExtractError::MissingSecret {
            name: reference.name.clone(),
            key: reference.key.clone(),
            path,
        })
    }
}

/// Reads a school's MIS for `fields` and puts each area in the cache, to expire after
/// `retention`, noting the attempt in `record` (which the caller stores). A read that
/// fails leaves the cache as it was; its error is in `record` and returned as the inner
/// `Err`, with the number of warnings as the inner `Ok`. The outer error is the cache's.
/// `accord run` calls this in its pass, `accord extract` in a Job.
#[allow(clippy::too_many_arguments)]
pub async fn refresh_school(
    cache: &Cache,
    school: &School,
    base: &Path,
    fields: &FieldSet,
    secrets: &SecretsDir,
    retention: std::time::Duration,
    now: Timestamp,
    record: &mut ExtractionRecord,
) -> Result<Result<usize, ExtractError>, CacheError> {
    let key = ObjectKey::of(school).to_string();
    record.last_attempt = SystemTime::now();
    let progress = super::progress::Reading::start(&key);
    let read = read_school(school, base, fields, secrets).await;
    progress.finish(
        read.as_ref()
            .ok()
            .map(|e| e.records.values().map(Vec::len).sum()),
    );
    let extract = match read {
        Ok(extract) => extract,
        Err(error) => {
            record.last_error = Some(error.to_string());
            return Ok(Err(error));
        }
    };
    let expires = SystemTime::from(now) + retention;
    for area in fields.areas() {
        let payload = area_payload(&extract, area);
        let count = extract.records(area).len() as u64;
        cache.put(&key, area, &payload, count, expires).await?;
    }
    record.last_extraction = Some(SystemTime::from(now));
    record.extracted_fields = fields
        .areas()
        .map(|a| (a.to_string(), fields.fields(a).map(str::to_owned).collect()))
        .collect();
    record.refresh_handled = school.annotations().get(REFRESH_REQUESTED_AT).cloned();
    record.last_error = None;
    Ok(Ok(extract.warnings.len()))
}

/// Reads a school's MIS for `fields`. `base` is the folder of the file that declared the
/// school, which relative paths are taken from.
pub async fn read_school(
    school: &School,
    base: &Path,
    fields: &FieldSet,
    secrets: &SecretsDir,
) -> Result<Extract, ExtractError> {
    let mis = &school.spec.mis;
    if let Some(csv) = &mis.one_roster_csv {
        let path = base.join(&csv.path);
        let fields = fields.clone();
        return blocking(move || {
            crate::mis::oneroster_csv::read_bundle(&path, &fields, &ReadOptions::default())
        })
        .await;
    }
    if let Some(ctf) = &mis.ctf {
        let path = base.join(&ctf.path);
        let fields = fields.clone();
        return blocking(move || crate::mis::ctf::read_ctf(&path, &fields)).await;
    }
    if let Some(rest) = &mis.one_roster_rest {
        return read_rest(rest, fields, secrets).await;
    }
    Err(ExtractError::Unsupported(
        "spec.mis names no connector".to_owned(),
    ))
}

async fn blocking(
    read: impl FnOnce() -> Result<Extract, MisError> + Send + 'static,
) -> Result<Extract, ExtractError> {
    match tokio::task::spawn_blocking(read).await {
        Ok(result) => result.map_err(ExtractError::from),
        Err(error) => Err(ExtractError::Interrupted(error.to_string())),
    }
}

async fn read_rest(
    rest: &crate::resources::RestSource,
    fields: &FieldSet,
    secrets: &SecretsDir,
) -> Result<Extract, ExtractError> {
    let text = |reference| {
        secrets
            .read(reference)
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
    };
    let mut config = RestConfig::new(
        &rest.base_url,
        &rest.token_url,
        text(&rest.client_id_ref)?,
        text(&rest.client_secret_ref)?,
    );
    if let Some(ca) = &rest.ca_ref {
        config.ca_pem = Some(secrets.read(ca)?);
    }
    if let Some(timeout) = rest
        .timeout
        .as_deref()
        .and_then(|t| crate::resources::Duration::parse(t).ok())
    {
        config.timeout = timeout.0;
    }
    Ok(crate::mis::rest::read_rest(&config, fields).await?)
}

/// One area's records as the JSON the cache keeps: an array of objects, each with
/// `sourcedId` and the fields read.
pub fn area_payload(extract: &Extract, area: Area) -> Vec<u8> {
    let records: Vec<Value> = extract
        .records(area)
        .iter()
        .map(|record| {
            let mut object = Map::new();
            object.insert(
                SOURCED_ID.to_owned(),
                Value::String(record.sourced_id.clone()),
            );
            for (name, value) in &record.values {
                object.insert((*name).to_owned(), value.clone());
            }
            Value::Object(object)
        })
        .collect();
    serde_json::to_vec(&records).unwrap_or_else(|_| b"[]".to_vec())
}
