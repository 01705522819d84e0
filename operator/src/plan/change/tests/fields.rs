//! Fields, areas and schools an agreement gains or loses, and the notices that follow.

use serde_json::json;

use super::*;

#[test]
fn a_field_added_is_gained_at_every_school_and_deletes_nothing() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .change("homework", |s| {
            s.data
                .0
                .get_mut(&Area::Students)
                .unwrap()
                .push("yearGroup".into())
        })
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Changed);
    assert_eq!(homework.spec_changes, ["data"]);
    for name in ["ashby", "brook"] {
        let school = school(homework, name);
        assert_eq!(names(&school.fields_gained), ["students.yearGroup"]);
        assert!(school.notices.is_empty());
        assert_eq!(
            school.people_start,
            Some(0),
            "the same pupils, one more field"
        );
    }
    assert_eq!(plan.summary.gain_fields, 1);
    assert_eq!(plan.summary.deletion_notices, 0);
}

#[test]
fn a_field_removed_sends_one_notice_per_school_for_the_people_holding_it() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .change("homework", |s| {
            s.data.0.insert(Area::Students, vec!["givenName".into()]);
        })
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    for (name, pupils) in [("ashby", 5), ("brook", 3)] {
        let school = school(homework, name);
        assert_eq!(names(&school.fields_lost), ["students.email"]);
        assert_eq!(school.notices.len(), 1, "{name}");
        let notice = &school.notices[0];
        assert_eq!(notice.reason, DeletionReason::FieldsWithdrawn);
        assert_eq!(
            notice.field.as_ref().map(ToString::to_string).as_deref(),
            Some("students.email")
        );
        assert_eq!(notice.people, Some(pupils));
    }
    assert_eq!(plan.summary.lose_fields, 1);
    assert_eq!(
        plan.summary.people_stop, 0,
        "nobody stops: they lose one field"
    );
    assert_eq!(plan.summary.deletion_notices, 2);
}

#[test]
fn a_removed_agreement_tells_the_partner_to_delete_everything_everywhere() {
    let approver = Approver::new();
    let before = Trust::new()
        .agreement(
            "homework",
            json!({ "students": ["givenName"], "staff": ["email"], "contacts": ["email"] }),
        )
        .signed(&approver.key);

    let plan = approver.plan(&before, &Trust::new());
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Removed);
    let ashby = school(homework, "ashby");
    assert_eq!(ashby.notices.len(), 1);
    assert_eq!(ashby.notices[0].reason, DeletionReason::AgreementEnded);
    assert_eq!(
        ashby.notices[0].people,
        Some(5 + 2 + 1),
        "pupils, staff and the contact"
    );
    assert_eq!(ashby.people_stop.map(|s| (s.total, s.ended)), Some((8, 8)));
    assert_eq!(school(homework, "brook").notices[0].people, Some(3));
    assert_eq!(plan.summary.people_stop, 11);
    assert_eq!(plan.summary.deletion_notices, 2);
}

#[test]
fn a_school_taken_out_of_the_selection_ends_its_flow() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .change("homework", |s| s.schools.names = vec!["brook".into()])
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    let ashby = school(homework, "ashby");
    assert_eq!((ashby.before, ashby.after), (Some(Flow::Flowing), None));
    assert_eq!(
        names(&ashby.fields_lost),
        ["students.email", "students.givenName"]
    );
    assert_eq!(ashby.notices[0].reason, DeletionReason::AgreementEnded);
    assert_eq!(ashby.notices[0].people, Some(5));
    assert!(!school(homework, "brook").changes());
}

#[test]
fn an_area_withdrawn_sends_one_notice_for_it_and_none_again_for_its_people() {
    let approver = Approver::new();
    let trust = |data| Trust::new().agreement("homework", data);
    let before =
        trust(json!({ "students": ["givenName"], "staff": ["email"] })).signed(&approver.key);
    let after = trust(json!({ "students": ["givenName"] })).signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let ashby = school(agreement(&plan, "homework"), "ashby");
    assert_eq!(ashby.areas_lost, [Area::Staff]);
    assert_eq!(
        ashby.people_stop.map(|s| (s.total, s.withdrawn)),
        Some((2, 2))
    );
    assert_eq!(ashby.notices.len(), 1, "{:?}", ashby.notices);
    assert_eq!(ashby.notices[0].reason, DeletionReason::AreaWithdrawn);
    assert_eq!(ashby.notices[0].people, Some(2));
}
