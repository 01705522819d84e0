//! A throwaway PostgreSQL server on loopback for the tests, started the way envtest starts
//! etcd: `initdb` into a temporary folder, `postgres` on a free port with its socket in
//! that folder, and a database of its own for each test, dropped when the test ends. One
//! server serves every test in a binary; it stops when the binary exits.
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`), installed by
//! `tests/setup/postgres.sh`, or those in `ACCORD_POSTGRES_BIN`. initdb refuses to run as
//! root, so under root the server runs as the `postgres` user the package creates.
//!
//! The unit tests of the state database include this file too, so it needs nothing but
//! the standard library and `tempfile`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shared server, started on first use.
pub fn server() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(PostgresServer::start)
}

/// A database of the test's own on the shared server, `accord_<prefix>_<n>`.
pub fn database(prefix: &str) -> TestDatabase {
    server().database(prefix)
}

/// A running PostgreSQL server that trusts every local connection.
pub struct PostgresServer {
    /// The folder with `initdb`, `postgres`, `createdb`, `psql`.
    pub bin: PathBuf,
    /// The cluster's data, its socket and its log.
    pub dir: tempfile::TempDir,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    process: Child,
}

impl PostgresServer {
    fn start() -> PostgresServer {
        let bin = binaries();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().join("socket");
        std::fs::create_dir(&socket).unwrap();
        let as_root = is_root();
        if as_root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "cannot give {:?} to postgres", dir.path());
        }

        let initdb = server_command(as_root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );

        // Durability is of no use to a throwaway server; speed is.
        let port = free_port();
        let log = dir.path().join("postgres.log");
        let mut postgres = server_command(as_root, &bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&socket)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"]);
        let process = guarded(postgres, &log, dir.path());

        let server = PostgresServer {
            bin,
            dir,
            port,
            process,
        };
        server.wait_ready(&log);
        server
    }

    // Waits until the server accepts connections on its TCP port.
    fn wait_ready(&self, log: &Path) {
        let started = Instant::now();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .unwrap();
            if ready.success() {
                eprintln!("postgres ready in {:?}", started.elapsed());
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("postgres not ready after 60s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL as the superuser in `database` with `psql`; returns its output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-X",
                "-q",
                "-A",
                "-t",
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A new, empty database, dropped when the returned value is.
    pub fn database(&'static self, prefix: &str) -> TestDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "accord_{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDatabase {
            url: self.url(&name),
            name,
            server: self,
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.process.id().to_string())
            .status();
        let _ = self.process.wait();
    }
}

/// One test's database.
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// A URL that connects to it as the superuser.
    pub url: String,
    server: &'static PostgresServer,
}

impl TestDatabase {
    /// Runs SQL in this database as the superuser; returns `psql`'s unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.server.psql(&self.name, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE ends the test's own connections, which may outlive it in a pool.
        let _ = Command::new(self.server.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.server.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-X", "-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The folder holding Debian's PostgreSQL binaries, the newest version when several are
/// installed.
pub fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("ACCORD_POSTGRES_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: run bash tests/setup/postgres.sh"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| output.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

// The server's programs run as `postgres` under root (setpriv execs, so the guard's
// signal reaches the server itself), as the current user otherwise.
fn server_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

// Starts the server under a small shell that stops it (fast shutdown, SIGINT) and removes
// its folder when this test process ends, so a binary that exits without dropping the
// shared server leaves nothing running and no cluster on disk.
fn guarded(command: Command, log: &Path, folder: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let parent = std::process::id().to_string();
    Command::new("bash")
        .arg("-c")
        .arg(
            r#"parent=$1; folder=$2; shift 2; "$@" & child=$!
trap 'kill -INT $child 2>/dev/null; wait $child; rm -rf "$folder"' EXIT TERM
while kill -0 "$parent" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done"#,
        )
        .arg("guard")
        .arg(parent)
        .arg(folder)
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
