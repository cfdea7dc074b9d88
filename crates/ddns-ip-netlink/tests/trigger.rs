//! The netlink trigger against the real kernel, each test in its own
//! network namespace with a veth pair `v0`/`v1`.
//!
//! Needs root; without it each test prints why it was skipped, unless
//! `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure.
//!
//! A trigger is a bare `()`, so each one is identified by the reasons the
//! trigger logged for it (one debug line per change, written before the
//! `()` is yielded; the stream runs only while polled, so nothing later can
//! slip in). "This did not trigger" is proven without waiting: a sentinel
//! address is toggled afterwards, and the next trigger must carry the
//! sentinel's reason and nothing else.
//!
//! The trigger subscribes when created but reads the initial state when
//! first polled, so each test starts by adding the sentinel: a change
//! between the two, reported as such.
//!
//! The last test reads what the http source binds its IPv6 requests to
//! (`host_ipv6_addresses`), from the same kernel flags.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ddns_core::detect::{DetectingSource, DetectionSettings, Detector, Trigger};
use ddns_core::{IpFamily, SourceError};
use ddns_ip_netlink::NetlinkTrigger;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use support::{Logs, Netns, Ns, TIMEOUT, Watch, addr, observed};

/// The messages of the reasons the trigger logs, and the overrun warning.
const REASONS: [&str; 10] = [
    "link up",
    "link down or removed",
    "link state changed",
    "global address added",
    "global address removed",
    "global address preference changed",
    "default route added",
    "default route removed",
    "watched state changed while the trigger started",
    "netlink receive buffer overrun",
];

/// A running trigger and the reasons it logged.
struct Triggers {
    changes: BoxStream<'static, ()>,
    logs: Logs,
    read: usize,
}

impl Triggers {
    fn start(trigger: &NetlinkTrigger, logs: &Logs) -> Self {
        Self {
            changes: trigger.changes(),
            logs: logs.clone(),
            read: 0,
        }
    }

    /// Waits for the next trigger and returns the reasons logged for it,
    /// each as `message key=value…`.
    async fn next(&mut self) -> Vec<String> {
        match tokio::time::timeout(TIMEOUT, self.changes.next()).await {
            Err(_) => panic!(
                "no trigger within {TIMEOUT:?}; logged since the last one:\n{}",
                &self.logs.text()[self.read..]
            ),
            Ok(None) => panic!("the trigger stream ended"),
            Ok(Some(())) => {}
        }
        let text = self.logs.text();
        let new = &text[self.read..];
        self.read = text.len();
        new.lines()
            .filter_map(|line| {
                let (_, rest) = line.split_once("ddns_ip_netlink::")?;
                let (_, message) = rest.split_once(": ")?;
                REASONS
                    .iter()
                    .any(|reason| message.starts_with(reason))
                    .then(|| message.to_string())
            })
            .collect()
    }

    /// Waits for the next trigger and asserts that it has exactly one
    /// reason, `message` about `about` (an address, an interface, a route).
    async fn expect_only(&mut self, message: &str, about: &str, when: &str) {
        let reasons = self.next().await;
        assert!(
            reasons.len() == 1 && is(&reasons[0], message, about),
            "{when}: expected only '{message}' about {about}, got {reasons:#?}"
        );
    }

    /// Waits for the next trigger and asserts that one of its reasons is
    /// `message` about `about`.
    async fn expect_among(&mut self, message: &str, about: &str, when: &str) -> Vec<String> {
        let reasons = self.next().await;
        assert!(
            reasons.iter().any(|r| is(r, message, about)),
            "{when}: expected '{message}' about {about} among {reasons:#?}"
        );
        reasons
    }
}

fn is(reason: &str, message: &str, about: &str) -> bool {
    reason.starts_with(message) && reason.contains(about)
}

/// An address on `v0` toggled to prove that nothing else triggered: its
/// reason must be the only one of the next trigger.
struct Sentinel {
    ns: Ns,
    spec: &'static str,
    present: bool,
}

impl Sentinel {
    fn new(ns: &Ns) -> Self {
        Self {
            ns: ns.clone(),
            spec: "203.0.113.254/32",
            present: false,
        }
    }

