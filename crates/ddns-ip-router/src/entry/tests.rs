use std::net::Ipv6Addr;

use ddns_core::IpFamily;

use super::*;

fn ok(entry: &str) -> RouterEntry {
    match RouterEntry::parse(entry) {
        Some(Ok(parsed)) => parsed,
        other => panic!("{entry}: {other:?}"),
    }
}

fn err(entry: &str) -> String {
    match RouterEntry::parse(entry) {
        Some(Err(reason)) => reason,
        other => panic!("{entry}: expected an error, got {other:?}"),
    }
}

#[test]
fn other_entries_are_not_ours() {
    for entry in [
        "https://icanhazip.com",
        "http://127.0.0.1:8080/ip",
        "dns:myip.opendns.com@208.67.222.222",
        "natpmp",
        "upnp",
        "",
        "natpmpx:1.2.3.4",
    ] {
        assert!(RouterEntry::parse(entry).is_none(), "{entry}");
        assert!(parse_entry(entry).is_none(), "{entry}");
    }
}

#[test]
fn natpmp_entries() {
    assert_eq!(ok("natpmp:"), RouterEntry::NatPmp(None));
    assert_eq!(ok(" NATPMP: "), RouterEntry::NatPmp(None));
    assert_eq!(
        ok("natpmp:192.168.1.1"),
        RouterEntry::NatPmp(Some(Ipv4Addr::new(192, 168, 1, 1)))
    );
    assert_eq!(
        err("natpmp:fd00::1"),
        "`natpmp:fd00::1`: NAT-PMP is IPv4 only, so the gateway must be an IPv4 address, not `fd00::1` (use pcp: for an IPv6 gateway)"
    );
    assert_eq!(
        err("natpmp:router.lan"),
        "`natpmp:router.lan`: `router.lan` is not an IP address; leave it empty for the default gateway"
    );
    assert_eq!(
        err("natpmp:192.168.1.1:5351"),
        "`natpmp:192.168.1.1:5351`: `192.168.1.1:5351` is not an IP address (no port: the gateway always listens on 5351); leave it empty for the default gateway"
    );
}

#[test]
fn pcp_entries() {
    assert_eq!(ok("pcp:"), RouterEntry::Pcp(Gateway::DefaultRoute));
    assert_eq!(
        ok("pcp:192.168.1.1"),
        RouterEntry::Pcp(Gateway::address(Ipv4Addr::new(192, 168, 1, 1)))
    );
    let v6: Ipv6Addr = "fd00::1".parse().unwrap();
    assert_eq!(ok("pcp:fd00::1"), RouterEntry::Pcp(Gateway::address(v6)));
    assert_eq!(ok("pcp:[fd00::1]"), RouterEntry::Pcp(Gateway::address(v6)));
    let zoned = RouterEntry::Pcp(Gateway::Address {
        address: "fe80::1".parse().unwrap(),
        interface: Some("eth0".into()),
    });
    assert_eq!(ok("pcp:fe80::1%eth0"), zoned);
    assert_eq!(ok("pcp:[fe80::1%eth0]"), zoned);
    assert_eq!(
        err("pcp:fe80::1"),
        "`pcp:fe80::1`: the link-local gateway `fe80::1` needs its interface, e.g. pcp:[fe80::1%eth0]"
    );
    assert_eq!(
        err("pcp:fe80::1%a/b"),
        "`pcp:fe80::1%a/b`: `%a/b` is not an interface name for a link-local IPv6 address"
    );
    assert_eq!(
        err("pcp:[fd00::1]:5351"),
        "`pcp:[fd00::1]:5351`: `[fd00::1]:5351` is not an IP address (no port: the gateway always listens on 5351); leave it empty for the default gateway"
    );
}

#[test]
fn upnp_entries() {
    assert_eq!(ok("upnp:"), RouterEntry::Upnp(None));
    let RouterEntry::Upnp(Some(url)) = ok("upnp:http://192.168.1.1:5000/ctl/IPConn") else {
        panic!("a control URL");
    };
    assert_eq!(url.address(), "192.168.1.1:5000".parse().unwrap());
    assert_eq!(url.path(), "/ctl/IPConn");
    assert_eq!(url.service(), crate::upnp::DEFAULT_SERVICE);
    assert_eq!(
        err("upnp://192.168.1.1"),
        "`upnp://192.168.1.1`: write upnp: to discover the gateway, or upnp:http://IP:PORT/PATH with its control URL"
    );
    assert_eq!(
        err("upnp:https://192.168.1.1/ctl"),
        "`upnp:https://192.168.1.1/ctl`: `https://192.168.1.1/ctl`: UPnP control URLs are plain http:// on the local network, not https://"
    );
}

#[test]
fn detectors_are_named_and_support_their_families() {
    let cases: [(&str, &str, bool, bool); 6] = [
        ("natpmp:", "natpmp:default-gateway", true, false),
        ("natpmp:192.168.1.1", "natpmp:192.168.1.1", true, false),
        ("pcp:", "pcp:default-gateway", true, true),
        ("pcp:[fe80::1%eth0]", "pcp:fe80::1%eth0", false, true),
        ("upnp:", "upnp:discover", true, false),
        (
            "upnp:http://192.168.1.1:5000/ctl/IPConn#WANPPPConnection:1",
            "upnp:http://192.168.1.1:5000/ctl/IPConn#urn:schemas-upnp-org:service:WANPPPConnection:1",
            true,
            false,
        ),
    ];
    for (entry, name, v4, v6) in cases {
        let detector = match parse_entry(entry) {
            Some(Ok(detector)) => detector,
            Some(Err(reason)) => panic!("{entry}: {reason}"),
            None => panic!("{entry}: not ours"),
        };
        assert_eq!(detector.name(), name);
        assert_eq!(detector.supports(IpFamily::V4), v4, "{entry} ipv4");
        assert_eq!(detector.supports(IpFamily::V6), v6, "{entry} ipv6");
    }
}
