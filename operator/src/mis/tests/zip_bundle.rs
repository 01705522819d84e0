//! Zipped bundles read the same as folders, and hostile or broken zips are refused.

use std::fs;
use std::io::Write;

use crate::mis::oneroster_csv::read_bundle;
use crate::mis::{FieldSet, MisError, ReadOptions};

use super::bundle_builder::{BundleBuilder, USERS_HEADER, zip_folder};
use super::fixtures_dir;

fn read(path: &std::path::Path) -> Result<crate::mis::Extract, MisError> {
    read_bundle(path, &FieldSet::everything(), &ReadOptions::default())
}

#[test]
fn zip_reads_the_same_as_its_folder() {
    let Some(fixtures) = fixtures_dir() else {
        return;
    };
    for name in ["v1p1-full", "v1p2-full"] {
        let folder = fixtures.join("oneroster").join(name);
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join(format!("{name}.zip"));
        zip_folder(&folder, &zip, "export/");
        let mut from_zip = read(&zip).unwrap();
        let mut from_folder = read(&folder).unwrap();
        // Only the attendance note names the bundle itself.
        for extract in [&mut from_zip, &mut from_folder] {
            extract.warnings.retain(|w| !w.file.starts_with(name));
        }
        assert_eq!(from_zip, from_folder, "{name}");
    }
}

#[test]
fn truncated_zip_is_reported_with_file_name() {
    let bundle = BundleBuilder::v1p1().file("users", "bulk", &[USERS_HEADER]);
    let zip = bundle.zip();
    let bytes = fs::read(&zip).unwrap();
    let cut = bundle.folder().join("cut.zip");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let error = read(&cut).unwrap_err();
    assert!(
        matches!(&error, MisError::BadZip { file, .. } if file == "cut.zip"),
        "{error}"
    );
}

#[test]
fn corrupt_zip_entry_is_reported() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[USERS_HEADER, "p1,,,true,o,student,u,Ada,Okafor"],
    );
    let zip = bundle.zip();
    let mut bytes = fs::read(&zip).unwrap();
    // Flip a byte inside the users.csv entry's data, leaving the directory intact.
    let at = bytes
        .windows(9)
        .rposition(|w| w == b"users.csv")
        .unwrap_or(0);
    let data_start = bytes
        .windows(9)
        .position(|w| w == b"users.csv")
        .unwrap_or(0)
        + 12;
    assert!(data_start < at);
    bytes[data_start] ^= 0x55;
    fs::write(&zip, &bytes).unwrap();
    let error = read(&zip).unwrap_err();
    assert!(
        matches!(&error, MisError::BadZip { file, .. } if file == "bundle.zip"),
        "{error}"
    );
}

#[test]
fn zip_entry_climbing_out_of_the_archive_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.zip");
    let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("manifest.csv", options).unwrap();
    zip.write_all(b"propertyName,value\noneroster.version,1.1\n")
        .unwrap();
    zip.start_file("../../etc/users.csv", options).unwrap();
    zip.write_all(b"sourcedId\n").unwrap();
    zip.finish().unwrap();
    let error = read(&path).unwrap_err();
    assert!(
        matches!(&error, MisError::BadZip { reason, .. } if reason.contains("unsafe name")),
        "{error}"
    );
}