    /// Adds the sentinel before the trigger is first polled: it is in the
    /// initial state, and reported as a change around the start. (IPv4:
    /// its notification is queued before `ip` returns; IPv6 announces a
    /// `nodad` address from a work queue, maybe after the initial dump.)
    ///
    /// The link notices of the veth carrier coming up may still arrive then.
    async fn start(&mut self, triggers: &mut Triggers) {
        for dev in ["v0", "v1"] {
            self.ns.wait_for_carrier(dev).await;
        }
        self.ns.add("v0", self.spec, &[]).await;
        self.present = true;
        let reasons = triggers.next().await;
        let starting = "watched state changed while the trigger started";
        let own = format!("subject={}", addr(self.spec));
        assert!(
            reasons.iter().any(|r| is(r, starting, &own))
                && reasons
                    .iter()
                    .all(|r| is(r, starting, &own) || is(r, starting, "RTM_NEWLINK")),
            "a change before the initial state was read: expected '{starting}' about \
             {own} (and maybe link notices), got {reasons:#?}"
        );
    }

    async fn barrier(&mut self, triggers: &mut Triggers, after: &str) {
        let message = if self.present {
            self.ns.del("v0", self.spec).await;
            "global address removed"
        } else {
            self.ns.add("v0", self.spec, &[]).await;
            "global address added"
        };
        self.present = !self.present;
        let about = format!("address={}", addr(self.spec));
        triggers
            .expect_only(
                message,
                &about,
                &format!("no trigger expected after {after}, only the sentinel's"),
            )
            .await;
    }
}

/// An address of one family and the options that make it usable at once.
#[derive(Debug, Clone, Copy)]
struct Family {
    a: &'static str,
    b: &'static str,
    options: &'static [&'static str],
}

const V4: Family = Family {
    a: "192.0.2.1/32",
    b: "192.0.2.2/32",
    options: &[],
};

const V6: Family = Family {
    a: "2001:db8::1/64",
    b: "2001:db8::2/64",
    options: &["nodad"],
};

fn with<'a>(options: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    options.iter().chain(more).copied().collect()
}

fn about(spec: &str) -> String {
    format!("address={}", addr(spec))
}

fn address_added_and_removed(test: &str, f: Family) {
    let Some(netns) = Netns::create(test) else {
        return;
    };
    netns.run(move |ns| async move {
        let (logs, _guard) = Logs::capture();
        let mut triggers = Triggers::start(&NetlinkTrigger::new(), &logs);
        Sentinel::new(&ns).start(&mut triggers).await;
        ns.add("v0", f.a, f.options).await;
        triggers
            .expect_only("global address added", &about(f.a), "an address added")
            .await;
        ns.add("v0", f.b, f.options).await;
        triggers
            .expect_only("global address added", &about(f.b), "a second address")
            .await;
        ns.del("v0", f.a).await;
        triggers
            .expect_only("global address removed", &about(f.a), "an address removed")
            .await;
    });
}

#[test]
fn v4_global_address_added_and_removed_trigger() {
    address_added_and_removed("v4_global_address_added_and_removed_trigger", V4);
}

#[test]
fn v6_global_address_added_and_removed_trigger() {
    address_added_and_removed("v6_global_address_added_and_removed_trigger", V6);
}

fn lifetime_refresh(test: &str, f: Family) {
    let Some(netns) = Netns::create(test) else {
        return;
    };
    netns.run(move |ns| async move {
        let (logs, _guard) = Logs::capture();
        let mut triggers = Triggers::start(&NetlinkTrigger::new(), &logs);
        let mut sentinel = Sentinel::new(&ns);
        sentinel.start(&mut triggers).await;
        let lifetimes = with(f.options, &["preferred_lft", "100", "valid_lft", "200"]);
        ns.add("v0", f.a, &lifetimes).await;
        triggers
            .expect_only(
                "global address added",
                &about(f.a),
                "an address with lifetimes",
            )
            .await;
        for (preferred, valid) in [("90", "190"), ("80", "180"), ("70", "170")] {
            let mut args = vec!["address", "change", f.a, "dev", "v0"];
            args.extend(with(
                f.options,
                &["preferred_lft", preferred, "valid_lft", valid],
            ));
            ns.ip(&args).await;
        }
        let mut args = vec!["address", "replace", f.a, "dev", "v0"];
        args.extend(&lifetimes);
        ns.ip(&args).await;
        sentinel.barrier(&mut triggers, "lifetime refreshes").await;
    });
}

