use serde_json::json;

use super::*;

fn record(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn pupil(id: &str, name: &str) -> Map<String, Value> {
    record(json!({ "sourcedId": id, "givenName": name }))
}

fn projected(area: Area, records: Vec<Map<String, Value>>) -> Vec<Projected> {
    records
        .iter()
        .map(|r| Projected::from_map(area, r).unwrap())
        .collect()
}

fn target(fields: &[&str], records: Vec<Map<String, Value>>) -> Target {
    Target {
        areas: [(
            Area::Students,
            TargetArea {
                fields: fields.iter().map(|f| f.to_string()).collect(),
                records: projected(Area::Students, records),
            },
        )]
        .into(),
    }
}

/// What the partner holds after a sync was delivered.
fn after(held: &Held, sync: &Sync, target: &Target) -> Held {
    let mut held = held.clone();
    for deletion in &sync.deletions {
        let area = held.areas.entry(deletion.area).or_default();
        match (&deletion.records, &deletion.fields) {
            (Some(ids), _) => ids.iter().for_each(|id| {
                area.records.remove(id);
            }),
            (None, Some(fields)) => area.fields.retain(|f| !fields.contains(f)),
            (None, None) => {
                held.areas.remove(&deletion.area);
            }
        }
    }
    for upsert in &sync.upserts {
        let area = held.areas.entry(upsert.area).or_default();
        area.fields = target.areas[&upsert.area].fields.clone();
        for (record, digest) in &upsert.records {
            area.records.insert(
                record.id().to_owned(),
                HeldRecord {
                    subject: record.subject().map(str::to_owned),
                    digest: *digest,
                },
            );
        }
    }
    held
}

fn sent_ids(sync: &Sync) -> Vec<&str> {
    sync.upserts
        .iter()
        .flat_map(|u| u.records.iter().map(|(r, _)| r.id()))
        .collect()
}

#[test]
fn everything_is_sent_the_first_time_and_nothing_the_second() {
    let target = target(
        &["givenName"],
        vec![pupil("stu-1", "A"), pupil("stu-2", "B")],
    );
    let first = sync(target.clone(), &Held::default(), Upserts::NotDue);
    assert_eq!(
        sent_ids(&first),
        ["stu-1", "stu-2"],
        "a new area is sent even when not due"
    );
    assert!(first.deletions.is_empty());

    let held = after(&Held::default(), &first, &target);
    assert!(sync(target.clone(), &held, Upserts::Due).is_empty());
}

#[test]
fn only_changed_records_are_sent_and_only_when_due() {
    let before = target(
        &["givenName"],
        vec![pupil("stu-1", "A"), pupil("stu-2", "B")],
    );
    let held = after(
        &Held::default(),
        &sync(before.clone(), &Held::default(), Upserts::Due),
        &before,
    );
    let changed = target(
        &["givenName"],
        vec![pupil("stu-1", "A"), pupil("stu-2", "C")],
    );
    assert!(sync(changed.clone(), &held, Upserts::NotDue).is_empty());
    assert_eq!(
        sent_ids(&sync(changed.clone(), &held, Upserts::Due)),
        ["stu-2"]
    );
}

#[test]
fn a_person_no_longer_shared_is_deleted_even_when_not_due() {
    let before = target(
        &["givenName"],
        vec![pupil("stu-1", "A"), pupil("stu-2", "B")],
    );
    let held = after(
        &Held::default(),
        &sync(before.clone(), &Held::default(), Upserts::Due),
        &before,
    );
    let now = target(&["givenName"], vec![pupil("stu-1", "A")]);
    let plan = sync(now.clone(), &held, Upserts::NotDue);
    assert_eq!(
        plan.deletions,
        [PlannedDeletion {
            area: Area::Students,
            reason: DeletionReason::NoLongerShared,
            records: Some(vec!["stu-2".into()]),
            fields: None,
            subjects: vec!["stu-2".into()],
        }]
    );
    assert!(plan.upserts.is_empty());
}

#[test]
fn a_dropped_field_is_deleted_and_the_records_sent_again_without_it() {
    let with_email = target(
        &["email", "givenName"],
        vec![record(
            json!({ "sourcedId": "stu-1", "givenName": "A", "email": "x" }),
        )],
    );
    let held = after(
        &Held::default(),
        &sync(with_email.clone(), &Held::default(), Upserts::Due),
        &with_email,
    );
    let without = target(&["givenName"], vec![pupil("stu-1", "A")]);
    let plan = sync(without.clone(), &held, Upserts::NotDue);
    assert_eq!(plan.deletions.len(), 1);
    assert_eq!(plan.deletions[0].reason, DeletionReason::FieldsWithdrawn);
    assert_eq!(plan.deletions[0].fields, Some(vec!["email".to_owned()]));
    assert_eq!(plan.deletions[0].subjects, ["stu-1"]);
    assert_eq!(
        sent_ids(&plan),
        ["stu-1"],
        "a changed field set is sent even when not due"
    );
}

#[test]
fn a_withdrawn_area_and_an_ended_agreement_delete_whole_areas() {
    let mut both = target(&["givenName"], vec![pupil("stu-1", "A")]);
    both.areas.insert(
        Area::Classes,
        TargetArea {
            fields: vec!["title".into()],
            records: projected(
                Area::Classes,
                vec![record(json!({ "sourcedId": "cls-1", "title": "Maths" }))],
            ),
        },
    );
    let held = after(
        &Held::default(),
        &sync(both.clone(), &Held::default(), Upserts::Due),
        &both,
    );

    let students_only = target(&["givenName"], vec![pupil("stu-1", "A")]);
    let plan = sync(students_only.clone(), &held, Upserts::Due);
    assert_eq!(plan.deletions.len(), 1);
    assert_eq!(plan.deletions[0].area, Area::Classes);
    assert_eq!(plan.deletions[0].reason, DeletionReason::AreaWithdrawn);
    assert!(
        plan.deletions[0].subjects.is_empty(),
        "classes are about nobody"
    );

    let ended = end(&held);
    let areas: Vec<Area> = ended.deletions.iter().map(|d| d.area).collect();
    assert_eq!(areas, [Area::Students, Area::Classes]);
    assert!(
        ended
            .deletions
            .iter()
            .all(|d| d.reason == DeletionReason::AgreementEnded)
    );
    assert_eq!(ended.deletions[0].subjects, ["stu-1"]);
}

#[test]
fn an_enrollment_is_about_its_user() {
    let enrollment = record(json!({ "sourcedId": "enr-1", "userSourcedId": "stu-9" }));
    assert_eq!(subject_of(Area::Enrollments, &enrollment), Some("stu-9"));
    assert_eq!(subject_of(Area::Classes, &pupil("cls-1", "x")), None);
    assert_eq!(
        subject_of(Area::Students, &pupil("stu-1", "x")),
        Some("stu-1")
    );
}
