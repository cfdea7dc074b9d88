//! PCP (RFC 6887): the external address learned from a short-lived MAP
//! request, as §11.6 ("Learning the External IP Address Alone") describes.
//!
//! PCP has no request that only reads the address: ANNOUNCE answers carry
//! none, so a MAP it is. The mapping asked for is the least intrusive one
//! that gateways accept: UDP, for the ephemeral port of the very socket
//! that asks (which is closed right after), a 60 s lifetime, and it is
//! deleted (lifetime 0) as soon as the answer is in. A mapping for the
//! discard port 9 is not used: gateways allow mappings of ports 1024 and up
//! only by default, and miniupnpd 2.3.1 spins for seconds searching a free
//! port before it refuses one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use ddns_core::detect::Detector;
use ddns_core::{IpFamily, SourceError};
use tracing::{debug, instrument};

use crate::error::{Error, Result};
use crate::exchange::{self, Schedule};
use crate::gateway::Gateway;

/// The PCP version byte.
pub const VERSION: u8 = 2;
/// The MAP opcode.
pub const OP_MAP: u8 = 1;
/// The response bit of the opcode byte.
pub const RESPONSE_BIT: u8 = 0x80;
/// The length of a MAP request or response without options.
pub const MAP_LEN: usize = 60;
/// The length of the common header.
pub const HEADER_LEN: usize = 24;
/// The longest PCP message (RFC 6887 §7).
pub const MAX_LEN: usize = 1100;
/// The protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;
/// The lifetime asked for the probing mapping, in seconds.
pub const PROBE_LIFETIME: u32 = 60;

/// A MAP request (RFC 6887 §11.1) without options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    /// Seconds the mapping should live; 0 deletes it.
    pub lifetime: u32,
    /// The client's own address, as the gateway sees the request's source.
    pub client: IpAddr,
    /// Random bytes that the answer must repeat.
    pub nonce: [u8; 12],
    /// The transport protocol number of the mapping.
    pub protocol: u8,
    /// The client's port the mapping points to.
    pub internal_port: u16,
    /// The family of the external address asked for.
    pub family: IpFamily,
}

/// A successful MAP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapResponse {
    /// Seconds the gateway granted.
    pub lifetime: u32,
    /// Seconds since the gateway's mapping state was (re)initialised.
    pub epoch: u32,
    /// The nonce repeated from the request.
    pub nonce: [u8; 12],
    /// The protocol number repeated from the request.
    pub protocol: u8,
    /// The internal port repeated from the request.
    pub internal_port: u16,
    /// The external port assigned.
    pub external_port: u16,
    /// The external address: an IPv4 address for an IPv4-mapped answer.
    pub external_address: IpAddr,
}

impl MapRequest {
    /// The 60 bytes on the wire.
    pub fn encode(&self) -> [u8; MAP_LEN] {
        let mut packet = [0u8; MAP_LEN];
        packet[0] = VERSION;
        packet[1] = OP_MAP;
        packet[4..8].copy_from_slice(&self.lifetime.to_be_bytes());
        packet[8..24].copy_from_slice(&to_wire(self.client).octets());
        packet[24..36].copy_from_slice(&self.nonce);
        packet[36] = self.protocol;
        packet[40..42].copy_from_slice(&self.internal_port.to_be_bytes());
        // Suggested external port 0: no preference.
        let suggested = match self.family {
            IpFamily::V4 => Ipv4Addr::UNSPECIFIED.to_ipv6_mapped(),
            IpFamily::V6 => Ipv6Addr::UNSPECIFIED,
        };
        packet[44..60].copy_from_slice(&suggested.octets());
        packet
    }

    /// The same request with another lifetime (0 deletes the mapping).
    pub fn with_lifetime(self, lifetime: u32) -> Self {
        Self { lifetime, ..self }
    }

