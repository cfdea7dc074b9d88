#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::Mutex;

use futures_util::FutureExt;
use futures_util::stream::{self, BoxStream, StreamExt};

use super::*;

const BOTH: &[IpFamily] = &[IpFamily::V4, IpFamily::V6];

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn plan(
    factory: &HttpSourceFactory,
    pairs: &[(&str, &str)],
    families: &[IpFamily],
) -> Box<dyn SourcePlan> {
    match factory.configure(&env(pairs), families) {
        Ok(plan) => plan,
        Err(error) => panic!("refused: {error}"),
    }
}

fn error(pairs: &[(&str, &str)], families: &[IpFamily]) -> String {
    match HttpSourceFactory::http().configure(&env(pairs), families) {
        Ok(_) => panic!("{pairs:?} was accepted"),
        Err(error) => error.to_string(),
    }
}

fn setting(plan: &dyn SourcePlan, name: &str) -> String {
    plan.settings()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no setting {name}"))
        .value
}

struct Never;

impl Trigger for Never {
    fn changes(&self) -> BoxStream<'static, ()> {
        stream::pending().boxed()
    }
}

#[test]
fn both_type_names_read_every_variable() {
    assert_eq!(HttpSourceFactory::http().name(), "http");
    assert_eq!(HttpSourceFactory::dns().name(), "dns");
    assert_eq!(HttpSourceFactory::default().name(), "http");
    let variables = HttpSourceFactory::http().variables();
    for variable in [
        "DDNS_IP_SOURCE_URLS",
        "DDNS_IP_SOURCE_URLS_FILE",
        "DDNS_IP_SOURCE_QUORUM",
        "DDNS_IP_SOURCE_POLL_INTERVAL_SECS",
        "DDNS_IP_SOURCE_TIMEOUT_SECS",
        "DDNS_IP_ALLOW_NONGLOBAL",
        "DDNS_IP_SOURCE_TRIGGER",
        "DDNS_ALLOW_HTTP",
        "DDNS_IP_SOURCE_CA_FILE",
        "DDNS_IP_SOURCE_INTERFACE",
    ] {
        assert!(variables.contains(&variable), "{variable} is not listed");
    }
    assert_eq!(HttpSourceFactory::dns().variables(), variables);
}

#[test]
fn without_urls_each_type_takes_its_built_in_list() {
    let http = plan(&HttpSourceFactory::http(), &[], BOTH);
    assert_eq!(
        setting(http.as_ref(), URLS_VARIABLE),
        "(built-in) ipv4:https://api.ipify.org, ipv4:https://ipv4.icanhazip.com, ipv4:https://v4.ident.me, ipv6:https://api64.ipify.org, ipv6:https://ipv6.icanhazip.com, ipv6:https://v6.ident.me, https://ifconfig.co"
    );
    assert_eq!(
        setting(http.as_ref(), QUORUM_VARIABLE),
        "2 of 4 for ipv4, 2 of 4 for ipv6"
    );
    let dns = plan(&HttpSourceFactory::dns(), &[], BOTH);
    assert_eq!(
        setting(dns.as_ref(), URLS_VARIABLE),
        format!("(built-in) {}", DEFAULT_DNS_SOURCES.join(", "))
    );
    // Only the servers of the families managed.
    let v6 = plan(&HttpSourceFactory::dns(), &[], &[IpFamily::V6]);
    assert_eq!(
        setting(v6.as_ref(), URLS_VARIABLE),
        "(built-in) dns:myip.opendns.com@[2620:119:35::35], dns:whoami.cloudflare@[2606:4700:4700::1111], dns:txt:o-o.myaddr.l.google.com@[2001:4860:4802:32::a]"
    );
    assert_eq!(setting(v6.as_ref(), QUORUM_VARIABLE), "2 of 3 for ipv6");
    let v4 = plan(&HttpSourceFactory::http(), &[], &[IpFamily::V4]);
    assert_eq!(
        setting(v4.as_ref(), URLS_VARIABLE),
        "(built-in) ipv4:https://api.ipify.org, ipv4:https://ipv4.icanhazip.com, ipv4:https://v4.ident.me, https://ifconfig.co"
    );
}

