//! Where the master key comes from and which key files are refused.

use super::*;

#[test]
fn generated_master_key_file_is_private_and_reused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let state_dir = dir.path().join("state");

    let generated = MasterKey::load(&KeySources::default(), &state_dir).expect("generate");
    let path = state_dir.join(MASTER_KEY_FILE);
    assert_eq!(generated.origin(), &KeyOrigin::Generated(path.clone()));
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let reused = MasterKey::load(&KeySources::default(), &state_dir).expect("reuse");
    assert_eq!(reused.origin(), &KeyOrigin::File(path));
    assert_eq!(reused.secret().as_bytes(), generated.secret().as_bytes());
}

#[test]
fn group_readable_key_file_is_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = key_file(dir.path(), 0o640);
    let sources = KeySources {
        file: Some(path.clone()),
        env: None,
    };

    let error = MasterKey::load(&sources, dir.path()).expect_err("group readable");

    assert!(matches!(
        error,
        MasterKeyError::Permissions { mode: 0o640, .. }
    ));
    assert!(
        error
            .to_string()
            .contains(&format!("chmod 600 {}", path.display()))
    );
}

#[test]
fn private_key_file_is_used_before_the_environment() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = key_file(dir.path(), 0o600);
    let env = Some(Zeroizing::new(STANDARD.encode([9u8; 32])));

    let key = MasterKey::load(
        &KeySources {
            file: Some(path.clone()),
            env,
        },
        dir.path(),
    )
    .expect("load key file");

    assert_eq!(key.origin(), &KeyOrigin::File(path));
    assert_eq!(key.secret().as_bytes(), &[5u8; 32]);
}

#[test]
fn environment_key_is_used_before_the_state_folder_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let env = Some(Zeroizing::new(format!("{}\n", STANDARD.encode([9u8; 32]))));

    let key = MasterKey::load(&KeySources { file: None, env }, dir.path()).expect("env key");

    assert_eq!(key.origin(), &KeyOrigin::Environment);
    assert_eq!(key.secret().as_bytes(), &[9u8; 32]);
    assert!(
        !dir.path().join(MASTER_KEY_FILE).exists(),
        "no key file generated"
    );
}

#[test]
fn short_environment_key_is_refused_with_how_to_make_one() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let env = Some(Zeroizing::new(STANDARD.encode([9u8; 16])));

    let error = MasterKey::load(&KeySources { file: None, env }, dir.path()).expect_err("short");

    let message = error.to_string();
    assert!(
        message.contains("ACCORD_MASTER_KEY is invalid: not 32 bytes long"),
        "{message}"
    );
    assert!(
        message.contains("head -c 32 /dev/urandom | base64"),
        "{message}"
    );
}

#[test]
fn master_key_never_shows_in_debug_output() {
    let key = MasterKey::from_bytes(&[0xAB; 32]);

    let shown = format!("{key:?}");

    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("ab, "),
        "{shown}"
    );
}
