//! The sample generator is deterministic, and what its writer writes the readers read
//! back unchanged.

use std::fs;

use crate::catalogue::Area;
use crate::mis::oneroster_csv::read_bundle;
use crate::mis::oneroster_csv_write::write_oneroster_bundle;
use crate::mis::sample::{SchoolInfo, school};
use crate::mis::{FieldSet, ReadOptions};

use super::bundle_builder::all_of;

fn info() -> SchoolInfo {
    SchoolInfo {
        name: "Northway Primary".into(),
        urn: "100001".into(),
        la_estab: "3802001".into(),
    }
}

#[test]
fn same_seed_writes_byte_identical_bundles() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_oneroster_bundle(&school(7, &info(), 120), a.path()).unwrap();
    write_oneroster_bundle(&school(7, &info(), 120), b.path()).unwrap();
    for entry in fs::read_dir(a.path()).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            fs::read(a.path().join(&name)).unwrap(),
            fs::read(b.path().join(&name)).unwrap(),
            "{name:?}"
        );
    }
    assert_ne!(school(7, &info(), 120), school(8, &info(), 120));
}

#[test]
fn school_size_decides_year_groups_staff_and_contacts() {
    let primary = school(1, &info(), 210);
    let years: std::collections::BTreeSet<_> = primary
        .students
        .iter()
        .map(|p| p.year_group.as_str())
        .collect();
    assert_eq!(
        years,
        ["1", "2", "3", "4", "5", "6", "R"].into_iter().collect()
    );
    assert_eq!(primary.staff.len(), 14);
    assert!(
        primary
            .students
            .iter()
            .all(|p| (1..=2).contains(&p.contact_ids.len()))
    );
    assert!(
        primary.contacts.iter().any(|c| c.student_ids.len() > 1),
        "some siblings share contacts"
    );
    assert!(
        primary
            .contacts
            .iter()
            .all(|c| c.phone.starts_with("07700 900") && c.email.ends_with(".example"))
    );

    let secondary = school(1, &info(), 1200);
    assert!(secondary.students.iter().any(|p| p.year_group == "13"));
    assert!(!secondary.students.iter().any(|p| p.year_group == "R"));
}

#[test]
fn written_bundle_reads_back_as_the_sample() {
    let sample = school(42, &info(), 90);
    let dir = tempfile::tempdir().unwrap();
    write_oneroster_bundle(&sample, dir.path()).unwrap();

    let areas = [
        Area::Students,
        Area::Staff,
        Area::Contacts,
        Area::Classes,
        Area::Enrollments,
        Area::Demographics,
    ];
    for fields in [
        all_of(&areas),
        FieldSet::new()
            .with(Area::Students, &["yearGroup", "upn"])
            .unwrap(),
    ] {
        let read = read_bundle(dir.path(), &fields, &ReadOptions::default()).unwrap();
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        assert_eq!(read.records, sample.extract(&fields).records);
    }
}