#[test]
fn the_defaults_are_shown_by_check() {
    let plan = plan(
        &HttpSourceFactory::http(),
        &[("DDNS_IP_SOURCE_URLS", "https://ip.example")],
        &[IpFamily::V4],
    );
    let settings: Vec<(String, String)> = plan
        .settings()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    let expected: Vec<(String, String)> = [
        ("DDNS_IP_SOURCE_URLS", "https://ip.example"),
        ("DDNS_IP_SOURCE_QUORUM", "1 of 1 for ipv4"),
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "300"),
        ("DDNS_IP_SOURCE_TIMEOUT_SECS", "5"),
        ("DDNS_IP_ALLOW_NONGLOBAL", "false"),
        (
            "DDNS_IP_SOURCE_TRIGGER",
            "none (this build has no netlink trigger)",
        ),
        ("DDNS_IP_SOURCE_INTERFACE", "(all interfaces)"),
        ("DDNS_IP_SOURCE_CA_FILE", "(the system's root certificates)"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(settings, expected);
}

#[test]
fn settings_never_show_a_url_path_query_or_user() {
    let plan = plan(
        &HttpSourceFactory::http(),
        &[(
            "DDNS_IP_SOURCE_URLS",
            "https://user:pw@ip.example:8443/k/s3cret?token=abc,ipv6:https://ip.example/other",
        )],
        BOTH,
    );
    let all = format!("{:?}", plan.settings());
    for secret in ["s3cret", "token", "abc", "user", "pw@", "other"] {
        assert!(!all.contains(secret), "{secret} shown in {all}");
    }
    assert_eq!(
        setting(plan.as_ref(), URLS_VARIABLE),
        "https://ip.example:8443, ipv6:https://ip.example"
    );
    assert_eq!(
        setting(plan.as_ref(), QUORUM_VARIABLE),
        "1 of 1 for ipv4, 2 of 2 for ipv6"
    );
}

#[test]
fn the_url_list_can_come_from_a_file() {
    let mut file = tempfile_in_target();
    writeln!(
        file.1,
        "https://ip.example/s3cret\nhttps://other.example,dns:myip.opendns.com@208.67.222.222"
    )
    .unwrap();
    let path = file.0.to_string_lossy().to_string();
    let plan = plan(
        &HttpSourceFactory::http(),
        &[("DDNS_IP_SOURCE_URLS_FILE", &path)],
        &[IpFamily::V4],
    );
    assert_eq!(
        setting(plan.as_ref(), URLS_VARIABLE),
        "https://ip.example, https://other.example, dns:myip.opendns.com@208.67.222.222"
    );
    std::fs::remove_file(&file.0).unwrap();
}

/// A file of our own (the crate has no tempfile dependency).
fn tempfile_in_target() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "ddns-ip-http-urls-{}-{}",
        std::process::id(),
        line!()
    ));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

