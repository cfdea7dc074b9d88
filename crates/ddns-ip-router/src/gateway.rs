//! Which gateway to ask: a configured address, or the default route's
//! gateway read from the kernel's routing tables in `/proc`.
//!
//! The files are read under `/proc/thread-self`, so that a thread that
//! entered another network namespace sees that namespace's routes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use ddns_core::IpFamily;

use crate::error::{Error, Result};

/// The UDP port NAT-PMP and PCP servers listen on (RFC 6886 §3, RFC 6887 §19.1).
pub const SERVER_PORT: u16 = 5351;

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// The gateway a detector asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateway {
    /// The gateway of the default route of the family asked for, looked up
    /// at every request, so that a new network (DHCP) is followed.
    DefaultRoute,
    /// A fixed address. A link-local IPv6 address needs its interface.
    Address {
        /// The gateway's address.
        address: IpAddr,
        /// The interface of a link-local IPv6 address (its zone).
        interface: Option<String>,
    },
}

impl Gateway {
    /// A fixed gateway address without zone.
    pub fn address(address: impl Into<IpAddr>) -> Self {
        Gateway::Address {
            address: address.into(),
            interface: None,
        }
    }

    /// The address and port to send to for `family`, or `None` when a fixed
    /// gateway is of another family.
    pub(crate) fn resolve(&self, family: IpFamily) -> Result<Option<SocketAddr>> {
        match self {
            Gateway::Address { address, interface } => {
                if IpFamily::of(address) != family {
                    return Ok(None);
                }
                let scope = match interface {
                    Some(name) => interface_index(name)?,
                    None => 0,
                };
                Ok(Some(socket_address(*address, scope)))
            }
            Gateway::DefaultRoute => match family {
                IpFamily::V4 => {
                    let table = read_table("route")?;
                    let gateway = parse_ipv4_default_gateway(&table)
                        .ok_or(Error::NoDefaultGateway { family })?;
                    Ok(Some(SocketAddr::from((gateway, SERVER_PORT))))
                }
                IpFamily::V6 => {
                    let table = read_table("ipv6_route")?;
                    let (gateway, interface) = parse_ipv6_default_gateway(&table)
                        .ok_or(Error::NoDefaultGateway { family })?;
                    let scope = if is_link_local(&gateway) {
                        interface_index(&interface)?
                    } else {
                        0
                    };
                    Ok(Some(socket_address(IpAddr::V6(gateway), scope)))
                }
            },
        }
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gateway::DefaultRoute => f.write_str("default-gateway"),
            Gateway::Address {
                address,
                interface: Some(zone),
            } => write!(f, "{address}%{zone}"),
            Gateway::Address { address, .. } => write!(f, "{address}"),
        }
    }
}

fn socket_address(address: IpAddr, scope: u32) -> SocketAddr {
    match address {
        IpAddr::V4(v4) => SocketAddr::from((v4, SERVER_PORT)),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, SERVER_PORT, 0, scope)),
    }
}

pub(crate) fn is_link_local(address: &Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

fn read_table(name: &str) -> Result<String> {
    let path = format!("/proc/thread-self/net/{name}");
    std::fs::read_to_string(&path).map_err(|source| Error::RouteTableUnreadable { path, source })
}

/// The index of interface `name`, from `/proc/…/net/if_inet6` (an interface
/// with a link-local gateway has a link-local address itself).
fn interface_index(name: &str) -> Result<u32> {
    let table = read_table("if_inet6")?;
    parse_interface_index(&table, name).ok_or_else(|| Error::UnknownInterface {
        interface: name.to_string(),
    })
}

/// The default route's gateway in `/proc/net/route`: the one with the
/// lowest metric among up, non-reject default routes via a gateway.
pub(crate) fn parse_ipv4_default_gateway(table: &str) -> Option<Ipv4Addr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [
                _iface,
                destination,
                gateway,
                flags,
                _refcnt,
                _use,
                metric,
                mask,
                ..,
            ] = fields[..]
            else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            if destination != "00000000"
                || mask != "00000000"
                || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY
                || flags & RTF_REJECT != 0
            {
                return None;
            }
            // The kernel prints the network-order word as a native integer.
            let gateway = Ipv4Addr::from(u32::from_str_radix(gateway, 16).ok()?.to_ne_bytes());
            let metric: u32 = metric.parse().ok()?;
            Some((metric, gateway))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, gateway)| gateway)
}

/// The default route's gateway and interface in `/proc/net/ipv6_route`.
pub(crate) fn parse_ipv6_default_gateway(table: &str) -> Option<(Ipv6Addr, String)> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [
                destination,
                prefix_len,
                _source,
                _source_len,
                gateway,
                metric,
                _refcnt,
                _use,
                flags,
                iface,
            ] = fields[..]
            else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            if destination.bytes().any(|b| b != b'0')
                || prefix_len != "00"
                || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY
                || flags & RTF_REJECT != 0
            {
                return None;
            }
            let gateway = Ipv6Addr::from(u128::from_str_radix(gateway, 16).ok()?);
            if gateway.is_unspecified() {
                return None;
            }
            let metric = u32::from_str_radix(metric, 16).ok()?;
            Some((metric, gateway, iface.to_string()))
        })
        .min_by_key(|(metric, ..)| *metric)
        .map(|(_, gateway, iface)| (gateway, iface))
}

