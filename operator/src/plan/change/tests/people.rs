//! People who start or stop being shared through consent rules and erasure requests.

use serde_json::json;

use super::*;

#[test]
fn a_pupil_added_to_an_exclusion_alone_stops_being_shared() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .consent("ashby", &[], &["a-stu-3"])
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Affected);
    let ashby = school(homework, "ashby");
    let stop = ashby.people_stop.expect("the roll is known");
    assert_eq!((stop.total, stop.excluded), (1, 1));
    assert_eq!(ashby.notices.len(), 1);
    assert_eq!(ashby.notices[0].reason, DeletionReason::NoLongerShared);
    assert_eq!(ashby.notices[0].people, Some(1));
    assert!(
        !school(homework, "brook").changes(),
        "brook's pupils are not touched"
    );
}

#[test]
fn an_opt_in_added_starts_sharing_that_pupil_only() {
    let approver = Approver::new();
    let opt_in = |trust: Trust| {
        trust
            .agreement("reading", json!({ "students": ["givenName"] }))
            .change("reading", |s| {
                s.consent = crate::resources::ConsentMode::OptIn;
                s.lawful_basis = crate::resources::LawfulBasis::Consent;
            })
    };
    let before = opt_in(Trust::new().consent("brook", &["b-stu-1"], &[])).signed(&approver.key);
    let after =
        opt_in(Trust::new().consent("brook", &["b-stu-1", "b-stu-2"], &[])).signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let brook = school(agreement(&plan, "reading"), "brook");
    assert_eq!(
        (brook.people_before, brook.people_after),
        (Some(1), Some(2))
    );
    assert_eq!(brook.people_start, Some(1));
    assert!(brook.notices.is_empty());
    assert_eq!(plan.summary.people_start, 1);
}

#[test]
fn an_erasure_request_stops_the_pupil_under_every_agreement() {
    let approver = Approver::new();
    let trust = || {
        Trust::new()
            .agreement("homework", json!({ "students": ["givenName"] }))
            .agreement(
                "messages",
                json!({ "students": ["givenName"], "contacts": ["email"] }),
            )
    };
    let before = trust().signed(&approver.key);
    let after = trust().erasure("ashby", "a-stu-1").signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = school(agreement(&plan, "homework"), "ashby");
    assert_eq!(
        homework.people_stop.map(|s| (s.total, s.erased)),
        Some((1, 1))
    );
    let messages = school(agreement(&plan, "messages"), "ashby");
    let stop = messages.people_stop.expect("the roll is known");
    assert_eq!(
        (stop.erased, stop.contacts),
        (1, 1),
        "the pupil, and their only contact"
    );
    assert_eq!(messages.notices[0].people, Some(2));
}

#[test]
fn people_at_a_school_whose_roll_is_unknown_are_not_guessed() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = Trust::new().signed(&approver.key);
    let mut rolls = rolls();
    rolls.remove(&ObjectKey::new("t", "brook"));

    let plan = approver.plan_with(&before, &after, &rolls);
    let brook = school(agreement(&plan, "homework"), "brook");
    assert_eq!(brook.notices[0].people, None);
    assert_eq!(brook.people_stop, None);
    assert_eq!(plan.people_unknown, [ObjectKey::new("t", "brook")]);
    assert!(markdown(&plan).contains("People unknown at brook"));
}

#[test]
fn a_consent_change_shows_even_when_the_roll_is_unknown() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .consent("brook", &[], &["b-stu-3"])
        .signed(&approver.key);

    let plan = approver.plan_with(&before, &after, &BTreeMap::new());
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Affected);
    let brook = school(homework, "brook");
    assert!(brook.consent_changed);
    assert_eq!(brook.people_stop, None, "not counted without a roll");
    assert!(!school(homework, "ashby").consent_changed);
    assert!(!plan.summary.no_change());
}

#[test]
fn naming_someone_opt_out_already_shares_changes_nothing() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .consent("brook", &["b-stu-1"], &[])
        .signed(&approver.key);

    let plan = approver.plan_with(&before, &after, &BTreeMap::new());
    assert_eq!(agreement(&plan, "homework").kind, ChangeKind::Unchanged);
}
