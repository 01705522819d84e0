//! Each check is fed one bad document in an otherwise valid Trust, and must point at the
//! exact line and column with the exact message.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::resources::DataSharingAgreement;
use crate::signing::{ApproverKey, generate_key_pair};

/// A small valid Trust, written as one file per resource, that a test then breaks.
struct Trust {
    dir: tempfile::TempDir,
    docs: Vec<(String, Value)>,
    key: ApproverKey,
}

impl Trust {
    fn new() -> Trust {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keyring")).unwrap();
        let (private, public) = generate_key_pair().unwrap();
        std::fs::write(dir.path().join("dpo.key"), private).unwrap();
        std::fs::write(dir.path().join("keyring/dpo.pub"), public).unwrap();
        let key = ApproverKey::load(&dir.path().join("dpo.key")).unwrap();
        let mut trust = Trust {
            dir,
            docs: Vec::new(),
            key,
        };
        trust.add("school.yaml", school("ashby"));
        trust.add("partner.yaml", partner("hub"));
        trust.add("agreement.yaml", agreement("homework", "hub", &["ashby"]));
        trust.add("consent.yaml", consent_rule("ashby-out", "ashby"));
        trust.add("erasure.yaml", erasure("ashby-erase", "ashby"));
        trust
    }

    fn add(&mut self, file: &str, doc: Value) -> &mut Self {
        self.docs.push((file.to_owned(), doc));
        self
    }

    /// Changes the document in `file` at a JSON pointer (`None` removes the value).
    fn edit(&mut self, file: &str, pointer: &str, value: Option<Value>) -> &mut Self {
        let doc = &mut self.docs.iter_mut().find(|(f, _)| f == file).unwrap().1;
        let (parent, leaf) = pointer.rsplit_once('/').unwrap();
        let target = doc.pointer_mut(parent).unwrap();
        match (target, value) {
            (Value::Object(map), Some(v)) => {
                map.insert(leaf.to_owned(), v);
            }
            (Value::Object(map), None) => {
                map.remove(leaf);
            }
            (Value::Array(items), Some(v)) => items[leaf.parse::<usize>().unwrap()] = v,
            _ => panic!("cannot edit {pointer}"),
        }
        self
    }

    /// Writes the files, signing each agreement as it stands, and returns the folder.
    fn write(&self) -> PathBuf {
        for (file, doc) in &self.docs {
            let mut doc = doc.clone();
            let readable = serde_json::from_value::<DataSharingAgreement>(doc.clone());
            if let (Ok(agreement), None) = (readable, doc["spec"].get("approval")) {
                let approval = self
                    .key
                    .approve(doc["metadata"]["name"].as_str().unwrap(), &agreement.spec);
                doc["spec"]["approval"] = serde_json::to_value(approval).unwrap();
            }
            std::fs::write(
                self.dir.path().join(file),
                serde_yaml::to_string(&doc).unwrap(),
            )
            .unwrap();
        }
        self.dir.path().to_owned()
    }

    fn text(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }

    fn findings(&self) -> Vec<Finding> {
        let dir = self.write();
        validate_paths(&[dir], &KeyringSource::default()).findings
    }

    /// The findings as `file:line:column: severity: message` with the folder left out.
    fn lines(&self) -> Vec<String> {
        let prefix = format!("{}/", self.dir.path().display());
        self.findings()
            .iter()
            .map(|f| f.to_string().replace(&prefix, ""))
            .collect()
    }

    /// Where `needle` starts in `file`: `file:line:column`, the column of its first byte.
    fn at(&self, file: &str, needle: &str) -> String {
        self.write();
        let text = self.text(file);
        let (n, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle))
            .expect("needle in file");
        format!("{file}:{}:{}", n + 1, line.find(needle).unwrap() + 1)
    }

    fn expect(&self, file: &str, needle: &str, severity: &str, message: &str) {
        let expected = format!("{}: {severity}: {message}", self.at(file, needle));
        let lines = self.lines();
        assert!(
            lines.contains(&expected),
            "expected\n  {expected}\nin\n  {}",
            lines.join("\n  ")
        );
    }
}

