//! The netlink source against the real kernel, each test in its own network
//! namespace with a veth pair `v0`/`v1`.
//!
//! Needs root; without it each test prints why it was skipped, unless
//! `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure. "Nothing was
//! reported" is proven without waiting: a sentinel address of the other
//! family is toggled and its event must be the next one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fmt::Write as _;

use ddns_core::config::Env;
use ddns_core::{AddressSnapshot, IpEvent, IpFamily, IpSource, SelectionPolicy, SourceFactory};
use ddns_ip_netlink::{NetlinkSource, NetlinkSourceFactory};

use support::{Logs, Netns, Sentinel, Watch, addr, observed};

/// Three addresses of one family on `v0`, and the options that make them
/// usable at once (IPv6 skips duplicate address detection).
#[derive(Debug, Clone, Copy)]
struct Family {
    family: IpFamily,
    a: &'static str,
    b: &'static str,
    c: &'static str,
    options: &'static [&'static str],
}

// IPv4 addresses are /32 so that each is primary: removing a primary
// address also removes the secondaries of its subnet.
const V4: Family = Family {
    family: IpFamily::V4,
    a: "192.0.2.1/32",
    b: "192.0.2.2/32",
    c: "198.51.100.3/32",
    options: &[],
};

const V6: Family = Family {
    family: IpFamily::V6,
    a: "2001:db8::1/64",
    b: "2001:db8::2/64",
    c: "2001:db8::3/64",
    options: &["nodad"],
};

fn on_v0() -> NetlinkSource {
    NetlinkSource::new(SelectionPolicy::Interfaces(vec!["v0".into()]))
}

fn with<'a>(options: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    options.iter().chain(more).copied().collect()
}

#[test]
fn initial_dump_reports_existing_addresses() {
    let Some(netns) = Netns::create("initial_dump_reports_existing_addresses") else {
        return;
    };
    netns.run(|ns| async move {
        ns.add("v0", V4.a, V4.options).await;
        ns.add("v0", V6.a, V6.options).await;
        ns.add("v1", "192.0.2.99/32", &[]).await;
        let source = on_v0();
        let expected = AddressSnapshot {
            v4: Some(addr(V4.a)),
            v6: Some(addr(V6.a)),
        };
        assert_eq!(source.current().await.expect("one-shot dump"), expected);
        let mut watch = Watch::start(&source);
        watch
            .expect(observed(V4.a), "the existing IPv4 address")
            .await;
        watch
            .expect(observed(V6.a), "the existing IPv6 address")
            .await;
    });
}

fn address_lifecycle(test: &str, f: Family) {
    let Some(netns) = Netns::create(test) else {
        return;
    };
    netns.run(move |ns| async move {
        let source = on_v0();
        let mut watch = Watch::start(&source);
        let mut sentinel = Sentinel::opposite(&ns, f.family);
        sentinel
            .barrier(&mut watch, "starting without addresses")
            .await;

        ns.add("v0", f.a, f.options).await;
        watch
            .expect(observed(f.a), "an added address is reported")
            .await;
        ns.add("v0", f.b, f.options).await;
        sentinel
            .barrier(&mut watch, "a second address: the current one stays")
            .await;
        ns.del("v0", f.a).await;
        watch
            .expect(
                observed(f.b),
                "removing the current address switches to the remaining one",
            )
            .await;
        ns.del("v0", f.b).await;
        watch
            .expect(
                IpEvent::Lost(f.family),
                "removing the last address loses the family",
            )
            .await;
        sentinel.barrier(&mut watch, "the family was lost").await;
    });
}

#[test]
fn v4_added_address_is_kept_until_removed_then_lost() {
    address_lifecycle("v4_added_address_is_kept_until_removed_then_lost", V4);
}

#[test]
fn v6_added_address_is_kept_until_removed_then_lost() {
    address_lifecycle("v6_added_address_is_kept_until_removed_then_lost", V6);
}

