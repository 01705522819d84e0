//! OneRoster REST JSON onto catalogue records, by the CSV reader's rules (see
//! [`crate::mis`]): which collections the requested fields need, and how each record
//! becomes students, staff, contacts, demographics, classes and enrollments.
//!
//! The rules are the CSV reader's, record for record: roles split users into areas,
//! demographics are kept for pupils only, contacts link to pupils through `agents` in
//! either direction, and in a full read an enrollment whose user or class is not served
//! is left out with a warning. A delta read marks every requested area as changes only.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::catalogue::Area;
use crate::mis::cell::{self, Status};
use crate::mis::rest::error::RestError;
use crate::mis::rest::item::Item;
use crate::mis::rest::records_people;
use crate::mis::{Extract, FieldSet, Record, Warning};

/// One collection the read needs.
pub(crate) struct Need {
    /// Which kind of records it gives.
    pub source: Source,
    /// The endpoint under the base URL, e.g. `students`.
    pub endpoint: &'static str,
    /// The key of the array in its answers.
    pub key: &'static str,
    /// The top-level keys to select with `fields=`.
    pub keys: Vec<&'static str>,
}

/// The kinds of records the connector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Users,
    Demographics,
    Classes,
    Enrollments,
}

/// Every record of one collection, in the order served.
pub(crate) struct Collection {
    pub records: Vec<Map<String, Value>>,
}

/// One fetched collection: its path, and `None` when the server does not serve it.
pub(crate) struct Fetch {
    pub path: String,
    pub collection: Option<Collection>,
}

/// What the read fetched, by kind.
#[derive(Default)]
pub(crate) struct Fetched {
    fetched: Vec<(Source, Fetch)>,
}

impl Fetched {
    /// Adds one collection read from `path`.
    pub(crate) fn insert(&mut self, source: Source, collection: Option<Collection>, path: &str) {
        let path = path.to_owned();
        self.fetched.push((source, Fetch { path, collection }));
    }

    /// The collection of one kind, when the read needed it.
    pub(crate) fn get(&self, source: Source) -> Option<&Fetch> {
        self.fetched
            .iter()
            .find(|(s, _)| *s == source)
            .map(|(_, f)| f)
    }
}

const PEOPLE: [Area; 3] = [Area::Students, Area::Staff, Area::Contacts];

/// The collections `fields` needs, with the keys to select from each.
pub(crate) fn needs(fields: &FieldSet, delta: bool) -> Vec<Need> {
    let mut needs = Vec::new();
    let has = |area| fields.has_area(area);
    let wants_any = |area, names: &[&str]| names.iter().any(|n| fields.wants(area, n));

    if PEOPLE
        .into_iter()
        .chain([Area::Demographics, Area::Enrollments])
        .any(has)
    {
        // Only pupils are needed, unless other roles are wanted or enrollments must be
        // checked against every user, or a delta must tell pupils from other users.
        // (So users of other roles are not warned about, as the CSV reader does.)
        let everyone = has(Area::Staff) || has(Area::Contacts) || has(Area::Enrollments) || delta;
        let mut keys = vec!["sourcedId", "status", "role", "roles"];
        for area in PEOPLE {
            for name in fields.fields(area) {
                keys.extend_from_slice(user_keys(name));
            }
        }
        needs.push(Need {
            source: Source::Users,
            endpoint: if everyone { "users" } else { "students" },
            key: "users",
            keys: dedup(keys),
        });
    }

    let for_students = wants_any(Area::Students, &["dateOfBirth", "sex"]);
    if has(Area::Demographics) || for_students {
        let mut keys = vec!["sourcedId", "status"];
        if fields.wants(Area::Students, "dateOfBirth")
            || fields.wants(Area::Demographics, "birthDate")
        {
            keys.push("birthDate");
        }
        if fields.wants(Area::Students, "sex") || fields.wants(Area::Demographics, "sex") {
            keys.push("sex");
        }
        if wants_any(
            Area::Demographics,
            &["ethnicity", "senStatus", "firstLanguage"],
        ) {
            keys.push("metadata");
        }
        needs.push(Need {
            source: Source::Demographics,
            endpoint: "demographics",
            key: "demographics",
            keys,
        });
    }

    if has(Area::Classes) || (has(Area::Enrollments) && !delta) {
        let mut keys = vec!["sourcedId", "status"];
        for name in fields.fields(Area::Classes) {
            keys.push(match name {
                "termSourcedIds" => "terms",
                other => other,
            });
        }
        needs.push(Need {
            source: Source::Classes,
            endpoint: "classes",
            key: "classes",
            keys: dedup(keys),
        });
    }

    if has(Area::Enrollments) {
        let keys = vec!["sourcedId", "status", "user", "class", "role", "primary"];
        needs.push(Need {
            source: Source::Enrollments,
            endpoint: "enrollments",
            key: "enrollments",
            keys,
        });
    }
    needs
}

/// The user keys one people field is read from.
fn user_keys(field: &str) -> &'static [&'static str] {
    match field {
        "givenName" => &["givenName"],
        "familyName" => &["familyName"],
        "middleName" => &["middleName"],
        "preferredName" => &["preferredGivenName", "metadata"],
        "yearGroup" => &["grades"],
        "email" => &["email"],
        "username" => &["username"],
        "upn" => &["metadata"],
        "phone" => &["phone"],
        "studentSourcedIds" => &["agents"],
        _ => &[],
    }
}

