//! The default gateway lookup against the real kernel: the host side of a
//! veth pair in one network namespace, the gateway's side in another, so
//! that ARP and neighbour discovery really cross the link.
//!
//! Needs root; without it each test prints why it was skipped, unless
//! `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::time::Duration;

use ddns_core::IpFamily;
use ddns_ip_netlink::{GatewayStatus, NeighbourState, default_gateway};

use support::{Netns, Ns};

/// How long the lookup may wait for an answer; an unreachable gateway
/// costs this much.
const WAIT: Duration = Duration::from_secs(2);

/// The host's namespace (`v0`, where the lookup runs) and the gateway's
/// (`gw`, the other end of the pair), or `None` when skipped.
fn host_and_gateway(test: &str) -> Option<(Netns, Netns)> {
    let host = Netns::create(test)?;
    let gateway = Netns::create(test)?;
    let (h, g) = (host.ns(), gateway.ns());
    // The gateway's namespace keeps only the end moved into it.
    g.ip_blocking(&["link", "del", "v0"]);
    h.ip_blocking(&["link", "set", "v1", "name", "gw"]);
    h.ip_blocking(&["link", "set", "gw", "netns", g.name()]);
    g.ip_blocking(&["link", "set", "gw", "up"]);
    Some((host, gateway))
}

fn gateway_of(status: &GatewayStatus) -> (IpAddr, &str, NeighbourState) {
    match status {
        GatewayStatus::Gateway(gateway) => {
            (gateway.address, gateway.interface.as_str(), gateway.state)
        }
        other => panic!("expected a gateway, got {other:?}"),
    }
}

async fn ready(ns: &Ns) {
    ns.wait_for_carrier("v0").await;
}

#[test]
fn a_gateway_that_answers_arp_is_reachable() {
    let Some((host, gateway)) = host_and_gateway("a_gateway_that_answers_arp_is_reachable") else {
        return;
    };
    let g = gateway.ns();
    g.ip_blocking(&["address", "add", "192.0.2.1/24", "dev", "gw"]);
    host.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        ready(&ns).await;
        ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"])
            .await;
        let status = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        let (address, interface, state) = gateway_of(&status);
        assert_eq!(address, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(interface, "v0");
        assert!(status.is_reachable(), "{status}");
        assert!(
            matches!(state, NeighbourState::Reachable | NeighbourState::Delay),
            "{status}"
        );
        assert_eq!(
            status.to_string(),
            format!("IPv4 gateway 192.0.2.1 on v0 answers (neighbour {state})")
        );
        // Now the entry is fresh: read without sending anything.
        let again = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        let GatewayStatus::Gateway(fresh) = &again else {
            panic!("{again:?}")
        };
        assert_eq!(fresh.state, NeighbourState::Reachable, "{again}");
        assert!(!fresh.refreshed, "a reachable entry is not refreshed");
        // A stale entry says nothing recent: it is refreshed, and the
        // kernel goes on to confirm it.
        ns.ip(&[
            "neighbour",
            "change",
            "192.0.2.1",
            "dev",
            "v0",
            "nud",
            "stale",
        ])
        .await;
        let stale = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        let GatewayStatus::Gateway(refreshed) = &stale else {
            panic!("{stale:?}")
        };
        assert!(refreshed.refreshed, "{stale}");
        assert!(stale.is_reachable(), "{stale}");
        assert_ne!(refreshed.state, NeighbourState::Stale, "{stale}");
    });
}

#[test]
fn an_ipv6_gateway_that_answers_neighbour_discovery_is_reachable() {
    let test = "an_ipv6_gateway_that_answers_neighbour_discovery_is_reachable";
    let Some((host, gateway)) = host_and_gateway(test) else {
        return;
    };
    let g = gateway.ns();
    g.ip_blocking(&["address", "add", "2001:db8::1/64", "dev", "gw", "nodad"]);
    host.run(|ns| async move {
        ns.add("v0", "2001:db8::2/64", &["nodad"]).await;
        ready(&ns).await;
        ns.ip(&[
            "-6",
            "route",
            "add",
            "default",
            "via",
            "2001:db8::1",
            "dev",
            "v0",
        ])
        .await;
        let status = default_gateway(IpFamily::V6, WAIT).await.expect("lookup");
        let (address, interface, _) = gateway_of(&status);
        assert_eq!(address, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(interface, "v0");
        assert!(status.is_reachable(), "{status}");
    });
}

#[test]
fn a_gateway_nobody_answers_for_is_unreachable() {
    let Some((host, _gateway)) = host_and_gateway("a_gateway_nobody_answers_for_is_unreachable")
    else {
        return;
    };
    host.run(|ns| async move {
        ns.add("v0", "198.51.100.2/24", &[]).await;
        ready(&ns).await;
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
            "dev",
            "v0",
        ])
        .await;
        let started = tokio::time::Instant::now();
        let status = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        let (address, interface, state) = gateway_of(&status);
        assert_eq!(address, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(interface, "v0");
        assert!(!status.is_reachable(), "{status}");
        assert!(
            matches!(state, NeighbourState::Incomplete | NeighbourState::Failed),
            "{status}"
        );
        assert!(
            started.elapsed() >= WAIT,
            "waited for an answer until the end"
        );
        assert_eq!(
            status.to_string(),
            format!("IPv4 gateway 198.51.100.1 on v0 does not answer (neighbour {state})")
        );
    });
}

#[test]
fn no_default_route_is_its_own_answer() {
    let Some((host, _gateway)) = host_and_gateway("no_default_route_is_its_own_answer") else {
        return;
    };
    host.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        for family in IpFamily::ALL {
            let status = default_gateway(family, WAIT).await.expect("lookup");
            assert_eq!(status, GatewayStatus::NoDefaultRoute { family });
            assert!(!status.is_reachable());
        }
        let status = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        assert_eq!(status.to_string(), "no IPv4 default route");
    });
}

#[test]
fn a_default_route_without_gateway_follows_its_link() {
    let Some((host, _gateway)) =
        host_and_gateway("a_default_route_without_gateway_follows_its_link")
    else {
        return;
    };
    host.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        ready(&ns).await;
        ns.ip(&["route", "add", "default", "dev", "v0"]).await;
        let status = default_gateway(IpFamily::V4, WAIT).await.expect("lookup");
        assert_eq!(
            status,
            GatewayStatus::OnLink {
                family: IpFamily::V4,
                interface: "v0".into(),
                up: true
            }
        );
        assert!(status.is_reachable());
    });
}
