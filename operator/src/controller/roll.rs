//! Who is on a school's roll, for `accord plan` to count the people a change reaches: from
//! the encrypted cache the controller filled, or from the school's MIS export when it is a
//! local file.
//!
//! Only identifiers are read: each person's sourcedId, and the pupils each contact is
//! linked to. No other field is asked of the MIS or taken from the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;
use tracing::{debug, warn};

use super::extract::{ExtractError, SecretsDir, read_school};
use crate::cache::{Cache, CacheError};
use crate::catalogue::{Area, SOURCED_ID};
use crate::mis::{Extract, FieldSet, UnknownField};
use crate::plan::Roll;
use crate::resources::{ObjectKey, School};
use crate::state::StateError;

/// The contact field that links a contact to their pupils.
const PUPIL_LINKS: &str = "studentSourcedIds";

/// Why a roll could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RollError {
    /// The school's MIS export could not be read.
    #[error("school {school}: {source}")]
    Mis {
        /// The school, `namespace/name`.
        school: String,
        /// What went wrong.
        source: ExtractError,
    },
    /// The cache could not be opened or read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The state database could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// A cache entry decrypted to something other than a list of records.
    #[error(
        "school {school}: the cached {area} are not a list of records; \
         run `accord run` to read the MIS again"
    )]
    BadEntry {
        /// The school, `namespace/name`.
        school: String,
        /// The area.
        area: Area,
    },
    /// The identifier fields are missing from the data catalogue.
    #[error(transparent)]
    Catalogue(#[from] UnknownField),
}

/// Reads the roll from the school's MIS when it is a local OneRoster CSV bundle or CTF
/// file. `None` for a MIS reached over the network, which planning never calls, and for
/// an export that is not where the school says, as in CI, where exports are not in git.
pub async fn read_roll(school: &School) -> Result<Option<Roll>, RollError> {
    let mis = &school.spec.mis;
    let local = [
        mis.one_roster_csv.as_ref().map(|c| &c.path),
        mis.ctf.as_ref().map(|c| &c.path),
    ];
    let Some(path) = local.into_iter().flatten().next() else {
        return Ok(None);
    };
    if !Path::new(path).exists() {
        return Ok(None);
    }
    let key = ObjectKey::of(school);
    let fields = FieldSet::new()
        .with(Area::Students, &[])?
        .with(Area::Staff, &[])?
        .with(Area::Contacts, &[PUPIL_LINKS])?;

    // Paths are absolute once loaded, and local readers need no secrets.
    let secrets = SecretsDir(PathBuf::new());
    let extract = read_school(school, &PathBuf::new(), &fields, &secrets)
        .await
        .map_err(|source| RollError::Mis {
            school: key.to_string(),
            source,
        })?;
    debug!(school = %key, warnings = extract.warnings.len(), "Roll read from the MIS");
    Ok(Some(roll_of(&extract)))
}

/// The roll as the cache holds it: the areas cached for the school, with contacts' pupil
/// links only when the last read took them. Parts not cached are `None`.
pub async fn cached_roll(
    cache: &Cache,
    school: &ObjectKey,
    now: SystemTime,
) -> Result<Roll, RollError> {
    let key = school.to_string();
    let links_read = cache
        .state()
        .extractions()
        .await?
        .into_iter()
        .find(|r| r.school == key)
        .is_some_and(|r| {
            r.extracted_fields
                .get(Area::Contacts.as_str())
                .is_some_and(|fields| fields.iter().any(|f| f == PUPIL_LINKS))
        });

    let mut roll = Roll::default();
    for area in [Area::Students, Area::Staff, Area::Contacts] {
        let records = match cache.get(&key, area, now).await {
            Ok(Some(bytes)) => parse(&bytes).ok_or_else(|| RollError::BadEntry {
                school: key.clone(),
                area,
            })?,
            Ok(None) => continue,
            Err(CacheError::Corrupt { .. } | CacheError::CorruptKey { .. }) => {
                warn!(school = %key, %area, "Cache entry corrupt; erased, and not counted");
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let ids = || records.iter().filter_map(|r| text(r, SOURCED_ID)).collect();
        match area {
            Area::Students => roll.pupils = Some(ids()),
            Area::Staff => roll.staff = Some(ids()),
            _ if links_read => roll.contacts = Some(links(&records)),
            _ => {}
        }
    }
    Ok(roll)
}

/// The roll of an extract: every area it was asked for is known, even when empty.
fn roll_of(extract: &Extract) -> Roll {
    let ids = |area: Area| -> Option<BTreeSet<String>> {
        let records = extract.records.get(&area)?;
        Some(records.iter().map(|r| r.sourced_id.clone()).collect())
    };
    let contacts = extract.records.get(&Area::Contacts).map(|records| {
        records
            .iter()
            .map(|record| {
                let pupils = record
                    .values
                    .get(PUPIL_LINKS)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                (record.sourced_id.clone(), pupils)
            })
            .collect()
    });
    Roll {
        pupils: ids(Area::Students),
        staff: ids(Area::Staff),
        contacts,
    }
}

fn parse(bytes: &[u8]) -> Option<Vec<serde_json::Map<String, Value>>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    value
        .as_array()?
        .iter()
        .map(|record| record.as_object().cloned())
        .collect()
}

fn text(record: &serde_json::Map<String, Value>, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn links(records: &[serde_json::Map<String, Value>]) -> BTreeMap<String, BTreeSet<String>> {
    records
        .iter()
        .filter_map(|record| {
            let contact = text(record, SOURCED_ID)?;
            let pupils = record
                .get(PUPIL_LINKS)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            Some((contact, pupils))
        })
        .collect()
}