fn dedup(mut keys: Vec<&'static str>) -> Vec<&'static str> {
    let mut seen = HashSet::new();
    keys.retain(|key| seen.insert(*key));
    keys
}

/// Maps what was fetched onto an extract of the requested fields.
pub(crate) fn extract(
    fields: &FieldSet,
    fetched: Fetched,
    delta: bool,
) -> Result<Extract, RestError> {
    let mut cx = Context {
        fields,
        extract: Extract::for_fields(fields),
        noted: BTreeSet::new(),
    };
    if delta {
        let areas: Vec<Area> = fields.areas().filter(|a| *a != Area::Attendance).collect();
        cx.extract.delta_areas.extend(areas);
    }

    let users = records_people::read(&mut cx, &fetched, delta)?;
    let classes = match fetched.get(Source::Classes) {
        Some(fetch) => read_classes(&mut cx, fetch, delta)?,
        None => None,
    };
    if let Some(fetch) = fetched.get(Source::Enrollments) {
        read_enrollments(&mut cx, fetch, users.as_ref(), classes.as_ref())?;
    }
    if fields.has_area(Area::Attendance) {
        let message = "attendance is not part of OneRoster; read it from a CTF file";
        cx.extract
            .warnings
            .push(Warning::file("OneRoster REST", message));
    }

    cx.extract.sort();
    Ok(cx.extract)
}

/// What one mapping carries from collection to collection.
pub(crate) struct Context<'f> {
    pub fields: &'f FieldSet,
    pub extract: Extract,
    noted: BTreeSet<(String, &'static str, &'static str)>,
}

impl Context<'_> {
    /// Warns about a way of reading a field once per collection, at its first record.
    pub(crate) fn note(
        &mut self,
        path: &str,
        position: u64,
        field: &'static str,
        how: &'static str,
    ) {
        if self.noted.insert((path.to_owned(), field, how)) {
            self.extract.warnings.push(Warning {
                file: path.to_owned(),
                line: Some(position),
                column: Some(field.to_owned()),
                message: format!("{how} (this and later records)"),
            });
        }
    }

    /// Warns that a requested area's collection is not served.
    pub(crate) fn absent(&mut self, area: Area, path: &str) {
        if self.fields.has_area(area) {
            let message = format!("{path} is not served, so {area} has no records");
            self.extract.warnings.push(Warning::file(path, message));
        }
    }
}

/// Reads classes; returns the live class identifiers in a full read.
fn read_classes(
    cx: &mut Context<'_>,
    fetch: &Fetch,
    delta: bool,
) -> Result<Option<HashSet<String>>, RestError> {
    let Some(collection) = &fetch.collection else {
        cx.absent(Area::Classes, &fetch.path);
        return Ok(None);
    };
    let fields = cx.fields;
    let mut live = HashSet::new();
    for item in Item::all(&fetch.path, collection) {
        let item = item?;
        if item.status()? == Status::ToBeDeleted {
            cx.extract.delete(Area::Classes, &item.id);
            continue;
        }
        let terms = item.refs("terms").or_else(|| item.list("termSourcedIds"));
        let mut class = Record::new(item.id.clone());
        class.put(fields, Area::Classes, "title", item.string("title"));
        class.put(fields, Area::Classes, "classCode", item.string("classCode"));
        class.put(
            fields,
            Area::Classes,
            "subjects",
            item.list("subjects").map(Value::from),
        );
        class.put(
            fields,
            Area::Classes,
            "termSourcedIds",
            terms.map(Value::from),
        );
        cx.extract.push(Area::Classes, class);
        live.insert(item.id);
    }
    Ok((!delta).then_some(live))
}

/// Reads enrollments, leaving out those whose user or class a full read did not serve.
fn read_enrollments(
    cx: &mut Context<'_>,
    fetch: &Fetch,
    users: Option<&HashSet<String>>,
    classes: Option<&HashSet<String>>,
) -> Result<(), RestError> {
    let Some(collection) = &fetch.collection else {
        cx.absent(Area::Enrollments, &fetch.path);
        return Ok(());
    };
    let fields = cx.fields;
    for item in Item::all(&fetch.path, collection) {
        let item = item?;
        if item.status()? == Status::ToBeDeleted {
            cx.extract.delete(Area::Enrollments, &item.id);
            continue;
        }
        let user = item.refs("user").or_else(|| item.list("userSourcedId"));
        let class = item.refs("class").or_else(|| item.list("classSourcedId"));
        let user = user.and_then(|ids| ids.into_iter().next());
        let class = class.and_then(|ids| ids.into_iter().next());
        let unknown = |known: Option<&HashSet<String>>, id: Option<&String>| match (known, id) {
            (Some(known), Some(id)) => !known.contains(id),
            (_, None) => true,
            (None, Some(_)) => false,
        };
        let left_out = if unknown(users, user.as_ref()) {
            Some("its user is not among the users served (or is tobedeleted)")
        } else if unknown(classes, class.as_ref()) {
            Some("its class is not among the classes served (or is tobedeleted)")
        } else {
            None
        };
        if let Some(why) = left_out {
            let message = format!("enrollment {} left out: {why}", item.id);
            cx.extract.warnings.push(Warning {
                file: fetch.path.clone(),
                line: Some(item.position),
                column: None,
                message,
            });
            continue;
        }

        let primary = match item.text("primary") {
            Some(text) => Some(cell::boolean(&text).map_err(|p| item.bad("primary", p))?),
            None => None,
        };
        let mut enrollment = Record::new(item.id.clone());
        let put = |record: &mut Record, name, value| {
            record.put(fields, Area::Enrollments, name, value);
        };
        put(&mut enrollment, "classSourcedId", class.map(Value::String));
        put(&mut enrollment, "userSourcedId", user.map(Value::String));
        put(&mut enrollment, "role", item.string("role"));
        put(&mut enrollment, "primary", primary.map(Value::Bool));
        cx.extract.push(Area::Enrollments, enrollment);
    }
    Ok(())
}
