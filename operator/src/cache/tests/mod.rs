//! Behaviour of the encrypted cache and its master key as a Trust and its DPO rely on it,
//! and the small builders the tests share.

mod entries;
mod master_key;
mod shredding;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;
use zeroize::Zeroizing;

use super::seal::key_aad;
use super::*;
use crate::state::{Sealed, State};

const DAY: Duration = Duration::from_secs(86_400);
const PUPILS: &[u8] = b"[{\"sourcedId\":\"stu-1\",\"givenName\":\"MARKER-amelia-7f3a\"}]";

/// A cache in a fresh state folder under a fixed master key.
struct Fixture {
    _dir: TempDir,
    state_dir: PathBuf,
    cache: Cache,
}

async fn fixture() -> Fixture {
    fixture_with(&[7; 32]).await
}

async fn fixture_with(master: &[u8; 32]) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary folder");
    let state_dir = dir.path().join("state");
    let cache = open_cache(&state_dir, master).await.expect("open cache");
    Fixture {
        _dir: dir,
        state_dir,
        cache,
    }
}

async fn open_cache(state_dir: &Path, master: &[u8; 32]) -> Result<Cache, CacheError> {
    let state = State::open(state_dir).await.expect("open state");
    Cache::new(state, MasterKey::from_bytes(master)).await
}

fn in_days(days: u32) -> SystemTime {
    SystemTime::now() + DAY * days
}

/// The database file and its write-ahead log as they are on disk.
fn disk_bytes(state: &State) -> Vec<u8> {
    let db = state.database_path().expect("a SQLite file");
    let mut bytes = std::fs::read(&db).expect("read database file");
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn key_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("master.key");
    std::fs::write(&path, format!("{}\n", STANDARD.encode([5u8; 32]))).expect("write key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// Overwrites the stored bytes of an entry, as a person editing the database file would.
async fn store_raw(state: &State, school: &str, area: Area, sealed: &Sealed) {
    let entry = NewEntry {
        sealed,
        record_count: 1,
        created_at: 0,
        expires_at: i64::MAX,
    };
    state
        .upsert_entry(school, area, entry)
        .await
        .expect("store raw entry");
}