#[test]
fn v4_lifetime_refresh_does_not_trigger() {
    lifetime_refresh("v4_lifetime_refresh_does_not_trigger", V4);
}

#[test]
fn v6_lifetime_refresh_does_not_trigger() {
    lifetime_refresh("v6_lifetime_refresh_does_not_trigger", V6);
}

#[test]
fn default_route_added_replaced_and_removed_trigger() {
    let Some(netns) = Netns::create("default_route_added_replaced_and_removed_trigger") else {
        return;
    };
    netns.run(|ns| async move {
        let (logs, _guard) = Logs::capture();
        let mut triggers = Triggers::start(&NetlinkTrigger::new(), &logs);
        Sentinel::new(&ns).start(&mut triggers).await;
        ns.add("v0", "192.0.2.2/24", &[]).await;
        triggers
            .expect_only(
                "global address added",
                "address=192.0.2.2",
                "the gateway's subnet",
            )
            .await;

        ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"])
            .await;
        triggers
            .expect_only(
                "default route added",
                "via 192.0.2.1",
                "a default route added",
            )
            .await;
        ns.ip(&[
            "route",
            "replace",
            "default",
            "via",
            "192.0.2.9",
            "dev",
            "v0",
        ])
        .await;
        let reasons = triggers
            .expect_among(
                "default route added",
                "via 192.0.2.9",
                "the gateway changed",
            )
            .await;
        assert!(
            reasons
                .iter()
                .any(|r| is(r, "default route removed", "via 192.0.2.1")),
            "{reasons:#?}"
        );
        ns.ip(&[
            "route",
            "replace",
            "default",
            "via",
            "192.0.2.1",
            "dev",
            "v0",
        ])
        .await;
        triggers
            .expect_among(
                "default route added",
                "via 192.0.2.1",
                "the gateway changed back",
            )
            .await;
        ns.ip(&["route", "del", "default"]).await;
        triggers
            .expect_only(
                "default route removed",
                "via 192.0.2.1",
                "the default route removed",
            )
            .await;

        ns.ip(&[
            "-6", "route", "add", "default", "via", "fe80::1", "dev", "v0",
        ])
        .await;
        triggers
            .expect_only(
                "default route added",
                "via fe80::1",
                "an IPv6 default route",
            )
            .await;
        ns.ip(&[
            "-6", "route", "del", "default", "via", "fe80::1", "dev", "v0",
        ])
        .await;
        triggers
            .expect_only(
                "default route removed",
                "via fe80::1",
                "the IPv6 default route removed",
            )
            .await;
    });
}

#[test]
fn other_routes_link_attributes_and_unwatched_interfaces_do_not_trigger() {
    let Some(netns) =
        Netns::create("other_routes_link_attributes_and_unwatched_interfaces_do_not_trigger")
    else {
        return;
    };
    netns.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        let (logs, _guard) = Logs::capture();
        let trigger = NetlinkTrigger::new().with_interfaces(vec!["v0".into()]);
        let mut triggers = Triggers::start(&trigger, &logs);
        let mut sentinel = Sentinel::new(&ns);
        sentinel.start(&mut triggers).await;

        let commands: [&[&str]; 8] = [
            &[
                "route",
                "add",
                "198.51.100.0/24",
                "via",
                "192.0.2.1",
                "dev",
                "v0",
            ],
            &[
                "route",
                "add",
                "default",
                "via",
                "192.0.2.1",
                "dev",
                "v0",
                "table",
                "100",
            ],
            &["link", "set", "v0", "mtu", "1400"],
            &["link", "set", "v0", "alias", "uplink"],
            &["address", "add", "fe80::5/64", "dev", "v0"],
            &["address", "add", "198.51.100.7/24", "dev", "v1"],
            &[
                "route",
                "add",
                "default",
                "via",
                "198.51.100.1",
                "dev",
                "v1",
            ],
            &["link", "set", "v1", "mtu", "1400"],
        ];
        for args in commands {
            ns.ip(args).await;
        }
        sentinel
            .barrier(
                &mut triggers,
                "a prefix route, another table, MTU and alias, a link-local \
                 address, and changes on the unwatched v1",
            )
            .await;
    });
}

