//! The rustls configuration every HTTPS client of ddns uses.

use std::sync::Arc;

use tracing::debug;

use crate::ca::parse_certificates;
use crate::{Error, Result};

/// A TLS client configuration and the roots it trusts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientTls {
    /// For `reqwest::ClientBuilder::tls_backend_preconfigured`.
    pub config: rustls::ClientConfig,
    /// How many root certificates came from the system.
    pub system_roots: usize,
    /// How many root certificates are trusted in all: the extra ones and
    /// the system's. May be 0.
    pub roots: usize,
}

/// TLS with the ring provider (no C build, no process-wide default to
/// install), rustls's safe default protocol versions, the roots of
/// `extra_roots_pem` (PEM text, for a private CA) and the system's, and
/// HTTP/2 offered before HTTP/1.1 (BIND's DoH listener speaks only HTTP/2).
///
/// A system without root certificates is not an error here: the
/// configuration then trusts the extra roots only, or none.
pub fn client_config(extra_roots_pem: Option<&[u8]>) -> Result<ClientTls> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = extra_roots_pem {
        for (offset, certificate) in parse_certificates(pem)?.into_iter().enumerate() {
            roots
                .add(certificate)
                .map_err(|source| Error::NotATrustAnchor {
                    index: offset + 1,
                    source,
                })?;
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
        .map_err(|source| Error::ProtocolVersions { source })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ClientTls {
        config,
        system_roots: added,
        roots: count,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const TEST_CA: &str = include_str!("../tests/data/test-ca.pem");

    #[test]
    fn extra_roots_are_trusted_besides_the_systems() {
        let system = client_config(None).unwrap();
        assert_eq!(system.roots, system.system_roots);
        let extra = client_config(Some(TEST_CA.as_bytes())).unwrap();
        assert_eq!(extra.system_roots, system.system_roots);
        assert_eq!(extra.roots, system.roots + 1);
    }

    #[test]
    fn http2_is_offered_first() {
        let tls = client_config(None).unwrap();
        assert_eq!(
            tls.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn extra_pem_without_a_certificate_is_refused() {
        let err = client_config(Some(b"just text\n")).unwrap_err();
        assert!(matches!(err, Error::NoCertificate), "{err}");
    }
}
