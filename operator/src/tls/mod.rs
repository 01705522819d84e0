//! TLS for the HTTPS servers Accord runs: certificates for them, and loading a certificate
//! and its key into a rustls server configuration.
//!
//! A partner receiver is HTTPS only, so a demo or a test needs a certificate its client
//! can verify. [`issue`] makes a fresh certificate authority and one server certificate
//! signed by it; the authority's private key is dropped once the certificate is signed, so
//! it can never sign another. Clients trust the authority's certificate (`ca.crt`); the
//! server presents `tls.crt` and `tls.key`. Everything uses rustls with the `ring`
//! provider, as the rest of Accord does.

mod issue;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use issue::{CA_FILE, CERT_FILE, IssuedCertificate, KEY_FILE, issue};

/// A problem issuing, writing or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("failed to read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause, in the message rather than as a source so it is shown once.
        error: std::io::Error,
    },
    /// A file or folder could not be written.
    #[error("failed to write {path}: {error} (check the folder is writable)")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause, in the message rather than as a source so it is shown once.
        error: std::io::Error,
    },
    /// A certificate file would be overwritten.
    #[error("{path} already exists: choose another folder or move the old certificates away")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A certificate file holds no PEM certificate.
    #[error("{path}: no PEM certificate in it (make one with `accord partner cert`)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no PEM private key.
    #[error("{path}: no PEM private key in it (make one with `accord partner cert`)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the certificate and key together.
    #[error(
        "{cert} with {key}: not a usable TLS identity ({reason}); check the key belongs to the certificate"
    )]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// A name cannot go in a certificate.
    #[error(
        "{name:?} is not a DNS name a certificate can hold: give a host name such as localhost"
    )]
    BadName {
        /// The name.
        name: String,
    },
    /// No name or address to issue a certificate for.
    #[error("a certificate needs at least one DNS name or IP address")]
    NoNames,
    /// Key generation or signing failed.
    #[error("failed to issue a certificate: {0}")]
    Issue(#[from] rcgen::Error),
}

/// A rustls server configuration presenting the certificate chain in `cert` (PEM, the
/// server's certificate first) with the private key in `key` (PEM, PKCS#8, SEC1 or PKCS#1).
/// It speaks HTTP/1.1 only.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(cert)?;
    let private = read_key(key)?;

    let refused = |error: rustls::Error| TlsError::Refused {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason: error.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file, in order.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: path.to_owned(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey {
        path: path.to_owned(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_owned(),
        error,
    })
}
