//! CA files: PEM text of extra root certificates, named by a variable.

use std::path::{Path, PathBuf};

use ddns_core::config::ConfigError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{Error, Result};

/// Largest CA file read; a bundle of a few hundred certificates fits.
pub const MAX_CA_FILE: u64 = 1024 * 1024;

/// A CA file, read and checked when the configuration is validated: a
/// regular file of at most [`MAX_CA_FILE`] bytes holding at least one PEM
/// certificate, each usable as a trust anchor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CaFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its PEM text, for [`client_config`](crate::client_config).
    pub pem: Vec<u8>,
    /// How many certificates it holds.
    pub count: usize,
}

impl CaFile {
    /// Reads and checks `path`; errors name `variable`, the setting that
    /// gave the path.
    pub fn read(variable: &str, path: &Path) -> Result<Self, ConfigError> {
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

    /// What `ddnsd check` shows for the variable: the path and how many
    /// certificates it adds.
    pub fn shown(&self) -> String {
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
pub(crate) fn parse_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let mut certificates = Vec::new();
    for (offset, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let index = offset + 1;
        let certificate = item.map_err(|source| Error::InvalidPem { index, source })?;
        rustls::RootCertStore::empty()
            .add(certificate.clone())
            .map_err(|source| Error::NotATrustAnchor { index, source })?;
        certificates.push(certificate);
    }
    if certificates.is_empty() {
        return Err(Error::NoCertificate);
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests;
