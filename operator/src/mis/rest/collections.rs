//! A CSV bundle's tables as OneRoster 1.1 REST collections: each row becomes the JSON
//! object the REST binding describes, with references as `{href, sourcedId, type}`,
//! list cells as arrays and `metadata.*` extension columns inside `metadata`.
//!
//! Rows are kept in file order, so paging is stable. Passwords are never served.
//!
//! Limitation: the server takes a user's role from the `role` column of `users.csv`;
//! a OneRoster 1.2 bundle's `roles.csv` is not read, so users it alone gives roles to
//! have none.
//! Limitation: only the UK extension columns the readers map are served in `metadata`;
//! other `metadata.*` columns are dropped.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use csv::StringRecord;
use serde_json::{Map, Value};

use crate::mis::bundle::Bundle;
use crate::mis::cell;
use crate::mis::manifest::{Manifest, file_name};
use crate::mis::rest::BASE_PATH;
use crate::mis::table::Table;
use crate::mis::{MisError, Warning};

/// One served record with what filtering needs beside its JSON.
pub(crate) struct Served {
    /// The OneRoster JSON object.
    pub json: Map<String, Value>,
    /// Its `dateLastModified`, when present and readable.
    pub modified: Option<DateTime<FixedOffset>>,
    /// A user's role, for `/students` and `/teachers`.
    pub role: Option<String>,
}

/// Every collection of a bundle, by collection name (`users`, `classes`, ...).
pub(crate) struct Collections {
    by_name: BTreeMap<&'static str, Vec<Served>>,
}

impl Collections {
    /// Reads the bundle at `path` (a folder or a zip).
    pub(crate) fn load(path: &Path) -> Result<Self, MisError> {
        let mut bundle = Bundle::open(path)?;
        let mut warnings = Vec::new();
        let manifest = Manifest::read(&mut bundle, &mut warnings)?;
        let mut by_name = BTreeMap::new();
        for (name, columns) in FILES {
            let records = if manifest.mode(name).is_some() {
                read_file(&mut bundle, name, columns, &mut warnings)?
            } else {
                Vec::new()
            };
            by_name.insert(*name, records);
        }
        // Warnings name files, lines and headers only, never a cell's value.
        for warning in &warnings {
            tracing::debug!(%warning, "Bundle quirk accepted");
        }
        Ok(Collections { by_name })
    }

    /// The records of one collection (empty for a file the bundle lacks).
    pub(crate) fn get(&self, name: &str) -> &[Served] {
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Reads an RFC 3339 instant, or a `YYYY-MM-DD` date as its midnight UTC.
pub(crate) fn instant(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
}

/// How one CSV column becomes JSON.
#[derive(Clone, Copy)]
enum Shape {
    /// A string under the same name.
    Text,
    /// A comma-separated cell as an array of strings.
    List,
    /// One reference, under another name: (json name, collection, type).
    Ref(&'static str, &'static str, &'static str),
    /// Comma-separated references, under another name.
    Refs(&'static str, &'static str, &'static str),
    /// An extension column, inside `metadata` without its `metadata.` prefix.
    Meta,
    /// `{type:identifier}` pairs as `[{type, identifier}]`.
    UserIds,
}

type Columns = &'static [(&'static str, Shape)];

use Shape::{List, Meta, Ref, Refs, Text, UserIds};

const USERS: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("enabledUser", Text),
    ("orgSourcedIds", Refs("orgs", "orgs", "org")),
    ("role", Text),
    ("username", Text),
    ("userIds", UserIds),
    ("givenName", Text),
    ("familyName", Text),
    ("middleName", Text),
    ("identifier", Text),
    ("email", Text),
    ("sms", Text),
    ("phone", Text),
    ("agentSourcedIds", Refs("agents", "users", "user")),
    ("grades", List),
    ("preferredGivenName", Text),
    ("preferredMiddleName", Text),
    ("preferredFamilyName", Text),
    ("metadata.uk.upn", Meta),
    ("metadata.uk.preferredName", Meta),
];

const DEMOGRAPHICS: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("birthDate", Text),
    ("sex", Text),
    ("americanIndianOrAlaskaNative", Text),
    ("asian", Text),
    ("blackOrAfricanAmerican", Text),
    ("nativeHawaiianOrOtherPacificIslander", Text),
    ("white", Text),
    ("demographicRaceTwoOrMoreRaces", Text),
    ("hispanicOrLatinoEthnicity", Text),
    ("countryOfBirthCode", Text),
    ("stateOfBirthAbbreviation", Text),
    ("cityOfBirth", Text),
    ("publicSchoolResidenceStatus", Text),
    ("metadata.uk.ethnicity", Meta),
    ("metadata.uk.senStatus", Meta),
    ("metadata.uk.firstLanguage", Meta),
];