    /// Checks that `packet` answers this request and returns it.
    ///
    /// Answers to other requests ([`Error::NotOurs`]) and malformed
    /// datagrams are "stray" errors, to be skipped; an error result code
    /// that echoes our nonce (or is too short to echo it) is a refusal.
    pub fn accept(&self, packet: &[u8]) -> Result<MapResponse> {
        if packet.len() >= MAP_LEN && packet[0] == VERSION && !self.echoed_by(packet) {
            return Err(Error::NotOurs);
        }
        let response = parse_map_response(packet)?;
        if IpFamily::of(&response.external_address) != self.family {
            return Err(Error::WrongFamily {
                asked: self.family,
                address: response.external_address,
            });
        }
        Ok(response)
    }

    fn echoed_by(&self, packet: &[u8]) -> bool {
        packet[24..36] == self.nonce
            && packet[36] == self.protocol
            && packet[40..42] == self.internal_port.to_be_bytes()
    }
}

/// IPv4 travels as an IPv4-mapped IPv6 address (RFC 6887 §5).
fn to_wire(address: IpAddr) -> Ipv6Addr {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn from_wire(octets: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(octets);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// Parses a PCP MAP response (RFC 6887 §7.2 and §11.1).
///
/// Checks, in order: at least the 24-byte header, at most 1100 bytes and a
/// multiple of 4 ([`Error::Truncated`]); version 2, except a NAT-PMP
/// "unsupported version" answer ([`Error::PcpUnsupported`]) or a PCP one
/// from an older version ([`Error::Refused`] code 1), else
/// [`Error::UnexpectedVersion`]; the response bit and the MAP opcode
/// ([`Error::UnexpectedOpcode`]); the result code ([`Error::Refused`]);
/// then the 36-byte MAP body ([`Error::Truncated`]) and a specified
/// external address ([`Error::NoExternalAddress`]). Options after the body
/// are ignored. It does not check the nonce: [`MapRequest::accept`] does.
///
/// Pure and total: it never panics, whatever the input (a fuzz target
/// feeds it arbitrary bytes).
pub fn parse_map_response(packet: &[u8]) -> Result<MapResponse> {
    let len = packet.len();
    if let [0, opcode, 0, 1, ..] = packet
        && opcode & RESPONSE_BIT != 0
    {
        // RFC 6886 §3.5: a NAT-PMP gateway answers any other version so.
        return Err(Error::PcpUnsupported);
    }
    if len < HEADER_LEN {
        return Err(Error::Truncated {
            len,
            needed: HEADER_LEN,
        });
    }
    let version = packet[0];
    let opcode = packet[1];
    let code = packet[3];
    if version != VERSION {
        if opcode & RESPONSE_BIT != 0 && code == 1 {
            return Err(refused(u16::from(code)));
        }
        return Err(Error::UnexpectedVersion { version });
    }
    if len > MAX_LEN || !len.is_multiple_of(4) {
        return Err(Error::BadLength { len });
    }
    if opcode != RESPONSE_BIT | OP_MAP {
        return Err(Error::UnexpectedOpcode { opcode });
    }
    if code != 0 {
        return Err(refused(u16::from(code)));
    }
    if len < MAP_LEN {
        return Err(Error::Truncated {
            len,
            needed: MAP_LEN,
        });
    }
    let word = |at: usize| {
        u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
    };
    let port = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&packet[24..36]);
    let mut external = [0u8; 16];
    external.copy_from_slice(&packet[44..60]);
    let external_address = from_wire(external);
    if external_address.is_unspecified() {
        return Err(Error::NoExternalAddress {
            address: external_address,
        });
    }
    Ok(MapResponse {
        lifetime: word(4),
        epoch: word(8),
        nonce,
        protocol: packet[36],
        internal_port: port(40),
        external_port: port(42),
        external_address,
    })
}

fn refused(code: u16) -> Error {
    Error::Refused {
        protocol: "PCP",
        code,
        meaning: result_meaning(code),
    }
}

/// What RFC 6887 §7.4 says a result code means.
pub fn result_meaning(code: u16) -> &'static str {
    match code {
        0 => "SUCCESS",
        1 => "UNSUPP_VERSION: the gateway does not speak PCP version 2",
        2 => {
            "NOT_AUTHORIZED: PCP may be disabled on the gateway, or mappings are not allowed for this host or port"
        }
        3 => "MALFORMED_REQUEST",
        4 => "UNSUPP_OPCODE",
        5 => "UNSUPP_OPTION",
        6 => "MALFORMED_OPTION",
        7 => "NETWORK_FAILURE: the gateway has no external address yet",
        8 => "NO_RESOURCES",
        9 => "UNSUPP_PROTOCOL",
        10 => "USER_EX_QUOTA",
        11 => "CANNOT_PROVIDE_EXTERNAL",
        12 => "ADDRESS_MISMATCH: another NAT between this host and the gateway",
        13 => "EXCESSIVE_REMOTE_PEERS",
        _ => "unknown result code",
    }
}

