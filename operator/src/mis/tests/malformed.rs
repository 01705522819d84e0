//! Malformed bundles fail the whole read with an error naming file, line and column,
//! and never quoting a person's data.

use crate::catalogue::Area;
use crate::mis::MisError;

use super::bundle_builder::{BundleBuilder, DEMOGRAPHICS_HEADER, USERS_HEADER, all_of};

fn students() -> crate::mis::FieldSet {
    all_of(&[Area::Students, Area::Demographics])
}

#[test]
fn missing_manifest_is_reported() {
    let bundle = BundleBuilder::v1p1()
        .file("users", "bulk", &[USERS_HEADER])
        .without_manifest();
    assert!(matches!(
        bundle.read(&students()),
        Err(MisError::MissingManifest { .. })
    ));
}

#[test]
fn manifest_naming_a_missing_file_is_reported_with_its_line() {
    let bundle = BundleBuilder::v1p1().manifest_line("file.users", "bulk");
    let error = bundle.read(&students()).unwrap_err();
    assert!(
        matches!(&error, MisError::ManifestFileMissing { file, line: 4, .. } if file == "users.csv"),
        "{error}"
    );
}

#[test]
fn missing_required_column_is_reported() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &["sourcedId,givenName,familyName", "p1,Ada,Okafor"],
    );
    let error = bundle.read(&students()).unwrap_err();
    assert_eq!(
        (error.file(), error.line(), error.column()),
        ("users.csv", Some(1), Some("role"))
    );
}

#[test]
fn latin1_file_is_reported_with_line_and_offset() {
    let bytes = b"sourcedId,role,givenName,familyName\np1,student,Zo\xeb,Okafor\n";
    let error = BundleBuilder::v1p1()
        .bytes("users", "bulk", bytes)
        .read(&students())
        .unwrap_err();
    assert!(
        matches!(
            error,
            MisError::NotUtf8 {
                line: 2,
                offset: 49,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn row_with_more_cells_than_header_is_reported() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[
            "sourcedId,role,givenName,familyName",
            "p1,student,Ada,Okafor",
            "p2,student,Smith, Jo,Okafor",
        ],
    );
    let error = bundle.read(&students()).unwrap_err();
    assert!(
        matches!(
            error,
            MisError::TooManyCells {
                line: 3,
                found: 5,
                expected: 4,
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.to_string().contains("Smith"));
}

#[test]
fn duplicate_sourced_id_is_reported_with_both_lines() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[
            "sourcedId,role,givenName,familyName",
            "p1,student,Ada,Okafor",
            "p1,student,Bo,Li",
        ],
    );
    let error = bundle.read(&students()).unwrap_err();
    assert!(
        matches!(
            error,
            MisError::DuplicateSourcedId {
                line: 3,
                first_line: 2,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn bad_birth_date_names_the_cell_but_not_its_value() {
    let bundle = BundleBuilder::v1p1()
        .file(
            "users",
            "bulk",
            &[
                "sourcedId,role,givenName,familyName",
                "p1,student,Ada,Okafor",
            ],
        )
        .file(
            "demographics",
            "bulk",
            &[
                DEMOGRAPHICS_HEADER,
                "p1,,,31st of May 2014,female,WBRI,N,ENG",
            ],
        );
    let error = bundle.read(&students()).unwrap_err();
    assert_eq!(
        (error.file(), error.line(), error.column()),
        ("demographics.csv", Some(2), Some("birthDate"))
    );
    let message = error.to_string();
    assert!(
        message.contains("YYYY-MM-DD") && !message.contains("May"),
        "{message}"
    );
}

#[test]
fn unknown_status_is_reported() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[
            "sourcedId,status,role,givenName,familyName",
            "p1,gone,student,Ada,Okafor",
        ],
    );
    let error = bundle.read(&students()).unwrap_err();
    assert_eq!((error.line(), error.column()), (Some(2), Some("status")));
}

#[test]
fn unknown_oneroster_version_is_reported() {
    let bundle = BundleBuilder::v1p1();
    let folder = bundle.folder();
    std::fs::write(
        folder.join("manifest.csv"),
        "propertyName,value\noneroster.version,9.9\n",
    )
    .unwrap();
    let error = crate::mis::oneroster_csv::read_bundle(&folder, &students(), &Default::default())
        .unwrap_err();
    assert!(
        matches!(error, MisError::BadManifest { line: 2, .. }),
        "{error}"
    );
}
