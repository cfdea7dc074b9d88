//! TLS for the echo services: rustls with the ring provider, the system's
//! root certificates and those of `DDNS_IP_SOURCE_CA_FILE`.
//!
//! The CA file rules (a regular file of at most 1 MiB holding at least one
//! PEM certificate, each usable as a trust anchor) and their messages are
//! those of `DDNS_VERIFY_CA_FILE` in `ddns-verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ddns_core::config::ConfigError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tracing::debug;

/// Largest CA file read; a bundle of a few hundred certificates fits.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// A CA file, read and checked when the configuration is validated.
#[derive(Debug, Clone)]
pub(crate) struct CaFile {
    pub(crate) path: PathBuf,
    pub(crate) pem: Vec<u8>,
    pub(crate) count: usize,
}

impl CaFile {
    /// Reads `path`, named by `variable` in errors.
    pub(crate) fn read(variable: &str, path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display();
        let metadata = std::fs::metadata(path)
            .map_err(|e| ConfigError::new(variable, format!("cannot read {shown}: {e}")))?;
        if !metadata.is_file() {
            return Err(ConfigError::new(
                variable,
                format!("{shown} is not a regular file"),
            ));
        }
        if metadata.len() > MAX_CA_FILE {
            return Err(ConfigError::new(
                variable,
                format!(
                    "{shown} is {} bytes; a CA file holds at most {MAX_CA_FILE}",
                    metadata.len()
                ),
            ));
        }
        let pem = std::fs::read(path)
            .map_err(|e| ConfigError::new(variable, format!("cannot read {shown}: {e}")))?;
        let count = parse_certificates(&pem)
            .map_err(|reason| ConfigError::new(variable, format!("{shown}: {reason}")))?
            .len();
        Ok(Self {
            path: path.to_path_buf(),
            pem,
            count,
        })
    }

    /// What `ddnsd check` shows.
    pub(crate) fn shown(&self) -> String {
        format!(
            "{} ({} certificate{}, with the system's roots)",
            self.path.display(),
            self.count,
            if self.count == 1 { "" } else { "s" }
        )
    }
}

/// The certificates of a PEM text; an error when there is none or one is
/// not a usable trust anchor.
pub(crate) fn parse_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certificates = Vec::new();
    for (index, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let certificate =
            item.map_err(|e| format!("certificate {} is not valid PEM: {e}", index + 1))?;
        rustls::RootCertStore::empty()
            .add(certificate.clone())
            .map_err(|e| format!("certificate {} cannot be trusted as a CA: {e}", index + 1))?;
        certificates.push(certificate);
    }
    if certificates.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certificates)
}

/// TLS with the ring provider (no C build), the extra roots and the
/// system's, HTTP/2 offered first. Returns the number of roots, which may
/// be 0.
pub(crate) fn tls_config(
    extra_pem: Option<&[u8]>,
) -> Result<(rustls::ClientConfig, usize), String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = extra_pem {
        for certificate in parse_certificates(pem)? {
            roots.add(certificate).map_err(|e| e.to_string())?;
        }
    }
    let system = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    debug!(
        added,
        ignored,
        errors = system.errors.len(),
        "loaded the system's root certificates"
    );
    let count = roots.len();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, count))
}

/// Whether a request failed because no trusted authority signed the
/// server's certificate (the case a private CA file fixes).
pub(crate) fn is_unknown_issuer(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) =
            e.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        // An I/O error hides the error it wraps from `source()` (it gives
        // that error's source instead), and TLS errors come wrapped twice.
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const VAR: &str = "DDNS_IP_SOURCE_CA_FILE";

    #[test]
    fn an_unknown_issuer_is_found_inside_nested_io_errors() {
        use std::io::{Error, ErrorKind};
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = Error::other(Error::new(ErrorKind::InvalidData, tls));
        assert!(is_unknown_issuer(&nested));
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert!(!is_unknown_issuer(&Error::other(Error::new(
            ErrorKind::InvalidData,
            expired
        ))));
        assert!(!is_unknown_issuer(&Error::other("refused")));
    }

    #[test]
    fn certificate_files_must_hold_certificates() {
        assert_eq!(
            parse_certificates(b"just text\n"),
            Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
        );
        let broken = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        let err = parse_certificates(broken).unwrap_err();
        assert!(err.starts_with("certificate 1 is not valid PEM"), "{err}");
        let not_a_certificate =
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let err = parse_certificates(not_a_certificate).unwrap_err();
        assert!(
            err.starts_with("certificate 1 cannot be trusted as a CA"),
            "{err}"
        );
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_a_configuration_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = CaFile::read(VAR, &missing).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "DDNS_IP_SOURCE_CA_FILE: cannot read {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let err = CaFile::read(VAR, dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "DDNS_IP_SOURCE_CA_FILE: {} is not a regular file",
                dir.path().display()
            )
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = CaFile::read(VAR, &empty).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "DDNS_IP_SOURCE_CA_FILE: {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                empty.display()
            )
        );
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'x'; 1024 * 1024 + 1]).unwrap();
        let err = CaFile::read(VAR, &big).unwrap_err().to_string();
        assert!(
            err.ends_with("is 1048577 bytes; a CA file holds at most 1048576"),
            "{err}"
        );
    }
}
