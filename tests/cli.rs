//! The `accord` binary as a Trust's CI and IT team use it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .expect("accord runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_example_trust_validates() {
    let examples = repo().join("examples");
    let output = accord(&["validate", examples.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout(&output).contains("error:"), "{}", stdout(&output));
}

#[test]
fn exit_codes_say_clean_broken_or_misused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: accord.dev/v1alpha1\nkind: School\nmetadata: {name: x}\nspec: {}\n",
    )
    .unwrap();

    assert_eq!(
        accord(&["validate", bad.to_str().unwrap()]).status.code(),
        Some(1)
    );
    assert_eq!(accord(&["validate"]).status.code(), Some(2));
    assert_eq!(
        accord(&["validate", "--output", "xml", bad.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn broken_files_get_a_finding_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 7] = [
        ("tabs.yaml", b"spec:\n  a: 1\n\turn: x\n", "tabs.yaml:3:1: error: a tab character is used for indentation"),
        ("indent.yaml", b"spec:\n    a: 1\n  b: 2\n", "indent.yaml:3:"),
        ("dupe.yaml", b"kind: School\nkind: Partner\n", "dupe.yaml:2:1: error: duplicate key \"kind\" (first at line 1)"),
        ("types.yaml", b"apiVersion: accord.dev/v1alpha1\nkind: School\nmetadata:\n  name: [x]\nspec: 3\n", "types.yaml:4:3: error: metadata.name must be a string, not a list"),
        ("unknown.yaml", b"apiVersion: accord.dev/v1alpha1\nkind: School\nmetadata:\n  name: x\n  colour: red\nspec: {}\n", "unknown.yaml:5:3: error: unknown field \"colour\" in metadata"),
        ("garbage.yaml", &[0xde, 0xad, 0xbe, 0xef, 0x00, 0xff], "garbage.yaml:1:2: error: file is not UTF-8 text"),
        ("empty.yaml", b"", "empty.yaml:1:1: error: file has no YAML documents"),
    ];
    for (name, bytes, _) in &cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let huge = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    huge.set_len(50 * 1024 * 1024).unwrap();

    let output = accord(&["validate", dir.path().to_str().unwrap()]);
    let text = stdout(&output).replace(&format!("{}/", dir.path().display()), "");
    assert_eq!(output.status.code(), Some(1), "{text}");
    for (_, _, expected) in &cases {
        assert!(
            text.lines().any(|l| l.starts_with(expected)),
            "missing {expected:?} in\n{text}"
        );
    }
    assert!(
        text.contains("huge.yaml:1:1: error: file is 50.0 MiB"),
        "{text}"
    );
}

#[test]
fn keygen_sign_validate_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let trust = dir.path().join("trust");
    std::fs::create_dir_all(&trust).unwrap();
    for sub in ["schools", "partners", "agreements"] {
        let from = repo().join("examples").join(sub);
        std::fs::create_dir_all(trust.join(sub)).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), trust.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let keys = dir.path().join("keys");
    assert!(
        accord(&[
            "keygen",
            "--out",
            keys.to_str().unwrap(),
            "--id",
            "deputy-dpo"
        ])
        .status
        .success()
    );
    std::fs::create_dir_all(trust.join("keyring")).unwrap();
    std::fs::copy(
        keys.join("deputy-dpo.pub"),
        trust.join("keyring/deputy-dpo.pub"),
    )
    .unwrap();

    // Signed by a key this keyring does not trust.
    let output = accord(&["validate", trust.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("signing key \"riverside-dpo\" is not in the keyring"));

    for entry in std::fs::read_dir(trust.join("agreements")).unwrap() {
        let path = entry.unwrap().path();
        {
            let signed = accord(&[
                "sign",
                path.to_str().unwrap(),
                "--key",
                keys.join("deputy-dpo.key").to_str().unwrap(),
            ]);
            assert!(
                signed.status.success(),
                "{}",
                String::from_utf8_lossy(&signed.stderr)
            );
        }
    }
    let output = accord(&["validate", trust.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout(&output));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("deputy-dpo.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn github_output_is_workflow_commands() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: School\nkind: School\n").unwrap();
    let output = accord(&["validate", "-o", "github", bad.to_str().unwrap()]);
    assert!(
        stdout(&output).starts_with("::error file="),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains(",line=2,col=1::duplicate key"));
}
