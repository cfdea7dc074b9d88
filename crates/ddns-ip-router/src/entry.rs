//! The `natpmp:`, `pcp:` and `upnp:` entries of `DDNS_IP_SOURCE_URLS`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ddns_core::detect::Detector;

use crate::gateway::{Gateway, is_link_local};
use crate::natpmp::NatPmpDetector;
use crate::pcp::PcpDetector;
use crate::upnp::{ControlUrl, UpnpDetector};

/// A validated router entry, before any detector exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEntry {
    /// `natpmp:` or `natpmp:GATEWAY`.
    NatPmp(Option<Ipv4Addr>),
    /// `pcp:` or `pcp:GATEWAY`.
    Pcp(Gateway),
    /// `upnp:` (SSDP discovery) or `upnp:CONTROL-URL`.
    Upnp(Option<ControlUrl>),
}

impl RouterEntry {
    /// Checks an entry without touching the network: `None` when it is not
    /// a router entry (no `natpmp:`, `pcp:` or `upnp:` scheme), else the
    /// entry or what is wrong with it.
    pub fn parse(entry: &str) -> Option<Result<Self, String>> {
        let entry = entry.trim();
        let (scheme, rest) = entry.split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = rest.trim();
        let parsed = match scheme.as_str() {
            "natpmp" => parse_natpmp(rest),
            "pcp" => parse_pcp(rest),
            "upnp" => parse_upnp(rest),
            _ => return None,
        };
        Some(parsed.map_err(|reason| format!("`{entry}`: {reason}")))
    }

    /// The detector for this entry.
    pub fn build(self) -> Arc<dyn Detector> {
        match self {
            RouterEntry::NatPmp(gateway) => Arc::new(NatPmpDetector::new(gateway)),
            RouterEntry::Pcp(gateway) => Arc::new(PcpDetector::new(gateway)),
            RouterEntry::Upnp(None) => Arc::new(UpnpDetector::discover()),
            RouterEntry::Upnp(Some(url)) => Arc::new(UpnpDetector::with_control_url(url)),
        }
    }
}

/// Parses one `DDNS_IP_SOURCE_URLS` entry: `None` when it is not a router
/// entry, else its detector or what is wrong with it. See the crate docs
/// for the syntax.
pub fn parse_entry(entry: &str) -> Option<Result<Arc<dyn Detector>, String>> {
    RouterEntry::parse(entry).map(|parsed| parsed.map(RouterEntry::build))
}

fn parse_natpmp(rest: &str) -> Result<RouterEntry, String> {
    if rest.is_empty() {
        return Ok(RouterEntry::NatPmp(None));
    }
    match parse_host(rest)? {
        (IpAddr::V4(v4), None) => Ok(RouterEntry::NatPmp(Some(v4))),
        _ => Err(format!(
            "NAT-PMP is IPv4 only, so the gateway must be an IPv4 address, not `{rest}` (use pcp: for an IPv6 gateway)"
        )),
    }
}

fn parse_pcp(rest: &str) -> Result<RouterEntry, String> {
    if rest.is_empty() {
        return Ok(RouterEntry::Pcp(Gateway::DefaultRoute));
    }
    let (address, interface) = parse_host(rest)?;
    if let IpAddr::V6(v6) = address
        && is_link_local(&v6)
        && interface.is_none()
    {
        return Err(format!(
            "the link-local gateway `{rest}` needs its interface, e.g. pcp:[{v6}%eth0]"
        ));
    }
    Ok(RouterEntry::Pcp(Gateway::Address { address, interface }))
}

fn parse_upnp(rest: &str) -> Result<RouterEntry, String> {
    if rest.is_empty() {
        return Ok(RouterEntry::Upnp(None));
    }
    if rest.starts_with("//") {
        return Err(
            "write upnp: to discover the gateway, or upnp:http://IP:PORT/PATH with its control URL"
                .to_string(),
        );
    }
    ControlUrl::parse(rest).map(|url| RouterEntry::Upnp(Some(url)))
}

/// A gateway address: `192.168.1.1`, `fd00::1`, `[fd00::1]`, `fe80::1%eth0`
/// or `[fe80::1%eth0]`. No port: NAT-PMP and PCP always use 5351.
fn parse_host(text: &str) -> Result<(IpAddr, Option<String>), String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let (address, zone) = match bare.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (bare, None),
    };
    let Ok(ip) = address.parse::<IpAddr>() else {
        let hint = if text.contains(':') && text.parse::<std::net::SocketAddr>().is_ok() {
            " (no port: the gateway always listens on 5351)"
        } else {
            ""
        };
        return Err(format!(
            "`{text}` is not an IP address{hint}; leave it empty for the default gateway"
        ));
    };
    let zone = match zone {
        None => None,
        Some(zone) if ip.is_ipv6() && valid_interface_name(zone) => Some(zone.to_string()),
        Some(zone) => {
            return Err(format!(
                "`%{zone}` is not an interface name for a link-local IPv6 address"
            ));
        }
    };
    Ok((ip, zone))
}

/// Linux interface names: 1 to 15 bytes, no `/`, whitespace or `%`.
fn valid_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'%')
}

#[cfg(test)]
mod tests;