#[test]
fn link_down_and_up_trigger() {
    let Some(netns) = Netns::create("link_down_and_up_trigger") else {
        return;
    };
    netns.run(|ns| async move {
        let (logs, _guard) = Logs::capture();
        let trigger = NetlinkTrigger::new().with_interfaces(vec!["v0".into()]);
        let mut triggers = Triggers::start(&trigger, &logs);
        let mut sentinel = Sentinel::new(&ns);
        sentinel.start(&mut triggers).await;
        ns.ip(&["link", "set", "v0", "down"]).await;
        triggers
            .expect_among("link down or removed", "interface=v0", "v0 set down")
            .await;
        ns.ip(&["link", "set", "v0", "up"]).await;
        triggers
            .expect_among("link up", "interface=v0", "v0 set up")
            .await;
    });
}

#[test]
fn regression_a_default_route_flushed_by_link_down_triggers_when_added_again() {
    let Some(netns) =
        Netns::create("regression_a_default_route_flushed_by_link_down_triggers_when_added_again")
    else {
        return;
    };
    netns.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"])
            .await;
        let (logs, _guard) = Logs::capture();
        let trigger = NetlinkTrigger::new().with_interfaces(vec!["v0".into()]);
        let mut triggers = Triggers::start(&trigger, &logs);
        let mut sentinel = Sentinel::new(&ns);
        sentinel.start(&mut triggers).await;

        // The kernel drops the IPv4 default route without announcing it.
        ns.ip(&["link", "set", "v0", "down"]).await;
        triggers
            .expect_among("default route removed", "via 192.0.2.1", "v0 set down")
            .await;
        ns.ip(&["link", "set", "v0", "up"]).await;
        ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"])
            .await;
        // The carrier comes back asynchronously: skip its triggers.
        loop {
            let reasons = triggers.next().await;
            if reasons
                .iter()
                .any(|r| is(r, "default route added", "via 192.0.2.1"))
            {
                break;
            }
            assert!(
                reasons.iter().all(|r| r.starts_with("link ")),
                "only link changes expected before the route: {reasons:#?}"
            );
        }
    });
}

#[test]
fn overrun_triggers_and_resyncs() {
    let Some(netns) = Netns::create("overrun_triggers_and_resyncs") else {
        return;
    };
    let batch = std::env::temp_dir().join(format!("{}.trigger.batch", netns.ns().name()));
    let mut commands = String::new();
    for i in 1..=1500 {
        writeln!(commands, "address add 2001:db8:1::{i:x}/128 dev v1 nodad").unwrap();
    }
    for i in 1..=250 {
        writeln!(commands, "address add 198.51.100.{i}/32 dev v1").unwrap();
    }
    for i in 1..=1500 {
        writeln!(commands, "address del 2001:db8:1::{i:x}/128 dev v1").unwrap();
    }
    std::fs::write(&batch, commands).expect("write the batch file");
    let batch_path = batch.to_string_lossy().into_owned();

    netns.run(move |ns| async move {
        let (logs, _guard) = Logs::capture();
        // Only v0 is watched: the flood on v1 changes nothing that counts,
        // so the overrun alone must trigger.
        let trigger = NetlinkTrigger::new()
            .with_interfaces(vec!["v0".into()])
            .with_receive_buffer(64 * 1024);
        let mut triggers = Triggers::start(&trigger, &logs);
        let mut sentinel = Sentinel::new(&ns);
        sentinel.start(&mut triggers).await;

        // Blocking the only runtime thread keeps the socket unread while
        // thousands of notifications arrive: the buffer must overflow.
        ns.ip_blocking(&["-batch", &batch_path]);
        let reasons = triggers.next().await;
        assert_eq!(
            reasons,
            vec!["netlink receive buffer overrun; messages were lost, resynchronising"],
            "the overrun, and no change of v0"
        );
        // The resynchronised state is right: the sentinel's removal is seen.
        sentinel.barrier(&mut triggers, "the resync").await;
    });
    let _ = std::fs::remove_file(&batch);
}

/// Answers what the test last set.
struct FixedDetector(Arc<Mutex<IpAddr>>);