fn lifetime_refresh(test: &str, f: Family) {
    let Some(netns) = Netns::create(test) else {
        return;
    };
    netns.run(move |ns| async move {
        let lifetimes = with(f.options, &["preferred_lft", "100", "valid_lft", "200"]);
        let source = on_v0();
        let mut watch = Watch::start(&source);
        let mut sentinel = Sentinel::opposite(&ns, f.family);
        ns.add("v0", f.a, &lifetimes).await;
        watch.expect(observed(f.a), "the first address").await;
        ns.add("v0", f.b, &lifetimes).await;
        ns.add("v0", f.c, &lifetimes).await;
        sentinel.barrier(&mut watch, "two more addresses").await;

        for (preferred, valid) in [("90", "190"), ("80", "180"), ("70", "170")] {
            let mut args = vec!["address", "change", f.b, "dev", "v0"];
            args.extend(with(
                f.options,
                &["preferred_lft", preferred, "valid_lft", valid],
            ));
            ns.ip(&args).await;
        }
        let mut args = vec!["address", "replace", f.a, "dev", "v0"];
        args.extend(with(
            f.options,
            &["preferred_lft", "100", "valid_lft", "200"],
        ));
        ns.ip(&args).await;
        sentinel.barrier(&mut watch, "lifetime refreshes").await;

        // b was refreshed after c was added; a refresh must not make it new.
        ns.del("v0", f.a).await;
        watch
            .expect(
                observed(f.c),
                "the newest remaining address by first sight wins",
            )
            .await;
    });
}

#[test]
fn v4_lifetime_refresh_is_not_a_change() {
    lifetime_refresh("v4_lifetime_refresh_is_not_a_change", V4);
}

#[test]
fn v6_lifetime_refresh_is_not_a_change() {
    lifetime_refresh("v6_lifetime_refresh_is_not_a_change", V6);
}

fn deprecated_ignored(test: &str, f: Family) {
    let Some(netns) = Netns::create(test) else {
        return;
    };
    netns.run(move |ns| async move {
        let expired = with(f.options, &["preferred_lft", "0", "valid_lft", "100"]);
        let source = on_v0();
        let mut watch = Watch::start(&source);
        let mut sentinel = Sentinel::opposite(&ns, f.family);
        ns.add("v0", f.a, &expired).await;
        let line = ns
            .line_of("v0", &addr(f.a).to_string())
            .await
            .expect("address present");
        assert!(line.contains("deprecated"), "{line}");
        sentinel.barrier(&mut watch, "a deprecated address").await;

        ns.add("v0", f.b, f.options).await;
        watch.expect(observed(f.b), "a preferred address").await;
        let mut args = vec!["address", "change", f.b, "dev", "v0"];
        args.extend(&expired);
        ns.ip(&args).await;
        watch
            .expect(
                IpEvent::Lost(f.family),
                "the current address became deprecated",
            )
            .await;
    });
}

#[test]
fn v4_deprecated_address_is_ignored() {
    deprecated_ignored("v4_deprecated_address_is_ignored", V4);
}

#[test]
fn v6_deprecated_address_is_ignored() {
    deprecated_ignored("v6_deprecated_address_is_ignored", V6);
}

#[test]
fn v6_tentative_address_is_reported_only_after_dad() {
    let Some(netns) = Netns::create("v6_tentative_address_is_reported_only_after_dad") else {
        return;
    };
    netns.run(|ns| async move {
        let source = on_v0();
        let mut watch = Watch::start(&source);
        let mut sentinel = Sentinel::opposite(&ns, IpFamily::V6);
        sentinel.barrier(&mut watch, "start").await;
        // Without nodad the kernel announces the address as tentative first.
        ns.add("v0", V6.a, &[]).await;
        watch.expect(observed(V6.a), "the address after DAD").await;
        let line = ns
            .line_of("v0", "2001:db8::1")
            .await
            .expect("address present");
        assert!(
            !line.contains("tentative"),
            "reported while tentative: {line}"
        );
    });
}

#[test]
fn v6_address_that_failed_dad_is_ignored() {
    let Some(netns) = Netns::create("v6_address_that_failed_dad_is_ignored") else {
        return;
    };
    netns.run(|ns| async move {
        let source = on_v0();
        let mut watch = Watch::start(&source);
        let mut sentinel = Sentinel::opposite(&ns, IpFamily::V6);
        sentinel.barrier(&mut watch, "start").await;
        // The peer already holds the address, so DAD on v0 fails.
        ns.add("v1", V6.a, &["nodad"]).await;
        ns.add("v0", V6.a, &[]).await;
        ns.wait_for_line("v0", "address with failed DAD", |l| {
            l.contains(" 2001:db8::1/") && l.contains("dadfailed")
        })
        .await;
        sentinel
            .barrier(&mut watch, "an address whose DAD failed")
            .await;
        ns.add("v0", V6.b, V6.options).await;
        watch.expect(observed(V6.b), "a valid address").await;
    });
}

