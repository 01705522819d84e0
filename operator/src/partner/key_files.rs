//! Reading the key a receiver checks Accord's signatures with: a shared secret file for
//! HMAC, or Accord's Ed25519 public key.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey;

use super::KeyFileError;
use crate::delivery::wire::SignatureCheck;

/// An HMAC check with the secret in `path`: the file's bytes, less one trailing newline
/// (`\n` or `\r\n`), so a secret written with `echo` works.
pub fn shared_secret_check(path: &Path) -> Result<SignatureCheck, KeyFileError> {
    let mut secret = std::fs::read(path).map_err(|error| KeyFileError::Read {
        path: path.to_owned(),
        error,
    })?;
    if secret.ends_with(b"\n") {
        secret.pop();
        if secret.ends_with(b"\r") {
            secret.pop();
        }
    }
    if secret.is_empty() {
        return Err(KeyFileError::EmptySecret {
            path: path.to_owned(),
        });
    }
    Ok(SignatureCheck::Hmac(secret))
}

/// An Ed25519 check with Accord's public key in `path` (SubjectPublicKeyInfo PEM, as
/// `accord keygen` writes it).
pub fn public_key_check(path: &Path) -> Result<SignatureCheck, KeyFileError> {
    let pem = std::fs::read_to_string(path).map_err(|error| KeyFileError::Read {
        path: path.to_owned(),
        error,
    })?;
    let key = VerifyingKey::from_public_key_pem(&pem).map_err(|_| KeyFileError::NotAPublicKey {
        path: path.to_owned(),
    })?;
    Ok(SignatureCheck::Ed25519(key))
}