const CLASSES: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("title", Text),
    ("grades", List),
    ("courseSourcedId", Ref("course", "courses", "course")),
    ("classCode", Text),
    ("classType", Text),
    ("location", Text),
    ("schoolSourcedId", Ref("school", "orgs", "org")),
    (
        "termSourcedIds",
        Refs("terms", "academicSessions", "academicSession"),
    ),
    ("subjects", List),
    ("subjectCodes", List),
    ("periods", List),
];

const ENROLLMENTS: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("classSourcedId", Ref("class", "classes", "class")),
    ("schoolSourcedId", Ref("school", "orgs", "org")),
    ("userSourcedId", Ref("user", "users", "user")),
    ("role", Text),
    ("primary", Text),
    ("beginDate", Text),
    ("endDate", Text),
];

const ORGS: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("name", Text),
    ("type", Text),
    ("identifier", Text),
    ("parentSourcedId", Ref("parent", "orgs", "org")),
];

const SESSIONS: Columns = &[
    ("sourcedId", Text),
    ("status", Text),
    ("dateLastModified", Text),
    ("title", Text),
    ("type", Text),
    ("startDate", Text),
    ("endDate", Text),
    (
        "parentSourcedId",
        Ref("parent", "academicSessions", "academicSession"),
    ),
    ("schoolYear", Text),
];

/// Each served file's stem, which is also its collection's name, and its columns.
const FILES: &[(&str, Columns)] = &[
    ("users", USERS),
    ("demographics", DEMOGRAPHICS),
    ("classes", CLASSES),
    ("enrollments", ENROLLMENTS),
    ("orgs", ORGS),
    ("academicSessions", SESSIONS),
];

fn read_file(
    bundle: &mut Bundle,
    stem: &str,
    columns: Columns,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Served>, MisError> {
    let file = file_name(stem);
    let zip = bundle.zip_name();
    let known: Vec<&'static str> = columns.iter().map(|(name, _)| *name).collect();
    let mut table = Table::open(&file, zip, bundle.read(&file)?, &known, warnings)?;
    table.require("sourcedId")?;

    let mut served = Vec::new();
    let mut record = StringRecord::new();
    while table.next_row(&mut record, warnings)?.is_some() {
        let at = |column: &str| table.cell(&record, column);
        let mut json = Map::new();
        let mut metadata = Map::new();
        for (column, shape) in columns {
            let Some(text) = at(column) else {
                continue;
            };
            match *shape {
                Text => {
                    json.insert((*column).to_owned(), Value::from(text));
                }
                List => {
                    json.insert((*column).to_owned(), Value::from(cell::list(text)));
                }
                Ref(name, collection, kind) => {
                    json.insert(name.to_owned(), reference(collection, kind, text));
                }
                Refs(name, collection, kind) => {
                    let refs = cell::list(text)
                        .iter()
                        .map(|id| reference(collection, kind, id))
                        .collect();
                    json.insert(name.to_owned(), Value::Array(refs));
                }
                Meta => {
                    let key = column.trim_start_matches("metadata.");
                    metadata.insert(key.to_owned(), Value::from(text));
                }
                UserIds => {
                    json.insert((*column).to_owned(), user_ids(text));
                }
            }
        }
        // A blank status means active in CSV; REST always states it.
        json.entry("status")
            .or_insert_with(|| Value::from("active"));
        if !metadata.is_empty() {
            json.insert("metadata".to_owned(), Value::Object(metadata));
        }
        served.push(Served {
            json,
            modified: at("dateLastModified").and_then(instant),
            role: at("role").map(str::to_owned),
        });
    }
    Ok(served)
}

fn reference(collection: &str, kind: &str, id: &str) -> Value {
    serde_json::json!({
        "href": format!("{BASE_PATH}/{collection}/{id}"),
        "sourcedId": id,
        "type": kind,
    })
}

/// `{Fed:1234},{Google:abc}` as `[{"type":"Fed","identifier":"1234"}, ...]`.
fn user_ids(text: &str) -> Value {
    let pairs = text
        .split('}')
        .map(|part| part.trim_matches(|c: char| c == ',' || c == '{' || c.is_whitespace()))
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (kind, identifier) = part.split_once(':').unwrap_or(("", part));
            serde_json::json!({ "type": kind, "identifier": identifier })
        })
        .collect();
    Value::Array(pairs)
}
