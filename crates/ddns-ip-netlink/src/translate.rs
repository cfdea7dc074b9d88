//! Kernel messages to [`AddressCandidate`]s, link states and default
//! routes.
//!
//! Pure functions over `netlink-packet-route`'s parsed types: no socket, no
//! state beyond the link the caller looked up.

use std::fmt;
use std::net::IpAddr;

use ddns_core::{AddressCandidate, IpFamily};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType, RouteVia,
};

/// What the source needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// `IFLA_IFNAME`, when the message carried it.
    pub(crate) name: Option<String>,
    /// `IFF_LOOPBACK`.
    pub(crate) loopback: bool,
}

/// The interface index and description carried by an `RTM_NEWLINK`.
pub(crate) fn link(message: &LinkMessage) -> (u32, Link) {
    let name = message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        });
    let loopback = message.header.flags.contains(LinkFlags::Loopback);
    (message.header.index, Link { name, loopback })
}

/// Whether an `RTM_DELLINK` means the interface itself is gone.
///
/// The bridge code sends `RTM_DELLINK` with family `AF_BRIDGE` when a port
/// leaves a bridge; the interface and its addresses stay.
pub(crate) fn is_interface_removal(message: &LinkMessage) -> bool {
    message.header.interface_family == AddressFamily::Unspec
}

/// The host's own address in an `RTM_NEWADDR`/`RTM_DELADDR`.
///
/// `IFA_LOCAL` wins over `IFA_ADDRESS`: on a point-to-point link the latter
/// is the peer's address (iproute2 reads them the same way).
pub(crate) fn address(message: &AddressMessage) -> Option<IpAddr> {
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(local) => return Some(*local),
            AddressAttribute::Address(peer_or_own) => address = Some(*peer_or_own),
            _ => {}
        }
    }
    address
}

/// The candidate an `RTM_NEWADDR` describes, or `None` when it carries no
/// address. `link` is the interface as last seen, when known.
pub(crate) fn candidate(message: &AddressMessage, link: Option<&Link>) -> Option<AddressCandidate> {
    let address = address(message)?;
    let mut flags = header_flags(message.header.flags);
    let mut label = None;
    let mut preferred_lifetime_over = false;
    for attribute in &message.attributes {
        match attribute {
            // IFA_FLAGS holds all 32 bits; the header only the low 8.
            AddressAttribute::Flags(all) => flags |= *all,
            AddressAttribute::Label(text) => label = Some(text.as_str()),
            AddressAttribute::CacheInfo(info) => preferred_lifetime_over = info.ifa_preferred == 0,
            _ => {}
        }
    }
    let interface = match (link.and_then(|l| l.name.as_deref()), label) {
        (Some(name), _) => name.to_string(),
        // An IPv4 label names an alias (`eth0:1`); the device is before the colon.
        (None, Some(label)) => label.split(':').next().unwrap_or(label).to_string(),
        (None, None) => String::new(),
    };
    let mut candidate = AddressCandidate::new(address, message.header.index, interface);
    candidate.scope_global = message.header.scope == AddressScope::Universe;
    candidate.loopback_interface = link.is_some_and(|l| l.loopback);
    // For IPv6 the kernel reuses IFA_F_SECONDARY as IFA_F_TEMPORARY; for
    // IPv4 it marks an ordinary secondary address, which is fine to publish.
    candidate.temporary = address.is_ipv6() && flags.contains(AddressFlags::Secondary);
    candidate.deprecated = flags.contains(AddressFlags::Deprecated) || preferred_lifetime_over;
    candidate.tentative = flags.contains(AddressFlags::Tentative);
    candidate.dad_failed = flags.contains(AddressFlags::Dadfailed);
    Some(candidate)
}

fn header_flags(flags: AddressHeaderFlags) -> AddressFlags {
    AddressFlags::from_bits_retain(u32::from(flags.bits()))
}

/// Whether a link can carry traffic, as far as an `RTM_NEWLINK` says: the
/// part of the message that is not statistics or configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkState {
    /// `IFF_UP`: administratively up.
    pub(crate) up: bool,
    /// `IFF_LOWER_UP`: the carrier is on.
    pub(crate) lower_up: bool,
    /// `IFF_RUNNING`: operationally up (RFC 2863 "up" or "unknown").
    pub(crate) running: bool,
    /// `IFLA_OPERSTATE`, when the message carried it.
    pub(crate) operstate: Option<State>,
}

/// The state an `RTM_NEWLINK` reports.
pub(crate) fn link_state(message: &LinkMessage) -> LinkState {
    let flags = message.header.flags;
    let operstate = message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::OperState(state) => Some(*state),
            _ => None,
        });
    LinkState {
        up: flags.contains(LinkFlags::Up),
        lower_up: flags.contains(LinkFlags::LowerUp),
        running: flags.contains(LinkFlags::Running),
        operstate,
    }
}

