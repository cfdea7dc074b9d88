#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressScope, CacheInfo,
};
use netlink_packet_route::link::{LinkFlags, State};
use netlink_packet_route::route::RouteAttribute;

use super::*;
use crate::testing::{
    address_message, default_route, del_address, del_link, del_route, ip, link_in_state,
    link_message, new_address, new_route, route_message, running, up_link,
};
use crate::translate::Hop;

const V0: u32 = 3;
const V1: u32 = 4;

fn up() -> LinkState {
    LinkState {
        up: true,
        lower_up: true,
        running: true,
        operstate: Some(State::Up),
    }
}

/// Every interface, with `v0` and `v1` up.
fn network(dump: &[RouteNetlinkMessage]) -> Network {
    let mut network = Network::new(Vec::new());
    let mut all = vec![up_link(V0, "v0"), up_link(V1, "v1")];
    all.extend_from_slice(dump);
    network.resync(&all);
    network
}

fn apply(network: &mut Network, message: RouteNetlinkMessage) -> Vec<Change> {
    network.apply(&message, false)
}

fn with_lifetimes(address: &str, preferred: u32, valid: u32) -> RouteNetlinkMessage {
    let mut message = address_message(V0, address);
    let mut info = CacheInfo::default();
    info.ifa_preferred = preferred;
    info.ifa_valid = valid;
    message.attributes.push(AddressAttribute::CacheInfo(info));
    RouteNetlinkMessage::NewAddress(message)
}

fn added(address: &str) -> Change {
    Change::AddressAdded {
        ifindex: V0,
        interface: "v0".into(),
        address: ip(address),
    }
}

fn removed(address: &str) -> Change {
    Change::AddressRemoved {
        ifindex: V0,
        interface: "v0".into(),
        address: ip(address),
    }
}

fn route(gateway: &str, ifindex: u32) -> DefaultRoute {
    translate::default_route(&default_route(gateway, ifindex)).expect("a default route")
}

#[test]
fn a_new_global_address_is_a_change_and_its_refreshes_are_not() {
    let mut network = network(&[]);
    assert_eq!(
        apply(&mut network, with_lifetimes("2001:db8::1", 100, 200)),
        vec![added("2001:db8::1")]
    );
    for left in (1..100).rev() {
        assert_eq!(
            apply(
                &mut network,
                with_lifetimes("2001:db8::1", left, left + 100)
            ),
            Vec::new(),
            "a lifetime refresh"
        );
    }
    assert_eq!(
        apply(&mut network, new_address(V0, "192.0.2.1")),
        vec![added("192.0.2.1")]
    );
    assert_eq!(
        apply(&mut network, new_address(V0, "192.0.2.1")),
        Vec::new(),
        "the same message again (a DHCP renewal)"
    );
}

#[test]
fn removing_a_global_address_is_a_change() {
    let mut network = network(&[new_address(V0, "192.0.2.1")]);
    assert_eq!(
        apply(&mut network, del_address(V0, "192.0.2.1")),
        vec![removed("192.0.2.1")]
    );
    assert_eq!(
        apply(&mut network, del_address(V0, "192.0.2.1")),
        Vec::new(),
        "already gone"
    );
}

#[test]
fn link_local_host_temporary_and_tentative_addresses_are_not_changes() {
    let mut network = network(&[]);
    let mut link_local = address_message(V0, "fe80::1");
    link_local.header.scope = AddressScope::Link;
    let mut host = address_message(V0, "192.0.2.9");
    host.header.scope = AddressScope::Host;
    let mut temporary = address_message(V0, "2001:db8::7");
    temporary.header.flags = AddressHeaderFlags::Secondary;
    let mut tentative = address_message(V0, "2001:db8::8");
    tentative
        .attributes
        .push(AddressAttribute::Flags(AddressFlags::Tentative));
    for message in [link_local.clone(), host, temporary.clone()] {
        assert_eq!(
            apply(
                &mut network,
                RouteNetlinkMessage::NewAddress(message.clone())
            ),
            Vec::new(),
            "{message:?}"
        );
        assert_eq!(
            apply(
                &mut network,
                RouteNetlinkMessage::DelAddress(message.clone())
            ),
            Vec::new(),
            "{message:?}"
        );
    }
    assert_eq!(
        apply(&mut network, RouteNetlinkMessage::NewAddress(tentative)),
        Vec::new(),
        "not usable before duplicate address detection"
    );
    assert_eq!(
        apply(&mut network, new_address(V0, "2001:db8::8")),
        vec![added("2001:db8::8")],
        "usable once DAD is done"
    );
}