fn meta(kind: &str, name: &str) -> Value {
    json!({ "apiVersion": "accord.dev/v1alpha1", "kind": kind, "metadata": { "name": name, "namespace": "trust" } })
}

fn with_spec(mut doc: Value, spec: Value) -> Value {
    doc["spec"] = spec;
    doc
}

fn school(name: &str) -> Value {
    with_spec(
        meta("School", name),
        json!({
            "urn": "100001", "laEstab": "2024001", "displayName": "Ashby Primary",
            "mis": { "oneRosterRest": {
                "baseUrl": "https://mis.example/ims/oneroster/v1p1", "version": "1.1",
                "tokenUrl": "https://mis.example/token",
                "clientIdRef": { "name": "mis", "key": "id" }, "clientSecretRef": { "name": "mis", "key": "secret" } } },
            "dataLocation": { "country": "GB", "region": "London" },
        }),
    )
}

fn partner(name: &str) -> Value {
    with_spec(
        meta("Partner", name),
        json!({
            "displayName": "Homework Hub", "endpoint": "https://hub.example/batches",
            "auth": { "signing": "hmacSha256", "secretRef": { "name": "hub", "key": "secret" } },
            "dataLocation": { "country": "GB" }, "privacyContact": "privacy@hub.example",
        }),
    )
}

fn agreement(name: &str, partner: &str, schools: &[&str]) -> Value {
    with_spec(
        meta("DataSharingAgreement", name),
        json!({
            "partner": partner, "schools": { "names": schools },
            "purpose": "Set and mark homework", "lawfulBasis": "publicTask",
            "data": { "students": ["givenName", "yearGroup"] },
            "consent": "optOut", "delivery": { "mode": "push" },
            "validFrom": "2026-09-01", "validUntil": "2027-08-31",
        }),
    )
}

fn consent_rule(name: &str, school: &str) -> Value {
    with_spec(
        meta("ConsentRule", name),
        json!({
            "school": school, "scope": { "agreements": ["homework"] }, "exclude": ["stu-0001"],
        }),
    )
}

fn erasure(name: &str, school: &str) -> Value {
    with_spec(
        meta("ErasureRequest", name),
        json!({
            "school": school, "sourcedId": "stu-0002", "reason": "leftSchool",
        }),
    )
}

#[test]
fn a_valid_trust_has_no_findings() {
    assert_eq!(Trust::new().lines(), Vec::<String>::new());
}

#[test]
fn agreement_naming_an_undeclared_partner() {
    let mut trust = Trust::new();
    trust.edit("agreement.yaml", "/spec/partner", Some(json!("nowhere")));
    trust.expect("agreement.yaml", "nowhere", "error",
        "agreement trust/homework: partner \"nowhere\" is not declared in namespace trust: add that Partner or correct the name");
}

#[test]
fn agreement_naming_an_undeclared_school() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/schools/names",
        Some(json!(["ashby", "zed"])),
    );
    trust.expect("agreement.yaml", "zed", "error",
        "agreement trust/homework: school \"zed\" is not declared in namespace trust: add that School or correct the name");
}

#[test]
fn selector_matching_no_school_warns() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/schools",
        Some(json!({ "selector": { "matchLabels": { "phase": "nursery" } } })),
    );
    trust.expect("agreement.yaml", "selector", "warning",
        "agreement trust/homework: the school selector matches no declared school, so nothing will flow");
}

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
fn special_category_field_without_art9_condition() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/demographics",
        Some(json!(["senStatus"])),
    );
    trust.expect("agreement.yaml", "senStatus", "error",
        "agreement trust/homework: demographics.senStatus is special category data (GDPR Art. 9): set specialCategoryCondition to the Art. 9(2) condition that allows sharing it");
}

