//! Approver keys: generation, the private key file, and the keyring of public keys.
//!
//! Keys are standard PEM files (PKCS#8 for the private key, SubjectPublicKeyInfo for the
//! public one), so `openssl pkey` can inspect them. A key's id is its file name without
//! `.key` or `.pub`; the keyring is a folder of `<id>.pub` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use super::canonical::canonical_bytes;
use crate::resources::{Approval, DataSharingAgreementSpec};

/// A problem with a key file or the keyring.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a PEM Ed25519 key of the expected kind.
    #[error("{path}: not an Ed25519 {kind} key in PEM form (make one with `accord keygen`)")]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// `private` or `public`.
        kind: &'static str,
    },
    /// A key file's name cannot be a key id.
    #[error(
        "{path}: the file name must be <id>.{ext} with an id of lowercase letters, digits, '-', '.' or '_'"
    )]
    BadName {
        /// The file.
        path: PathBuf,
        /// The expected extension.
        ext: &'static str,
    },
    /// The operating system gave no randomness.
    #[error("cannot read randomness for a new key: {0}")]
    Random(String),
}

/// An approver's private key and its id.
pub struct ApproverKey {
    /// The key id, which agreements name in `approval.keyId`.
    pub id: String,
    key: SigningKey,
}

impl ApproverKey {
    /// Reads a private key file `<id>.key`.
    pub fn load(path: &Path) -> Result<ApproverKey, KeyError> {
        let id = key_id(path, "key")?;
        let pem = read(path)?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::NotAKey {
            path: path.to_owned(),
            kind: "private",
        })?;
        Ok(ApproverKey { id, key })
    }

    /// A new key that lives only in memory, with its public half, for tools and tests.
    pub fn generate(id: &str) -> Result<(ApproverKey, VerifyingKey), KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key();
        Ok((
            ApproverKey {
                id: id.to_owned(),
                key,
            },
            public,
        ))
    }

    /// Signs the agreement `name` and returns the approval to put in its spec.
    pub fn approve(&self, name: &str, spec: &DataSharingAgreementSpec) -> Approval {
        let signature = self.key.sign(&canonical_bytes(name, spec));
        Approval {
            key_id: self.id.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }
    }
}

/// Generates a key pair, returning the private and public PEM texts.
pub fn generate_key_pair() -> Result<(String, String), KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    Ok((private.to_string(), public))
}

/// The trusted approver keys, by id.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<String, VerifyingKey>,
}

impl Keyring {
    /// Reads every `<id>.pub` file in `dir`. Other files are not keys and are passed over.
    pub fn load(dir: &Path) -> Result<Keyring, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut keys = BTreeMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                continue;
            }
            let id = key_id(&path, "pub")?;
            let key = VerifyingKey::from_public_key_pem(&read(&path)?).map_err(|_| {
                KeyError::NotAKey {
                    path: path.clone(),
                    kind: "public",
                }
            })?;
            keys.insert(id, key);
        }
        Ok(Keyring { keys })
    }

    /// A keyring of the given keys, for tests and tools.
    pub fn from_keys(keys: impl IntoIterator<Item = (String, VerifyingKey)>) -> Keyring {
        Keyring {
            keys: keys.into_iter().collect(),
        }
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<&VerifyingKey> {
        self.keys.get(id)
    }

    /// The ids of every key, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether the keyring has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

fn key_id(path: &Path, ext: &'static str) -> Result<String, KeyError> {
    let bad = || KeyError::BadName {
        path: path.to_owned(),
        ext,
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).ok_or_else(bad)?;
    let valid = !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        && stem
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && stem
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(stem.to_owned())
    } else {
        Err(bad())
    }
}
