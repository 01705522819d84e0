//! Behaviour of the state database as the controller relies on it.

use std::os::unix::fs::PermissionsExt;

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct AgreementStatus {
    ready: bool,
    people_shared: u32,
}

fn agreement(name: &str) -> ResourceRef {
    ResourceRef::new("DataSharingAgreement", "northway", name)
}

async fn fresh_state() -> (TempDir, State) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let state = State::open(&dir.path().join("state"))
        .await
        .expect("open state");
    (dir, state)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn opening_twice_keeps_schema_and_data() {
    let (dir, state) = fresh_state().await;
    state
        .set_revision(Revision::LastApplied, "4b825dc")
        .await
        .expect("set revision");
    state.close().await;

    let reopened = State::open(&dir.path().join("state"))
        .await
        .expect("reopen state");
    let applied = reopened
        .revision(Revision::LastApplied)
        .await
        .expect("read revision");
    assert_eq!(applied.as_deref(), Some("4b825dc"));

    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&reopened.pool)
        .await
        .expect("count migrations");
    assert_eq!(
        migrations,
        i64::try_from(MIGRATOR.iter().count()).expect("few migrations")
    );
}

#[tokio::test]
async fn state_folder_and_database_are_private_to_their_owner() {
    let (_dir, state) = fresh_state().await;

    assert_eq!(mode(state.dir()), 0o700);
    assert_eq!(mode(&state.database_path()), 0o600);
}

#[tokio::test]
async fn database_runs_in_wal_mode_with_foreign_keys_enforced() {
    let (_dir, state) = fresh_state().await;

    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&state.pool)
        .await
        .expect("pragma");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&state.pool)
        .await
        .expect("pragma");
    assert_eq!(journal, "wal");
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn status_is_replaced_and_listed_by_kind() {
    let (_dir, state) = fresh_state().await;
    let first = AgreementStatus {
        ready: false,
        people_shared: 0,
    };
    let second = AgreementStatus {
        ready: true,
        people_shared: 212,
    };

    state
        .upsert_status(&agreement("homework-hub"), &first)
        .await
        .expect("store");
    state
        .upsert_status(&agreement("homework-hub"), &second)
        .await
        .expect("replace");
    state
        .upsert_status(&agreement("cashless-catering"), &first)
        .await
        .expect("store");
    let school = ResourceRef::new("School", "northway", "oak-primary");
    state.upsert_status(&school, &first).await.expect("store");

    let read: Option<AgreementStatus> = state
        .status(&agreement("homework-hub"))
        .await
        .expect("read");
    assert_eq!(
        read,
        Some(AgreementStatus {
            ready: true,
            people_shared: 212
        })
    );

    let listed: Vec<(ResourceRef, AgreementStatus)> =
        state.statuses("DataSharingAgreement").await.expect("list");
    let names: Vec<&str> = listed
        .iter()
        .map(|(resource, _)| resource.name.as_str())
        .collect();
    assert_eq!(names, ["cashless-catering", "homework-hub"]);
}

#[tokio::test]
async fn missing_status_and_revision_read_as_none() {
    let (_dir, state) = fresh_state().await;

    let status: Option<AgreementStatus> = state
        .status(&agreement("never-applied"))
        .await
        .expect("read");
    assert_eq!(status, None);
    assert_eq!(
        state.revision(Revision::LastAttempted).await.expect("read"),
        None
    );
}

#[tokio::test]
async fn applied_and_attempted_revisions_are_kept_apart() {
    let (_dir, state) = fresh_state().await;

    state
        .set_revision(Revision::LastApplied, "aaa111")
        .await
        .expect("set");
    state
        .set_revision(Revision::LastAttempted, "bbb222")
        .await
        .expect("set");
    state
        .set_revision(Revision::LastAttempted, "ccc333")
        .await
        .expect("replace");

    assert_eq!(
        state
            .revision(Revision::LastApplied)
            .await
            .expect("read")
            .as_deref(),
        Some("aaa111")
    );
    assert_eq!(
        state
            .revision(Revision::LastAttempted)
            .await
            .expect("read")
            .as_deref(),
        Some("ccc333")
    );
}

#[tokio::test]
async fn status_of_another_shape_names_the_resource() {
    let (_dir, state) = fresh_state().await;
    state
        .upsert_status(&agreement("homework-hub"), &"not an object")
        .await
        .expect("store");

    let error = state
        .status::<AgreementStatus>(&agreement("homework-hub"))
        .await
        .expect_err("a string is not an agreement status");
    assert!(matches!(error, StateError::DecodeStatus { .. }));
    assert!(
        error
            .to_string()
            .contains("DataSharingAgreement northway/homework-hub")
    );
}

#[test]
fn unix_seconds_round_trip_on_both_sides_of_the_epoch() {
    for seconds in [-86_400, 0, 1_767_225_600] {
        assert_eq!(unix_seconds(from_unix_seconds(seconds)), seconds);
    }
}
