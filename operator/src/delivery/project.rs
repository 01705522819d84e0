//! Cutting records down to exactly what an agreement names.

use serde_json::{Map, Value};

use super::Audience;
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

/// The records of one area that `agreement` may send to its partner: people the audience
/// allows, enrollments of allowed people, contacts of allowed pupils (with their pupil
/// links cut to those allowed), and classes as they are, each projected to the fields
/// the agreement names.
pub fn project_area(
    agreement: &DataSharingAgreement,
    area: Area,
    records: &[Map<String, Value>],
    audience: &Audience,
) -> Vec<Map<String, Value>> {
    let id = |record: &Map<String, Value>, key: &str| {
        record.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    records
        .iter()
        .filter_map(|record| {
            let mut record = record.clone();
            let keep = match area {
                Area::Students | Area::Demographics | Area::Attendance => {
                    id(&record, SOURCED_ID).is_some_and(|s| audience.allows(&s))
                }
                Area::Enrollments => id(&record, "userSourcedId")
                    .is_some_and(|s| audience.allows(&s) || !audience.withheld.contains(&s)),
                Area::Contacts => {
                    let pupils: Vec<Value> = record
                        .get("studentSourcedIds")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|p| p.as_str().is_some_and(|p| audience.allows(p)))
                        .cloned()
                        .collect();
                    let any = !pupils.is_empty();
                    record.insert("studentSourcedIds".to_owned(), Value::Array(pupils));
                    any
                }
                Area::Staff | Area::Classes => true,
            };
            keep.then(|| project(agreement, area, &record)).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;

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