/// A default route of the main table, reduced to what decides where
/// traffic to the internet goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DefaultRoute {
    pub(crate) family: IpFamily,
    /// The type of service it applies to (0: all).
    pub(crate) tos: u8,
    /// `RTA_PRIORITY`: the lowest metric wins.
    pub(crate) metric: u32,
    /// `RTA_NH_ID`, when the next hop is a nexthop object.
    pub(crate) nexthop_id: Option<u32>,
    /// Where packets go, sorted: one hop, several for a multipath route,
    /// none when a nexthop object holds them.
    pub(crate) hops: Vec<Hop>,
}

/// One next hop of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hop {
    /// The output interface (0 when the message named none).
    pub(crate) ifindex: u32,
    pub(crate) gateway: Option<IpAddr>,
}

impl fmt::Display for DefaultRoute {
    /// `default via 192.0.2.1 ifindex 3 metric 100`, hops joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("default")?;
        for (n, hop) in self.hops.iter().enumerate() {
            f.write_str(if n == 0 { " " } else { ", " })?;
            match hop.gateway {
                Some(gateway) => write!(f, "via {gateway} ifindex {}", hop.ifindex)?,
                None => write!(f, "ifindex {}", hop.ifindex)?,
            }
        }
        if let Some(id) = self.nexthop_id {
            write!(f, " nhid {id}")?;
        }
        if self.tos != 0 {
            write!(f, " tos {}", self.tos)?;
        }
        write!(f, " metric {}", self.metric)
    }
}

/// The default route an `RTM_NEWROUTE`/`RTM_DELROUTE` describes: IPv4 or
/// IPv6, destination length 0, unicast, in the main table. Anything else
/// (other tables, prefixes, local, broadcast, unreachable) is `None`.
pub(crate) fn default_route(message: &RouteMessage) -> Option<DefaultRoute> {
    let header = &message.header;
    let family = match header.address_family {
        AddressFamily::Inet => IpFamily::V4,
        AddressFamily::Inet6 => IpFamily::V6,
        _ => return None,
    };
    if header.destination_prefix_length != 0 || header.kind != RouteType::Unicast {
        return None;
    }
    // RTA_TABLE holds all 32 bits; the header only the low 8.
    let mut table = u32::from(header.table);
    let mut metric = 0;
    let mut nexthop_id = None;
    let mut oif = None;
    let mut multipath = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Table(all) => table = *all,
            RouteAttribute::Priority(priority) => metric = *priority,
            RouteAttribute::NhId(id) => nexthop_id = Some(*id),
            RouteAttribute::Oif(index) => oif = Some(*index),
            RouteAttribute::MultiPath(hops) => multipath = Some(hops),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return None;
    }
    let mut hops: Vec<Hop> = match multipath {
        Some(hops) => hops
            .iter()
            .map(|hop| Hop {
                ifindex: hop.interface_index,
                gateway: gateway(&hop.attributes),
            })
            .collect(),
        None => {
            let gateway = gateway(&message.attributes);
            if oif.is_none() && gateway.is_none() {
                Vec::new()
            } else {
                vec![Hop {
                    ifindex: oif.unwrap_or(0),
                    gateway,
                }]
            }
        }
    };
    hops.sort_unstable();
    Some(DefaultRoute {
        family,
        tos: header.tos,
        metric,
        nexthop_id,
        hops,
    })
}