#[test]
fn deprecation_is_a_change() {
    let mut network = network(&[with_lifetimes("2001:db8::1", 100, 200)]);
    assert_eq!(
        apply(&mut network, with_lifetimes("2001:db8::1", 0, 100)),
        vec![Change::AddressDeprecated {
            ifindex: V0,
            interface: "v0".into(),
            address: ip("2001:db8::1"),
            deprecated: true,
        }]
    );
    assert_eq!(
        apply(&mut network, with_lifetimes("2001:db8::1", 0, 90)),
        Vec::new()
    );
    assert_eq!(
        apply(&mut network, with_lifetimes("2001:db8::1", 50, 100)).len(),
        1,
        "preferred again"
    );
}

#[test]
fn default_routes_added_and_removed_are_changes() {
    let mut network = network(&[new_address(V0, "192.0.2.2")]);
    for gateway in ["192.0.2.1", "fe80::1"] {
        assert_eq!(
            apply(&mut network, new_route(default_route(gateway, V0))),
            vec![Change::RouteAdded(route(gateway, V0))]
        );
        assert_eq!(
            apply(&mut network, new_route(default_route(gateway, V0))),
            Vec::new(),
            "the same route again"
        );
        assert_eq!(
            apply(&mut network, del_route(default_route(gateway, V0))),
            vec![Change::RouteRemoved(route(gateway, V0))]
        );
    }
}

#[test]
fn other_routes_are_not_changes() {
    let mut network = network(&[]);
    let prefix = route_message("198.51.100.0", 24, Some("192.0.2.1"), V0);
    let mut other_table = default_route("192.0.2.1", V0);
    other_table
        .attributes
        .retain(|a| !matches!(a, RouteAttribute::Table(_)));
    other_table.attributes.push(RouteAttribute::Table(100));
    let host = route_message("2001:db8::", 128, None, V0);
    for message in [prefix, other_table, host] {
        assert_eq!(apply(&mut network, new_route(message.clone())), Vec::new());
        assert_eq!(apply(&mut network, del_route(message)), Vec::new());
    }
}

#[test]
fn a_route_with_another_metric_is_another_route() {
    let mut network = network(&[new_route(default_route("192.0.2.1", V0))]);
    let mut backup = default_route("192.0.2.1", V1);
    backup.attributes.push(RouteAttribute::Priority(200));
    let changes = apply(&mut network, new_route(backup.clone()));
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].to_string_for_test(),
        "added default via 192.0.2.1 ifindex 4 metric 200"
    );
    assert_eq!(
        apply(&mut network, del_route(default_route("192.0.2.1", V0))),
        vec![Change::RouteRemoved(route("192.0.2.1", V0))],
        "the backup stays"
    );
}

#[test]
fn regression_a_replaced_route_is_forgotten_so_that_replacing_it_back_is_a_change() {
    let mut network = network(&[new_route(default_route("192.0.2.1", V0))]);
    // `ip route replace default via 192.0.2.9`: the kernel announces only
    // the new route.
    assert_eq!(
        network.apply(&new_route(default_route("192.0.2.9", V0)), true),
        vec![
            Change::RouteRemoved(route("192.0.2.1", V0)),
            Change::RouteAdded(route("192.0.2.9", V0)),
        ]
    );
    assert_eq!(
        network.apply(&new_route(default_route("192.0.2.1", V0)), true),
        vec![
            Change::RouteRemoved(route("192.0.2.9", V0)),
            Change::RouteAdded(route("192.0.2.1", V0)),
        ]
    );
    assert_eq!(
        network.apply(&new_route(default_route("192.0.2.1", V0)), true),
        Vec::new(),
        "replacing a route with itself (a router preference update)"
    );
}