/// Asks a PCP gateway for the external address of a family.
///
/// IPv4 is asked of an IPv4 gateway and IPv6 of an IPv6 one: with
/// [`Gateway::DefaultRoute`] the default router of each family, with a
/// fixed address only that address's family. Requests are retransmitted
/// after 3 s (±10 %), doubling (RFC 6887 §8.1.1), until an answer arrives
/// or the caller's timeout ends the detection.
#[derive(Debug, Clone)]
pub struct PcpDetector {
    gateway: Gateway,
    name: String,
}

impl PcpDetector {
    /// A detector asking `gateway`.
    pub fn new(gateway: Gateway) -> Self {
        let name = format!("pcp:{gateway}");
        Self { gateway, name }
    }

    /// A detector asking the default router of each family.
    pub fn default_gateway() -> Self {
        Self::new(Gateway::DefaultRoute)
    }

    /// The gateway it asks.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The external address of `family` the gateway reports.
    #[instrument(skip_all, fields(source = %self.name, family = %family))]
    pub async fn external_address(&self, family: IpFamily) -> Result<IpAddr> {
        let gateway = self
            .gateway
            .resolve(family)?
            .ok_or(Error::UnsupportedFamily {
                protocol: "PCP to this gateway",
                family,
            })?;
        let socket = exchange::connect(gateway).await?;
        let local = socket
            .local_addr()
            .map_err(|source| Error::SendFailed { gateway, source })?;
        let mut nonce = [0u8; 12];
        fastrand::fill(&mut nonce);
        let request = MapRequest {
            lifetime: PROBE_LIFETIME,
            client: local.ip(),
            nonce,
            protocol: PROTOCOL_UDP,
            internal_port: local.port(),
            family,
        };
        let response = exchange::exchange(
            &socket,
            gateway,
            &request.encode(),
            Schedule::PCP,
            |packet| request.accept(packet),
        )
        .await?;
        debug!(gateway = %gateway, address = %response.external_address, epoch = response.epoch, lifetime = response.lifetime, "gateway reported its external address");
        delete(&socket, gateway, request).await;
        Ok(response.external_address)
    }
}

/// Deletes the probing mapping: one request, not waited for; if it is
/// lost, the mapping expires with its short lifetime.
async fn delete(socket: &tokio::net::UdpSocket, gateway: SocketAddr, request: MapRequest) {
    if let Err(error) = socket.send(&request.with_lifetime(0).encode()).await {
        debug!(gateway = %gateway, error = %error, "cannot delete the probing mapping; it expires by itself");
    }
}

#[async_trait]
impl Detector for PcpDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        match &self.gateway {
            Gateway::DefaultRoute => true,
            Gateway::Address { address, .. } => IpFamily::of(address) == family,
        }
    }

    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError> {
        Ok(self.external_address(family).await?)
    }
}

#[cfg(test)]
mod tests;
