//! The real OneRoster bundles under shared/fixtures read without error, with the counts
//! and warnings a person checking those files by eye would expect.

use serde_json::json;

use crate::catalogue::Area;
use crate::mis::oneroster_csv::read_bundle;
use crate::mis::{Extract, FieldSet, ReadOptions};

use super::fixtures_dir;

fn read_fixture(name: &str) -> Option<Extract> {
    let path = fixtures_dir()?.join("oneroster").join(name);
    let extract = read_bundle(&path, &FieldSet::everything(), &ReadOptions::default());
    Some(extract.unwrap_or_else(|e| panic!("{name} must read: {e}")))
}

fn counts(extract: &Extract) -> [usize; 5] {
    [
        Area::Students,
        Area::Staff,
        Area::Contacts,
        Area::Classes,
        Area::Enrollments,
    ]
    .map(|area| extract.records(area).len())
}

fn places(extract: &Extract) -> Vec<(String, Option<u64>, Option<String>)> {
    let mut places: Vec<_> = extract
        .warnings
        .iter()
        .map(|w| (w.file.clone(), w.line, w.column.clone()))
        .collect();
    places.sort();
    places
}

fn place(
    file: &str,
    line: Option<u64>,
    column: Option<&str>,
) -> (String, Option<u64>, Option<String>) {
    (file.to_owned(), line, column.map(str::to_owned))
}

#[test]
fn v1p1_fixture_reads_with_roles_from_users() {
    let Some(extract) = read_fixture("v1p1-full") else {
        return;
    };

    // 3 students, 2 teachers, 1 parent, 1 live class (the other is tobedeleted), and 3
    // enrollments (the other 3 are in the deleted class).
    assert_eq!(counts(&extract), [3, 2, 1, 1, 3]);
    assert_eq!(
        extract
            .deletions
            .get(&Area::Classes)
            .map(|d| d.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["cls-222-123478".to_owned()])
    );

    let mary = extract
        .find(Area::Students, "usr-222-66778899")
        .expect("blank-status student");
    assert_eq!(mary.text("status"), Some("active"));
    assert_eq!(mary.text("yearGroup"), Some("12"));
    let parent = extract
        .find(Area::Contacts, "usr-222-1234561")
        .expect("parent");
    assert_eq!(parent.values["relationship"], json!("parent"));
    assert_eq!(
        parent.values["studentSourcedIds"],
        json!(["usr-222-66778899"])
    );
    let class = extract
        .find(Area::Classes, "cls-222-123456")
        .expect("class");
    assert_eq!(
        class.values["subjects"],
        json!(["Science", "Physics", "Biology"])
    );

    assert_eq!(
        places(&extract),
        vec![
            place("classes.csv", Some(3), Some("status")),
            place("demographics.csv", None, None),
            place("demographics.csv", None, None),
            place("enrollments.csv", Some(5), None),
            place("enrollments.csv", Some(6), None),
            place("enrollments.csv", Some(7), None),
            place("v1p1-full", None, None),
        ]
    );
}

#[test]
fn v1p2_fixture_reads_with_roles_file_and_misspelt_headers() {
    let Some(extract) = read_fixture("v1p2-full") else {
        return;
    };

    // roles.csv adds a secondary guardian role to a teacher and makes the 1.1 parent a
    // site administrator.
    assert_eq!(counts(&extract), [3, 3, 1, 1, 3]);
    let guardian = extract
        .find(Area::Contacts, "usr-222-123456")
        .expect("guardian");
    assert_eq!(guardian.values["relationship"], json!("guardian"));
    assert_eq!(
        guardian.values["studentSourcedIds"],
        json!(["usr-222-1234561232", "usr-222-66778899"])
    );
    let admin = extract
        .find(Area::Staff, "usr-222-1234561")
        .expect("site administrator");
    assert_eq!(admin.values["role"], json!("siteAdministrator"));
    let teacher = extract
        .find(Area::Staff, "usr-222-123456")
        .expect("teacher");
    assert_eq!(teacher.values["role"], json!("teacher"));
    let mary = extract
        .find(Area::Students, "usr-222-66778899")
        .expect("student");
    assert!(
        mary.values.contains_key("preferredName"),
        "misspelt preferred name column read"
    );

    assert_eq!(
        places(&extract),
        vec![
            place("classes.csv", Some(3), Some("status")),
            place("demographics.csv", None, None),
            place("demographics.csv", None, None),
            place("enrollments.csv", Some(5), None),
            place("enrollments.csv", Some(6), None),
            place("enrollments.csv", Some(7), None),
            place("manifest.csv", Some(21), None),
            place("manifest.csv", Some(22), None),
            place("manifest.csv", Some(23), None),
            place("roles.csv", Some(1), Some("dataLastModified")),
            place("users.csv", Some(1), Some("prefferedFamilyName")),
            place("users.csv", Some(1), Some("prefferedGivenName")),
            place("users.csv", Some(1), Some("prefferedMiddleName")),
            place("v1p2-full", None, None),
        ]
    );
}
