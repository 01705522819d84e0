//! `accord plan` on the example Trust: what a pull request would change, as the comment a
//! reviewer reads.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;

mod common;
use common::*;

/// The day the plans are made for: inside every example agreement's validity.
const AT: &str = "2026-12-01";

const SCHOOLS: [&str; 3] = ["ashby-primary", "brook-primary", "carlton-academy"];

fn plan(trust: &Trust, extra: &[&str]) -> std::process::Output {
    let path = trust.path();
    let mut args = vec!["plan", path.to_str().unwrap(), "--at", AT];
    args.extend_from_slice(extra);
    accord(&args)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn with_base(output: &str) -> Vec<String> {
    let base = examples().to_str().unwrap().to_owned();
    vec!["--base".into(), base, "--output".into(), output.into()]
}

fn args(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

/// The pupils homework-hub shares at `school`, read straight from the example MIS export
/// and consent files rather than through Accord.
fn homework_hub_pupils(school: &str) -> usize {
    let users = examples().join("mis").join(school).join("users.csv");
    let mut reader = csv::Reader::from_path(users).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, role) = (column("sourcedId"), column("role"));
    let pupils: BTreeSet<String> = reader
        .records()
        .map(Result::unwrap)
        .filter(|row| &row[role] == "student")
        .map(|row| row[id].to_owned())
        .collect();

    let mut withheld: BTreeSet<String> = BTreeSet::new();
    for (folder, list) in [("consent", "exclude"), ("erasures", "sourcedId")] {
        for spec in specs(&examples().join(folder)) {
            if spec["school"].as_str() != Some(school) || !covers_homework_hub(&spec) {
                continue;
            }
            match &spec[list] {
                Value::Sequence(ids) => {
                    withheld.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                Value::String(id) => {
                    withheld.insert(id.clone());
                }
                _ => {}
            }
        }
    }
    pupils.iter().filter(|p| !withheld.contains(*p)).count()
}

fn covers_homework_hub(spec: &Value) -> bool {
    let scope = &spec["scope"];
    let named = |list: &Value| {
        list.as_sequence()
            .is_some_and(|l| l.iter().any(|a| a.as_str() == Some("homework-hub")))
    };
    match scope {
        Value::Null => spec["agreements"].is_null() || named(&spec["agreements"]),
        _ => {
            scope["all"].as_bool() == Some(true)
                || scope["partner"].as_str() == Some("homework-hub")
                || named(&scope["agreements"])
        }
    }
}

fn specs(folder: &Path) -> Vec<Value> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .map(|text| serde_yaml::from_str::<Value>(&text).unwrap()["spec"].clone())
        .collect()
}

#[test]
fn dropping_a_field_shows_a_deletion_notice_for_every_pupil_holding_it() {
    let trust = Trust::new();
    trust.edit(
        "agreements/homework-hub.yaml",
        "students: [givenName, familyName, yearGroup, email]",
        "students: [givenName, familyName, yearGroup]",
    );

    let output = plan(&trust, &args(&with_base("markdown")));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let markdown = stdout(&output);
    assert!(
        markdown.contains("### riverside-trust/homework-hub: changed"),
        "{markdown}"
    );

    let mut total = 0;
    for school in SCHOOLS {
        let row = markdown
            .lines()
            .find(|l| l.starts_with(&format!("| {school} |")))
            .unwrap_or_else(|| panic!("no row for {school}:\n{markdown}"));
        assert!(row.contains("students: `email`"), "{row}");
        let pupils = homework_hub_pupils(school);
        assert!(
            row.contains(&format!("remove `students.email` ({pupils} people)")),
            "{school} should count {pupils} pupils: {row}"
        );
        total += pupils;
    }
    assert!(
        markdown.contains("1 agreement changes: 1 loses fields"),
        "{markdown}"
    );
    assert!(markdown.contains("3 deletion notices"), "{markdown}");
    assert!(total > 0);
    assert!(
        !markdown.contains("stu-") && !markdown.contains("@"),
        "no sourcedId or email in a plan"
    );
}

#[test]
fn resigning_alone_changes_no_flow() {
    // The copy is re-signed with the test's own key, against its own keyring.
    let trust = Trust::new();
    let output = plan(&trust, &args(&with_base("markdown")));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("no change to any flow"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_invalid_change_is_refused_with_its_finding() {
    let trust = Trust::new();
    let file = trust.path().join("agreements/homework-hub.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("consent: optOut", "consent: optOot")).unwrap();

    let output = plan(&trust, &args(&with_base("markdown")));
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("homework-hub.yaml:") && out.contains("optOot"),
        "{out}"
    );
    assert!(
        !out.contains("## Accord plan"),
        "no plan for an invalid change"
    );
}

#[test]
fn people_at_a_school_read_over_the_network_are_not_counted() {
    let trust = Trust::new();
    point_at_rest(&trust, "ashby-primary", "127.0.0.1:9", "5s");

    let output = plan(&trust, &args(&with_base("json")));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        plan["peopleUnknown"],
        serde_json::json!(["riverside-trust/ashby-primary"])
    );
}

#[test]
fn people_at_a_school_whose_export_is_not_there_are_not_counted() {
    // As in CI, where MIS exports are not in git.
    let trust = Trust::new();
    std::fs::remove_dir_all(trust.path().join("mis/brook-primary")).unwrap();
    trust.edit(
        "agreements/homework-hub.yaml",
        "students: [givenName, familyName, yearGroup, email]",
        "students: [givenName, familyName, yearGroup]",
    );

    let output = plan(&trust, &args(&with_base("markdown")));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let markdown = stdout(&output);
    let brook = markdown
        .lines()
        .find(|l| l.starts_with("| brook-primary |"));
    assert!(
        brook.is_some_and(|row| row.contains("remove `students.email` (people unknown)")),
        "{markdown}"
    );
    assert!(
        markdown.contains("People unknown at brook-primary"),
        "{markdown}"
    );
    assert!(
        markdown.contains("people unknown at 1 school"),
        "{markdown}"
    );
}

#[test]
fn with_state_the_plan_counts_people_from_the_cache() {
    let trust = Trust::new();
    assert!(trust.run().status.success());
    trust.edit(
        "agreements/homework-hub.yaml",
        "students: [givenName, familyName, yearGroup, email]",
        "students: [givenName, familyName, yearGroup]",
    );
    // The MIS changes after the last read: the plan counts whom the cache holds.
    std::fs::remove_dir_all(trust.path().join("mis/ashby-primary")).unwrap();

    let state = trust.state();
    let output = plan(&trust, &["--state", state.to_str().unwrap(), "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let homework = plan["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agreement"] == "riverside-trust/homework-hub")
        .unwrap();
    let ashby = homework["schools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["school"] == "riverside-trust/ashby-primary")
        .unwrap();
    assert_eq!(
        ashby["notices"][0]["people"],
        homework_hub_pupils("ashby-primary")
    );
}

#[test]
fn state_and_base_together_are_bad_usage() {
    let trust = Trust::new();
    let output = plan(
        &trust,
        &["--state", "/nonexistent", "--base", "/nonexistent"],
    );
    assert_eq!(output.status.code(), Some(2));
}
