//! Schema findings: unknown fields, types, patterns, kinds, and how findings render.

use std::path::Path;

use serde_json::{Value, json};

use super::*;

#[test]
fn field_outside_the_catalogue() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/students",
        Some(json!(["givenName", "shoeSize"])),
    );
    trust.expect("agreement.yaml", "shoeSize", "error",
        "field \"students.shoeSize\" is not in the data catalogue: the students area has sourcedId, givenName, familyName, middleName, preferredName, dateOfBirth, sex, yearGroup, email, username, upn, phone, status");
}

#[test]
fn consent_rule_listing_an_email_is_refused_without_repeating_it() {
    let mut trust = Trust::new();
    trust.edit(
        "consent.yaml",
        "/spec/exclude",
        Some(json!(["stu-0001", "jo.bloggs@mail.example"])),
    );
    let message = "spec.exclude[1] must be a MIS sourcedId (letters, digits, '.', '_', ':' or '-', no spaces or '@'): YAML names people by sourcedId only, never by name or email";
    trust.expect("consent.yaml", "jo.bloggs", "error", message);
    assert!(trust.lines().iter().all(|l| !l.contains("bloggs")));
}

#[test]
fn unknown_field_points_at_its_key() {
    let mut trust = Trust::new();
    trust.edit("school.yaml", "/spec/urm", Some(json!("100001")));
    trust.expect("school.yaml", "urm", "error",
        "unknown field \"urm\" in spec: remove it or correct its spelling (expected one of: dataLocation, displayName, laEstab, mis, refresh, retention, suspend, urn)");
}

#[test]
fn unquoted_number_where_a_string_belongs() {
    let mut trust = Trust::new();
    trust.edit("school.yaml", "/spec/urn", Some(json!(100001)));
    trust.expect(
        "school.yaml",
        "100001",
        "error",
        "spec.urn must be a string, not a number: write it in quotes, e.g. \"100000\"",
    );
}

#[test]
fn norway_written_without_quotes() {
    let trust = Trust::new();
    let dir = trust.write();
    let path = dir.join("partner.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("country: GB", "country: NO");
    std::fs::write(&path, &text).unwrap();
    let findings = validate_paths(&[dir], &KeyringSource::default()).findings;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        findings[0].message,
        "spec.dataLocation.country must be a string, not a boolean: YAML reads unquoted yes/no/on/off/NO as booleans, so write it in quotes, e.g. \"NO\""
    );
}

#[test]
fn school_with_a_bad_urn() {
    let mut trust = Trust::new();
    trust.edit("school.yaml", "/spec/urn", Some(json!("10001")));
    trust.expect(
        "school.yaml",
        "'10001'",
        "error",
        "spec.urn must be the school's six-digit URN, e.g. \"100000\"",
    );
}

#[test]
fn missing_required_field() {
    let mut trust = Trust::new();
    trust.edit("agreement.yaml", "/spec/purpose", None);
    trust.expect(
        "agreement.yaml",
        "spec:",
        "error",
        "spec is missing the required field \"purpose\"",
    );
}

#[test]
fn documents_that_are_not_accord_resources() {
    let mut trust = Trust::new();
    trust.add(
        "secret.yaml",
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "x" } }),
    );
    trust.add("typo.yaml", json!({ "apiVersion": "accord.dev/v1alpha1", "kind": "Shool", "metadata": { "name": "x" } }));
    trust.expect(
        "secret.yaml",
        "apiVersion",
        "warning",
        "v1 Secret is not an Accord resource, so it is not checked",
    );
    trust.expect("typo.yaml", "Shool", "error",
        "unknown kind \"Shool\": Accord's kinds are School, Partner, DataSharingAgreement, ConsentRule and ErasureRequest");
}

#[test]
fn findings_render_for_tools_and_workflows() {
    let finding = Finding::error(
        Path::new("a, b.yaml"),
        crate::manifest::Pos { line: 3, column: 5 },
        "bad: 100%",
    );
    assert_eq!(
        render(std::slice::from_ref(&finding), OutputFormat::Github),
        "::error file=a%2C b.yaml,line=3,col=5::bad: 100%25\n"
    );
    let json: Value = serde_json::from_str(&render(&[finding], OutputFormat::Json)).unwrap();
    assert_eq!(json[0]["line"], 3);
    assert_eq!(json[0]["severity"], "error");
}
