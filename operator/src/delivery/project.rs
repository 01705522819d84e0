//! Cutting records down to exactly what an agreement names.
//!
//! A record leaves projection as the JSON text it is sent as: the partner's batch, the
//! digest that says whether it changed, and the pull API all take that text, so it is
//! written once and no intermediate map is built for it.

use std::collections::BTreeSet;

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::Allows;
use super::sync::subject_of;
use crate::catalogue::{Area, SOURCED_ID};
use crate::resources::DataSharingAgreement;

/// A record as an agreement sends it: a JSON object of its `sourcedId` and only the
/// agreement's fields, keys in order (byte for byte what `serde_json` writes for the same
/// map), with the ids the holdings and the ledger need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projected {
    id: Box<str>,
    subject: Subject,
    json: String,
}

/// Whom a projected record is about.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Subject {
    /// The record is a person's own (pupil, staff, contact, their demographics).
    Itself,
    /// Someone else: an enrollment's user.
    Other(Box<str>),
    /// Nobody: a class, or an enrollment sent without its user.
    Nobody,
}

impl Subject {
    /// Whom `record` of `area` is about, as [`subject_of`] says, once sent; an
    /// enrollment's user counts only when `user_sent`.
    fn of(area: Area, record: &Map<String, Value>, user_sent: bool) -> Subject {
        match area {
            Area::Classes => Subject::Nobody,
            Area::Enrollments => match subject_of(area, record) {
                Some(user) if user_sent => Subject::Other(user.into()),
                _ => Subject::Nobody,
            },
            _ => Subject::Itself,
        }
    }
}

impl Projected {
    /// The record's `sourcedId`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The person the record is about, as far as what is sent says.
    pub fn subject(&self) -> Option<&str> {
        match &self.subject {
            Subject::Itself => Some(&self.id),
            Subject::Other(subject) => Some(subject),
            Subject::Nobody => None,
        }
    }

    /// The JSON object as sent.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// A record already cut down, as it would be sent; `None` without a string
    /// `sourcedId`.
    pub fn from_map(area: Area, record: &Map<String, Value>) -> Option<Projected> {
        let id = record.get(SOURCED_ID)?.as_str()?;
        Some(Projected {
            id: id.into(),
            subject: Subject::of(area, record, true),
            // Writing a map of JSON values into memory cannot fail.
            json: serde_json::to_string(record).unwrap_or_default(),
        })
    }
}

/// Whether a record of `area` may be sent at all under this consent: people it allows,
/// enrollments of allowed people (and of anyone not on the roll, such as a teacher the
/// school does not list), contacts of at least one allowed pupil, and every class.
pub fn shares(area: Area, record: &Map<String, Value>, consent: &impl Allows) -> bool {
    let id = |key: &str| record.get(key).and_then(Value::as_str);
    match area {
        // A pupil's own record is what puts them on the roll.
        Area::Students => id(SOURCED_ID).is_some_and(|s| consent.allows_listed(s)),
        Area::Demographics | Area::Attendance => id(SOURCED_ID).is_some_and(|s| consent.allows(s)),
        Area::Enrollments => {
            id(ENROLLED_USER).is_some_and(|s| consent.allows(s) || !consent.withholds(s))
        }
        Area::Contacts => pupil_links(record).any(|p| consent.allows(p)),
        Area::Staff | Area::Classes => true,
    }
}