#[test]
fn bad_urls_and_entries_name_the_variable() {
    assert_eq!(
        error(
            &[(
                "DDNS_IP_SOURCE_URLS",
                "https://ip.example,,https://b.example"
            )],
            BOTH
        ),
        "DDNS_IP_SOURCE_URLS: item 2 of the list is empty"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_URLS", "https://exa mple.com/x")], BOTH),
        "DDNS_IP_SOURCE_URLS: item 1: is not a valid URL: invalid international domain name"
    );
    let plain = error(
        &[("DDNS_IP_SOURCE_URLS", "http://ip.example.net/s3cret")],
        BOTH,
    );
    assert_eq!(
        plain,
        "DDNS_IP_SOURCE_URLS: item 1: http://ip.example.net is not encrypted; use https, or set DDNS_ALLOW_HTTP=true for a device on your own network"
    );
    assert!(
        HttpSourceFactory::http()
            .configure(
                &env(&[
                    ("DDNS_IP_SOURCE_URLS", "http://ip.example.net/ip"),
                    ("DDNS_ALLOW_HTTP", "true")
                ]),
                BOTH
            )
            .is_ok()
    );
    assert_eq!(
        error(
            &[(
                "DDNS_IP_SOURCE_URLS",
                "dns:myip.opendns.com@resolver1.opendns.com"
            )],
            BOTH
        ),
        "DDNS_IP_SOURCE_URLS: item 1: the server 'resolver1.opendns.com' is not an IP address with an optional port; name it by address, as in @208.67.222.222 or @[2620:119:35::35]:53"
    );
    assert_eq!(
        error(
            &[("DDNS_IP_SOURCE_URLS", "dns:txt-in:x.example@192.0.2.1")],
            BOTH
        ),
        "DDNS_IP_SOURCE_URLS: item 1: 'txt-in' is not a query kind (expected a, txt or txt-ch, as in dns:txt-ch:whoami.cloudflare@1.1.1.1)"
    );
}

#[test]
fn every_family_needs_a_source() {
    assert_eq!(
        error(
            &[(
                "DDNS_IP_SOURCE_URLS",
                "https://1.1.1.1/cdn-cgi/trace,dns:myip.opendns.com@208.67.222.222"
            )],
            BOTH
        ),
        "DDNS_IP_SOURCE_URLS: no source in the list can answer for ipv6; add one (an address literal host answers for its own family only, a dns: entry for its server's)"
    );
}

#[test]
fn a_quorum_larger_than_a_family_s_sources_is_refused() {
    let urls = (
        "DDNS_IP_SOURCE_URLS",
        "https://a.example,https://b.example,ipv4:https://c.example",
    );
    assert_eq!(
        error(&[urls, ("DDNS_IP_SOURCE_QUORUM", "3")], BOTH),
        "DDNS_IP_SOURCE_QUORUM: 3 sources must agree, but only 2 can answer for ipv6; list more in DDNS_IP_SOURCE_URLS or lower the quorum"
    );
    let ok = plan(
        &HttpSourceFactory::http(),
        &[urls, ("DDNS_IP_SOURCE_QUORUM", "3")],
        &[IpFamily::V4],
    );
    assert_eq!(setting(ok.as_ref(), QUORUM_VARIABLE), "3 of 3 for ipv4");
    assert_eq!(
        error(&[urls, ("DDNS_IP_SOURCE_QUORUM", "0")], BOTH),
        "DDNS_IP_SOURCE_QUORUM: 0 is out of range (expected 1..=64)"
    );
    assert_eq!(
        error(&[urls, ("DDNS_IP_SOURCE_QUORUM", "two")], BOTH),
        "DDNS_IP_SOURCE_QUORUM: 'two' is not a whole number (expected 1..=64)"
    );
}

#[test]
fn intervals_and_timeouts_are_range_checked() {
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "0")], BOTH),
        "DDNS_IP_SOURCE_POLL_INTERVAL_SECS: 0 is out of range (expected 1..=86400)"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "86401")], BOTH),
        "DDNS_IP_SOURCE_POLL_INTERVAL_SECS: 86401 is out of range (expected 1..=86400)"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_TIMEOUT_SECS", "61")], BOTH),
        "DDNS_IP_SOURCE_TIMEOUT_SECS: 61 is out of range (expected 1..=60)"
    );
    assert_eq!(
        error(&[("DDNS_IP_ALLOW_NONGLOBAL", "sometimes")], BOTH),
        "DDNS_IP_ALLOW_NONGLOBAL: 'sometimes' is not a boolean (expected true or false)"
    );
    let plan = plan(
        &HttpSourceFactory::http(),
        &[
            ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "86400"),
            ("DDNS_IP_SOURCE_TIMEOUT_SECS", "60"),
            ("DDNS_IP_ALLOW_NONGLOBAL", "yes"),
        ],
        BOTH,
    );
    assert_eq!(setting(plan.as_ref(), POLL_INTERVAL_VARIABLE), "86400");
    assert_eq!(setting(plan.as_ref(), TIMEOUT_VARIABLE), "60");
    assert_eq!(setting(plan.as_ref(), ALLOW_NONGLOBAL_VARIABLE), "true");
}

