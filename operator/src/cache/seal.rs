//! Sealing and opening bytes with AES-256-GCM, and the associated data that binds each
//! sealed value to where it belongs.
//!
//! Every seal draws a fresh random 96-bit nonce. With at most a few refreshes per school
//! and area a day, random nonces stay far below the 2^32 messages per key at which NIST
//! SP 800-38D asks for a counter instead.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Key, KeyInit, Nonce, Payload};
use zeroize::Zeroizing;

use crate::catalogue::Area;
use crate::state::Sealed;

/// Length of every key Accord seals with: AES-256.
pub(crate) const KEY_LEN: usize = 32;

/// Length of an AES-GCM nonce: 96 bits.
const NONCE_LEN: usize = 12;

/// Associated data of the master key check.
pub(crate) const CHECK_AAD: &[u8] = b"accord-master-check-v1";

/// The value sealed as the master key check; it is no secret, only a known plaintext.
pub(crate) const CHECK_PLAINTEXT: &[u8] = b"accord master key check";

/// A 256-bit AES key, wiped from memory when dropped.
pub(crate) struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

/// Sealing failed before any ciphertext was produced.
#[derive(Debug)]
pub(crate) enum SealError {
    /// The operating system gave no random bytes for the nonce.
    Random(getrandom::Error),
    /// The plaintext or associated data is longer than AES-GCM allows.
    TooLong,
}

/// Opening failed: the bytes, the nonce, the associated data or the key are not the ones
/// sealed together. AES-GCM does not say which.
#[derive(Debug)]
pub(crate) struct Unauthentic;

impl SecretKey {
    /// A key from the operating system's random source.
    pub(crate) fn random() -> Result<SecretKey, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut_slice())?;
        Ok(SecretKey(bytes))
    }

    /// A key from its bytes, which the caller should wipe afterwards.
    pub(crate) fn from_bytes(bytes: &[u8; KEY_LEN]) -> SecretKey {
        SecretKey(Zeroizing::new(*bytes))
    }

    /// A key from a slice, `None` unless it is exactly [`KEY_LEN`] bytes long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<SecretKey> {
        let array: &[u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(SecretKey::from_bytes(array))
    }

    /// The key's bytes, for wrapping it or writing it to its file.
    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Seals `plaintext` bound to `aad` under a fresh random nonce.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(SealError::Random)?;

        let nonce_ref: &Nonce<Aes256Gcm> = (&nonce).into();
        let bytes = self
            .cipher()
            .encrypt(
                nonce_ref,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::TooLong)?;
        Ok(Sealed {
            bytes,
            nonce: nonce.to_vec(),
        })
    }

    /// Opens bytes sealed by [`SecretKey::seal`] with the same key and `aad`.
    pub(crate) fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, Unauthentic> {
        let nonce: &Nonce<Aes256Gcm> = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| Unauthentic)?;
        self.cipher()
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed.bytes,
                    aad,
                },
            )
            .map_err(|_| Unauthentic)
    }

    /// The cipher for this key; it wipes its expanded key schedule when dropped.
    fn cipher(&self) -> Aes256Gcm {
        let key: &Key<Aes256Gcm> = (&*self.0).into();
        Aes256Gcm::new(key)
    }
}

/// Associated data of a school's wrapped data key: a key row copied to another school
/// does not unwrap.
pub(crate) fn key_aad(school: &str) -> Vec<u8> {
    format!("accord-key-v1/{school}").into_bytes()
}

/// Associated data of a cache entry: `accord-cache-v1/<school>/<area>`. An entry copied
/// to another school or area does not open. Area names hold no `/`, so the last `/`
/// always separates school from area and no two pairs share associated data.
pub(crate) fn entry_aad(school: &str, area: Area) -> Vec<u8> {
    format!("accord-cache-v1/{school}/{area}").into_bytes()
}

/// Associated data of a message in the outbox: `accord-outbox-v1/<school>/<batch>`. A body
/// moved to another batch or school does not open.
pub(crate) fn message_aad(school: &str, batch: &str) -> Vec<u8> {
    format!("accord-outbox-v1/{school}/{batch}").into_bytes()
}
