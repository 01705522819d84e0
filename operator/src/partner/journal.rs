//! The receiver's store on disk: an append-only journal of the messages it applied.
//!
//! Each applied message's body is kept exactly as it arrived, in its own file
//! `journal/<sequence>-<batch>.json`, with a nine-digit sequence so that the files' lexical
//! order is their arrival order. A file is written under a temporary name and then renamed,
//! so a crash leaves either the whole file or a temporary one that replay passes over.
//! Keys of messages that arrived again are appended to `duplicates.log`, one a line.
//!
//! Files are not synced to disk before the receiver answers: a killed receiver loses
//! nothing, but a power cut can lose the last batches it acknowledged. That suits demos,
//! tests and benchmarks, which is what the receiver is for.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;
use super::error::redacted;
use super::holdings::Received;

/// The journal's folder inside a store.
pub const JOURNAL_DIR: &str = "journal";

/// The file inside a store listing the keys of messages received again.
pub const DUPLICATES_FILE: &str = "duplicates.log";

/// How an unfinished journal file's name ends.
const TEMP_SUFFIX: &str = ".tmp";

/// The longest idempotency key the receiver accepts.
pub const MAX_KEY_LEN: usize = 128;

/// One committed journal file.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// Its place in arrival order, from 1.
    pub sequence: u64,
    /// The message's idempotency key.
    pub batch: String,
    /// The file.
    pub path: PathBuf,
}

impl Entry {
    /// Reads and parses the message.
    pub fn read(&self) -> Result<Received, StoreError> {
        let body = std::fs::read(&self.path).map_err(|error| io(&self.path, error))?;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let message: Received =
            serde_json::from_slice(&body).map_err(|error| corrupt(redacted(&error)))?;
        if message.batch() != self.batch {
            return Err(corrupt(
                "its batch is not the one in its file name".to_owned(),
            ));
        }
        Ok(message)
    }
}

/// Whether `key` can be an idempotency key: 1 to [`MAX_KEY_LEN`] ASCII letters, digits,
/// `-` or `_`, so it is safe in a file name.
pub fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The committed journal files of `store` in arrival order; none when it has no journal.
/// Unfinished and unknown files are passed over with a warning.
pub(super) fn entries(store: &Path) -> Result<Vec<Entry>, StoreError> {
    let dir = store.join(JOURNAL_DIR);
    let listing = match std::fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(&dir, error)),
    };

    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(|error| io(&dir, error))?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(TEMP_SUFFIX) {
            tracing::warn!(file = %name, "Ignoring an unfinished journal file");
            continue;
        }
        match parse_name(&name) {
            Some((sequence, batch)) => entries.push(Entry {
                sequence,
                batch: batch.to_owned(),
                path: item.path(),
            }),
            None => tracing::warn!(file = %name, "Ignoring a file that is not a journal entry"),
        }
    }
    entries.sort_by_key(|entry| entry.sequence);
    Ok(entries)
}

/// The keys in the store's duplicates log, in order; none when there is no log.
pub(super) fn duplicates(store: &Path) -> Result<Vec<String>, StoreError> {
    let path = store.join(DUPLICATES_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(io(&path, error)),
    }
}

/// The journal a running receiver appends to.
#[derive(Debug)]
pub(super) struct Journal {
    store: PathBuf,
    next: u64,
}

impl Journal {
    /// Opens the journal of `store` to append after `entries`, creating its folder.
    pub fn open(store: &Path, entries: &[Entry]) -> Result<Journal, StoreError> {
        let dir = store.join(JOURNAL_DIR);
        std::fs::create_dir_all(&dir).map_err(|error| io(&dir, error))?;
        let next = entries.last().map_or(1, |entry| entry.sequence + 1);
        Ok(Journal {
            store: store.to_owned(),
            next,
        })
    }

    /// Keeps `body`, the message with key `batch`, as the next file of the journal.
    pub fn append(&mut self, batch: &str, body: &[u8]) -> Result<PathBuf, StoreError> {
        let name = format!("{:09}-{batch}.json", self.next);
        let dir = self.store.join(JOURNAL_DIR);
        let temporary = dir.join(format!(".{name}{TEMP_SUFFIX}"));
        let path = dir.join(name);

        std::fs::write(&temporary, body).map_err(|error| io(&temporary, error))?;
        std::fs::rename(&temporary, &path).map_err(|error| io(&path, error))?;
        self.next += 1;
        Ok(path)
    }

    /// Notes in the duplicates log that the message with key `batch` arrived again.
    pub fn note_duplicate(&self, batch: &str) -> Result<(), StoreError> {
        let path = self.store.join(DUPLICATES_FILE);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| io(&path, error))?;
        writeln!(log, "{batch}").map_err(|error| io(&path, error))
    }
}

/// The sequence and key of a journal file name `<sequence>-<batch>.json`.
fn parse_name(name: &str) -> Option<(u64, &str)> {
    let stem = name.strip_suffix(".json")?;
    let (sequence, batch) = stem.split_once('-')?;
    let valid_sequence = !sequence.is_empty() && sequence.bytes().all(|b| b.is_ascii_digit());
    if !valid_sequence || !is_valid_key(batch) {
        return None;
    }
    Some((sequence.parse().ok()?, batch))
}

fn io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        error,
    }
}