#[test]
fn the_netlink_trigger_is_the_default_only_when_the_build_has_one() {
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_TRIGGER", "netlink")], BOTH),
        "DDNS_IP_SOURCE_TRIGGER: netlink is not available in this build; use none (the poll interval alone then finds changes)"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_TRIGGER", "udev")], BOTH),
        "DDNS_IP_SOURCE_TRIGGER: 'udev' is not one of: netlink, none"
    );
    let with = HttpSourceFactory::http().with_netlink_trigger(|_: &[String]| Arc::new(Never));
    let default = plan(&with, &[], BOTH);
    let expected = if cfg!(target_os = "linux") {
        "netlink"
    } else {
        "none"
    };
    assert_eq!(setting(default.as_ref(), TRIGGER_VARIABLE), expected);
    let none = plan(&with, &[("DDNS_IP_SOURCE_TRIGGER", "None")], BOTH);
    assert_eq!(setting(none.as_ref(), TRIGGER_VARIABLE), "none");
    assert!(format!("{with:?}").contains("netlink_trigger: true"));
}

#[tokio::test]
async fn a_dns_only_plan_builds_without_touching_the_network() {
    let plan = plan(&HttpSourceFactory::dns(), &[], BOTH);
    let source = plan.build().await.unwrap();
    assert_eq!(source.name(), "dns");
}

#[test]
fn router_entries_join_the_list_and_name_their_errors() {
    let plan = plan(
        &HttpSourceFactory::http(),
        &[
            ("DDNS_IP_SOURCE_URLS", "natpmp:192.168.1.1,upnp:,pcp:"),
            ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ],
        BOTH,
    );
    let shown = format!("{:?}", plan.settings());
    assert!(
        shown.contains("natpmp:192.168.1.1") && shown.contains("upnp:") && shown.contains("pcp:"),
        "{shown}"
    );
    let err = error(
        &[("DDNS_IP_SOURCE_URLS", "natpmp:fd00::1")],
        &[IpFamily::V4],
    );
    assert!(
        err.starts_with("DDNS_IP_SOURCE_URLS: item 1: `natpmp:fd00::1`: NAT-PMP is IPv4 only"),
        "{err}"
    );
    // NAT-PMP and UPnP answer for IPv4 only: an IPv6-only list of them has no source.
    let err = error(&[("DDNS_IP_SOURCE_URLS", "natpmp:,upnp:")], &[IpFamily::V6]);
    assert!(
        err.contains("no source in the list can answer for ipv6"),
        "{err}"
    );
}

/// A netlink trigger maker that records the interfaces it was given.
fn recording_factory(kind: HttpSourceFactory) -> (HttpSourceFactory, Arc<Mutex<Vec<Vec<String>>>>) {
    let made = Arc::new(Mutex::new(Vec::new()));
    let factory = kind.with_netlink_trigger({
        let made = made.clone();
        move |interfaces: &[String]| {
            made.lock().unwrap().push(interfaces.to_vec());
            Arc::new(Never)
        }
    });
    (factory, made)
}