/// `RTA_GATEWAY`, or `RTA_VIA` (an IPv4 route through an IPv6 gateway).
fn gateway(attributes: &[RouteAttribute]) -> Option<IpAddr> {
    attributes.iter().find_map(|attribute| match attribute {
        RouteAttribute::Gateway(RouteAddress::Inet(v4))
        | RouteAttribute::Via(RouteVia::Inet(v4)) => Some(IpAddr::V4(*v4)),
        RouteAttribute::Gateway(RouteAddress::Inet6(v6))
        | RouteAttribute::Via(RouteVia::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::testing::{
        address_message, default_route as default_via, ip, link_message, route_message,
    };
    use netlink_packet_route::address::CacheInfo;
    use netlink_packet_route::route::RouteNextHop;

    fn eth0() -> Link {
        Link {
            name: Some("eth0".into()),
            loopback: false,
        }
    }

    #[test]
    fn a_plain_global_address_becomes_an_eligible_candidate() {
        let message = address_message(2, "81.2.69.160");
        let candidate = candidate(&message, Some(&eth0())).expect("has an address");
        assert_eq!(
            candidate,
            AddressCandidate::new(ip("81.2.69.160"), 2, "eth0")
        );
    }

    #[test]
    fn ipv4_prefers_the_local_address_over_the_point_to_point_peer() {
        let mut message = address_message(7, "198.51.100.1");
        message
            .attributes
            .push(AddressAttribute::Local(ip("192.0.2.7")));
        assert_eq!(address(&message), Some(ip("192.0.2.7")));
        let candidate = candidate(&message, Some(&eth0())).expect("has an address");
        assert_eq!(candidate.address, ip("192.0.2.7"));
    }

    #[test]
    fn a_message_without_an_address_is_no_candidate() {
        let mut message = address_message(2, "192.0.2.1");
        message.attributes.clear();
        assert_eq!(candidate(&message, Some(&eth0())), None);
    }

    #[test]
    fn scope_other_than_universe_is_not_global() {
        let mut message = address_message(2, "fe80::1");
        message.header.scope = AddressScope::Link;
        assert!(
            !candidate(&message, Some(&eth0()))
                .expect("address")
                .scope_global
        );
        message.header.scope = AddressScope::Host;
        assert!(
            !candidate(&message, Some(&eth0()))
                .expect("address")
                .scope_global
        );
    }

    #[test]
    fn ipv6_temporary_flag_comes_from_the_header_or_ifa_flags() {
        let mut from_header = address_message(2, "2001:db8::1");
        from_header.header.flags = AddressHeaderFlags::Secondary;
        assert!(
            candidate(&from_header, Some(&eth0()))
                .expect("address")
                .temporary
        );

        let mut from_attribute = address_message(2, "2001:db8::1");
        from_attribute.attributes.push(AddressAttribute::Flags(
            AddressFlags::Secondary | AddressFlags::Managetempaddr,
        ));
        assert!(
            candidate(&from_attribute, Some(&eth0()))
                .expect("address")
                .temporary
        );
    }

    #[test]
    fn ipv4_secondary_address_is_not_temporary() {
        let mut message = address_message(2, "192.0.2.2");
        message.header.flags = AddressHeaderFlags::Secondary;
        message
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Secondary));
        let candidate = candidate(&message, Some(&eth0())).expect("address");
        assert!(!candidate.temporary);
    }

    #[test]
    fn deprecated_from_flag_or_zero_preferred_lifetime() {
        let mut flagged = address_message(2, "2001:db8::1");
        flagged
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Deprecated));
        assert!(
            candidate(&flagged, Some(&eth0()))
                .expect("address")
                .deprecated
        );

        let mut info = CacheInfo::default();
        info.ifa_preferred = 0;
        info.ifa_valid = 200;
        let mut expired = address_message(2, "2001:db8::2");
        expired.attributes.push(AddressAttribute::CacheInfo(info));
        assert!(
            candidate(&expired, Some(&eth0()))
                .expect("address")
                .deprecated
        );

        info.ifa_preferred = 100;
        let mut fresh = address_message(2, "2001:db8::3");
        fresh.attributes.push(AddressAttribute::CacheInfo(info));
        assert!(
            !candidate(&fresh, Some(&eth0()))
                .expect("address")
                .deprecated
        );

        // Permanent addresses report an infinite lifetime, not zero.
        info.ifa_preferred = u32::MAX;
        let mut permanent = address_message(2, "2001:db8::4");
        permanent.attributes.push(AddressAttribute::CacheInfo(info));
        assert!(
            !candidate(&permanent, Some(&eth0()))
                .expect("address")
                .deprecated
        );
    }

    #[test]
    fn tentative_and_dad_failed_flags() {
        let mut tentative = address_message(2, "2001:db8::1");
        tentative.header.flags = AddressHeaderFlags::Tentative;
        let c = candidate(&tentative, Some(&eth0())).expect("address");
        assert!(c.tentative && !c.dad_failed);

        let mut failed = address_message(2, "2001:db8::1");
        failed.attributes.push(AddressAttribute::Flags(
            AddressFlags::Tentative | AddressFlags::Dadfailed,
        ));
        let c = candidate(&failed, Some(&eth0())).expect("address");
        assert!(c.tentative && c.dad_failed);
        assert!(!c.temporary && !c.deprecated);
    }

    #[test]
    fn interface_name_and_loopback_come_from_the_link() {
        let (index, lo) = link(&link_message(1, "lo", LinkFlags::Loopback | LinkFlags::Up));
        assert_eq!(index, 1);
        assert_eq!(
            lo,
            Link {
                name: Some("lo".into()),
                loopback: true
            }
        );
        let c = candidate(&address_message(1, "127.0.0.1"), Some(&lo)).expect("address");
        assert_eq!(c.interface, "lo");
        assert!(c.loopback_interface);
    }

    #[test]
    fn unknown_link_falls_back_to_the_ipv4_label_without_the_alias() {
        let mut message = address_message(9, "192.0.2.9");
        message
            .attributes
            .push(AddressAttribute::Label("eth1:backup".into()));
        let c = candidate(&message, None).expect("address");
        assert_eq!(c.interface, "eth1");
        assert!(!c.loopback_interface);

        let bare = candidate(&address_message(9, "2001:db8::9"), None).expect("address");
        assert_eq!(bare.interface, "");
    }

    #[test]
    fn the_link_name_wins_over_the_label() {
        let mut message = address_message(2, "192.0.2.9");
        message
            .attributes
            .push(AddressAttribute::Label("eth0:1".into()));
        assert_eq!(
            candidate(&message, Some(&eth0()))
                .expect("address")
                .interface,
            "eth0"
        );
    }

    #[test]
    fn a_link_message_without_a_name_keeps_it_unknown() {
        let mut message = link_message(4, "x", LinkFlags::Up);
        message.attributes.clear();
        assert_eq!(link(&message).1.name, None);
    }

    #[test]
    fn bridge_port_removal_is_not_an_interface_removal() {
        let mut message = link_message(4, "eth0", LinkFlags::Up);
        assert!(is_interface_removal(&message));
        message.header.interface_family = AddressFamily::Bridge;
        assert!(!is_interface_removal(&message));
    }

    #[test]
    fn link_state_comes_from_the_flags_and_the_operstate() {
        let mut message = link_message(
            3,
            "v0",
            LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running | LinkFlags::Multicast,
        );
        message.attributes.push(LinkAttribute::OperState(State::Up));
        assert_eq!(
            link_state(&message),
            LinkState {
                up: true,
                lower_up: true,
                running: true,
                operstate: Some(State::Up),
            }
        );
        let bare = link_message(3, "v0", LinkFlags::Up);
        assert_eq!(
            link_state(&bare),
            LinkState {
                up: true,
                lower_up: false,
                running: false,
                operstate: None,
            }
        );
    }

    #[test]
    fn a_default_route_is_reduced_to_family_metric_and_hops() {
        let mut message = default_via("192.0.2.1", 3);
        message.attributes.push(RouteAttribute::Priority(100));
        let route = default_route(&message).expect("a default route");
        assert_eq!(
            route,
            DefaultRoute {
                family: IpFamily::V4,
                tos: 0,
                metric: 100,
                nexthop_id: None,
                hops: vec![Hop {
                    ifindex: 3,
                    gateway: Some(ip("192.0.2.1")),
                }],
            }
        );
        assert_eq!(
            route.to_string(),
            "default via 192.0.2.1 ifindex 3 metric 100"
        );

        let on_link = route_message("::", 0, None, 7);
        let route = default_route(&on_link).expect("a default route");
        assert_eq!(route.family, IpFamily::V6);
        assert_eq!(route.to_string(), "default ifindex 7 metric 0");
    }

    #[test]
    fn other_routes_are_not_default_routes() {
        assert_eq!(
            default_route(&route_message("192.0.2.0", 24, None, 3)),
            None,
            "a prefix route"
        );
        let mut other_table = default_via("192.0.2.1", 3);
        other_table
            .attributes
            .retain(|a| !matches!(a, RouteAttribute::Table(_)));
        other_table.attributes.push(RouteAttribute::Table(1000));
        assert_eq!(default_route(&other_table), None, "a policy routing table");
        let mut local = default_via("192.0.2.1", 3);
        local
            .attributes
            .retain(|a| !matches!(a, RouteAttribute::Table(_)));
        local.header.table = 255;
        assert_eq!(default_route(&local), None, "the local table");
        let mut unreachable = default_via("2001:db8::1", 3);
        unreachable.header.kind = RouteType::Unreachable;
        assert_eq!(default_route(&unreachable), None, "not unicast");
    }

    #[test]
    fn multipath_hops_are_sorted() {
        let mut message = route_message("0.0.0.0", 0, None, 0);
        message
            .attributes
            .retain(|a| !matches!(a, RouteAttribute::Oif(_)));
        let hop = |ifindex: u32, gateway: &str| {
            let mut hop = RouteNextHop::default();
            hop.interface_index = ifindex;
            hop.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(ip(gateway))));
            hop
        };
        message.attributes.push(RouteAttribute::MultiPath(vec![
            hop(4, "198.51.100.1"),
            hop(3, "192.0.2.1"),
        ]));
        let route = default_route(&message).expect("a default route");
        assert_eq!(
            route.to_string(),
            "default via 192.0.2.1 ifindex 3, via 198.51.100.1 ifindex 4 metric 0"
        );
    }
}
