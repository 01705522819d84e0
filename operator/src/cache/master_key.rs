//! The master key: the one secret that wraps every school's data key.
//!
//! It is looked for in a fixed order: an explicit key file (`--master-key FILE`, or a
//! Kubernetes Secret mounted as a file), the `ACCORD_MASTER_KEY` environment variable (a
//! Secret passed with `secretKeyRef`), and `<state dir>/master.key`, which is generated on
//! first run. Every form is 32 random bytes in standard base64. A key file that other
//! users could read or write is refused rather than trusted.
//!
//! Limitation: there is no master key rotation yet; changing the key means moving the
//! state folder aside, which empties the cache until the MIS is read again.

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::MasterKeyError;
use super::seal::SecretKey;

/// The environment variable that may hold the master key in base64.
pub const MASTER_KEY_ENV: &str = "ACCORD_MASTER_KEY";

/// The file inside the state folder where a generated master key is kept.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Permission bits a key file must not have: any access by group or others.
const SHARED_BITS: u32 = 0o077;

/// Where a master key may come from, before the default file in the state folder.
#[derive(Default)]
pub struct KeySources {
    /// An explicit key file; when given it is the only place looked at.
    pub file: Option<PathBuf>,
    /// The key in base64, as the environment variable holds it.
    pub env: Option<Zeroizing<String>>,
}

/// Where the master key in use came from, for messages and `accord status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Read from a key file.
    File(PathBuf),
    /// Read from the `ACCORD_MASTER_KEY` environment variable.
    Environment,
    /// Generated on this run and written to the file.
    Generated(PathBuf),
    /// Handed over in memory by the caller.
    Memory,
}

/// The 256-bit master key, wiped from memory when dropped and never printed.
pub struct MasterKey {
    key: SecretKey,
    origin: KeyOrigin,
}

impl KeySources {
    /// The explicit key file, if any, and the `ACCORD_MASTER_KEY` variable of this process;
    /// an empty variable counts as unset.
    pub fn from_env(file: Option<PathBuf>) -> KeySources {
        let env = std::env::var_os(MASTER_KEY_ENV)
            .filter(|value| !value.is_empty())
            .map(|value| Zeroizing::new(value.to_string_lossy().into_owned()));
        KeySources { file, env }
    }
}

impl MasterKey {
    /// Finds the master key in `sources`, else in `<state_dir>/master.key`, generating
    /// that file (mode 0600, in a folder of mode 0700) when it does not exist.
    pub fn load(sources: &KeySources, state_dir: &Path) -> Result<MasterKey, MasterKeyError> {
        if let Some(path) = &sources.file {
            return read_key_file(path);
        }

        if let Some(encoded) = &sources.env {
            let key = decode(encoded, MASTER_KEY_ENV)?;
            return Ok(MasterKey {
                key,
                origin: KeyOrigin::Environment,
            });
        }

        let path = state_dir.join(MASTER_KEY_FILE);
        match generate_key_file(state_dir, &path) {
            Err(MasterKeyError::WriteFile { source, .. })
                if source.kind() == ErrorKind::AlreadyExists =>
            {
                read_key_file(&path)
            }
            generated => generated,
        }
    }

    /// A master key from its bytes, for a key fetched by other means (such as the
    /// Kubernetes API) and for tests.
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey {
            key: SecretKey::from_bytes(bytes),
            origin: KeyOrigin::Memory,
        }
    }

    /// Where this key came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// The key itself, for wrapping and unwrapping school data keys.
    pub(crate) fn secret(&self) -> &SecretKey {
        &self.key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::File(path) => write!(f, "key file {}", path.display()),
            KeyOrigin::Environment => write!(f, "environment variable {MASTER_KEY_ENV}"),
            KeyOrigin::Generated(path) => write!(f, "generated key file {}", path.display()),
            KeyOrigin::Memory => f.write_str("memory"),
        }
    }
}

/// Reads a key file after checking that only its owner can reach it.
fn read_key_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let read_error = |source| MasterKeyError::ReadFile {
        path: path.to_path_buf(),
        source,
    };

    let mode = fs::metadata(path).map_err(read_error)?.permissions().mode();
    if mode & SHARED_BITS != 0 {
        return Err(MasterKeyError::Permissions {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }

    let encoded = Zeroizing::new(fs::read_to_string(path).map_err(read_error)?);
    let key = decode(&encoded, &path.display().to_string())?;
    Ok(MasterKey {
        key,
        origin: KeyOrigin::File(path.to_path_buf()),
    })
}

/// Creates a new random key file; fails with `AlreadyExists` when one is there, so that a
/// key is never overwritten.
fn generate_key_file(dir: &Path, path: &Path) -> Result<MasterKey, MasterKeyError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| MasterKeyError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;

    let key = SecretKey::random().map_err(MasterKeyError::Random)?;
    let mut encoded = Zeroizing::new(STANDARD.encode(key.as_bytes()));
    encoded.push('\n');

    let write_error = |source| MasterKeyError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(write_error)?;
    file.write_all(encoded.as_bytes()).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;

    Ok(MasterKey {
        key,
        origin: KeyOrigin::Generated(path.to_path_buf()),
    })
}

/// Decodes a base64 key, ignoring surrounding whitespace such as a trailing newline.
fn decode(encoded: &str, origin: &str) -> Result<SecretKey, MasterKeyError> {
    let invalid = |reason| MasterKeyError::Invalid {
        origin: origin.to_owned(),
        reason,
    };

    let bytes = Zeroizing::new(
        STANDARD
            .decode(encoded.trim())
            .map_err(|_| invalid("not base64"))?,
    );
    SecretKey::from_slice(&bytes).ok_or_else(|| invalid("not 32 bytes long"))
}
