//! Cutting records down to exactly what an agreement names.

use serde_json::{Map, Value};

use super::Allows;
use crate::catalogue::{Area, SOURCED_ID};
use crate::resources::DataSharingAgreement;

/// One cached record (a JSON object) with only the agreement's fields of `area` and its
/// `sourcedId`; `None` when the agreement shares nothing of that area.
pub fn project(
    agreement: &DataSharingAgreement,
    area: Area,
    record: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let fields = agreement.spec.data.0.get(&area)?;
    let mut out = Map::new();
    if let Some(id) = record.get(SOURCED_ID) {
        out.insert(SOURCED_ID.to_owned(), id.clone());
    }
    for field in fields {
        if let Some(value) = record.get(field) {
            out.insert(field.clone(), value.clone());
        }
    }
    Some(out)
}

/// Whether a record of `area` may be sent at all under this consent: people it allows,
/// enrollments of allowed people (and of anyone not on the roll, such as a teacher the
/// school does not list), contacts of at least one allowed pupil, and every class.
pub fn shares(area: Area, record: &Map<String, Value>, consent: &impl Allows) -> bool {
    let id = |key: &str| record.get(key).and_then(Value::as_str);
    match area {
        Area::Students | Area::Demographics | Area::Attendance => {
            id(SOURCED_ID).is_some_and(|s| consent.allows(s))
        }
        Area::Enrollments => {
            id("userSourcedId").is_some_and(|s| consent.allows(s) || !consent.withholds(s))
        }
        Area::Contacts => pupil_links(record).any(|p| consent.allows(p)),
        Area::Staff | Area::Classes => true,
    }
}

/// The records of one area that `agreement` may send to its partner (those [`shares`]
/// lets through), each projected to the fields the agreement names, with a contact's
/// pupil links cut to the pupils allowed.
pub fn project_area(
    agreement: &DataSharingAgreement,
    area: Area,
    records: &[Map<String, Value>],
    consent: &impl Allows,
) -> Vec<Map<String, Value>> {
    let Some(fields) = agreement.spec.data.0.get(&area) else {
        return Vec::new();
    };
    records
        .iter()
        .filter(|record| shares(area, record, consent))
        .map(|record| {
            let mut out = Map::new();
            if let Some(id) = record.get(SOURCED_ID) {
                out.insert(SOURCED_ID.to_owned(), id.clone());
            }
            for field in fields {
                let value = if area == Area::Contacts && field == STUDENT_LINKS {
                    let allowed = pupil_links(record).filter(|p| consent.allows(p));
                    Some(Value::Array(allowed.map(Value::from).collect()))
                } else {
                    record.get(field).cloned()
                };
                if let Some(value) = value {
                    out.insert(field.clone(), value);
                }
            }
            out
        })
        .collect()
}

/// The field of a contact that links it to its pupils.
const STUDENT_LINKS: &str = "studentSourcedIds";

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

    #[test]
    fn a_field_the_agreement_does_not_name_is_never_sent() {
        let agreement = agreement(json!({ "students": ["givenName"] }));
        let record = object(
            json!({ "sourcedId": "stu-1", "givenName": "Ada", "dateOfBirth": "2015-01-01" }),
        );
        assert_eq!(
            project(&agreement, Area::Students, &record),
            Some(object(json!({ "sourcedId": "stu-1", "givenName": "Ada" })))
        );
        assert_eq!(project(&agreement, Area::Staff, &record), None);
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

        let ids = |records: Vec<Map<String, Value>>| {
            records
                .iter()
                .map(|r| r["sourcedId"].as_str().unwrap().to_owned())
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
        assert_eq!(shared[0]["studentSourcedIds"], json!(["stu-1"]));
    }
}
