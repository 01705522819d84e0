//! `accord run --once` over a copy of the example Trust: what reaches the cache and what
//! status says.

use accord::catalogue::Area;
use accord::mis::rest::ServerOptions;
use serde_json::Value;

mod common;
use common::*;

#[test]
fn the_example_trust_converges_with_only_authorised_fields_cached() {
    let trust = Trust::new();
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let status = &trust.school(school)["status"];
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True", "{school}: {ready}");
        assert_eq!(status["people"], shared_people(school) as u64, "{school}");
    }

    // Only Carlton has an agreement with special category data, and no agreement asks for
    // dates of birth, middle names or UPNs outside Carlton's SEN agreement.
    let ashby = trust.school("ashby-primary");
    let fields: Vec<&str> = ashby["status"]["extractedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with("demographics.") && !f.starts_with("attendance.")),
        "{fields:?}"
    );
    assert!(fields.contains(&"students.email") && !fields.contains(&"students.dateOfBirth"));
    let carlton = trust.school("carlton-academy");
    assert!(
        carlton["status"]["extractedFields"]
            .as_array()
            .unwrap()
            .contains(&Value::from("demographics.senStatus"))
    );

    let students = trust.cached("ashby-primary", Area::Students).unwrap();
    assert_eq!(students.len(), 80);
    assert_eq!(
        field_names(&students),
        ["email", "familyName", "givenName", "sourcedId", "yearGroup"]
            .map(String::from)
            .into()
    );
    assert_eq!(trust.cached("ashby-primary", Area::Demographics), None);
}

#[test]
fn dropping_a_field_from_an_agreement_reads_again_without_it() {
    let trust = Trust::new();
    assert!(trust.run().status.success());
    assert!(field_names(&trust.cached("brook-primary", Area::Students).unwrap()).contains("email"));

    trust.edit(
        "agreements/homework-hub.yaml",
        "[givenName, familyName, yearGroup, email]",
        "[givenName, familyName, yearGroup]",
    );
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let students = trust.cached("brook-primary", Area::Students).unwrap();
    assert!(!field_names(&students).contains("email"));
    let fields = trust.school("brook-primary")["status"]["extractedFields"].clone();
    assert!(
        !fields
            .as_array()
            .unwrap()
            .contains(&Value::from("students.email")),
        "{fields}"
    );
}

#[test]
fn no_personal_data_is_stored_in_plaintext() {
    let trust = Trust::new();
    assert!(trust.run().status.success());

    // Names are searched for as the JSON strings the cache would hold, so a short name
    // cannot match by chance inside ciphertext; emails are searched for as they are.
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let mis = roll(school);
        for area in [Area::Students, Area::Staff, Area::Contacts] {
            for record in mis.records(area) {
                for field in ["givenName", "familyName"] {
                    if let Some(name) = record.text(field) {
                        needles.push(format!("\"{name}\"").into_bytes());
                    }
                }
                if let Some(email) = record.text("email") {
                    needles.push(email.as_bytes().to_vec());
                }
            }
        }
    }
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 1_000);

    let searcher = aho_corasick::AhoCorasick::new(&needles).unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(trust.state()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        assert!(
            searcher.find(&bytes).is_none(),
            "plaintext personal data in the state folder"
        );
    }
    assert!(files >= 2);
}

#[test]
fn schools_are_read_over_oneroster_rest() {
    let trust = Trust::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let address = serve(
            &runtime,
            &examples().join("mis").join(school),
            ServerOptions::default(),
        );
        point_at_rest(&trust, school, &address, "30s");
    }

    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let status = trust.school(school)["status"].clone();
        assert_eq!(status["people"], shared_people(school) as u64, "{school}");
    }
    assert_eq!(
        field_names(&trust.cached("ashby-primary", Area::Students).unwrap()),
        ["email", "familyName", "givenName", "sourcedId", "yearGroup"]
            .map(String::from)
            .into()
    );
}

/// The people some agreement shares at a school, counted from the example MIS and the
/// example consent rules: the cache keeps them and no one else.
fn shared_people(school: &str) -> usize {
    // Pupils no agreement shares (excluded for all, or named by an erasure request), and
    // the pupils parent-messages (the only agreement sharing contacts) leaves out.
    let (gone, not_to_parents): (&[&str], &[&str]) = match school {
        "ashby-primary" => (&[], &["stu-139201-00009"]),
        "brook-primary" => (&["stu-139202-00042"], &["stu-139202-00042"]),
        _ => (
            &["stu-139203-00017", "stu-139203-00230"],
            &["stu-139203-00017", "stu-139203-00230"],
        ),
    };
    let mis = roll(school);
    let pupils = mis
        .records(Area::Students)
        .iter()
        .filter(|p| !gone.contains(&p.sourced_id.as_str()))
        .count();
    let staff = mis.records(Area::Staff).len();
    let contacts = mis
        .records(Area::Contacts)
        .iter()
        .filter(|c| {
            c.values
                .get("studentSourcedIds")
                .and_then(Value::as_array)
                .is_some_and(|links| {
                    links
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|l| !not_to_parents.contains(&l))
                })
        })
        .count();
    pupils + staff + contacts
}
