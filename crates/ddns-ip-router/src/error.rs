//! What can go wrong when asking a gateway.

use std::net::{IpAddr, SocketAddr};

use ddns_core::{IpFamily, SourceError};

/// A failure of a gateway query, of a received message, or of gateway
/// discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The routing table has no default route of this family, so there is
    /// no gateway to ask.
    #[error("no {family} default route, so no gateway to ask")]
    NoDefaultGateway {
        /// The family whose default route is missing.
        family: IpFamily,
    },

    /// The kernel's routing table could not be read.
    #[error("cannot read the routing table {path}")]
    RouteTableUnreadable {
        /// The file that was read.
        path: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },

    /// The interface named in a link-local gateway address does not exist.
    #[error("no interface {interface} for the link-local gateway address")]
    UnknownInterface {
        /// The interface name.
        interface: String,
    },

    /// The UDP socket towards the gateway could not be opened, connected or
    /// written to.
    #[error("cannot send to the gateway {gateway}")]
    SendFailed {
        /// The gateway's address and port.
        gateway: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },

    /// Reading the answer from the socket failed.
    #[error("cannot receive from the gateway {gateway}")]
    ReceiveFailed {
        /// The gateway's address and port.
        gateway: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },

    /// The gateway did not answer any of the retransmitted requests.
    #[error("no answer from the gateway {gateway} after {attempts} requests")]
    NoAnswer {
        /// The gateway's address and port.
        gateway: SocketAddr,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The gateway answered with a non-zero result code.
    #[error("the gateway refused the {protocol} request: result {code} ({meaning})")]
    Refused {
        /// `NAT-PMP` or `PCP`.
        protocol: &'static str,
        /// The result code from the answer.
        code: u16,
        /// What the protocol's RFC says the code means.
        meaning: &'static str,
    },

    /// A PCP request was answered in NAT-PMP (version 0): the gateway only
    /// speaks NAT-PMP.
    #[error("the gateway speaks NAT-PMP only, not PCP; use a natpmp: source")]
    PcpUnsupported,

    /// The gateway answered but says it has no external address (0.0.0.0 or
    /// `::`), typically because its own uplink is down.
    #[error("the gateway reports no external address ({address})")]
    NoExternalAddress {
        /// The unspecified address it reported.
        address: IpAddr,
    },

    /// The gateway reported an address of another family than the one
    /// asked for.
    #[error("asked for an {asked} address, the gateway reported {address}")]
    WrongFamily {
        /// The family that was asked for.
        asked: IpFamily,
        /// What came back.
        address: IpAddr,
    },

    /// The detector cannot answer for this family.
    #[error("{protocol} cannot report {family} addresses")]
    UnsupportedFamily {
        /// The protocol.
        protocol: &'static str,
        /// The family asked for.
        family: IpFamily,
    },

    /// A message is shorter than its fixed format.
    #[error("message of {len} bytes is shorter than the {needed} bytes of its format")]
    Truncated {
        /// The message length.
        len: usize,
        /// The length the format needs.
        needed: usize,
    },

    /// A PCP message whose length is not a multiple of 4 or exceeds 1100
    /// bytes (RFC 6887 §7).
    #[error("PCP message of {len} bytes: not a multiple of 4 up to 1100")]
    BadLength {
        /// The message length.
        len: usize,
    },

    /// A message carries a protocol version this crate does not expect.
    #[error("unexpected protocol version {version}")]
    UnexpectedVersion {
        /// The version byte.
        version: u8,
    },

    /// A message is not the response this crate waits for (another opcode,
    /// or a request rather than a response).
    #[error("unexpected opcode byte {opcode:#04x}")]
    UnexpectedOpcode {
        /// The opcode byte, with the response bit.
        opcode: u8,
    },

    /// A PCP response answers another request (its nonce, protocol or port
    /// differ from ours).
    #[error("the PCP response answers another request")]
    NotOurs,

    /// UPnP SSDP discovery found no usable Internet Gateway Device.
    #[error("UPnP discovery found no Internet Gateway Device")]
    UpnpDiscoveryFailed {
        /// What igd-next reported.
        #[source]
        source: igd_next::SearchError,
    },

    /// The UPnP `GetExternalIPAddress` call failed.
    #[error("UPnP GetExternalIPAddress at {control_url} failed")]
    UpnpRequestFailed {
        /// The control URL that was called.
        control_url: String,
        /// What igd-next reported.
        #[source]
        source: igd_next::GetExternalIpError,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether asking again later may succeed without a configuration
    /// change (no answer, a refused or failed request), as opposed to a
    /// gateway that cannot do this at all.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::PcpUnsupported
            | Error::UnsupportedFamily { .. }
            | Error::UnknownInterface { .. } => false,
            // Unsupported version or opcode: this gateway never will.
            Error::Refused { protocol, code, .. } => {
                !matches!((*protocol, code), ("NAT-PMP", 1 | 5) | ("PCP", 1 | 4))
            }
            _ => true,
        }
    }

    /// Whether a receive loop should drop this message and keep waiting for
    /// the real answer: a stray or malformed datagram is not an answer.
    pub(crate) fn is_stray(&self) -> bool {
        matches!(
            self,
            Error::Truncated { .. }
                | Error::BadLength { .. }
                | Error::UnexpectedVersion { .. }
                | Error::UnexpectedOpcode { .. }
                | Error::NotOurs
        )
    }
}

impl From<Error> for SourceError {
    /// The message holds the whole chain of causes, since the engine logs
    /// only the message.
    fn from(error: Error) -> Self {
        let mut message = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            cause = inner.source();
        }
        SourceError::new(message).with_source(error)
    }
}
