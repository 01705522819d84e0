//! The connector reads from a server what the CSV reader reads from its bundle.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::{sample_bundle, start};
use crate::catalogue::Area;
use crate::mis::oneroster_csv::read_bundle;
use crate::mis::rest::{ServerOptions, read_rest};
use crate::mis::{FieldSet, ReadOptions};

/// Every field of every area that OneRoster carries (attendance is CTF only).
fn oneroster_fields() -> FieldSet {
    let mut fields = FieldSet::new();
    for area in Area::ALL.into_iter().filter(|a| *a != Area::Attendance) {
        fields = fields.with(area, &area.field_names()).unwrap();
    }
    fields
}

#[tokio::test]
async fn rest_read_equals_csv_read_of_the_same_bundle() {
    let (_, dir) = sample_bundle(90);
    let running = start(dir.path(), ServerOptions::default()).await;
    let narrow = FieldSet::new()
        .with(Area::Students, &["givenName", "yearGroup", "dateOfBirth"])
        .unwrap()
        .with(Area::Enrollments, &["classSourcedId", "role"])
        .unwrap();
    let contacts_only = FieldSet::new()
        .with(Area::Contacts, &["relationship", "studentSourcedIds"])
        .unwrap();

    for fields in [oneroster_fields(), narrow, contacts_only] {
        let from_csv = read_bundle(dir.path(), &fields, &ReadOptions::default()).unwrap();
        let from_rest = read_rest(&running.config(), &fields).await.unwrap();
        assert!(!from_csv.records.values().all(Vec::is_empty));
        assert_eq!(from_rest, from_csv);
    }

    // Attendance is warned about, not read, by both.
    let everything = FieldSet::everything();
    let from_csv = read_bundle(dir.path(), &everything, &ReadOptions::default()).unwrap();
    let from_rest = read_rest(&running.config(), &everything).await.unwrap();
    assert_eq!(from_rest.records, from_csv.records);
    let messages = |warnings: &[crate::mis::Warning]| {
        warnings
            .iter()
            .map(|w| w.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(messages(&from_rest.warnings), messages(&from_csv.warnings));
}

/// Rewrites `users.csv` so these users changed on 10 January 2025, and `deleted` is
/// marked for deletion then.
fn change_users(dir: &Path, changed: &[&str], deleted: &str) {
    let path = dir.join("users.csv");
    let text = fs::read_to_string(&path).unwrap();
    let old = ",active,2024-09-01T00:00:00.000Z,";
    let lines: Vec<String> = text
        .split("\r\n")
        .map(|line| {
            let id = line.split(',').next().unwrap_or_default();
            if changed.contains(&id) {
                line.replacen(old, ",active,2025-01-10T09:30:00.000Z,", 1)
            } else if id == deleted {
                line.replacen(old, ",tobedeleted,2025-01-10T09:30:00.000Z,", 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    fs::write(&path, lines.join("\r\n")).unwrap();
}

#[tokio::test]
async fn delta_read_returns_only_changed_records_and_deletions() {
    let (sample, dir) = sample_bundle(50);
    let changed = [
        sample.students[3].sourced_id.as_str(),
        sample.students[17].sourced_id.as_str(),
    ];
    let deleted = sample.students[20].sourced_id.as_str();
    change_users(dir.path(), &changed, deleted);
    let running = start(dir.path(), ServerOptions::default()).await;
    let fields = FieldSet::new()
        .with(Area::Students, &["givenName", "status"])
        .unwrap();

    let mut config = running.config();
    config.since = Some("2025-01-01T00:00:00Z".into());
    let delta = read_rest(&config, &fields).await.unwrap();

    let ids: BTreeSet<&str> = delta
        .records(Area::Students)
        .iter()
        .map(|r| r.sourced_id.as_str())
        .collect();
    assert_eq!(ids, changed.into_iter().collect());
    assert_eq!(
        delta.deletions[&Area::Students],
        [deleted.to_owned()].into_iter().collect()
    );
    assert!(delta.delta_areas.contains(&Area::Students));

    config.since = None;
    let full = read_rest(&config, &fields).await.unwrap();
    assert_eq!(
        full.records(Area::Students).len(),
        sample.students.len() - 1
    );
    assert!(full.delta_areas.is_empty());
}
