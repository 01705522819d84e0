//! Approver signatures on agreements: canonical form, keys, keyring and verification.
//!
//! An agreement takes effect only when an approver's Ed25519 key from the Trust's keyring
//! has signed its canonical form. The canonical form covers everything that decides what
//! flows, so any change to it after signing stops the agreement until it is signed again.

mod canonical;
mod edit;
mod keys;

pub use canonical::{canonical_bytes, canonical_json, changed_paths};
pub use edit::{SignError, sign_agreements_in_text};
pub use keys::{ApproverKey, KeyError, Keyring, generate_key_pair};

use base64::Engine;
use ed25519_dalek::{Signature, Verifier};

use crate::resources::DataSharingAgreementSpec;

/// The outcome of checking an agreement's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Signed by this trusted key, over exactly this spec.
    Valid {
        /// The key that signed.
        key_id: String,
    },
    /// The agreement carries no `approval`.
    Unsigned,
    /// The signing key is not in the keyring.
    UntrustedKey {
        /// The key named by the agreement.
        key_id: String,
    },
    /// The signature is not base64 of 64 bytes.
    Malformed {
        /// The key named by the agreement.
        key_id: String,
    },
    /// The signature does not match: the spec changed after it was signed.
    Mismatch {
        /// The key named by the agreement.
        key_id: String,
    },
}

impl Verification {
    /// Whether the agreement may take effect.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verification::Valid { .. })
    }
}

/// Checks the signature of the agreement `name` against the keyring.
pub fn verify(keyring: &Keyring, name: &str, spec: &DataSharingAgreementSpec) -> Verification {
    let Some(approval) = &spec.approval else {
        return Verification::Unsigned;
    };
    let key_id = approval.key_id.clone();
    let Some(key) = keyring.get(&key_id) else {
        return Verification::UntrustedKey { key_id };
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&approval.signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok());
    let Some(signature) = signature else {
        return Verification::Malformed { key_id };
    };
    match key.verify(&canonical_bytes(name, spec), &signature) {
        Ok(()) => Verification::Valid { key_id },
        Err(_) => Verification::Mismatch { key_id },
    }
}

#[cfg(test)]
mod tests;
