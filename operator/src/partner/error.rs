//! What can go wrong running a receiver: its store, its signature key, its listener.
//!
//! No message here ever carries a record's values: a body that fails to parse is described
//! by what was expected and where, never by what was found.

use std::path::PathBuf;

/// A problem with a receiver's store folder.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or folder could not be read or written.
    #[error("{path}: {error} (check the store folder exists and this user may write to it)")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause, in the message rather than as a source so it is shown once.
        error: std::io::Error,
    },
    /// A journal file does not hold the message its name says.
    #[error(
        "{path}: not a message this receiver wrote ({reason}); move it out of the journal folder to start without it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, without the file's contents.
        reason: String,
    },
}

/// A problem reading the key that checks Accord's signatures.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("failed to read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause, in the message rather than as a source so it is shown once.
        error: std::io::Error,
    },
    /// The secret file is empty.
    #[error("{path} is empty: write the secret this partner shares with Accord into it")]
    EmptySecret {
        /// The file.
        path: PathBuf,
    },
    /// The public key file is not an Ed25519 public key.
    #[error(
        "{path}: not an Ed25519 public key in PEM form (give the .pub file that `accord keygen` wrote)"
    )]
    NotAPublicKey {
        /// The file.
        path: PathBuf,
    },
}

/// A problem running a receiver.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The store could not be opened or replayed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listener failed.
    #[error("the receiver's listener failed: {0}")]
    Listen(#[from] std::io::Error),
    /// A task of the receiver (replaying the journal, or serving) stopped abnormally.
    #[error("a receiver task stopped abnormally: {0}")]
    Task(String),
}

/// A JSON parse error described by what was wrong and where, with any value it quotes
/// left out: serde's "invalid type" and "invalid value" messages quote what they found,
/// which could be a record's contents.
pub(super) fn redacted(error: &serde_json::Error) -> String {
    let text = error.to_string();
    for kind in ["invalid type", "invalid value"] {
        if let Some(rest) = text.strip_prefix(kind)
            && let Some(at) = rest.rfind(", expected")
        {
            return format!("{kind}{}", &rest[at..]);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_never_quotes_what_it_found() {
        let error = serde_json::from_str::<Vec<u32>>(r#"["Jane, expected Doe"]"#).unwrap_err();
        let text = redacted(&error);
        assert!(!text.contains("Jane") && !text.contains("Doe"), "{text}");
        assert!(
            text.starts_with("invalid type, expected u32 at line 1"),
            "{text}"
        );
    }
}