/// The records of one area that `agreement` may send to its partner (those [`shares`]
/// lets through), each cut to the fields the agreement names, with a contact's pupil
/// links cut to the pupils allowed. A record without a string `sourcedId` cannot be held
/// or deleted by a partner, so it is never sent.
///
/// A school's area can hold a million records, so they are projected on every core; the
/// result keeps their order.
pub fn project_area(
    agreement: &DataSharingAgreement,
    area: Area,
    records: &[Map<String, Value>],
    consent: &(impl Allows + Sync),
) -> Vec<Projected> {
    let Some(fields) = agreement.spec.data.0.get(&area) else {
        return Vec::new();
    };
    // In the order a map of them is written: sorted, each once.
    let keys: BTreeSet<&str> = std::iter::once(SOURCED_ID)
        .chain(fields.iter().map(String::as_str))
        .collect();
    let user_sent = keys.contains(ENROLLED_USER);
    records
        .par_iter()
        .filter(|record| shares(area, record, consent))
        .map_init(
            || Vec::with_capacity(256),
            |text, record| {
                let id = record.get(SOURCED_ID)?.as_str()?;
                text.clear();
                write_projected(text, area, record, &keys, consent);
                Some(Projected {
                    id: id.into(),
                    subject: Subject::of(area, record, user_sent),
                    // serde_json writes UTF-8 only.
                    json: String::from_utf8(text.clone()).ok()?,
                })
            },
        )
        .flatten()
        .collect()
}

/// Writes `record` as a JSON object of only `keys` that it has, in their order, with a
/// contact's pupil links cut to the pupils `consent` allows.
fn write_projected(
    text: &mut Vec<u8>,
    area: Area,
    record: &Map<String, Value>,
    keys: &BTreeSet<&str>,
    consent: &impl Allows,
) {
    text.push(b'{');
    for key in keys {
        let links = area == Area::Contacts && *key == STUDENT_LINKS;
        let value = record.get(*key);
        if !links && value.is_none() {
            continue;
        }
        if text.len() > 1 {
            text.push(b',');
        }
        // Writing strings and JSON values into memory cannot fail.
        let _ = serde_json::to_writer(&mut *text, key);
        text.push(b':');
        if links {
            text.push(b'[');
            for (n, pupil) in pupil_links(record)
                .filter(|p| consent.allows(p))
                .enumerate()
            {
                if n > 0 {
                    text.push(b',');
                }
                let _ = serde_json::to_writer(&mut *text, pupil);
            }
            text.push(b']');
        } else if let Some(value) = value {
            let _ = serde_json::to_writer(&mut *text, value);
        }
    }
    text.push(b'}');
}

/// The field of a contact that links it to its pupils.
const STUDENT_LINKS: &str = "studentSourcedIds";

/// The field of an enrollment that names its user.
const ENROLLED_USER: &str = "userSourcedId";

