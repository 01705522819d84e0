//! Everything a partner needs to run on this machine for a demo or a test: a certificate
//! for its endpoint's host name from a CA of its own, the secret or key pair its batches
//! are signed with, and its pull token, written where `accord run` reads secrets
//! (`<secrets>/<name>/<key>`).
//!
//! Existing files are kept, so a second run of the demo reuses the same partners: their
//! stores still de-duplicate, and their certificates still match.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::DecodePublicKey;
use kube::ResourceExt;

use crate::delivery::wire::SignatureCheck;
use crate::resources::{ObjectKey, Partner, ResourceSet, SecretKeyRef, SigningMethod};

/// One partner ready to be served on loopback.
#[derive(Debug)]
pub struct PartnerKit {
    /// The partner.
    pub partner: ObjectKey,
    /// Its endpoint's host name, or `None` for a partner that only pulls.
    pub host: Option<String>,
    /// Its folder: `tls/` and `store/`.
    pub dir: PathBuf,
    /// Its pull token file, if it pulls.
    pub pull_token: Option<PathBuf>,
}

impl PartnerKit {
    /// Where its receiver keeps what it received.
    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// Its certificate folder.
    pub fn tls(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// How its receiver checks Accord's signatures.
    pub fn check(&self) -> Result<SignatureCheck, KitError> {
        let hmac = self.dir.join("shared-secret");
        if hmac.exists() {
            return Ok(SignatureCheck::Hmac(read(&hmac)?));
        }
        let public = self.dir.join("accord.pub");
        let pem = String::from_utf8(read(&public)?).map_err(|_| KitError::Key(public.clone()))?;
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem)
            .map_err(|_| KitError::Key(public.clone()))?;
        Ok(SignatureCheck::Ed25519(key))
    }
}

/// Why a partner could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// A file could not be written or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A certificate could not be issued.
    #[error("cannot issue a certificate for {host}: {error}")]
    Certificate {
        /// The host.
        host: String,
        /// The cause.
        error: String,
    },
    /// A key file is not what it should be.
    #[error("{0}: not a key this demo wrote; delete the demo folder and start again")]
    Key(PathBuf),
    /// No randomness.
    #[error("cannot read randomness: {0}")]
    Random(String),
}

/// Provisions every declared partner under `dir/<partner>/`, with secrets under `secrets`.
pub fn provision(
    resources: &ResourceSet,
    dir: &Path,
    secrets: &Path,
) -> Result<Vec<PartnerKit>, KitError> {
    resources
        .partners
        .iter()
        .map(|partner| provision_one(partner, dir, secrets))
        .collect()
}

fn provision_one(partner: &Partner, dir: &Path, secrets: &Path) -> Result<PartnerKit, KitError> {
    let key = ObjectKey::of(partner);
    let own = dir.join(partner.name_any());
    let spec = &partner.spec;
    let host = spec
        .endpoint
        .as_deref()
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| u.host_str().map(str::to_owned));

    if let Some(host) = &host
        && !own.join("tls").join(crate::tls::CERT_FILE).exists()
    {
        let issued = crate::tls::issue(
            std::slice::from_ref(host),
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
        .map_err(|e| KitError::Certificate {
            host: host.clone(),
            error: e.to_string(),
        })?;
        issued
            .write(&own.join("tls"))
            .map_err(|e| KitError::Certificate {
                host: host.clone(),
                error: e.to_string(),
            })?;
    }
    if let Some(tls) = &spec.tls
        && host.is_some()
    {
        let ca = read(&own.join("tls").join(crate::tls::CA_FILE))?;
        write_secret(secrets, &tls.ca_ref, &ca)?;
    }

    match spec.auth.signing {
        SigningMethod::HmacSha256 => {
            let file = own.join("shared-secret");
            if !file.exists() {
                write_private(&file, random_hex()?.as_bytes())?;
            }
            write_secret(secrets, &spec.auth.secret_ref, &read(&file)?)?;
        }
        SigningMethod::Ed25519 => {
            let public = own.join("accord.pub");
            let private = own.join("accord.key");
            if !public.exists() {
                let (private_pem, public_pem) = crate::signing::generate_key_pair()
                    .map_err(|e| KitError::Random(e.to_string()))?;
                write_private(&private, private_pem.as_bytes())?;
                write_private(&public, public_pem.as_bytes())?;
            }
            write_secret(secrets, &spec.auth.secret_ref, &read(&private)?)?;
        }
    }

    let pull_token = match &spec.auth.pull_token_ref {
        Some(reference) => {
            let file = own.join("pull-token");
            if !file.exists() {
                write_private(&file, random_hex()?.as_bytes())?;
            }
            write_secret(secrets, reference, &read(&file)?)?;
            Some(file)
        }
        None => None,
    };

    Ok(PartnerKit {
        partner: key,
        host,
        dir: own,
        pull_token,
    })
}

fn random_hex() -> Result<String, KitError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KitError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_secret(secrets: &Path, reference: &SecretKeyRef, bytes: &[u8]) -> Result<(), KitError> {
    write_private(&secrets.join(&reference.name).join(&reference.key), bytes)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KitError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let io = |error| KitError::Io {
        path: path.to_owned(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    std::io::Write::write_all(&mut file, bytes).map_err(io)
}

fn read(path: &Path) -> Result<Vec<u8>, KitError> {
    std::fs::read(path).map_err(|error| KitError::Io {
        path: path.to_owned(),
        error,
    })
}
