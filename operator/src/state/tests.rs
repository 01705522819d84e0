//! Behaviour of the state database as the controller relies on it, on SQLite and on a
//! real PostgreSQL server: each test runs once per backend.

use std::os::unix::fs::PermissionsExt;

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::postgres_env::{self, TestDatabase};
use super::*;

mod migrations;
mod outbox;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// What a fresh state needs kept alive: its folder, and its database on PostgreSQL.
pub(crate) struct Scratch {
    pub(crate) dir: TempDir,
    pub(crate) database: Option<TestDatabase>,
}

impl Scratch {
    /// A new, empty place for a state on `backend`.
    pub(crate) fn new(backend: Backend) -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary folder"),
            database: (backend == Backend::Postgres).then(|| postgres_env::database("state")),
        }
    }

    /// Opens (or reopens) the state this scratch space holds.
    pub(crate) async fn open(&self) -> State {
        let url = self.database.as_ref().map(|database| database.url.as_str());
        State::open_or_connect(&self.dir.path().join("state"), url)
            .await
            .expect("open state")
    }
}

/// A new, empty state on `backend`.
pub(crate) async fn fresh_state(backend: Backend) -> (Scratch, State) {
    let scratch = Scratch::new(backend);
    let state = scratch.open().await;
    (scratch, state)
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::state::tests::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::state::tests::Backend::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct AgreementStatus {
    ready: bool,
    people_shared: u32,
}

fn agreement(name: &str) -> ResourceRef {
    ResourceRef::new("DataSharingAgreement", "northway", name)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// One number from the database, through whichever driver the state uses.
pub(crate) async fn count(state: &State, sql: &'static str) -> i64 {
    backend::on_pool!(state, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)
        .expect("count")
}

on_both_backends!(
    opening_twice_keeps_schema_and_data,
    status_is_replaced_and_listed_by_kind,
    missing_status_and_revision_read_as_none,
    applied_and_attempted_revisions_are_kept_apart,
    status_of_another_shape_names_the_resource,
);

async fn opening_twice_keeps_schema_and_data(backend: Backend) {
    let (scratch, state) = fresh_state(backend).await;
    state
        .set_revision(Revision::LastApplied, "4b825dc")
        .await
        .expect("set revision");
    state.close().await;

    let reopened = scratch.open().await;
    let applied = reopened
        .revision(Revision::LastApplied)
        .await
        .expect("read revision");
    assert_eq!(applied.as_deref(), Some("4b825dc"));

    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATOR,
        Backend::Postgres => &POSTGRES_MIGRATOR,
    };
    let migrations = count(&reopened, "SELECT COUNT(*) FROM _sqlx_migrations").await;
    assert_eq!(
        migrations,
        i64::try_from(migrator.iter().count()).expect("few migrations")
    );
}

#[tokio::test]
async fn state_folder_and_database_are_private_to_their_owner() {
    let (_scratch, state) = fresh_state(Backend::Sqlite).await;

    assert_eq!(mode(state.dir()), 0o700);
    assert_eq!(mode(&state.database_path().expect("a SQLite file")), 0o600);
}

#[tokio::test]
async fn database_runs_in_wal_mode_with_foreign_keys_enforced() {
    let (_scratch, state) = fresh_state(Backend::Sqlite).await;
    let Pool::Sqlite(pool) = state.backend() else {
        panic!("a SQLite state")
    };

    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .expect("pragma");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(journal, "wal");
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn every_postgres_integer_column_holds_an_i64() {
    let (_scratch, state) = fresh_state(Backend::Postgres).await;

    let narrow = count(
        &state,
        "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_schema = 'public' AND data_type IN ('integer', 'smallint')",
    )
    .await;
    let bigint = count(
        &state,
        "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
         AND data_type = 'bigint'",
    )
    .await;
    assert_eq!(narrow, 0);
    assert!(bigint > 20, "only {bigint} BIGINT columns");
}

async fn status_is_replaced_and_listed_by_kind(backend: Backend) {
    let (_scratch, state) = fresh_state(backend).await;
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

async fn missing_status_and_revision_read_as_none(backend: Backend) {
    let (_scratch, state) = fresh_state(backend).await;

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

async fn applied_and_attempted_revisions_are_kept_apart(backend: Backend) {
    let (_scratch, state) = fresh_state(backend).await;

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

async fn status_of_another_shape_names_the_resource(backend: Backend) {
    let (_scratch, state) = fresh_state(backend).await;
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
fn a_database_url_is_shown_without_its_password() {
    let url = PostgresUrl::parse("postgres://accord:s3cret-pw@db.trust.example:6432/accord")
        .expect("a PostgreSQL URL");

    assert_eq!(
        url.to_string(),
        "postgres://db.trust.example:6432/accord as accord"
    );
    assert!(!format!("{url:?}").contains("s3cret-pw"));
}

#[test]
fn a_url_that_is_not_postgres_is_refused_with_what_to_write() {
    let error = PostgresUrl::parse("mysql://accord:s3cret-pw@db/accord").expect_err("not ours");
    let message = error.to_string();

    assert!(message.contains("is not postgres"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[test]
fn a_url_the_driver_refuses_is_reported_without_its_password() {
    let error = PostgresUrl::parse("postgres://accord:s3cret-pw@db/accord?sslmode=sometimes")
        .expect_err("no such sslmode");
    let message = error.to_string();

    assert!(message.contains("the driver refused it"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_is_named_by_host_and_database_never_by_password() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("postgres://accord:s3cret-pw@127.0.0.1:{port}/trust");

    let error = State::open_or_connect(dir.path(), Some(&url))
        .await
        .expect_err("nothing listens there");
    let message = error.to_string();

    assert!(matches!(error, StateError::Connect { .. }), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{port}/trust as accord")),
        "{message}"
    );
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[test]
fn unix_seconds_round_trip_on_both_sides_of_the_epoch() {
    for seconds in [-86_400, 0, 1_767_225_600] {
        assert_eq!(unix_seconds(from_unix_seconds(seconds)), seconds);
    }
}
