//! The verifiers against a real BIND9 started by each test: plain DNS to
//! the server, discovery of the zone's servers, and DNS over HTTPS to
//! BIND's own DoH listener.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ddns_core::config::Env;
use ddns_core::{IpFamily, Observation, Record, Verifier, VerifierFactory};
use ddns_testkit::{Bind, BindOptions};
use ddns_verify::{DnsVerifier, DnsVerifierFactory, DohVerifierFactory};

/// A CA that signed nothing BIND serves.
const OTHER_CA: &str = include_str!("data/test-ca.pem");

fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse().unwrap(), family)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn build(factory: &dyn VerifierFactory, pairs: &[(&str, &str)]) -> Arc<dyn Verifier> {
    let plan = factory.configure(&env(pairs)).unwrap();
    runtime().block_on(plan.build()).unwrap()
}

fn observe(verifier: &dyn Verifier, record: &Record) -> Observation {
    runtime()
        .block_on(verifier.observe(record))
        .unwrap_or_else(|e| panic!("observe {record}: {e}"))
}

fn seen(values: &[&str], authoritative: bool) -> Observation {
    Observation {
        values: values
            .iter()
            .map(|v| v.parse::<IpAddr>().unwrap())
            .collect(),
        authoritative,
    }
}

fn add(bind: &Bind, line: &str) {
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &[&format!("update add {line}")],
    )
    .unwrap();
}

/// An address where nothing answers: a port just released.
fn closed_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

#[test]
fn dns_sees_a_record_added_with_nsupdate_authoritatively() {
    let Some(bind) = Bind::start("dns_sees_a_record_added", BindOptions::new()) else {
        return;
    };
    let server = bind.addr().to_string();
    let verifier = build(&DnsVerifierFactory, &[("DDNS_VERIFY_DNS_SERVER", &server)]);
    assert_eq!(verifier.name(), "dns");
    let v4 = record("host.example.test", IpFamily::V4);
    let v6 = record("host.example.test", IpFamily::V6);

    assert_eq!(observe(verifier.as_ref(), &v4), seen(&[], true));

    add(&bind, "host.example.test 60 A 192.0.2.1");
    add(&bind, "host.example.test 60 A 192.0.2.2");
    add(&bind, "host.example.test 60 AAAA 2001:db8::7");
    assert_eq!(
        observe(verifier.as_ref(), &v4),
        seen(&["192.0.2.1", "192.0.2.2"], true)
    );
    assert_eq!(
        observe(verifier.as_ref(), &v6),
        seen(&["2001:db8::7"], true)
    );
}

#[test]
fn names_and_types_that_do_not_exist_give_empty_values() {
    let Some(bind) = Bind::start(
        "names_that_do_not_exist",
        BindOptions::new().record("v4only IN A 198.51.100.7"),
    ) else {
        return;
    };
    let server = bind.addr().to_string();
    let verifier = build(&DnsVerifierFactory, &[("DDNS_VERIFY_DNS_SERVER", &server)]);
    // NXDOMAIN.
    assert_eq!(
        observe(
            verifier.as_ref(),
            &record("absent.example.test", IpFamily::V4)
        ),
        seen(&[], true)
    );
    // The name exists, the type does not (NODATA).
    assert_eq!(
        observe(
            verifier.as_ref(),
            &record("v4only.example.test", IpFamily::V6)
        ),
        seen(&[], true)
    );
    assert_eq!(
        observe(
            verifier.as_ref(),
            &record("v4only.example.test", IpFamily::V4)
        ),
        seen(&["198.51.100.7"], true)
    );
}

#[test]
fn a_server_that_is_down_gives_a_transient_error_naming_it() {
    let Some(mut bind) = Bind::start("a_server_that_is_down", BindOptions::new()) else {
        return;
    };
    let server = bind.addr().to_string();
    let verifier = build(&DnsVerifierFactory, &[("DDNS_VERIFY_DNS_SERVER", &server)]);
    let host = record("host.example.test", IpFamily::V4);
    bind.stop();

    let error = runtime()
        .block_on(verifier.observe(&host))
        .expect_err("the server is down");
    assert!(error.is_transient(), "{error}");
    let expected = format!("no usable answer for host.example.test A: cannot reach {server}: ");
    assert!(
        error.to_string().starts_with(&expected),
        "got: {error}\nexpected: {expected}…"
    );

    bind.start_again();
    assert_eq!(observe(verifier.as_ref(), &host), seen(&[], true));
}

#[test]
fn one_silent_server_of_two_leaves_the_answer_unconfirmed() {
    let Some(bind) = Bind::start(
        "one_silent_server_of_two",
        BindOptions::new().record("host IN A 198.51.100.7"),
    ) else {
        return;
    };
    let servers = format!("{}, {}", bind.addr(), closed_port());
    let verifier = build(&DnsVerifierFactory, &[("DDNS_VERIFY_DNS_SERVER", &servers)]);
    assert_eq!(
        observe(
            verifier.as_ref(),
            &record("host.example.test", IpFamily::V4)
        ),
        seen(&["198.51.100.7"], false)
    );
}