#[async_trait]
impl Detector for FixedDetector {
    fn name(&self) -> &str {
        "fixed"
    }

    fn supports(&self, family: IpFamily) -> bool {
        family == IpFamily::V4
    }

    async fn detect(&self, _: IpFamily) -> Result<IpAddr, SourceError> {
        Ok(*self.0.lock().unwrap())
    }
}

#[test]
fn a_detecting_source_detects_again_when_the_default_route_changes() {
    let Some(netns) =
        Netns::create("a_detecting_source_detects_again_when_the_default_route_changes")
    else {
        return;
    };
    netns.run(|ns| async move {
        ns.add("v0", "192.0.2.2/24", &[]).await;
        let answer = Arc::new(Mutex::new(addr("198.51.100.1")));
        let mut settings = DetectionSettings::new(vec![IpFamily::V4]);
        settings.quorum = 1;
        // Only the trigger can cause a second detection within the test.
        settings.poll_interval = std::time::Duration::from_secs(24 * 3600);
        settings.allow_nonglobal = true;
        let trigger: Arc<dyn Trigger> = Arc::new(NetlinkTrigger::new());
        let source = DetectingSource::new(
            "http",
            vec![Arc::new(FixedDetector(answer.clone()))],
            Some(trigger),
            settings,
        );
        let mut watch = Watch::start(&source);
        watch
            .expect(observed("198.51.100.1"), "the first detection")
            .await;
        *answer.lock().unwrap() = addr("198.51.100.2");
        ns.ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "v0"])
            .await;
        watch
            .expect(
                observed("198.51.100.2"),
                "the new default route made the source ask again",
            )
            .await;
    });
}

// ── What the http source binds to: the host's stable IPv6 addresses ──

#[test]
fn stable_and_temporary_ipv6_addresses_are_told_apart_by_the_kernel() {
    let Some(netns) =
        Netns::create("stable_and_temporary_ipv6_addresses_are_told_apart_by_the_kernel")
    else {
        return;
    };
    netns.run(|ns| async move {
        // use_tempaddr=2: the kernel makes a temporary address for each
        // mngtmpaddr prefix and prefers it as the source.
        ns.sysctl("net.ipv6.conf.v0.use_tempaddr", "2");
        ns.sysctl("net.ipv6.conf.v0.accept_dad", "0");
        ns.add("v0", "2a01:db8:1::1/64", &["mngtmpaddr", "nodad"])
            .await;
        ns.add("v0", "2a01:db8:2::1/64", &["nodad", "preferred_lft", "0"])
            .await;
        ns.add("v1", "2a01:db8:3::1/64", &["nodad"]).await;
        ns.add("v1", "fd00:1::1/64", &["nodad"]).await;
        // Duplicate address detection cannot start on a link that is down:
        // the address stays tentative.
        ns.ip(&["link", "add", "t0", "type", "veth", "peer", "name", "t1"])
            .await;
        ns.add("t0", "2a01:db8:4::1/64", &[]).await;
        ns.add("lo", "2a01:db8:5::1/128", &[]).await;
        let line = ns
            .wait_for_line("v0", "a temporary address", |l| l.contains(" temporary "))
            .await;
        let temporary: std::net::Ipv6Addr = line
            .split_whitespace()
            .nth(1)
            .and_then(|spec| spec.split('/').next())
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"));
        let tentative = ns.line_of("t0", "2a01:db8:4::1").await.unwrap_or_default();
        assert!(tentative.contains("tentative"), "{tentative}");

        let found = ddns_ip_netlink::host_ipv6_addresses(&[]).await.unwrap();
        assert_eq!(
            found.stable,
            [addr6("2a01:db8:1::1"), addr6("2a01:db8:3::1")],
            "not the deprecated, tentative, loopback or unique-local ones"
        );
        assert_eq!(found.temporary, [temporary]);
        // An interface named first ranks its addresses first.
        let preferring_v1 = ddns_ip_netlink::host_ipv6_addresses(&["v1".to_string()])
            .await
            .unwrap();
        assert_eq!(
            preferring_v1.stable,
            [addr6("2a01:db8:3::1"), addr6("2a01:db8:1::1")]
        );
    });
}

fn addr6(text: &str) -> std::net::Ipv6Addr {
    text.parse().unwrap()
}
