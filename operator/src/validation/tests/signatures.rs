//! Signature checks: unsigned, tampered, untrusted and malformed approvals.

use serde_json::{Value, json};

use super::*;

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
fn signature_that_is_not_ed25519() {
    let mut trust = Trust::new();
    // Base64 of the right length whose last symbol carries stray bits, so it decodes to nothing.
    let garbled = format!("{}B==", "A".repeat(85));
    trust.edit(
        "agreement.yaml",
        "/spec/approval",
        Some(json!({ "keyId": "dpo", "signature": garbled })),
    );
    trust.expect("agreement.yaml", "AAAA", "error",
        "agreement trust/homework: the signature is not a valid Ed25519 signature: re-sign with `accord sign agreement.yaml --key KEY`");
}