#[test]
fn v6_temporary_address_is_never_chosen() {
    let Some(netns) = Netns::create("v6_temporary_address_is_never_chosen") else {
        return;
    };
    netns.run(|ns| async move {
        ns.sysctl("net.ipv6.conf.v0.use_tempaddr", "2");
        let source = on_v0();
        let mut watch = Watch::start(&source);
        ns.add("v0", V6.a, V6.options).await;
        watch.expect(observed(V6.a), "a plain address").await;
        // The kernel makes a temporary address (newer than this one) from it.
        let public = "2001:db8:1::1/64";
        let managed = [
            "nodad",
            "mngtmpaddr",
            "preferred_lft",
            "2000",
            "valid_lft",
            "3000",
        ];
        ns.add("v0", public, &managed).await;
        let temporary = ns
            .wait_for_line("v0", "usable temporary address", |l| {
                l.contains("temporary") && !l.contains("tentative")
            })
            .await;
        ns.del("v0", V6.a).await;
        watch
            .expect(
                observed(public),
                &format!("the public address, not {temporary}"),
            )
            .await;
    });
}

#[test]
fn globally_routable_policy_ignores_documentation_and_loopback_addresses() {
    let Some(netns) =
        Netns::create("globally_routable_policy_ignores_documentation_and_loopback_addresses")
    else {
        return;
    };
    netns.run(|ns| async move {
        let source = NetlinkSource::new(SelectionPolicy::GloballyRoutable);
        let mut watch = Watch::start(&source);
        ns.ip(&["link", "set", "lo", "up"]).await;
        ns.add("v0", V4.a, V4.options).await;
        ns.add("v0", V6.a, V6.options).await;
        ns.add("lo", "81.2.69.161/32", &[]).await;
        ns.add("lo", "2a01:4f8::161/128", &["nodad"]).await;
        // Global addresses on v0: the first events must be theirs.
        ns.add("v0", "81.2.69.160/32", &[]).await;
        watch
            .expect(
                observed("81.2.69.160"),
                "documentation and loopback addresses are ignored",
            )
            .await;
        ns.add("v0", "2a01:4f8::160/64", &["nodad"]).await;
        watch
            .expect(
                observed("2a01:4f8::160"),
                "documentation and loopback addresses are ignored",
            )
            .await;
        let snapshot = source.current().await.expect("one-shot dump");
        assert_eq!(snapshot.v4, Some(addr("81.2.69.160")));
        assert_eq!(snapshot.v6, Some(addr("2a01:4f8::160")));
    });
}

#[test]
fn deleting_the_link_drops_its_addresses() {
    let Some(netns) = Netns::create("deleting_the_link_drops_its_addresses") else {
        return;
    };
    netns.run(|ns| async move {
        ns.add("v0", V4.a, V4.options).await;
        ns.add("v0", V6.a, V6.options).await;
        let source = on_v0();
        let mut watch = Watch::start(&source);
        watch.expect(observed(V4.a), "initial IPv4").await;
        watch.expect(observed(V6.a), "initial IPv6").await;
        ns.ip(&["link", "del", "v0"]).await;
        let mut lost = vec![watch.next().await, watch.next().await];
        lost.sort_by_key(IpEvent::family);
        assert_eq!(
            lost,
            vec![IpEvent::Lost(IpFamily::V4), IpEvent::Lost(IpFamily::V6)]
        );
        assert_eq!(
            source.current().await.expect("dump"),
            AddressSnapshot::default()
        );
    });
}

#[test]
fn v4_renamed_interface_leaves_and_rejoins_the_policy() {
    let Some(netns) = Netns::create("v4_renamed_interface_leaves_and_rejoins_the_policy") else {
        return;
    };
    netns.run(|ns| async move {
        let source = on_v0().with_families(&[IpFamily::V4]);
        let mut watch = Watch::start(&source);
        ns.add("v0", V4.a, V4.options).await;
        watch.expect(observed(V4.a), "the address on v0").await;
        // A link must be down to be renamed; IPv4 addresses survive that.
        ns.ip(&["link", "set", "v0", "down"]).await;
        ns.ip(&["link", "set", "v0", "name", "wan0"]).await;
        watch
            .expect(IpEvent::Lost(IpFamily::V4), "v0 is now called wan0")
            .await;
        ns.ip(&["link", "set", "wan0", "name", "v0"]).await;
        watch.expect(observed(V4.a), "v0 is back").await;
    });
}

