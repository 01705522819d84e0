//! Builds OneRoster bundles in a temporary folder, file by file, for tests.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::catalogue::Area;
use crate::mis::oneroster_csv::read_bundle;
use crate::mis::{Extract, FieldSet, MisError, ReadOptions};

/// A users.csv header with the UK extension columns.
pub const USERS_HEADER: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,\
role,username,givenName,familyName,middleName,email,phone,agentSourcedIds,grades,\
metadata.uk.upn,metadata.uk.preferredName";

/// A demographics.csv header with the UK extension columns.
pub const DEMOGRAPHICS_HEADER: &str = "sourcedId,status,dateLastModified,birthDate,sex,\
metadata.uk.ethnicity,metadata.uk.senStatus,metadata.uk.firstLanguage";

/// A bundle under construction.
pub struct BundleBuilder {
    dir: TempDir,
    version: &'static str,
    manifest: Vec<(String, String)>,
    skip_manifest: bool,
}

impl BundleBuilder {
    /// An empty OneRoster 1.1 bundle.
    pub fn v1p1() -> Self {
        BundleBuilder {
            dir: tempfile::tempdir().expect("temporary folder"),
            version: "1.1",
            manifest: Vec::new(),
            skip_manifest: false,
        }
    }

    /// An empty OneRoster 1.2 bundle.
    pub fn v1p2() -> Self {
        BundleBuilder {
            version: "1.2",
            ..BundleBuilder::v1p1()
        }
    }

    /// Adds `stem.csv` with these lines (joined with LF), listed in the manifest as `mode`.
    pub fn file(self, stem: &str, mode: &str, lines: &[&str]) -> Self {
        let mut text = lines.join("\n");
        text.push('\n');
        self.bytes(stem, mode, text.as_bytes())
    }

    /// Adds `stem.csv` holding exactly these bytes.
    pub fn bytes(mut self, stem: &str, mode: &str, bytes: &[u8]) -> Self {
        fs::write(self.dir.path().join(format!("{stem}.csv")), bytes).expect("write file");
        self.manifest
            .push((format!("file.{stem}"), mode.to_owned()));
        self
    }

    /// Adds a manifest line without adding a file.
    pub fn manifest_line(mut self, property: &str, value: &str) -> Self {
        self.manifest.push((property.to_owned(), value.to_owned()));
        self
    }

    /// Leaves manifest.csv out.
    pub fn without_manifest(mut self) -> Self {
        self.skip_manifest = true;
        self
    }

    /// Writes the manifest and returns the bundle folder.
    pub fn folder(&self) -> PathBuf {
        if !self.skip_manifest {
            let mut text = format!(
                "propertyName,value\nmanifest.version,1.0\noneroster.version,{}\n",
                self.version
            );
            for (property, value) in &self.manifest {
                text.push_str(&format!("{property},{value}\n"));
            }
            fs::write(self.dir.path().join("manifest.csv"), text).expect("write manifest");
        }
        self.dir.path().to_owned()
    }

    /// Writes the bundle as `bundle.zip` beside the folder's files and returns its path.
    pub fn zip(&self) -> PathBuf {
        let folder = self.folder();
        let zip_path = self.dir.path().join("bundle.zip");
        zip_folder(&folder, &zip_path, "");
        zip_path
    }

    /// Reads the folder with default options.
    pub fn read(&self, fields: &FieldSet) -> Result<Extract, MisError> {
        read_bundle(&self.folder(), fields, &ReadOptions::default())
    }
}

/// Zips every .csv file of `folder` into `zip_path`, each named `prefix` + file name.
pub fn zip_folder(folder: &Path, zip_path: &Path, prefix: &str) {
    let file = fs::File::create(zip_path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    let mut names: Vec<_> = fs::read_dir(folder)
        .expect("list folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_name().expect("file name").to_string_lossy();
        zip.start_file(format!("{prefix}{name}"), options)
            .expect("start entry");
        zip.write_all(&fs::read(&path).expect("read file"))
            .expect("write entry");
    }
    zip.finish().expect("finish zip");
}

/// Every field of the given areas.
pub fn all_of(areas: &[Area]) -> FieldSet {
    let mut fields = FieldSet::new();
    for area in areas {
        for name in area.field_names() {
            fields.insert(*area, name).expect("catalogue field");
        }
    }
    fields
}
