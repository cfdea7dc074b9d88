//! What can go wrong asking a service for our address.

use std::net::SocketAddr;

use ddns_core::{IpFamily, SourceError};

/// A detection failure. Every message names the service by its origin
/// (`https://host:port`) or its DNS server, never by a URL path or query,
/// which may carry a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The detector cannot answer for this family (its host or server is
    /// an address of the other family).
    #[error("{source_name} cannot answer for {family}")]
    FamilyUnsupported {
        /// The detector's name.
        source_name: String,
        /// The family asked.
        family: IpFamily,
    },

    /// The HTTP request failed: no connection, TLS, a refused redirect, a
    /// timeout, a broken body.
    #[error("{origin}: request failed: {reason}")]
    HttpRequest {
        /// The service's origin.
        origin: String,
        /// Why, without the URL.
        reason: String,
    },

    /// The service answered with a status other than 2xx.
    #[error("{origin} answered HTTP {status}")]
    HttpStatus {
        /// The service's origin.
        origin: String,
        /// The status code.
        status: u16,
    },

    /// The connection went over the other family, so the answer would be
    /// the other family's address.
    #[error("{origin}: the {family} request went over {actual} (to {peer})")]
    WrongFamily {
        /// The service's origin.
        origin: String,
        /// The family asked.
        family: IpFamily,
        /// The family the connection used.
        actual: IpFamily,
        /// The address connected to.
        peer: SocketAddr,
    },

    /// The HTTP answer is not exactly one address of the family asked.
    #[error("{origin}: {reason}")]
    EchoMalformed {
        /// The service's origin.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The answer is one of this host's temporary (privacy) IPv6
    /// addresses, which change daily and are never published.
    #[error("{source_name}: {reason}")]
    TemporaryAddress {
        /// The service's origin, or the DNS question.
        source_name: String,
        /// What was answered, and why it is refused.
        reason: String,
    },

    /// The DNS question got no usable reply (timeout, unreachable, garbled).
    #[error("{question}: {source}")]
    DnsExchange {
        /// What was asked (`dns:myip.opendns.com@208.67.222.222 A`).
        question: String,
        /// Why.
        #[source]
        source: ddns_dns::Error,
    },

    /// The DNS server answered with an error code.
    #[error("{question}: {server} answered {rcode}")]
    DnsRcode {
        /// What was asked.
        question: String,
        /// The server.
        server: SocketAddr,
        /// The response code's mnemonic (`NXDOMAIN`, `REFUSED`).
        rcode: String,
    },

    /// The DNS answer does not hold exactly one address of the family asked.
    #[error("{question}: {reason}")]
    DnsMalformed {
        /// What was asked.
        question: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The HTTPS client could not be set up.
    #[error("cannot set up the HTTPS client: {reason}")]
    HttpsClient {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether asking again later may succeed. Only a detector asked for a
    /// family it cannot serve, or a client that cannot be built, will not.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            Error::FamilyUnsupported { .. } | Error::HttpsClient { .. }
        )
    }
}

impl From<Error> for SourceError {
    fn from(error: Error) -> Self {
        // The message already holds every cause; a source chain would
        // repeat it.
        SourceError::new(error.to_string())
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
