//! `accord run` over time: invalid changes, removed schools, damaged cache entries and
//! stopping.

use std::process::Command;
use std::time::{Duration, Instant};

use accord::catalogue::Area;
use serde_json::Value;

mod common;
use common::*;

fn git(trust: &Trust, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Trust IT",
            "-c",
            "user.email=it@trust.example",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(trust.path())
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn condition(object: &Value, kind: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn an_invalid_change_is_reported_and_never_widens_a_flow() {
    let trust = Trust::new();
    git(&trust, &["init", "-q", "-b", "main"]);
    git(&trust, &["add", "-A"]);
    git(&trust, &["commit", "-q", "-m", "Trust declaration"]);
    let applied = git(&trust, &["rev-parse", "HEAD"]);
    assert!(trust.run().status.success());

    // An approver signs a change that adds dates of birth; then a typo lands after signing.
    trust.edit(
        "agreements/homework-hub.yaml",
        "[givenName, familyName, yearGroup, email]",
        "[givenName, familyName, yearGroup, email, dateOfBirth]",
    );
    let file = trust.path().join("agreements/homework-hub.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("consent: optOut", "consent: optOot")).unwrap();
    git(&trust, &["commit", "-q", "-am", "Add dates of birth"]);
    let attempted = git(&trust, &["rev-parse", "HEAD"]);

    let output = trust.run();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("homework-hub.yaml") && stderr.contains("optOot"),
        "{stderr}"
    );

    let agreement = trust
        .statuses("dsa")
        .into_iter()
        .find(|a| a["metadata"]["name"] == "homework-hub")
        .unwrap();
    let stalled = condition(&agreement, "Stalled");
    assert_eq!(
        (stalled["status"].as_str(), stalled["reason"].as_str()),
        (Some("True"), Some("Invalid")),
        "{stalled}"
    );
    assert_eq!(
        condition(&agreement, "Ready")["status"],
        "True",
        "the last valid agreement keeps running"
    );

    let school = trust.school("brook-primary");
    assert_eq!(school["status"]["lastAppliedRevision"], applied.as_str());
    assert_eq!(
        school["status"]["lastAttemptedRevision"],
        attempted.as_str()
    );
    let students = trust.cached("brook-primary", Area::Students).unwrap();
    assert!(
        students.iter().all(|s| s.get("dateOfBirth").is_none()),
        "the invalid change widened the flow"
    );
}

#[test]
fn a_school_no_longer_declared_has_its_cache_destroyed() {
    let trust = Trust::new();
    assert!(trust.run().status.success());
    assert!(trust.cached("ashby-primary", Area::Students).is_some());

    std::fs::remove_file(trust.path().join("schools/ashby-primary.yaml")).unwrap();
    std::fs::remove_file(trust.path().join("consent/ashby-homework.yaml")).unwrap();
    trust.edit(
        "agreements/parent-messages.yaml",
        "[ashby-primary, brook-primary, carlton-academy]",
        "[brook-primary, carlton-academy]",
    );
    let output = trust.run();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for area in Area::ALL {
        assert_eq!(trust.cached("ashby-primary", area), None, "{area} survived");
    }
    assert!(trust.cached("brook-primary", Area::Students).is_some());
    assert!(String::from_utf8_lossy(&output.stderr).contains("School key destroyed"));
    let schools: Vec<Value> = trust.statuses("school");
    assert_eq!(schools.len(), 2, "status still lists the removed school");
}

#[test]
fn a_damaged_cache_entry_is_read_again_never_served() {
    let trust = Trust::new();
    assert!(trust.run().status.success());
    let before = trust.cached("ashby-primary", Area::Students).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", trust.state().join("state.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let changed = sqlx::query("UPDATE cache_entries SET ciphertext = zeroblob(length(ciphertext)) WHERE school = ? AND area = ?")
            .bind("riverside-trust/ashby-primary")
            .bind("students")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        pool.close().await;
    });

    let output = trust.run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Cache entry corrupt"), "{stderr}");
    assert!(
        stderr.contains("CacheMissing"),
        "the area was not read again: {stderr}"
    );
    assert_eq!(
        trust.cached("ashby-primary", Area::Students).unwrap(),
        before
    );
}

#[test]
fn sigterm_stops_the_controller_cleanly() {
    let trust = Trust::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "run",
            trust.path().to_str().unwrap(),
            "--state",
            trust.state().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Wait for the first pass to have written status.
    let start = Instant::now();
    while !trust.state().join("state.db").exists()
        || !Command::new(env!("CARGO_BIN_EXE_accord"))
            .args([
                "status",
                "school/carlton-academy",
                "--state",
                trust.state().to_str().unwrap(),
            ])
            .output()
            .unwrap()
            .status
            .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first pass never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "accord run did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn audit_verify_fails_after_one_ledger_row_is_edited() {
    use accord::ledger::{EntryBody, EntryKind, Ledger, LedgerStore};

    let trust = Trust::new();
    let state_dir = trust.state();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ledger = Ledger::new(accord::state::State::open(&state_dir).await.unwrap());
        let body = |subject: &str| EntryBody {
            kind: EntryKind::Share,
            at: "2026-12-03T10:00:00Z".into(),
            school: "riverside-trust/ashby-primary".into(),
            agreement: "riverside-trust/homework-hub".into(),
            partner: "riverside-trust/homework-hub".into(),
            partner_location: "GB/London".into(),
            area: "students".into(),
            fields: vec!["givenName".into()],
            subjects: vec![subject.into()],
            records: 1,
            batch: "b-1".into(),
            ..EntryBody::default()
        };
        ledger
            .append(&[
                body("stu-139201-00001"),
                body("stu-139201-00002"),
                body("stu-139201-00003"),
            ])
            .await
            .unwrap();
    });

    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(["audit", "verify", "--state", state_dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let intact = verify();
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(String::from_utf8_lossy(&intact.stdout).contains("3 entries"));

    runtime.block_on(async {
        let url = format!("sqlite://{}", state_dir.join("state.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("DROP TRIGGER ledger_no_update")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE ledger SET body = replace(body, 'givenName', 'dateOfBirth') WHERE seq = 2",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let edited = verify();
    assert_eq!(edited.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&edited.stderr).contains("ledger entry 2 does not match its hash")
    );
}
