//! Why a probe failed, or the recovery request did, in words that name
//! the step and the target.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use ddns_core::SourceError;
use ddns_ip_netlink::GatewayStatus;
use tokio_rustls::rustls;

use crate::target::WanTarget;

/// The step of the WAN probe that did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WanStep {
    /// Resolving the host name.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The TLS handshake.
    Handshake,
}

impl fmt::Display for WanStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WanStep::Resolve => "the name resolution",
            WanStep::Connect => "the TCP connection",
            WanStep::Handshake => "the TLS handshake",
        })
    }
}

/// `5 s`, or `300 ms` below a second.
pub(crate) struct Shown(pub(crate) Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_millis() == 0 && self.0 >= Duration::from_secs(1) {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

/// Why a probe failed, or the recovery request did.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The WAN target's host name did not resolve.
    #[error("wan {target}: cannot resolve the name: {source}")]
    ResolveFailed {
        /// The target.
        target: WanTarget,
        /// What the resolver said.
        #[source]
        source: std::io::Error,
    },
    /// The WAN target's host name resolved to no address.
    #[error("wan {target}: the name resolves to no address")]
    NoAddress {
        /// The target.
        target: WanTarget,
    },
    /// The WAN target refused the connection (nothing listens, or a
    /// firewall rejects it).
    #[error("wan {target}: connection refused by {address}")]
    ConnectionRefused {
        /// The target.
        target: WanTarget,
        /// The address that refused (the last one tried).
        address: SocketAddr,
    },
    /// The TCP connection failed otherwise (no route, network
    /// unreachable, …).
    #[error("wan {target}: cannot connect to {address}: {source}")]
    ConnectFailed {
        /// The target.
        target: WanTarget,
        /// The address tried last.
        address: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A step did not finish within the probe's timeout.
    #[error("wan {target}: timed out after {} waiting for {step}", Shown(*after))]
    TimedOut {
        /// The target.
        target: WanTarget,
        /// The step that was waited for.
        step: WanStep,
        /// The timeout (for the whole probe).
        after: Duration,
    },
    /// The server's certificate was not accepted: no trusted authority
    /// signed it, it does not name the target, it expired, ….
    #[error("wan {target}: certificate error: {source}")]
    CertificateRejected {
        /// The target.
        target: WanTarget,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The TLS handshake failed for another reason (the connection was
    /// closed, the server speaks no TLS, no common protocol version).
    #[error("wan {target}: TLS handshake failed: {source}")]
    HandshakeFailed {
        /// The target.
        target: WanTarget,
        /// What the TLS layer said.
        #[source]
        source: std::io::Error,
    },
    /// TLS cannot be configured (the crypto provider offers no protocol
    /// version, or no root certificate can be found).
    #[error("the WAN probe cannot set up TLS: {reason}")]
    TlsSetup {
        /// Why.
        reason: String,
    },
    /// The routes or neighbour entries could not be read.
    #[error("gateway: {source}")]
    GatewayLookupFailed {
        /// What the netlink lookup said.
        #[source]
        source: SourceError,
    },
    /// Neither family has a default route.
    #[error("gateway: no default route (neither IPv4 nor IPv6)")]
    NoDefaultRoute,
    /// A default route's gateway does not answer (or its link is down).
    #[error("gateway: {status}")]
    GatewayUnreachable {
        /// What was found.
        status: GatewayStatus,
    },
    /// The recovery request's HTTP client cannot be built.
    #[error("the recovery request cannot be prepared: {reason}")]
    RecoverySetup {
        /// Why.
        reason: String,
    },
    /// The recovery request got no answer.
    #[error("recovery request to {origin} failed: {reason}")]
    RecoveryFailed {
        /// `scheme://host[:port]` of the URL, never its path or query.
        origin: String,
        /// Why, without the URL.
        reason: String,
    },
}

impl Error {
    /// Whether the failure is a certificate the WAN probe did not accept:
    /// often an intercepting proxy or a captive portal, or a clock far
    /// off, rather than a link that is down.
    pub fn is_certificate_error(&self) -> bool {
        matches!(self, Error::CertificateRejected { .. })
    }

    /// Whether a step ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }
}

/// The result of this crate's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shown_in_seconds_or_milliseconds() {
        assert_eq!(Shown(Duration::from_secs(5)).to_string(), "5 s");
        assert_eq!(Shown(Duration::from_millis(300)).to_string(), "300 ms");
        assert_eq!(Shown(Duration::from_millis(1500)).to_string(), "1500 ms");
    }
}
