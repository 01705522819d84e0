//! The bundle's `manifest.csv`: which OneRoster version it is and, per file, whether it
//! is a full set (`bulk`), changes only (`delta`) or not provided (`absent`).

use std::collections::BTreeMap;

use csv::StringRecord;

use crate::mis::bundle::Bundle;
use crate::mis::table::Table;
use crate::mis::{MisError, Warning};

/// The name every bundle's manifest has.
pub(crate) const MANIFEST: &str = "manifest.csv";

/// The OneRoster version a bundle declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// OneRoster 1.1.
    V1_1,
    /// OneRoster 1.2.
    V1_2,
}

/// How one file of the bundle is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every row the MIS has.
    Bulk,
    /// Changed rows only; `tobedeleted` rows are deletions.
    Delta,
}

/// What the manifest declares.
#[derive(Debug)]
pub(crate) struct Manifest {
    /// The declared version.
    pub version: Version,
    /// `users` → its mode, for files that are not absent.
    files: BTreeMap<String, Mode>,
}

impl Manifest {
    /// Reads and checks the manifest: the version is known, and every file it marks
    /// bulk or delta is in the bundle.
    pub(crate) fn read(bundle: &mut Bundle, warnings: &mut Vec<Warning>) -> Result<Self, MisError> {
        if !bundle.contains(MANIFEST) {
            return Err(MisError::MissingManifest {
                bundle: bundle.name(),
            });
        }
        let properties = read_properties(bundle, warnings)?;

        let version = match properties.get("oneroster.version") {
            Some((_, value)) if value == "1.1" => Version::V1_1,
            Some((_, value)) if value == "1.2" => Version::V1_2,
            found => {
                let (line, value) = found.cloned().unwrap_or((1, String::new()));
                return Err(MisError::BadManifest {
                    line,
                    property: "oneroster.version".to_owned(),
                    value,
                    expected: "1.1 or 1.2",
                });
            }
        };

        let mut files = BTreeMap::new();
        for (property, (line, value)) in &properties {
            let Some(stem) = property.strip_prefix("file.") else {
                continue;
            };
            let mode = match value.to_ascii_lowercase().as_str() {
                "bulk" => Mode::Bulk,
                "delta" => Mode::Delta,
                "absent" => continue,
                "" => {
                    let message = format!("blank {property} read as absent");
                    warnings.push(Warning::at(MANIFEST, *line, None, message));
                    continue;
                }
                _ => {
                    return Err(MisError::BadManifest {
                        line: *line,
                        property: property.clone(),
                        value: value.clone(),
                        expected: "bulk, delta or absent",
                    });
                }
            };
            let file = file_name(stem);
            if !bundle.contains(&file) {
                return Err(MisError::ManifestFileMissing {
                    line: *line,
                    property: property.clone(),
                    mode: if mode == Mode::Bulk { "bulk" } else { "delta" },
                    file,
                });
            }
            files.insert(stem.to_ascii_lowercase(), mode);
        }
        Ok(Manifest { version, files })
    }

    /// How the file `stem` (e.g. `users`) is provided; `None` when absent.
    pub(crate) fn mode(&self, stem: &str) -> Option<Mode> {
        self.files.get(&stem.to_ascii_lowercase()).copied()
    }
}

/// The bundle file a manifest property names: `file.users` → `users.csv`.
pub(crate) fn file_name(stem: &str) -> String {
    format!("{stem}.csv")
}

fn read_properties(
    bundle: &mut Bundle,
    warnings: &mut Vec<Warning>,
) -> Result<BTreeMap<String, (u64, String)>, MisError> {
    let zip = bundle.zip_name();
    let input = bundle.read(MANIFEST)?;
    let mut table = Table::open(MANIFEST, zip, input, &["propertyName", "value"], warnings)?;
    table.require("propertyName")?;
    table.require("value")?;

    let mut properties = BTreeMap::new();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, warnings)? {
        let Some(name) = table.cell(&record, "propertyName") else {
            continue;
        };
        let value = table.cell(&record, "value").unwrap_or_default().to_owned();
        properties.insert(name.to_owned(), (line, value));
    }
    Ok(properties)
}