#[test]
fn special_category_field_with_condition_is_accepted() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/data/demographics",
        Some(json!(["senStatus"])),
    );
    trust.edit(
        "agreement.yaml",
        "/spec/specialCategoryCondition",
        Some(json!("substantialPublicInterest")),
    );
    assert_eq!(trust.lines(), Vec::<String>::new());
}

#[test]
fn valid_until_before_valid_from() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/validUntil",
        Some(json!("2026-08-31")),
    );
    trust.expect("agreement.yaml", "2026-08-31", "error",
        "agreement trust/homework: validUntil 2026-08-31 is not after validFrom 2026-09-01: correct one of the dates");
}

#[test]
fn a_date_that_is_not_on_the_calendar() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/validFrom",
        Some(json!("2026-02-30")),
    );
    trust.expect(
        "agreement.yaml",
        "2026-02-30",
        "error",
        "agreement trust/homework: 2026-02-30 is not a day of the calendar",
    );
}

#[test]
fn the_same_name_twice() {
    let mut trust = Trust::new();
    trust.add("school2.yaml", school("ashby"));
    let first = trust.at("school.yaml", "name: ashby");
    let line = first.split(':').nth(1).unwrap().to_owned();
    trust.expect("school2.yaml", "ashby", "error",
        &format!("School trust/ashby is declared twice (first at school.yaml:{line}): rename or remove one"));
}

#[test]
fn consent_rule_naming_undeclared_agreement_school_and_partner() {
    let mut trust = Trust::new();
    trust.edit(
        "consent.yaml",
        "/spec/scope",
        Some(json!({ "agreements": ["maths"] })),
    );
    trust.expect("consent.yaml", "maths", "error",
        "consent rule trust/ashby-out: agreement \"maths\" is not declared in namespace trust: add it or correct the name");

    trust.edit(
        "consent.yaml",
        "/spec/scope",
        Some(json!({ "partner": "nobody" })),
    );
    trust.expect("consent.yaml", "nobody", "error",
        "consent rule trust/ashby-out: partner \"nobody\" is not declared in namespace trust: add it or correct the name");

    trust.edit("consent.yaml", "/spec/school", Some(json!("zed")));
    trust.expect("consent.yaml", "zed", "error",
        "consent rule trust/ashby-out: school \"zed\" is not declared in namespace trust: add that School or correct the name");
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
fn consent_rule_listing_a_name_is_refused_without_repeating_it() {
    let mut trust = Trust::new();
    trust.edit("consent.yaml", "/spec/exclude", Some(json!(["Josephine"])));
    trust.expect("consent.yaml", "Josephine", "error",
        "consent rule trust/ashby-out: exclude[0] looks like a person's name, not a MIS sourcedId: YAML in git names people by sourcedId only; look the sourcedId up in the MIS");
    assert!(trust.lines().iter().all(|l| !l.contains("Josephine")));
}

#[test]
fn erasure_naming_undeclared_school_and_agreement() {
    let mut trust = Trust::new();
    trust.edit("erasure.yaml", "/spec/school", Some(json!("zed")));
    trust.edit("erasure.yaml", "/spec/agreements", Some(json!(["gone"])));
    trust.expect(
        "erasure.yaml",
        "zed",
        "error",
        "erasure request trust/ashby-erase: school \"zed\" is not declared in namespace trust",
    );
    trust.expect(
        "erasure.yaml",
        "gone",
        "error",
        "erasure request trust/ashby-erase: agreement \"gone\" is not declared in namespace trust",
    );
}

#[test]
fn erasure_naming_a_person_by_name() {
    let mut trust = Trust::new();
    trust.edit("erasure.yaml", "/spec/sourcedId", Some(json!("Samuel")));
    trust.expect("erasure.yaml", "Samuel", "error",
        "erasure request trust/ashby-erase: sourcedId looks like a person's name, not a MIS sourcedId: YAML in git names people by sourcedId only; look the sourcedId up in the MIS");
}

#[test]
fn unsigned_agreement() {
    let mut trust = Trust::new();
    trust.edit("agreement.yaml", "/spec/approval", Some(Value::Null));
    trust.write();
    // A null approval reads as none.
    trust.expect("agreement.yaml", "spec:", "error",
        "agreement trust/homework is not signed, so it cannot take effect: an approver runs `accord sign agreement.yaml --key KEY`");
}

#[test]
fn a_changed_spec_fails_until_it_is_signed_again() {
    let mut trust = Trust::new();
    let dir = trust.write();
    let path = dir.join("agreement.yaml");
    let signed = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, signed.replace("yearGroup", "email")).unwrap();

    let report = validate_paths(std::slice::from_ref(&dir), &KeyringSource::default());
    let tampered = report
        .findings
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>();
    assert_eq!(tampered.len(), 1, "{tampered:?}");
    assert!(tampered[0].ends_with("error: agreement trust/homework: the signature by \"dpo\" does not match the spec, which has changed since it was signed: an approver must review and re-sign it"));
    let line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .position(|l| l.contains("signature:"))
        .unwrap()
        + 1;
    assert_eq!(report.findings[0].line, line);

    let text = std::fs::read_to_string(&path).unwrap();
    let (resigned, _) = crate::signing::sign_agreements_in_text(&path, &text, &trust.key).unwrap();
    std::fs::write(&path, resigned).unwrap();
    assert!(
        validate_paths(&[dir], &KeyringSource::default())
            .findings
            .is_empty()
    );
    trust.docs.clear();
}