/// The default path end to end, with BIND standing in for the recursive
/// resolver (it answers RD=1 questions about its own zone): SOA walk, NS,
/// the NS name's address, then the question to that server. Only the port
/// differs from production, where the zone's servers are asked on 53.
#[test]
fn discovery_finds_the_zones_server_once() {
    let Some(bind) = Bind::start("discovery_finds_the_zones_server", BindOptions::new()) else {
        return;
    };
    add(&bind, "deep.sub.example.test 60 A 192.0.2.9");
    let verifier = DnsVerifier::authoritative_on_port(vec![bind.addr()], bind.addr().port());
    let deep = record("deep.sub.example.test", IpFamily::V4);
    assert_eq!(observe(&verifier, &deep), seen(&["192.0.2.9"], true));
    assert_eq!(
        observe(&verifier, &record("other.example.test", IpFamily::V4)),
        seen(&[], true)
    );
    assert_eq!(observe(&verifier, &deep), seen(&["192.0.2.9"], true));

    let log = bind.log();
    let asked = |question: &str| log.lines().filter(|l| l.contains(question)).count();
    assert_eq!(asked("query: example.test IN NS +"), 1, "{log}");
    assert_eq!(asked("query: deep.sub.example.test IN SOA +"), 1, "{log}");
    assert_eq!(asked("query: deep.sub.example.test IN A -"), 2, "{log}");
}

#[test]
fn doh_sees_the_record_and_the_aa_bit_through_bind() {
    let Some(bind) = Bind::start("doh_sees_the_record", BindOptions::new().doh(true)) else {
        return;
    };
    let url = bind.doh_url().unwrap();
    let ca = bind.ca_file().unwrap();
    let verifier = build(
        &DohVerifierFactory,
        &[
            ("DDNS_VERIFY_DOH_URL", &url),
            ("DDNS_VERIFY_CA_FILE", ca.to_str().unwrap()),
        ],
    );
    assert_eq!(verifier.name(), "doh");
    let host = record("host.example.test", IpFamily::V4);
    assert_eq!(observe(verifier.as_ref(), &host), seen(&[], true));
    add(&bind, "host.example.test 60 A 192.0.2.1");
    add(&bind, "host.example.test 60 AAAA 2001:db8::1");
    assert_eq!(
        observe(verifier.as_ref(), &host),
        seen(&["192.0.2.1"], true)
    );
    assert_eq!(
        observe(
            verifier.as_ref(),
            &record("host.example.test", IpFamily::V6)
        ),
        seen(&["2001:db8::1"], true)
    );
}

#[test]
fn doh_with_an_untrusted_certificate_fails_with_a_tls_error() {
    let Some(bind) = Bind::start("doh_untrusted_certificate", BindOptions::new().doh(true)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, OTHER_CA).unwrap();
    let url = bind.doh_url().unwrap();
    let verifier = build(
        &DohVerifierFactory,
        &[
            ("DDNS_VERIFY_DOH_URL", &url),
            ("DDNS_VERIFY_CA_FILE", other_ca.to_str().unwrap()),
        ],
    );
    let error = runtime()
        .block_on(verifier.observe(&record("host.example.test", IpFamily::V4)))
        .expect_err("the certificate is not trusted");
    assert!(error.is_transient());
    let message = error.to_string();
    let origin = url.trim_end_matches("/dns-query");
    assert!(
        message.starts_with(&format!(
            "DNS over HTTPS to {origin} failed for host.example.test A: "
        )),
        "{message}"
    );
    assert!(
        message.contains("invalid peer certificate: UnknownIssuer"),
        "{message}"
    );
    assert!(!message.contains("/dns-query"), "{message}");
}

#[test]
fn doh_errors_never_show_the_url_path() {
    let Some(bind) = Bind::start("doh_errors_hide_the_path", BindOptions::new().doh(true)) else {
        return;
    };
    let url = bind
        .doh_url()
        .unwrap()
        .replace("/dns-query", "/s3cret-token/dns-query");
    let ca = bind.ca_file().unwrap();
    let verifier = build(
        &DohVerifierFactory,
        &[
            ("DDNS_VERIFY_DOH_URL", &url),
            ("DDNS_VERIFY_CA_FILE", ca.to_str().unwrap()),
        ],
    );
    let error = runtime()
        .block_on(verifier.observe(&record("host.example.test", IpFamily::V4)))
        .expect_err("no such endpoint");
    let message = error.to_string();
    let origin = url.split("/s3cret").next().unwrap();
    assert_eq!(
        message,
        format!("{origin} answered the DNS-over-HTTPS query for host.example.test A with HTTP 404")
    );
}

#[test]
fn plain_http_to_another_host_is_refused_at_configuration() {
    let error = DohVerifierFactory
        .configure(&env(&[(
            "DDNS_VERIFY_DOH_URL",
            "http://192.0.2.53/s3cret-token/dns-query",
        )]))
        .err()
        .expect("http to a non-loopback host");
    assert_eq!(error.variable(), "DDNS_VERIFY_DOH_URL");
    assert!(
        error
            .to_string()
            .starts_with("DDNS_VERIFY_DOH_URL: http://192.0.2.53 is not encrypted; use https"),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret"));
}