/// The index of `name` in `/proc/net/if_inet6` (address, index, prefix
/// length, scope, flags, name; numbers in hex).
pub(crate) fn parse_interface_index(table: &str, name: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [_, index, _, _, _, iface] if iface == name => u32::from_str_radix(index, 16).ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/proc/net/route` word as the kernel prints it on this machine.
    fn word(address: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(address.octets()))
    }

    fn ipv4_table(rows: &[(&str, Ipv4Addr, Ipv4Addr, u32, u32, Ipv4Addr)]) -> String {
        let mut table = String::from(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
        );
        for (iface, destination, gateway, flags, metric, mask) in rows {
            table.push_str(&format!(
                "{iface}\t{}\t{}\t{flags:04X}\t0\t0\t{metric}\t{}\t0\t0\t0\n",
                word(*destination),
                word(*gateway),
                word(*mask)
            ));
        }
        table
    }

    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

    #[test]
    fn ipv4_default_route_gateway_is_found() {
        let table = ipv4_table(&[
            ("eth0", ANY, Ipv4Addr::new(192, 168, 1, 1), 0x3, 100, ANY),
            (
                "eth0",
                Ipv4Addr::new(192, 168, 1, 0),
                ANY,
                0x1,
                0,
                Ipv4Addr::new(255, 255, 255, 0),
            ),
        ]);
        assert_eq!(
            parse_ipv4_default_gateway(&table),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
    }

    #[test]
    fn ipv4_lowest_metric_wins_and_reject_or_down_routes_do_not_count() {
        let table = ipv4_table(&[
            ("wlan0", ANY, Ipv4Addr::new(10, 0, 0, 1), 0x3, 600, ANY),
            ("eth0", ANY, Ipv4Addr::new(192, 168, 1, 1), 0x3, 100, ANY),
            ("eth1", ANY, Ipv4Addr::new(172, 16, 0, 1), 0x0203, 1, ANY),
            ("eth2", ANY, Ipv4Addr::new(172, 17, 0, 1), 0x2, 1, ANY),
        ]);
        assert_eq!(
            parse_ipv4_default_gateway(&table),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
    }

    #[test]
    fn ipv4_without_default_route_or_with_a_device_route_has_no_gateway() {
        let device_only = ipv4_table(&[("ppp0", ANY, ANY, 0x1, 0, ANY)]);
        assert_eq!(parse_ipv4_default_gateway(&device_only), None);
        assert_eq!(parse_ipv4_default_gateway(""), None);
        assert_eq!(parse_ipv4_default_gateway("garbage\nmore garbage"), None);
        let bad_hex = "Iface\n\
                       eth0\t00000000\tZZZZ\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(parse_ipv4_default_gateway(bad_hex), None);
    }

    const IPV6_TABLE: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000003 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000100 00000003 00000000 00000003    wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 00200200       lo
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
";

    #[test]
    fn ipv6_default_router_with_lowest_metric_and_its_interface() {
        assert_eq!(
            parse_ipv6_default_gateway(IPV6_TABLE),
            Some(("fe80::2".parse().unwrap(), "wlan0".to_string()))
        );
    }

    #[test]
    fn ipv6_without_default_router() {
        let table: String = IPV6_TABLE
            .lines()
            .filter(|l| !l.contains(" 00000003 "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_ipv6_default_gateway(&table), None);
        assert_eq!(parse_ipv6_default_gateway("short line"), None);
    }

    #[test]
    fn interface_index_from_if_inet6() {
        let table = "\
fe80000000000000fc54fffffe000001 0a 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
";
        assert_eq!(parse_interface_index(table, "eth0"), Some(10));
        assert_eq!(parse_interface_index(table, "lo"), Some(1));
        assert_eq!(parse_interface_index(table, "eth1"), None);
    }

    #[test]
    fn a_fixed_gateway_of_the_other_family_is_not_asked() {
        let gateway = Gateway::address(Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(gateway.resolve(IpFamily::V6).unwrap(), None);
        assert_eq!(
            gateway.resolve(IpFamily::V4).unwrap(),
            Some("192.168.1.1:5351".parse().unwrap())
        );
    }

    #[test]
    fn an_unknown_zone_is_reported_by_name() {
        let gateway = Gateway::Address {
            address: "fe80::1".parse().unwrap(),
            interface: Some("no-such-if0".into()),
        };
        let error = gateway.resolve(IpFamily::V6).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no interface no-such-if0 for the link-local gateway address"
        );
    }
}
