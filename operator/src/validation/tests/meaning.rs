//! Meaning checks: references, the catalogue, lawful bases, schedules and consent lists.

use serde_json::json;

use super::*;

#[test]
fn a_valid_trust_has_no_findings() {
    assert_eq!(Trust::new().lines(), Vec::<String>::new());
}

#[test]
fn agreement_naming_an_undeclared_partner() {
    let mut trust = Trust::new();
    trust.edit("agreement.yaml", "/spec/partner", Some(json!("nowhere")));
    trust.expect("agreement.yaml", "nowhere", "error",
        "agreement trust/homework: partner \"nowhere\" is not declared in namespace trust: add that Partner or correct the name");
}

#[test]
fn agreement_naming_an_undeclared_school() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/schools/names",
        Some(json!(["ashby", "zed"])),
    );
    trust.expect("agreement.yaml", "zed", "error",
        "agreement trust/homework: school \"zed\" is not declared in namespace trust: add that School or correct the name");
}

#[test]
fn selector_matching_no_school_warns() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/schools",
        Some(json!({ "selector": { "matchLabels": { "phase": "nursery" } } })),
    );
    trust.expect("agreement.yaml", "selector", "warning",
        "agreement trust/homework: the school selector matches no declared school, so nothing will flow");
}

#[test]
fn special_category_field_without_art9_condition() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/demographics",
        Some(json!(["senStatus"])),
    );
    trust.expect("agreement.yaml", "senStatus", "error",
        "agreement trust/homework: demographics.senStatus is special category data (GDPR Art. 9): set specialCategoryCondition to the Art. 9(2) condition that allows sharing it");
}

#[test]
fn special_category_field_with_condition_is_accepted() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/demographics",
        Some(json!(["senStatus"])),
    );
    trust.edit(
        "agreement.yaml",
        "/spec/specialCategoryCondition",
        Some(json!("substantialPublicInterest")),
    );
    assert_eq!(trust.lines(), Vec::<String>::new());
}

#[test]
fn valid_until_before_valid_from() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/validUntil",
        Some(json!("2026-08-31")),
    );
    trust.expect("agreement.yaml", "2026-08-31", "error",
        "agreement trust/homework: validUntil 2026-08-31 is not after validFrom 2026-09-01: correct one of the dates");
}

#[test]
fn a_date_that_is_not_on_the_calendar() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/validFrom",
        Some(json!("2026-02-30")),
    );
    trust.expect(
        "agreement.yaml",
        "2026-02-30",
        "error",
        "agreement trust/homework: 2026-02-30 is not a day of the calendar",
    );
}

#[test]
fn the_same_name_twice() {
    let mut trust = Trust::new();
    trust.add("school2.yaml", school("ashby"));
    let first = trust.at("school.yaml", "name: ashby");
    let line = first.split(':').nth(1).unwrap().to_owned();
    trust.expect("school2.yaml", "ashby", "error",
        &format!("School trust/ashby is declared twice (first at school.yaml:{line}): rename or remove one"));
}

#[test]
fn consent_rule_naming_undeclared_agreement_school_and_partner() {
    let mut trust = Trust::new();
    trust.edit(
        "consent.yaml",
        "/spec/scope",
        Some(json!({ "agreements": ["maths"] })),
    );
    trust.expect("consent.yaml", "maths", "error",
        "consent rule trust/ashby-out: agreement \"maths\" is not declared in namespace trust: add it or correct the name");

    trust.edit(
        "consent.yaml",
        "/spec/scope",
        Some(json!({ "partner": "nobody" })),
    );
    trust.expect("consent.yaml", "nobody", "error",
        "consent rule trust/ashby-out: partner \"nobody\" is not declared in namespace trust: add it or correct the name");

    trust.edit("consent.yaml", "/spec/school", Some(json!("zed")));
    trust.expect("consent.yaml", "zed", "error",
        "consent rule trust/ashby-out: school \"zed\" is not declared in namespace trust: add that School or correct the name");
}

#[test]
fn consent_rule_listing_a_name_is_refused_without_repeating_it() {
    let mut trust = Trust::new();
    trust.edit("consent.yaml", "/spec/exclude", Some(json!(["Josephine"])));
    trust.expect("consent.yaml", "Josephine", "error",
        "consent rule trust/ashby-out: exclude[0] looks like a person's name, not a MIS sourcedId: YAML in git names people by sourcedId only; look the sourcedId up in the MIS");
    assert!(trust.lines().iter().all(|l| !l.contains("Josephine")));
}

#[test]
fn erasure_naming_undeclared_school_and_agreement() {
    let mut trust = Trust::new();
    trust.edit("erasure.yaml", "/spec/school", Some(json!("zed")));
    trust.edit("erasure.yaml", "/spec/agreements", Some(json!(["gone"])));
    trust.expect(
        "erasure.yaml",
        "zed",
        "error",
        "erasure request trust/ashby-erase: school \"zed\" is not declared in namespace trust",
    );
    trust.expect(
        "erasure.yaml",
        "gone",
        "error",
        "erasure request trust/ashby-erase: agreement \"gone\" is not declared in namespace trust",
    );
}

#[test]
fn erasure_naming_a_person_by_name() {
    let mut trust = Trust::new();
    trust.edit("erasure.yaml", "/spec/sourcedId", Some(json!("Samuel")));
    trust.expect("erasure.yaml", "Samuel", "error",
        "erasure request trust/ashby-erase: sourcedId looks like a person's name, not a MIS sourcedId: YAML in git names people by sourcedId only; look the sourcedId up in the MIS");
}

