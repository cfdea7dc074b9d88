//! NAT-PMP (RFC 6886): the public address request and its answer, which
//! is also the format of the gateway's multicast announcements.

use std::net::{IpAddr, Ipv4Addr};

use async_trait::async_trait;
use ddns_core::detect::Detector;
use ddns_core::{IpFamily, SourceError};
use tracing::{debug, instrument};

use crate::error::{Error, Result};
use crate::exchange::{self, Schedule};
use crate::gateway::Gateway;

/// The NAT-PMP version byte.
pub const VERSION: u8 = 0;
/// The opcode of the public address request (RFC 6886 §3.2).
pub const OP_PUBLIC_ADDRESS: u8 = 0;
/// The response bit added to the opcode in answers.
pub const RESPONSE_BIT: u8 = 0x80;

/// The public address request: version 0, opcode 0.
pub const PUBLIC_ADDRESS_REQUEST: [u8; 2] = [VERSION, OP_PUBLIC_ADDRESS];

/// A successful public address answer or announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAddress {
    /// Seconds since the gateway's port-mapping table was (re)initialised.
    pub epoch: u32,
    /// The gateway's external IPv4 address (may be 0.0.0.0 when it has
    /// none; [`parse_public_address`] reports that as an error).
    pub address: Ipv4Addr,
}

/// Parses a NAT-PMP public address response (RFC 6886 §3.2), which is also
/// the format of the gateway's announcements (§3.2.1).
///
/// Layout: version (0), opcode (128), result code (u16), seconds since
/// start of epoch (u32), external IPv4 address; 12 bytes, network order.
/// Extra trailing bytes are ignored. The error tells which check failed:
/// [`Error::Truncated`], [`Error::UnexpectedVersion`],
/// [`Error::UnexpectedOpcode`] for a message that is not such a response;
/// [`Error::Refused`] for a non-zero result code (whose other fields RFC
/// 6886 leaves undefined, so only 4 bytes are needed);
/// [`Error::NoExternalAddress`] for 0.0.0.0.
///
/// Pure and total: it never panics, whatever the input (a fuzz target
/// feeds it arbitrary bytes).
pub fn parse_public_address(packet: &[u8]) -> Result<PublicAddress> {
    const LEN: usize = 12;
    let [version, opcode, code_hi, code_lo, rest @ ..] = packet else {
        return Err(Error::Truncated {
            len: packet.len(),
            needed: LEN,
        });
    };
    if *version != VERSION {
        return Err(Error::UnexpectedVersion { version: *version });
    }
    if *opcode != RESPONSE_BIT | OP_PUBLIC_ADDRESS {
        return Err(Error::UnexpectedOpcode { opcode: *opcode });
    }
    let code = u16::from_be_bytes([*code_hi, *code_lo]);
    if code != 0 {
        return Err(Error::Refused {
            protocol: "NAT-PMP",
            code,
            meaning: result_meaning(code),
        });
    }
    let [e0, e1, e2, e3, a0, a1, a2, a3, ..] = rest else {
        return Err(Error::Truncated {
            len: packet.len(),
            needed: LEN,
        });
    };
    let address = Ipv4Addr::new(*a0, *a1, *a2, *a3);
    if address.is_unspecified() {
        return Err(Error::NoExternalAddress {
            address: IpAddr::V4(address),
        });
    }
    Ok(PublicAddress {
        epoch: u32::from_be_bytes([*e0, *e1, *e2, *e3]),
        address,
    })
}

/// What RFC 6886 §3.5 says a result code means.
pub fn result_meaning(code: u16) -> &'static str {
    match code {
        0 => "success",
        1 => "unsupported version",
        2 => "not authorized or refused, NAT-PMP may be disabled on the gateway",
        3 => "network failure, the gateway has no external address yet",
        4 => "out of resources",
        5 => "unsupported opcode",
        _ => "unknown result code",
    }
}

/// Asks the gateway for its external IPv4 address with NAT-PMP.
///
/// The request is sent to UDP port 5351 and retransmitted after 250 ms,
/// doubling (RFC 6886 §3.1), until an answer arrives or the caller's
/// timeout ends the detection. Only datagrams from the gateway's address
/// and port are read; ones that are not the answer are skipped.
#[derive(Debug, Clone)]
pub struct NatPmpDetector {
    gateway: Gateway,
    name: String,
}

impl NatPmpDetector {
    /// A detector asking `gateway`, or the gateway of the IPv4 default
    /// route (looked up at every request) when `None`.
    pub fn new(gateway: Option<Ipv4Addr>) -> Self {
        let gateway = gateway.map_or(Gateway::DefaultRoute, Gateway::address);
        let name = format!("natpmp:{gateway}");
        Self { gateway, name }
    }

    /// A detector asking the gateway of the IPv4 default route.
    pub fn default_gateway() -> Self {
        Self::new(None)
    }

    /// The gateway it asks.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The external IPv4 address the gateway reports.
    #[instrument(skip_all, fields(source = %self.name))]
    pub async fn public_address(&self) -> Result<Ipv4Addr> {
        let gateway = self
            .gateway
            .resolve(IpFamily::V4)?
            .ok_or(Error::NoDefaultGateway {
                family: IpFamily::V4,
            })?;
        let socket = exchange::connect(gateway).await?;
        let answer = exchange::exchange(
            &socket,
            gateway,
            &PUBLIC_ADDRESS_REQUEST,
            Schedule::NATPMP,
            parse_public_address,
        )
        .await?;
        debug!(gateway = %gateway, address = %answer.address, epoch = answer.epoch, "gateway reported its external address");
        Ok(answer.address)
    }
}

#[async_trait]
impl Detector for NatPmpDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        family == IpFamily::V4
    }

    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError> {
        if family != IpFamily::V4 {
            return Err(Error::UnsupportedFamily {
                protocol: "NAT-PMP",
                family,
            }
            .into());
        }
        Ok(IpAddr::V4(self.public_address().await?))
    }
}

#[cfg(test)]
mod tests;
