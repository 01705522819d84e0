//! Agreements that stop, pause or move abroad, and what the renderings show of a plan.

use serde_json::json;

use super::*;

#[test]
fn a_spec_changed_without_a_new_signature_pauses_and_says_why() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework().signed(&approver.key).change("homework", |s| {
        s.data.0.insert(Area::Staff, vec!["email".into()]);
    });

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Paused);
    let Standing::Paused { reason } = &homework.after else {
        panic!("expected the agreement to pause, got {:?}", homework.after);
    };
    assert!(reason.contains("changed since dpo signed it"), "{reason}");
    assert_eq!(
        plan.summary.deletion_notices, 0,
        "a tampered agreement sends nothing, not even deletion notices"
    );
}

#[test]
fn a_partner_moving_outside_the_uk_and_eea_is_flagged() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework().partner_in("US").signed(&approver.key);

    let plan = approver.plan(&before, &after);
    assert_eq!(plan.partners.len(), 1);
    let moved = &plan.partners[0];
    assert!(moved.leaves_uk_eea);
    assert_eq!(moved.agreements, ["homework"]);
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Affected);
    assert!(
        homework
            .partner_after
            .as_ref()
            .is_some_and(|p| p.outside_uk_eea)
    );

    let markdown = markdown(&plan);
    assert!(markdown.contains("leaves the UK/EEA"), "{markdown}");
}

#[test]
fn no_change_says_so() {
    let approver = Approver::new();
    let trust = homework()
        .consent("ashby", &[], &["a-stu-2"])
        .signed(&approver.key);

    let plan = approver.plan(&trust, &trust);
    assert!(plan.summary.no_change());
    assert_eq!(agreement(&plan, "homework").kind, ChangeKind::Unchanged);
    assert!(markdown(&plan).contains("no change to any flow"));
    assert!(text(&plan).contains("no change to any flow"));
}

#[test]
fn a_suspension_pauses_flows_without_deleting() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .change("homework", |s| s.suspend = true)
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let homework = agreement(&plan, "homework");
    assert_eq!(homework.kind, ChangeKind::Paused);
    assert_eq!(school(homework, "ashby").after, Some(Flow::Paused));
    assert_eq!(plan.summary.deletion_notices, 0);
}

#[test]
fn special_category_fields_are_marked() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = homework()
        .change("homework", |s| {
            s.data
                .0
                .insert(Area::Demographics, vec!["senStatus".into()]);
            s.special_category_condition =
                Some(crate::resources::SpecialCategoryCondition::SubstantialPublicInterest);
        })
        .signed(&approver.key);

    let markdown = markdown(&approver.plan(&before, &after));
    assert!(
        markdown.contains("demographics: `senStatus` (special category)"),
        "{markdown}"
    );
}

#[test]
fn no_rendering_carries_a_sourced_id() {
    let approver = Approver::new();
    let before = homework().signed(&approver.key);
    let after = Trust::new()
        .agreement(
            "homework",
            json!({ "students": ["givenName"], "contacts": ["email"] }),
        )
        .consent("ashby", &[], &["a-stu-4"])
        .erasure("brook", "b-stu-2")
        .signed(&approver.key);

    let plan = approver.plan(&before, &after);
    let json = serde_json::to_string(&plan).expect("the plan serialises");
    for output in [text(&plan), markdown(&plan), json] {
        assert!(
            !output.contains("-stu-") && !output.contains("-con-"),
            "{output}"
        );
    }
}
