use std::path::Path;

use super::*;
use crate::manifest::parse_text;
use crate::resources::DataSharingAgreement;

const AGREEMENT: &str = "\
# Homework platform for Key Stage 2
apiVersion: accord.dev/v1alpha1
kind: DataSharingAgreement
metadata:
  name: homework
  namespace: northway-trust
spec:
  partner: homework-hub   # the vendor
  schools:
    names: [northway]
  purpose: Set and mark homework online
  lawfulBasis: publicTask
  data:
    students: [givenName, yearGroup]
  consent: optOut
  delivery:
    mode: push
  validFrom: \"2026-09-01\"
# trailing comment stays
";

fn key(dir: &Path) -> ApproverKey {
    let (private, public) = generate_key_pair().unwrap();
    std::fs::write(dir.join("dpo.key"), private).unwrap();
    std::fs::write(dir.join("dpo.pub"), public).unwrap();
    ApproverKey::load(&dir.join("dpo.key")).unwrap()
}

fn agreements(text: &str) -> Vec<DataSharingAgreement> {
    parse_text(Path::new("a.yaml"), text)
        .unwrap()
        .into_iter()
        .map(|d| serde_json::from_value(d.root.to_json()).unwrap())
        .collect()
}

fn check(keyring: &Keyring, text: &str) -> Verification {
    let agreement = &agreements(text)[0];
    verify(
        keyring,
        agreement.metadata.name.as_deref().unwrap(),
        &agreement.spec,
    )
}

#[test]
fn signing_adds_only_the_approval_block() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let (signed, names) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();

    assert_eq!(names, ["homework"]);
    let added: Vec<_> = signed.lines().filter(|l| !AGREEMENT.contains(*l)).collect();
    assert_eq!(added.len(), 3, "{signed}");
    assert!(added[0] == "  approval:" && added[1] == "    keyId: dpo");
    assert!(signed.contains("partner: homework-hub   # the vendor"));
    let order: Vec<_> = signed.lines().map(str::trim_start).collect();
    let valid_from = order
        .iter()
        .position(|l| l.starts_with("validFrom"))
        .unwrap();
    assert!(
        order[valid_from + 1] == "approval:" && order[valid_from + 4] == "# trailing comment stays"
    );

    let keyring = Keyring::load(dir.path()).unwrap();
    assert_eq!(
        check(&keyring, &signed),
        Verification::Valid {
            key_id: "dpo".into()
        }
    );
}

#[test]
fn signing_again_replaces_the_old_signature() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let (once, _) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();
    let edited = once.replace("[givenName, yearGroup]", "[givenName]");
    let (twice, _) = sign_agreements_in_text(Path::new("a.yaml"), &edited, &key).unwrap();

    assert_eq!(twice.matches("approval:").count(), 1);
    assert_eq!(twice.lines().count(), once.lines().count());
    let keyring = Keyring::load(dir.path()).unwrap();
    assert!(check(&keyring, &twice).is_valid());
}

#[test]
fn a_changed_byte_in_the_spec_breaks_the_signature_and_resigning_mends_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let keyring = Keyring::load(dir.path()).unwrap();
    let (signed, _) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();

    let tampered = signed
        .replace("yearGroup", "yearGroop")
        .replace("[givenName, yearGroop]", "[givenName, sex]");
    assert_eq!(
        check(&keyring, &tampered),
        Verification::Mismatch {
            key_id: "dpo".into()
        }
    );

    let (resigned, _) = sign_agreements_in_text(Path::new("a.yaml"), &tampered, &key).unwrap();
    assert!(check(&keyring, &resigned).is_valid());
}

#[test]
fn layout_and_suspend_do_not_change_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let keyring = Keyring::load(dir.path()).unwrap();
    let (signed, _) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();

    let relaid = signed
        .replace("names: [northway]", "names:\n    - \"northway\"")
        .replace(
            "  consent: optOut",
            "  suspend: true\n  consent: 'optOut'  # moved quoting",
        );
    assert!(check(&keyring, &relaid).is_valid());
}

#[test]
fn the_signature_binds_the_agreement_name() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let keyring = Keyring::load(dir.path()).unwrap();
    let (signed, _) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();
    let renamed = signed.replace("name: homework", "name: homework-copy");
    assert!(matches!(
        check(&keyring, &renamed),
        Verification::Mismatch { .. }
    ));
}

#[test]
fn unknown_keys_and_missing_signatures_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let (signed, _) = sign_agreements_in_text(Path::new("a.yaml"), AGREEMENT, &key).unwrap();
    let empty = Keyring::default();
    assert_eq!(
        check(&empty, &signed),
        Verification::UntrustedKey {
            key_id: "dpo".into()
        }
    );
    assert_eq!(check(&empty, AGREEMENT), Verification::Unsigned);
}

#[test]
fn crlf_files_keep_their_line_endings() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let crlf = AGREEMENT.replace('\n', "\r\n");
    let (signed, _) = sign_agreements_in_text(Path::new("a.yaml"), &crlf, &key).unwrap();
    assert_eq!(signed.matches('\n').count(), signed.matches("\r\n").count());
    assert!(signed.contains("approval:\r\n"));
}

#[test]
fn flow_style_specs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let text = "kind: DataSharingAgreement\nmetadata: {name: a}\nspec: {partner: p, schools: {names: [s]}, purpose: Some purpose here, lawfulBasis: publicTask, data: {students: [givenName]}, consent: optOut, delivery: {mode: pull}, validFrom: '2026-01-01'}\n";
    let error = sign_agreements_in_text(Path::new("a.yaml"), text, &key).unwrap_err();
    assert!(error.to_string().contains("block mapping"), "{error}");
}

#[test]
fn key_files_are_standard_pem() {
    let (private, public) = generate_key_pair().unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[test]
fn the_changed_part_of_a_spec_is_named() {
    let signed =
        serde_json::json!({ "spec": { "data": { "students": ["givenName"] }, "purpose": "p" } });
    let now = serde_json::json!({ "spec": { "data": { "students": ["givenName", "dateOfBirth"] }, "purpose": "p", "validUntil": "2030-01-01" } });
    assert_eq!(
        changed_paths(&signed, &now),
        ["spec.data.students", "spec.validUntil"]
    );
    assert!(changed_paths(&signed, &signed).is_empty());
}