/// The pupils a contact record links to.
fn pupil_links(record: &Map<String, Value>) -> impl Iterator<Item = &str> {
    record
        .get(STUDENT_LINKS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::delivery::Audience;

    fn agreement(data: Value) -> DataSharingAgreement {
        serde_json::from_value(json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "DataSharingAgreement",
            "metadata": { "name": "a", "namespace": "t" },
            "spec": { "partner": "p", "schools": { "names": ["s"] }, "purpose": "Homework for classes",
                "lawfulBasis": "publicTask", "data": data, "consent": "optOut",
                "delivery": { "mode": "push" }, "validFrom": "2026-09-01" },
        }))
        .unwrap()
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn audience(allowed: &[&str], withheld: &[&str]) -> Audience {
        Audience {
            allowed: allowed
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
            withheld: withheld.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn parsed(projected: &Projected) -> Map<String, Value> {
        serde_json::from_str(projected.json()).unwrap()
    }

    #[test]
    fn a_field_the_agreement_does_not_name_is_never_sent() {
        let agreement = agreement(json!({ "students": ["givenName"] }));
        let record = object(
            json!({ "sourcedId": "stu-1", "givenName": "Ada", "dateOfBirth": "2015-01-01" }),
        );
        let everyone = audience(&["stu-1"], &[]);
        let sent = project_area(
            &agreement,
            Area::Students,
            std::slice::from_ref(&record),
            &everyone,
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].json(), r#"{"givenName":"Ada","sourcedId":"stu-1"}"#);
        assert_eq!((sent[0].id(), sent[0].subject()), ("stu-1", Some("stu-1")));
        assert!(project_area(&agreement, Area::Staff, &[record], &everyone).is_empty());
    }

    #[test]
    fn the_text_sent_is_what_serde_json_writes_for_the_same_map() {
        // Digests of earlier passes were taken over serde_json's text of the projected
        // map; the text written here must be the same bytes, or every record would be
        // sent again once.
        let agreement = agreement(json!({
            "students": ["givenName", "zeta", "Upper", "nested", "number", "missing", "sourcedId"],
            "enrollments": ["userSourcedId", "role"],
            "classes": ["title"],
        }));
        let record = object(json!({
            "sourcedId": "stu-\"1\"\u{e9}",
            "givenName": "Zo\u{eb} \"Z\" O'Neil\n\t\u{1}",
            "zeta": null, "Upper": true, "number": 12.5,
            "nested": { "b": [1, "two", { "z": 1, "a": 2 }], "a": "x" },
            "dateOfBirth": "2015-01-01",
        }));
        let everyone = audience(&["stu-\"1\"\u{e9}"], &[]);
        let sent = project_area(
            &agreement,
            Area::Students,
            std::slice::from_ref(&record),
            &everyone,
        );
        let mut map = record;
        map.remove("dateOfBirth");
        assert_eq!(sent[0].json(), serde_json::to_string(&map).unwrap());
        assert_eq!(sent[0], Projected::from_map(Area::Students, &map).unwrap());

        let enrollment = object(
            json!({ "sourcedId": "e-1", "userSourcedId": "stu-9", "role": "student", "class": "c" }),
        );
        let sent = project_area(&agreement, Area::Enrollments, &[enrollment], &everyone);
        assert_eq!(sent[0].subject(), Some("stu-9"));
        assert_eq!(
            sent[0].json(),
            r#"{"role":"student","sourcedId":"e-1","userSourcedId":"stu-9"}"#
        );
        let class = object(json!({ "sourcedId": "cls-1", "title": "Maths" }));
        let sent = project_area(&agreement, Area::Classes, &[class], &everyone);
        assert_eq!(sent[0].subject(), None);
    }

    #[test]
    fn a_record_without_a_sourced_id_is_never_sent() {
        let agreement = agreement(json!({ "classes": ["title"] }));
        let classes = [
            object(json!({ "title": "Maths" })),
            object(json!({ "sourcedId": 7, "title": "Art" })),
        ];
        assert!(project_area(&agreement, Area::Classes, &classes, &audience(&[], &[])).is_empty());
    }

    #[test]
    fn withheld_pupils_take_their_enrollments_and_contact_links_with_them() {
        let agreement = agreement(
            json!({ "students": ["givenName"], "enrollments": ["userSourcedId"], "contacts": ["studentSourcedIds"] }),
        );
        let audience = audience(&["stu-1"], &["stu-2"]);
        let students = [
            object(json!({ "sourcedId": "stu-1" })),
            object(json!({ "sourcedId": "stu-2" })),
        ];
        let enrollments = [
            object(json!({ "sourcedId": "e-1", "userSourcedId": "stu-1" })),
            object(json!({ "sourcedId": "e-2", "userSourcedId": "stu-2" })),
            object(json!({ "sourcedId": "e-3", "userSourcedId": "stf-1" })),
        ];
        let contacts = [
            object(json!({ "sourcedId": "con-1", "studentSourcedIds": ["stu-1", "stu-2"] })),
            object(json!({ "sourcedId": "con-2", "studentSourcedIds": ["stu-2"] })),
        ];

        let ids = |records: Vec<Projected>| {
            records
                .iter()
                .map(|r| r.id().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(project_area(
                &agreement,
                Area::Students,
                &students,
                &audience
            )),
            ["stu-1"]
        );
        assert_eq!(
            ids(project_area(
                &agreement,
                Area::Enrollments,
                &enrollments,
                &audience
            )),
            ["e-1", "e-3"],
            "teachers' enrollments stay"
        );
        let shared = project_area(&agreement, Area::Contacts, &contacts, &audience);
        assert_eq!(ids(shared.clone()), ["con-1"]);
        assert_eq!(parsed(&shared[0])["studentSourcedIds"], json!(["stu-1"]));
    }
}
