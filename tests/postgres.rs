//! `accord run` with its state in a real PostgreSQL server (see `postgres_env`): the
//! example Trust is delivered to the partners' receivers, and the commands that read the
//! state (`audit verify`, `status`, `locate`, `plan`) read it from the same database.

mod common;
mod postgres_env;

use std::process::{Command, Output};

use common::Trust;

const NS: &str = "riverside-trust";

/// A password the server does not check (it trusts loopback), so any output that holds
/// it leaked it.
const PASSWORD: &str = "pw-never-printed-7f3a";

/// The database's URL with [`PASSWORD`] in it.
fn url_with_password(database: &postgres_env::TestDatabase) -> String {
    database
        .url
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
}

/// `accord ARGS` with `ACCORD_DATABASE_URL` set, as the chart's pods have it.
fn accord_on(url: &str, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .env("ACCORD_DATABASE_URL", url)
        .output()
        .unwrap();
    let printed = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
    assert!(
        !String::from_utf8_lossy(&printed).contains(PASSWORD),
        "accord {args:?} printed the database password"
    );
    output
}

/// `accord run --once` on the Trust, reaching its partners on loopback.
fn run_once(trust: &Trust, url: &str) -> Output {
    let secrets = trust.dir.path().join("secrets").display().to_string();
    let path = trust.path().display().to_string();
    let state = trust.state().display().to_string();
    let mut args = vec![
        "run",
        &path,
        "--once",
        "--state",
        &state,
        "--secrets",
        &secrets,
    ];
    let resolve = trust.partners.resolve_args();
    args.extend(resolve.iter().map(String::as_str));
    accord_on(url, &args)
}

#[test]
fn accord_run_on_postgres_delivers_and_audit_verify_names_an_edited_entry() {
    let trust = Trust::new();
    let database = postgres_env::database("run");
    let url = url_with_password(&database);

    let run = run_once(&trust, &url);
    assert!(
        run.status.success(),
        "accord run failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    // The partner holds the school's pupils, and the state went to PostgreSQL, not to a
    // SQLite file; only the generated master key is in the state folder.
    let held = trust.partners.holdings("homework-hub").people(
        &format!("{NS}/homework-hub"),
        &format!("{NS}/carlton-academy"),
    );
    assert!(held.len() > 100, "only {} pupils delivered", held.len());
    assert!(!trust.state().join("state.db").exists());
    assert!(trust.state().join("master.key").exists());
    let shares: i64 = database
        .psql("SELECT COUNT(*) FROM ledger WHERE body LIKE '%\"kind\":\"share\"%'")
        .trim()
        .parse()
        .unwrap();
    assert!(shares > 0, "no share in the PostgreSQL ledger");

    let state = trust.state().display().to_string();
    let verify = || accord_on(&url, &["audit", "verify", "--state", &state]);
    let intact = verify();
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(String::from_utf8_lossy(&intact.stdout).contains("hash chain verified"));

    // The trigger refuses a plain edit; an attacker with the server's superuser turns
    // triggers off for the session and edits where the partner keeps the data.
    let refused = Command::new(postgres_env::binaries().join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &postgres_env::server().port.to_string(),
        ])
        .args(["-U", "postgres", "-d", &database.name, "-X", "-c"])
        .arg("UPDATE ledger SET body = body WHERE seq = 1")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("append-only"));

    let edited = database.psql(
        "SET session_replication_role = replica; \
         UPDATE ledger SET body = replace(body, 'GB/London', 'GB/Leeds') \
         WHERE seq = (SELECT MIN(seq) FROM ledger WHERE body LIKE '%GB/London%') \
         RETURNING seq",
    );
    let seq = edited.trim();
    assert!(!seq.is_empty(), "no entry names GB/London");

    let broken = verify();
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(
        message.contains(&format!("ledger entry {seq} does not match its hash")),
        "{message}"
    );
}

#[test]
fn status_locate_and_plan_read_what_accord_run_wrote_to_postgres() {
    let trust = Trust::new();
    let database = postgres_env::database("status");
    let url = url_with_password(&database);
    assert!(run_once(&trust, &url).status.success());

    // Another state folder: everything these commands show comes from the database.
    let elsewhere = tempfile::tempdir().unwrap();
    let state = elsewhere.path().display().to_string();
    let status = accord_on(&url, &["status", "dsa", "--state", &state]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(table.contains("homework-hub"), "{table}");

    let pupil = common::pupils("carlton-academy")
        .into_iter()
        .find(|p| !["stu-139203-00017", "stu-139203-00230"].contains(&p.as_str()))
        .unwrap();
    let locate = accord_on(
        &url,
        &[
            "locate",
            &pupil,
            "--school",
            "carlton-academy",
            "--state",
            &state,
            "-o",
            "json",
        ],
    );
    assert!(
        locate.status.success(),
        "{}",
        String::from_utf8_lossy(&locate.stderr)
    );
    assert!(String::from_utf8_lossy(&locate.stdout).contains("homework-hub"));

    // A change planned against the applied declaration: the agreement stops sharing
    // email, which is read back from the database's cache and declaration.
    trust.edit(
        "agreements/homework-hub.yaml",
        "students: [givenName, familyName, yearGroup, email]",
        "students: [givenName, familyName, yearGroup]",
    );
    let key = trust.state().join("master.key").display().to_string();
    let path = trust.path().display().to_string();
    let plan = accord_on(
        &url,
        &["plan", &path, "--state", &state, "--master-key-file", &key],
    );
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("students.email"), "{text}");
}

#[test]
fn an_unreachable_database_is_named_by_host_and_database_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://accord:{PASSWORD}@127.0.0.1:{port}/trust");
    let state = dir.path().display().to_string();

    let output = accord_on(&url, &["audit", "verify", "--state", &state]);

    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&format!("127.0.0.1:{port}/trust")),
        "{message}"
    );
    assert!(
        message.contains("check that the server is running"),
        "{message}"
    );
}