#[tokio::test]
async fn the_netlink_trigger_watches_the_source_interfaces_only_when_they_are_named() {
    let dns_only = ("DDNS_IP_SOURCE_URLS", "dns:myip.opendns.com@208.67.222.222");
    let (factory, made) = recording_factory(HttpSourceFactory::dns());
    let named = plan(
        &factory,
        &[dns_only, ("DDNS_IP_SOURCE_INTERFACE", " ppp0, eth1")],
        &[IpFamily::V4],
    );
    assert_eq!(
        setting(named.as_ref(), INTERFACE_VARIABLE),
        "ppp0,eth1 (the trigger watches only these)"
    );
    named.build().await.unwrap();
    let all = plan(&factory, &[dns_only], &[IpFamily::V4]);
    assert_eq!(
        setting(all.as_ref(), INTERFACE_VARIABLE),
        "(all interfaces)"
    );
    all.build().await.unwrap();
    assert_eq!(
        *made.lock().unwrap(),
        vec![vec!["ppp0".to_string(), "eth1".to_string()], Vec::new()],
        "the maker gets the named interfaces, or none for all"
    );
    let none = plan(
        &factory,
        &[
            dns_only,
            ("DDNS_IP_SOURCE_INTERFACE", "ppp0"),
            ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ],
        &[IpFamily::V4],
    );
    assert_eq!(
        setting(none.as_ref(), INTERFACE_VARIABLE),
        "ppp0 (unused by this source)"
    );
    none.build().await.unwrap();
    assert_eq!(
        made.lock().unwrap().len(),
        2,
        "no trigger was made for none"
    );
}

#[test]
fn the_source_interfaces_are_preferred_for_ipv6_when_the_lookup_is_plugged_in() {
    let (factory, _) = recording_factory(HttpSourceFactory::http());
    let factory = factory.with_local_ipv6(|_: &[String]| {
        async { Ok(LocalIpv6::new(Vec::new(), Vec::new())) }.boxed()
    });
    let pairs = [
        ("DDNS_IP_SOURCE_URLS", "https://ip.example"),
        ("DDNS_IP_SOURCE_INTERFACE", "ppp0"),
    ];
    let both = plan(&factory, &pairs, BOTH);
    assert_eq!(
        setting(both.as_ref(), INTERFACE_VARIABLE),
        "ppp0 (the trigger watches only these; IPv6 requests prefer their stable addresses)"
    );
    // Without IPv6 there is no source address to choose.
    let v4 = plan(&factory, &pairs, &[IpFamily::V4]);
    assert_eq!(
        setting(v4.as_ref(), INTERFACE_VARIABLE),
        "ppp0 (the trigger watches only these)"
    );
    assert!(format!("{factory:?}").contains("local_ipv6: true"));
}

#[test]
fn source_interfaces_follow_the_netlink_source_rules() {
    // The same rules and messages as DDNS_IP_SOURCE_TYPE=netlink (ddns-core
    // holds them for both).
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_INTERFACE", "eth0:1")], BOTH),
        "DDNS_IP_SOURCE_INTERFACE: 'eth0:1' is not a valid interface name: it contains ':' (an alias label; give the interface itself, such as eth0)"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_INTERFACE", "eth0,eth0")], BOTH),
        "DDNS_IP_SOURCE_INTERFACE: interface 'eth0' is listed twice"
    );
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_INTERFACE", "eth0,")], BOTH),
        "DDNS_IP_SOURCE_INTERFACE: item 2 of the comma-separated list is empty"
    );
}

#[test]
fn a_ca_file_is_read_and_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing_text = missing.to_string_lossy().to_string();
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_CA_FILE", &missing_text)], BOTH),
        format!(
            "DDNS_IP_SOURCE_CA_FILE: cannot read {missing_text}: No such file or directory (os error 2)"
        )
    );
    let text = dir.path().join("notes.pem");
    std::fs::write(&text, "not a certificate\n").unwrap();
    let text = text.to_string_lossy().to_string();
    assert_eq!(
        error(&[("DDNS_IP_SOURCE_CA_FILE", &text)], BOTH),
        format!(
            "DDNS_IP_SOURCE_CA_FILE: {text}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    );
    let Some(ca) = ddns_testkit::TestCa::create("a_ca_file_is_read_and_checked_at_start") else {
        return;
    };
    let path = ca.ca_file().to_string_lossy().to_string();
    let plan = plan(
        &HttpSourceFactory::http(),
        &[("DDNS_IP_SOURCE_CA_FILE", &path)],
        BOTH,
    );
    assert_eq!(
        setting(plan.as_ref(), CA_FILE_VARIABLE),
        format!("{path} (1 certificate, with the system's roots)")
    );
}