#[test]
fn push_to_a_partner_without_endpoint() {
    let mut trust = Trust::new();
    trust.edit("partner.yaml", "/spec/endpoint", None);
    trust.expect("agreement.yaml", "push", "error",
        "agreement trust/homework: delivery is push but partner hub has no endpoint: give the partner an https endpoint or use pull");
}

#[test]
fn consent_as_lawful_basis_needs_opt_in() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/lawfulBasis",
        Some(json!("consent")),
    );
    trust.expect("agreement.yaml", "optOut", "error",
        "agreement trust/homework: lawfulBasis consent needs consent: optIn, since consent cannot be presumed");
}

#[test]
fn school_with_two_connectors() {
    let mut trust = Trust::new();
    trust.edit(
        "school.yaml",
        "/spec/mis/ctf",
        Some(json!({ "path": "ctf.xml" })),
    );
    trust.expect("school.yaml", "mis:", "error",
        "school trust/ashby: spec.mis sets 2 connectors: set exactly one of oneRosterCsv, oneRosterRest, ctf");
}

#[test]
fn refresh_both_daily_and_every() {
    let mut trust = Trust::new();
    trust.edit(
        "school.yaml",
        "/spec/refresh",
        Some(json!({ "dailyAt": "02:00", "every": "6h" })),
    );
    trust.expect(
        "school.yaml",
        "6h",
        "error",
        "school trust/ashby: refresh sets both dailyAt and every: keep one",
    );
}

#[test]
fn refresh_more_often_than_the_mis_can_bear() {
    let mut trust = Trust::new();
    trust.edit(
        "school.yaml",
        "/spec/refresh",
        Some(json!({ "every": "5m" })),
    );
    trust.expect("school.yaml", "5m", "error",
        "school trust/ashby: refresh.every is shorter than 15m, which would load the MIS needlessly");
}

#[test]
fn zero_retention() {
    let mut trust = Trust::new();
    trust.edit("school.yaml", "/spec/retention", Some(json!("0d")));
    trust.expect("school.yaml", "0d", "error",
        "school trust/ashby: retention of zero would discard data before it is delivered: give e.g. 30d");
}

#[test]
fn csv_bundle_missing_where_validate_runs() {
    let mut trust = Trust::new();
    trust.edit(
        "school.yaml",
        "/spec/mis",
        Some(json!({ "oneRosterCsv": { "path": "mis/ashby" } })),
    );
    let dir = trust.write();
    trust.expect(
        "school.yaml",
        "mis/ashby",
        "warning",
        &format!(
            "school trust/ashby: {}/mis/ashby does not exist here; it must exist where Accord runs",
            dir.display()
        )
        .replace(&format!("{}/", dir.display()), ""),
    );
}

#[test]
fn art9_condition_without_special_fields_warns() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/specialCategoryCondition",
        Some(json!("substantialPublicInterest")),
    );
    trust.expect("agreement.yaml", "substantialPublicInterest", "warning",
        "agreement trust/homework: specialCategoryCondition is set but no special category field is shared: remove it");
}

#[test]
fn explicit_consent_needs_opt_in() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/demographics",
        Some(json!(["ethnicity"])),
    );
    trust.edit(
        "agreement.yaml",
        "/spec/specialCategoryCondition",
        Some(json!("explicitConsent")),
    );
    trust.expect(
        "agreement.yaml",
        "optOut",
        "error",
        "agreement trust/homework: specialCategoryCondition explicitConsent needs consent: optIn",
    );
}

#[test]
fn interval_on_pull_delivery() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/delivery",
        Some(json!({ "mode": "pull", "interval": "1h" })),
    );
    trust.expect("agreement.yaml", "1h", "error",
        "agreement trust/homework: delivery.interval applies to push only: remove it or use mode push");
}

#[test]
fn consent_rule_for_an_agreement_that_does_not_cover_its_school() {
    let mut trust = Trust::new();
    trust.add("school-b.yaml", school("brook"));
    trust.edit("consent.yaml", "/spec/school", Some(json!("brook")));
    trust.expect("consent.yaml", "homework", "warning",
        "consent rule trust/ashby-out: agreement homework does not cover school brook, so this entry has no effect");
}

#[test]
fn opt_ins_for_opt_out_agreements_have_no_effect() {
    let mut trust = Trust::new();
    trust.edit("consent.yaml", "/spec/include", Some(json!(["stu-0003"])));
    trust.expect("consent.yaml", "include", "warning",
        "consent rule trust/ashby-out: include has no effect: no opt-in agreement is in scope (opt-out agreements already share everyone not excluded)");
}

#[test]
fn repeated_and_contradictory_entries_warn() {
    let mut trust = Trust::new();
    trust.edit("agreement.yaml", "/spec/consent", Some(json!("optIn")));
    trust.edit(
        "consent.yaml",
        "/spec/exclude",
        Some(json!(["stu-0001", "stu-0001"])),
    );
    trust.edit("consent.yaml", "/spec/include", Some(json!(["stu-0001"])));
    trust.write();

    // Keys are written in order, so the lines are exclude[0], exclude[1], include[0].
    let text = trust.text("consent.yaml");
    let at: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(n, l)| {
            l.find("stu-0001")
                .map(|c| format!("consent.yaml:{}:{}", n + 1, c + 1))
        })
        .collect();
    let lines = trust.lines();
    for expected in [
        format!(
            "{}: warning: consent rule trust/ashby-out: exclude[1] repeats an earlier entry: remove it",
            at[1]
        ),
        format!(
            "{}: warning: consent rule trust/ashby-out: include[0] is also excluded, and exclusion wins: remove one",
            at[2]
        ),
    ] {
        assert!(
            lines.contains(&expected),
            "expected {expected} in {lines:?}"
        );
    }
}
