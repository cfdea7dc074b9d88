//! TLS and HTTP-client helpers shared by ddns's HTTPS clients (the DoH
//! verifier, the HTTP echo sources, the Cloudflare provider), so that they
//! trust the same roots, read CA files by the same rules and report
//! failures in the same words.
//!
//! - [`CaFile`]: a PEM file of extra root certificates named by a
//!   variable (`DDNS_VERIFY_CA_FILE`, `DDNS_IP_SOURCE_CA_FILE`), read and
//!   checked while the configuration is validated.
//! - [`client_config`]: a rustls configuration with the ring provider, the
//!   system's root certificates and the extra ones, offering HTTP/2 first.
//! - [`describe`]: a `reqwest::Error` and its causes in one line, without
//!   the URL; [`is_unknown_issuer`] tells a certificate no trusted
//!   authority signed.
//!
//! # Example
//!
//! ```
//! let tls = ddns_tls::client_config(None).expect("the ring provider offers TLS 1.2 and 1.3");
//! let client = reqwest::Client::builder()
//!     .tls_backend_preconfigured(tls.config)
//!     .build()
//!     .expect("a client");
//! # drop(client);
//! ```
//!
//! # Guarantees
//!
//! - Certificates are always verified; nothing here turns verification
//!   off. The system's roots stay trusted when extra ones are given.
//! - Only the ring provider is used (no C build, no process-wide default
//!   provider to install), with rustls's safe default protocol versions.
//! - [`describe`] never shows the request URL, whose path or query may
//!   hold a credential.
//!
//! # Caveats
//!
//! - [`client_config`] succeeds with no root at all (a system without
//!   ca-certificates and no extra roots): callers that need https check
//!   [`ClientTls::roots`] and say what to install or set.

mod ca;
mod client;
mod describe;

pub use ca::{CaFile, MAX_CA_FILE};
pub use client::{ClientTls, client_config};
pub use describe::{describe, is_unknown_issuer};

/// Why PEM text cannot serve as roots, or TLS cannot be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PEM block that cannot be decoded (1-based `index`).
    #[error("certificate {index} is not valid PEM: {source}")]
    InvalidPem {
        /// Which certificate, counting from 1.
        index: usize,
        /// What the PEM decoder said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate that cannot be a trust anchor (not a CA certificate,
    /// or not DER at all).
    #[error("certificate {index} cannot be trusted as a CA: {source}")]
    NotATrustAnchor {
        /// Which certificate, counting from 1.
        index: usize,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// PEM text without any certificate block.
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// The crypto provider supports none of the protocol versions asked
    /// for.
    #[error("{source}")]
    ProtocolVersions {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// The result of this crate's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
