//! Migrations as a Trust upgrading Accord meets them: both backends at the same version,
//! and what an earlier schema held still there, and still used, after each reshaping.

use tempfile::TempDir;

use super::count;
use crate::state::*;

#[test]
fn both_backends_have_the_same_migration_versions() {
    let versions = |migrator: &Migrator| {
        migrator
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&SQLITE_MIGRATOR), versions(&POSTGRES_MIGRATOR));
}

#[tokio::test]
async fn what_partners_held_before_places_were_numbered_is_held_after() {
    // A state written before migration 5, holding records under the names of agreement,
    // school and area, opened by this version: every held record must still be known,
    // or the next pass would send them all again and could not delete them.
    let (_dir, state) = migrated_from_before(
        "0005",
        &[
            "INSERT INTO held_areas VALUES ('t/hw', 't/ashby', 'students', 't/hub', '[\"givenName\"]')",
            "INSERT INTO holdings VALUES ('t/hw', 't/ashby', 'students', 'stu-1', 'stu-1', x'00112233445566778899aabbccddeeff')",
            "INSERT INTO holdings VALUES ('t/hw', 't/ashby', 'students', 'stu-2', 'stu-2', x'ffeeddccbbaa99887766554433221100')",
            "INSERT INTO holdings VALUES ('t/hw', 't/carlton', 'classes', 'cls-1', NULL, x'0102030405060708090a0b0c0d0e0f10')",
        ],
    )
    .await;
    let held = state.held("t/hw", "t/ashby").await.expect("held");
    let students = &held.areas[&crate::catalogue::Area::Students];
    assert_eq!(students.fields, ["givenName"]);
    let ids: Vec<(&str, Option<&str>)> = students
        .records
        .iter()
        .map(|(id, r)| (id.as_str(), r.subject.as_deref()))
        .collect();
    assert_eq!(ids, [("stu-1", Some("stu-1")), ("stu-2", Some("stu-2"))]);
    assert_eq!(students.records["stu-2"].digest[0], 0xff);
    let carlton = state.held("t/hw", "t/carlton").await.expect("held");
    assert_eq!(
        carlton.areas[&crate::catalogue::Area::Classes].records["cls-1"].subject,
        None
    );
}

/// A SQLite state migrated to just before `version` in a fresh folder, with `rows`
/// written by that schema, opened by this version.
async fn migrated_from_before(version: &str, rows: &[&'static str]) -> (TempDir, State) {
    let earlier = tempfile::tempdir().expect("temporary folder");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name < version {
            std::fs::copy(&path, earlier.path().join(name)).expect("copy");
        }
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join(DATABASE_FILE))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("database");
    Migrator::new(earlier.path())
        .await
        .expect("earlier migrations")
        .run(&pool)
        .await
        .expect("migrated");
    for sql in rows {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&pool)
            .await
            .expect("row");
    }
    pool.close().await;
    let state = State::open(dir.path()).await.expect("opened and migrated");
    (dir, state)
}

#[tokio::test]
async fn messages_waiting_before_bodies_moved_are_sent_with_the_same_body() {
    // Migration 6 moves sealed bodies out of the outbox rows. A message committed before
    // it and not yet acknowledged must still be sent, byte for byte, with its key.
    let (_dir, state) = migrated_from_before(
        "0006",
        &[
            "INSERT INTO outbox (batch, partner, agreement, school, kind, mode, sealed, records, created_at) \
             VALUES ('b-1', 't/hub', 't/hw', 't/ashby', 'records', 'push', x'00ff10', 1, 5)",
            "INSERT INTO outbox (batch, partner, agreement, school, kind, mode, sealed, records, created_at, acked_at) \
             VALUES ('b-0', 't/hub', 't/hw', 't/ashby', 'records', 'push', x'aa', 1, 4, 6)",
        ],
    )
    .await;
    let pending = state.pending(None).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].batch.as_str(), pending[0].sealed.as_slice()),
        ("b-1", &[0x00, 0xff, 0x10][..])
    );
    assert_eq!(state.sealed("b-0").await.expect("body kept"), [0xaa]);
    let heads = state.pending_heads().await.expect("heads");
    assert_eq!(heads.len(), 1);
    assert!(heads[0].sealed.is_empty(), "heads come without bodies");

    // Dropping a school's undelivered messages takes their bodies with them.
    state
        .drop_pending_of_school("t/ashby")
        .await
        .expect("dropped");
    assert_eq!(count(&state, "SELECT COUNT(*) FROM outbox_bodies").await, 1);
}