#[test]
fn overrun_resynchronises_to_the_final_addresses() {
    let Some(netns) = Netns::create("overrun_resynchronises_to_the_final_addresses") else {
        return;
    };
    let batch = std::env::temp_dir().join(format!("{}.batch", netns.ns().name()));
    let mut commands = String::new();
    for i in 1..=1500 {
        writeln!(commands, "address add 2001:db8:1::{i:x}/128 dev v0 nodad").unwrap();
    }
    for i in 1..=250 {
        writeln!(commands, "address add 198.51.100.{i}/32 dev v0").unwrap();
    }
    writeln!(commands, "address del {} dev v0", V4.a).unwrap();
    writeln!(commands, "address del {} dev v0", V6.a).unwrap();
    for i in 1..1500 {
        writeln!(commands, "address del 2001:db8:1::{i:x}/128 dev v0").unwrap();
    }
    for i in 1..250 {
        writeln!(commands, "address del 198.51.100.{i}/32 dev v0").unwrap();
    }
    std::fs::write(&batch, commands).expect("write the batch file");
    let batch_path = batch.to_string_lossy().into_owned();
    let (final_v4, final_v6) = (addr("198.51.100.250"), addr("2001:db8:1::5dc"));

    netns.run(move |ns| async move {
        let (logs, _guard) = Logs::capture();
        ns.add("v0", V4.a, V4.options).await;
        ns.add("v0", V6.a, V6.options).await;
        // The kernel raises the smallest buffer to its minimum (a few KiB).
        let source = on_v0().with_receive_buffer(1);
        let mut watch = Watch::start(&source);
        watch.expect(observed(V4.a), "initial IPv4").await;
        watch.expect(observed(V6.a), "initial IPv6").await;

        // Blocking the only runtime thread keeps the socket unread while
        // thousands of notifications arrive: the buffer must overflow.
        ns.ip_blocking(&["-batch", &batch_path]);
        let mut chosen = AddressSnapshot {
            v4: Some(addr(V4.a)),
            v6: Some(addr(V6.a)),
        };
        while chosen.v4 != Some(final_v4) || chosen.v6 != Some(final_v6) {
            match watch.next().await {
                IpEvent::Observed(address) => chosen.set(IpFamily::of(&address), Some(address)),
                IpEvent::Lost(family) => chosen.set(family, None),
            }
        }
        assert!(
            logs.text().contains("netlink receive buffer overrun"),
            "the batch did not overflow the socket, so the resync was not exercised"
        );
        // Nothing stale survived the resync: the final addresses are the only ones.
        ns.del("v0", "198.51.100.250/32").await;
        watch
            .expect(
                IpEvent::Lost(IpFamily::V4),
                "no other IPv4 address is known",
            )
            .await;
        ns.del("v0", "2001:db8:1::5dc/128").await;
        watch
            .expect(
                IpEvent::Lost(IpFamily::V6),
                "no other IPv6 address is known",
            )
            .await;
    });
    let _ = std::fs::remove_file(&batch);
}

#[test]
fn factory_builds_a_source_for_the_named_interfaces_and_families() {
    let Some(netns) =
        Netns::create("factory_builds_a_source_for_the_named_interfaces_and_families")
    else {
        return;
    };
    netns.run(|ns| async move {
        let env = Env::from_pairs([("DDNS_IP_SOURCE_INTERFACE", "v1, v0")]);
        let plan = NetlinkSourceFactory
            .configure(&env, &[IpFamily::V6])
            .expect("valid configuration");
        let source = plan.build().await.expect("builds without any address");
        assert_eq!(
            source.current().await.expect("dump"),
            AddressSnapshot::default()
        );
        let mut watch = Watch::start(source.as_ref());
        ns.add("v0", V4.a, V4.options).await;
        ns.add("v1", V6.a, V6.options).await;
        watch
            .expect(observed(V6.a), "an address on v1, the IPv6 family only")
            .await;
        let snapshot = source.current().await.expect("dump");
        assert_eq!(
            snapshot,
            AddressSnapshot {
                v4: None,
                v6: Some(addr(V6.a))
            }
        );
    });
}
