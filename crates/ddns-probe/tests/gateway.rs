//! The gateway probe in network namespaces: the host's end of a veth pair
//! in one, the gateway's end in another, so that ARP really crosses.
//!
//! Needs root; without it each test says it is skipped, unless
//! `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::future::Future;
use std::time::Duration;

use ddns_probe::{Error, GatewayProbe};
use ddns_testkit::Netns;
use nix::sched::{CloneFlags, setns};

const WAIT: Duration = Duration::from_secs(2);

/// The host's namespace (with `v0`) and the gateway's (with `gw`, the
/// other end), or `None` when skipped.
fn host_and_gateway(test: &str) -> Option<(Netns, Netns)> {
    let host = Netns::create(test)?;
    let gateway = Netns::create(test)?;
    gateway.ip(&["link", "del", "v0"]);
    host.ip(&["link", "set", "v1", "name", "gw"]);
    host.ip(&["link", "set", "gw", "netns", gateway.name()]);
    gateway.ip(&["link", "set", "gw", "up"]);
    Some((host, gateway))
}

/// Runs `scenario` on a thread inside `ns`, on its own runtime.
fn inside<F, Fut>(ns: &Netns, scenario: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let path = format!("/run/netns/{}", ns.name());
    let thread = std::thread::spawn(move || {
        let file = File::open(&path).unwrap();
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Waits until `v0` has its carrier: veth carriers come up a little
/// after `ip link set up`.
fn wait_for_carrier(ns: &Netns) {
    for _ in 0..200 {
        let output = ns
            .command("ip")
            .args(["link", "show", "v0"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&output.stdout).contains("LOWER_UP") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("v0 has no carrier");
}

#[test]
fn a_gateway_that_answers_passes() {
    let Some((host, gateway)) = host_and_gateway("a_gateway_that_answers_passes") else {
        return;
    };
    gateway.ip(&["address", "add", "192.0.2.1/24", "dev", "gw"]);
    host.ip(&["address", "add", "192.0.2.2/24", "dev", "v0"]);
    wait_for_carrier(&host);
    host.ip(&["route", "add", "default", "via", "192.0.2.1"]);
    inside(&host, || async {
        GatewayProbe::new(WAIT).check().await.unwrap();
    });
}

#[test]
fn a_gateway_nobody_answers_for_fails_with_its_state() {
    let Some((host, _gateway)) =
        host_and_gateway("a_gateway_nobody_answers_for_fails_with_its_state")
    else {
        return;
    };
    host.ip(&["address", "add", "198.51.100.2/24", "dev", "v0"]);
    wait_for_carrier(&host);
    host.ip(&["route", "add", "default", "via", "198.51.100.1"]);
    inside(&host, || async {
        let error = GatewayProbe::new(WAIT).check().await.unwrap_err();
        assert!(
            matches!(error, Error::GatewayUnreachable { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with(
                "gateway: IPv4 gateway 198.51.100.1 on v0 does not answer (neighbour "
            ),
            "{text}"
        );
    });
}

#[test]
fn no_default_route_is_told_apart() {
    let Some((host, _gateway)) = host_and_gateway("no_default_route_is_told_apart") else {
        return;
    };
    host.ip(&["address", "add", "192.0.2.2/24", "dev", "v0"]);
    inside(&host, || async {
        let error = GatewayProbe::new(WAIT).check().await.unwrap_err();
        assert!(matches!(error, Error::NoDefaultRoute), "{error:?}");
        assert_eq!(
            error.to_string(),
            "gateway: no default route (neither IPv4 nor IPv6)"
        );
    });
}