#[test]
fn link_down_and_up_are_changes_and_statistics_are_not() {
    let mut network = network(&[]);
    let mut statistics = link_message(V0, "v0", running());
    statistics
        .attributes
        .push(netlink_packet_route::link::LinkAttribute::Mtu(1500));
    statistics
        .attributes
        .push(netlink_packet_route::link::LinkAttribute::TxQueueLen(1000));
    assert_eq!(
        apply(&mut network, RouteNetlinkMessage::NewLink(statistics)),
        Vec::new(),
        "an RTM_NEWLINK without IFLA_OPERSTATE keeps the known one"
    );
    assert_eq!(
        apply(&mut network, up_link(V0, "v0")),
        Vec::new(),
        "the same state again"
    );
    let carrier_lost = link_in_state(V0, "v0", LinkFlags::Up, State::LowerLayerDown);
    let lost_state = LinkState {
        up: true,
        lower_up: false,
        running: false,
        operstate: Some(State::LowerLayerDown),
    };
    assert_eq!(
        apply(&mut network, carrier_lost),
        vec![Change::LinkChanged {
            ifindex: V0,
            interface: "v0".into(),
            from: up(),
            to: lost_state,
        }]
    );
    let down = link_in_state(V0, "v0", LinkFlags::Broadcast, State::Down);
    assert_eq!(
        apply(&mut network, down.clone()),
        vec![Change::LinkDown {
            ifindex: V0,
            interface: "v0".into(),
        }]
    );
    assert_eq!(apply(&mut network, down), Vec::new());
    assert_eq!(
        apply(&mut network, up_link(V0, "v0")),
        vec![Change::LinkUp {
            ifindex: V0,
            interface: "v0".into(),
            state: up(),
        }]
    );
}

#[test]
fn a_new_link_counts_once_up_and_a_removed_one_takes_everything_along() {
    let mut network = network(&[]);
    let ppp0 = 9;
    assert_eq!(
        apply(
            &mut network,
            link_in_state(ppp0, "ppp0", LinkFlags::Pointopoint, State::Down)
        ),
        Vec::new(),
        "created down"
    );
    let flags = LinkFlags::Pointopoint | running();
    let changes = apply(
        &mut network,
        link_in_state(ppp0, "ppp0", flags, State::Unknown),
    );
    assert!(
        matches!(&changes[..], [Change::LinkUp { ifindex: 9, .. }]),
        "{changes:?}"
    );
    let mut address = address_message(ppp0, "81.2.69.160");
    address
        .attributes
        .push(AddressAttribute::Local(ip("81.2.69.160")));
    assert_eq!(
        apply(&mut network, RouteNetlinkMessage::NewAddress(address)).len(),
        1
    );
    let on_link = route_message("0.0.0.0", 0, None, ppp0);
    assert_eq!(apply(&mut network, new_route(on_link)).len(), 1);
    let changes = apply(&mut network, del_link(ppp0, "ppp0"));
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| match c {
            Change::LinkDown { .. } => "link down",
            Change::AddressRemoved { .. } => "address removed",
            Change::RouteRemoved(_) => "route removed",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["link down", "address removed", "route removed"]);
}

#[test]
fn regression_a_link_going_down_forgets_its_ipv4_routes_as_the_kernel_does() {
    let mut network = network(&[
        new_address(V0, "192.0.2.2"),
        new_route(default_route("192.0.2.1", V0)),
        new_route(default_route("fe80::1", V0)),
    ]);
    let changes = apply(
        &mut network,
        link_in_state(V0, "v0", LinkFlags::Broadcast, State::Down),
    );
    assert_eq!(
        changes,
        vec![
            Change::LinkDown {
                ifindex: V0,
                interface: "v0".into()
            },
            Change::RouteRemoved(route("192.0.2.1", V0)),
        ],
        "the kernel flushed the IPv4 route silently; IPv6 announces its own"
    );
    apply(&mut network, up_link(V0, "v0"));
    assert_eq!(
        apply(&mut network, new_route(default_route("192.0.2.1", V0))),
        vec![Change::RouteAdded(route("192.0.2.1", V0))],
        "the route added again is new, not a refresh"
    );
}

#[test]
fn regression_removing_the_last_ipv4_address_forgets_the_ipv4_routes() {
    let mut network = network(&[
        new_address(V0, "192.0.2.2"),
        new_address(V0, "2001:db8::2"),
        new_route(default_route("192.0.2.1", V0)),
    ]);
    assert_eq!(
        apply(&mut network, del_address(V0, "192.0.2.2")),
        vec![
            removed("192.0.2.2"),
            Change::RouteRemoved(route("192.0.2.1", V0)),
        ]
    );
    apply(&mut network, new_address(V0, "192.0.2.2"));
    assert_eq!(
        apply(&mut network, new_route(default_route("192.0.2.1", V0))),
        vec![Change::RouteAdded(route("192.0.2.1", V0))]
    );
}

#[test]
fn removing_one_of_two_ipv4_addresses_keeps_the_routes() {
    let mut link_scope = address_message(V0, "169.254.1.1");
    link_scope.header.scope = AddressScope::Link;
    let mut network = network(&[
        new_address(V0, "192.0.2.2"),
        RouteNetlinkMessage::NewAddress(link_scope),
        new_route(default_route("192.0.2.1", V0)),
    ]);
    assert_eq!(
        apply(&mut network, del_address(V0, "192.0.2.2")),
        vec![removed("192.0.2.2")],
        "a link-scope IPv4 address is left"
    );
}

