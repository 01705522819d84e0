//! Issuing a fresh certificate authority and one server certificate signed by it.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use jiff::Span;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::TlsError;

/// The authority's certificate, which clients add as a trusted root.
pub const CA_FILE: &str = "ca.crt";

/// The server's certificate, which the server presents.
pub const CERT_FILE: &str = "tls.crt";

/// The server's private key, readable by its owner only.
pub const KEY_FILE: &str = "tls.key";

/// How long issued certificates stay valid, in days: the longest that browsers accept.
const VALID_DAYS: i64 = 825;

/// A server certificate, its private key, and the authority that signed it, all as PEM.
pub struct IssuedCertificate {
    /// The authority's self-signed certificate.
    pub ca_pem: String,
    /// The server's certificate, signed by the authority.
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("IssuedCertificate")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl IssuedCertificate {
    /// The server's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Writes [`CA_FILE`], [`CERT_FILE`] and [`KEY_FILE`] (mode 0600) into `dir`, creating
    /// it. Refuses to overwrite any of them, so a server's key is never replaced by
    /// accident.
    pub fn write(&self, dir: &Path) -> Result<(), TlsError> {
        let files = [
            (CA_FILE, &self.ca_pem, false),
            (CERT_FILE, &self.cert_pem, false),
            (KEY_FILE, &self.key_pem, true),
        ];
        if let Some((name, _, _)) = files.iter().find(|(name, _, _)| dir.join(name).exists()) {
            return Err(TlsError::Exists {
                path: dir.join(name),
            });
        }
        std::fs::create_dir_all(dir).map_err(|error| TlsError::Write {
            path: dir.to_owned(),
            error,
        })?;
        for (name, pem, private) in files {
            write_new(&dir.join(name), pem, private)?;
        }
        Ok(())
    }
}

/// A fresh certificate authority and a server certificate signed by it for these DNS names
/// and IP addresses. The first DNS name (or address) is also the certificate's common name.
pub fn issue(names: &[String], ips: &[IpAddr]) -> Result<IssuedCertificate, TlsError> {
    let Some(common_name) = names
        .first()
        .cloned()
        .or_else(|| ips.first().map(IpAddr::to_string))
    else {
        return Err(TlsError::NoNames);
    };
    let mut subject_alt_names = Vec::with_capacity(names.len() + ips.len());
    for name in names {
        let dns = name
            .clone()
            .try_into()
            .map_err(|_| TlsError::BadName { name: name.clone() })?;
        subject_alt_names.push(SanType::DnsName(dns));
    }
    subject_alt_names.extend(ips.iter().copied().map(SanType::IpAddress));

    // The authority signs once and its key is dropped at the end of this function.
    let ca_key = KeyPair::generate()?;
    let mut ca = validity();
    ca.distinguished_name
        .push(DnType::CommonName, "Accord partner receiver CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = validity();
    server
        .distinguished_name
        .push(DnType::CommonName, common_name);
    server.subject_alt_names = subject_alt_names;
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_cert = server.signed_by(&server_key, &issuer)?;

    Ok(IssuedCertificate {
        ca_pem: ca_cert.pem(),
        cert_pem: server_cert.pem(),
        key_pem: server_key.serialize_pem(),
    })
}

/// Parameters valid from yesterday (so a clock a little behind still accepts them) for
/// [`VALID_DAYS`].
fn validity() -> CertificateParams {
    let today = jiff::Zoned::now().date();
    let ymd = |date: jiff::civil::Date| {
        // Dates from jiff always fit: months 1..=12 and days 1..=31.
        rcgen::date_time_ymd(
            i32::from(date.year()),
            date.month().unsigned_abs(),
            date.day().unsigned_abs(),
        )
    };
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.not_before = ymd(today.saturating_sub(Span::new().days(1)));
    params.not_after = ymd(today.saturating_add(Span::new().days(VALID_DAYS)));
    params
}

fn write_new(path: &Path, text: &str, private: bool) -> Result<(), TlsError> {
    let failed = |error| TlsError::Write {
        path: path.to_owned(),
        error,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{read_certificates, server_config};

    fn localhost() -> IssuedCertificate {
        issue(&["localhost".to_owned()], &["127.0.0.1".parse().unwrap()]).unwrap()
    }

    #[test]
    fn an_issued_certificate_loads_as_a_server_identity() {
        let dir = tempfile::tempdir().unwrap();
        localhost().write(dir.path()).unwrap();
        let config = server_config(&dir.path().join(CERT_FILE), &dir.path().join(KEY_FILE));
        assert!(config.is_ok(), "{config:?}");
        assert_eq!(
            read_certificates(&dir.path().join(CA_FILE)).unwrap().len(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        localhost().write(dir.path()).unwrap();
        let mode = |name| {
            let path = dir.path().join(name);
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode(KEY_FILE), 0o600);
        assert_ne!(mode(CERT_FILE) & 0o044, 0);
    }

    #[test]
    fn existing_certificates_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        localhost().write(dir.path()).unwrap();
        let before = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        let error = localhost().write(dir.path()).unwrap_err();
        assert!(error.to_string().contains("already exists"), "{error}");
        let after = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn a_certificate_needs_a_valid_name() {
        assert!(matches!(issue(&[], &[]), Err(TlsError::NoNames)));
        let bad = issue(&["ünï code".to_owned()], &[]);
        assert!(matches!(bad, Err(TlsError::BadName { .. })), "{bad:?}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let one = localhost();
        let other = localhost();
        std::fs::write(dir.path().join("a.crt"), &one.cert_pem).unwrap();
        std::fs::write(dir.path().join("b.key"), other.key_pem()).unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        let error = server_config(&dir.path().join("a.crt"), &dir.path().join("b.key"));
        assert!(matches!(error, Err(TlsError::Refused { .. })), "{error:?}");
        let error = server_config(&dir.path().join("empty"), &dir.path().join("b.key"));
        assert!(
            matches!(error, Err(TlsError::NoCertificate { .. })),
            "{error:?}"
        );
    }
}
