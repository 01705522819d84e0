//! The example Trust hangs together: its MIS exports are what the generator writes, they
//! read cleanly, and every person its YAML names is on the roll of that school.

use std::path::{Path, PathBuf};
use std::process::Command;

use accord::catalogue::Area;
use accord::mis::oneroster_csv::read_bundle;
use accord::mis::{FieldSet, ReadOptions};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
}

const SCHOOLS: [(&str, usize); 3] = [
    ("ashby-primary", 80),
    ("brook-primary", 300),
    ("carlton-academy", 1200),
];

#[test]
fn committed_mis_exports_are_what_the_generator_writes() {
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("examples");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(
        examples().join("generate-mis.sh"),
        copy.join("generate-mis.sh"),
    )
    .unwrap();
    let status = Command::new("bash")
        .arg(copy.join("generate-mis.sh"))
        .env("ACCORD", env!("CARGO_BIN_EXE_accord"))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    for (school, _) in SCHOOLS {
        let committed = examples().join("mis").join(school);
        for entry in std::fs::read_dir(copy.join("mis").join(school)).unwrap() {
            let entry = entry.unwrap();
            let fresh = std::fs::read(entry.path()).unwrap();
            let kept = std::fs::read(committed.join(entry.file_name())).unwrap_or_default();
            assert!(
                fresh == kept,
                "examples/mis/{school}/{} is stale: run examples/generate-mis.sh",
                entry.file_name().to_string_lossy()
            );
        }
    }
}

#[test]
fn example_schools_have_the_pupils_they_claim_and_read_cleanly() {
    let fields = FieldSet::everything();
    for (school, pupils) in SCHOOLS {
        let extract = read_bundle(
            &examples().join("mis").join(school),
            &fields,
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(extract.records(Area::Students).len(), pupils, "{school}");
        assert!(
            !extract.records(Area::Staff).is_empty() && !extract.records(Area::Contacts).is_empty()
        );
    }
}

#[test]
fn every_person_the_yaml_names_is_on_that_schools_roll() {
    let loaded = accord::manifest::load_paths(&[examples()]);
    assert!(loaded.errors.is_empty());
    let fields = FieldSet::new()
        .with(Area::Students, &["sourcedId"])
        .unwrap();
    let mut checked = 0;
    for doc in &loaded.documents {
        let json = doc.root.to_json();
        let Some(school) = json["spec"]["school"].as_str() else {
            continue;
        };
        let roll = read_bundle(
            &examples().join("mis").join(school),
            &fields,
            &ReadOptions::default(),
        )
        .unwrap();
        let mut named: Vec<&str> = ["include", "exclude"]
            .iter()
            .flat_map(|list| json["spec"][list].as_array().into_iter().flatten())
            .filter_map(|v| v.as_str())
            .collect();
        named.extend(json["spec"]["sourcedId"].as_str());
        for id in named {
            assert!(
                roll.find(Area::Students, id).is_some(),
                "{id} is not a pupil of {school}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} people checked");
}