#[test]
fn signature_from_a_key_outside_the_keyring() {
    let trust = Trust::new();
    let dir = trust.write();
    std::fs::rename(dir.join("keyring/dpo.pub"), dir.join("dpo.pub")).unwrap();
    let (_, other) = generate_key_pair().unwrap();
    std::fs::write(dir.join("keyring/someone-else.pub"), other).unwrap();
    let lines: Vec<String> = validate_paths(&[dir], &KeyringSource::default())
        .findings
        .iter()
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(
        lines,
        [
            "agreement trust/homework: signing key \"dpo\" is not in the keyring: add dpo.pub to the keyring or re-sign with a trusted key"
        ]
    );
}

#[test]
fn no_keyring_at_all() {
    let trust = Trust::new();
    let dir = trust.write();
    std::fs::remove_dir_all(dir.join("keyring")).unwrap();
    let messages: Vec<String> = validate_paths(&[dir], &KeyringSource::default())
        .findings
        .iter()
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(
        messages,
        [
            "agreement trust/homework: no keyring to check its signature against: add keyring/ beside the files or pass --keyring DIR"
        ]
    );
}

#[test]
fn push_to_a_partner_without_endpoint() {
    let mut trust = Trust::new();
    trust.edit("partner.yaml", "/spec/endpoint", None);
    trust.expect("agreement.yaml", "push", "error",
        "agreement trust/homework: delivery is push but partner hub has no endpoint: give the partner an https endpoint or use pull");
}

#[test]
fn consent_as_lawful_basis_needs_opt_in() {
    let mut trust = Trust::new();
    trust.edit(
        "agreement.yaml",
        "/spec/lawfulBasis",
        Some(json!("consent")),
    );
    trust.expect("agreement.yaml", "optOut", "error",
        "agreement trust/homework: lawfulBasis consent needs consent: optIn, since consent cannot be presumed");
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
fn school_with_two_connectors() {
    let mut trust = Trust::new();
    trust.edit(
        "school.yaml",
        "/spec/mis/ctf",
        Some(json!({ "path": "ctf.xml" })),
    );
    trust.expect("school.yaml", "mis:", "error",
        "school trust/ashby: spec.mis sets 2 connectors: set exactly one of oneRosterCsv, oneRosterRest, ctf");
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