#[test]
fn only_the_named_interfaces_are_watched() {
    let mut network = Network::new(vec!["v0".into()]);
    network.resync(&[up_link(V0, "v0"), up_link(V1, "v1")]);
    assert_eq!(
        apply(&mut network, new_address(V1, "192.0.2.1")),
        Vec::new()
    );
    assert_eq!(
        apply(&mut network, new_route(default_route("192.0.2.1", V1))),
        Vec::new()
    );
    assert_eq!(
        apply(
            &mut network,
            link_in_state(V1, "v1", LinkFlags::Broadcast, State::Down)
        ),
        Vec::new()
    );
    // v1 renamed to v0's name (after v0 left): it brings its address and route.
    apply(&mut network, del_link(V0, "v0"));
    let changes = apply(&mut network, up_link(V1, "v0"));
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| match c {
            Change::LinkUp { .. } => "link up",
            Change::AddressAdded { .. } => "address added",
            Change::RouteAdded(_) => "route added",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["link up", "address added"], "{changes:?}");
}

#[test]
fn loopback_is_not_watched_by_default() {
    let mut network = Network::new(Vec::new());
    let lo = RouteNetlinkMessage::NewLink(link_message(1, "lo", LinkFlags::Loopback | running()));
    network.resync(&[lo]);
    assert_eq!(
        apply(&mut network, new_address(1, "81.2.69.161")),
        Vec::new()
    );
    assert_eq!(
        apply(
            &mut network,
            RouteNetlinkMessage::NewLink(link_message(1, "lo", LinkFlags::Loopback))
        ),
        Vec::new()
    );
}

#[test]
fn an_address_seen_before_its_link_counts_once_the_link_is() {
    let mut network = Network::new(Vec::new());
    assert_eq!(
        apply(&mut network, new_address(V0, "192.0.2.1")),
        Vec::new()
    );
    let changes = apply(&mut network, up_link(V0, "v0"));
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[1], added("192.0.2.1"));
}

#[test]
fn a_resync_reports_only_differences() {
    let state = [
        up_link(V0, "v0"),
        new_address(V0, "192.0.2.1"),
        new_route(default_route("192.0.2.254", V0)),
    ];
    let mut network = Network::new(Vec::new());
    assert_eq!(network.resync(&state).len(), 3, "all new");
    assert_eq!(network.resync(&state), Vec::new());
    assert_eq!(
        network.resync(&[
            up_link(V0, "v0"),
            new_address(V0, "192.0.2.7"),
            new_route(default_route("192.0.2.254", V0)),
        ]),
        vec![removed("192.0.2.1"), added("192.0.2.7")]
    );
    assert_eq!(
        network.counts(),
        Counts {
            links_up: 1,
            addresses: 1,
            default_routes: 1
        }
    );
}

#[test]
fn a_multipath_route_counts_when_one_hop_is_watched() {
    let mut network = Network::new(vec!["v1".into()]);
    network.resync(&[up_link(V0, "v0"), up_link(V1, "v1")]);
    let mut message = route_message("0.0.0.0", 0, None, 0);
    message
        .attributes
        .retain(|a| !matches!(a, RouteAttribute::Oif(_)));
    let hop = |ifindex: u32, gateway: &str| {
        let mut hop = netlink_packet_route::route::RouteNextHop::default();
        hop.interface_index = ifindex;
        hop.attributes.push(RouteAttribute::Gateway(
            netlink_packet_route::route::RouteAddress::from(ip(gateway)),
        ));
        hop
    };
    message.attributes.push(RouteAttribute::MultiPath(vec![
        hop(V0, "192.0.2.1"),
        hop(V1, "198.51.100.1"),
    ]));
    let changes = apply(&mut network, new_route(message));
    let [Change::RouteAdded(route)] = &changes[..] else {
        panic!("{changes:?}");
    };
    assert_eq!(
        route.hops,
        vec![
            Hop {
                ifindex: V0,
                gateway: Some(ip("192.0.2.1"))
            },
            Hop {
                ifindex: V1,
                gateway: Some(ip("198.51.100.1"))
            },
        ]
    );
}

impl Change {
    fn to_string_for_test(&self) -> String {
        match self {
            Change::RouteAdded(route) => format!("added {route}"),
            Change::RouteRemoved(route) => format!("removed {route}"),
            other => format!("{other:?}"),
        }
    }
}
