#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ddns_dns::hickory_proto::rr::rdata::{A, AAAA, TXT};

use super::*;

fn entry(text: &str) -> DnsEndpoint {
    text.parse()
        .unwrap_or_else(|e| panic!("'{text}' was refused: {e}"))
}

fn refused(text: &str) -> String {
    match text.parse::<DnsEndpoint>() {
        Ok(parsed) => panic!("'{text}' was accepted as {parsed:?}"),
        Err(reason) => reason,
    }
}

#[test]
fn the_query_kind_defaults_by_name_and_can_be_given() {
    let opendns = entry("dns:myip.opendns.com@208.67.222.222");
    assert_eq!(opendns.kind(), DnsQueryKind::Address);
    assert_eq!(opendns.name().to_ascii(), "myip.opendns.com.");
    assert_eq!(opendns.server(), "208.67.222.222:53".parse().unwrap());
    assert_eq!(opendns.family(), IpFamily::V4);

    let whoami = entry("dns:whoami.cloudflare@1.1.1.1");
    assert_eq!(whoami.kind(), DnsQueryKind::TxtChaos);
    assert_eq!(
        entry("DNS:WhoAmI.Cloudflare.@1.1.1.1").kind(),
        DnsQueryKind::TxtChaos
    );
    assert_eq!(
        entry("dns:a:whoami.cloudflare@1.1.1.1").kind(),
        DnsQueryKind::Address
    );
    assert_eq!(
        entry("dns:txt:o-o.myaddr.l.google.com@216.239.32.10").kind(),
        DnsQueryKind::Txt
    );
    assert_eq!(
        entry("dns:TXT-CH:id.example@192.0.2.1").kind(),
        DnsQueryKind::TxtChaos
    );
}

#[test]
fn servers_take_a_port_and_ipv6_in_brackets() {
    assert_eq!(
        entry("dns:myip.example.test@127.0.0.1:5353").server(),
        "127.0.0.1:5353".parse().unwrap()
    );
    let v6 = entry("dns:myip.opendns.com@[2620:119:35::35]");
    assert_eq!(v6.server(), "[2620:119:35::35]:53".parse().unwrap());
    assert_eq!(v6.family(), IpFamily::V6);
    assert_eq!(
        entry("dns:myip.opendns.com@[2620:119:35::35]:5353").server(),
        "[2620:119:35::35]:5353".parse().unwrap()
    );
    assert_eq!(
        entry("dns:myip.opendns.com@2620:119:35::35").server(),
        "[2620:119:35::35]:53".parse().unwrap(),
        "a bare IPv6 address without a port is unambiguous"
    );
}

#[test]
fn entries_print_in_their_shortest_form() {
    for text in [
        "dns:myip.opendns.com@208.67.222.222",
        "dns:whoami.cloudflare@[2606:4700:4700::1111]",
        "dns:txt:o-o.myaddr.l.google.com@216.239.32.10",
        "dns:a:whoami.cloudflare@1.1.1.1",
        "dns:myip.example.test@127.0.0.1:5353",
        "dns:myip.example.test@[::1]:5353",
    ] {
        assert_eq!(entry(text).to_string(), text);
    }
    assert_eq!(
        entry(" dns:A:MyIP.example.test.@127.0.0.1:53 ").to_string(),
        "dns:myip.example.test@127.0.0.1"
    );
}

#[test]
fn bad_entries_say_what_is_wrong() {
    assert_eq!(
        refused("dns:myip.opendns.com"),
        "'dns:myip.opendns.com' names no server: write dns:NAME@SERVER, such as dns:myip.opendns.com@208.67.222.222"
    );
    assert_eq!(
        refused("dns:aaaa:myip.opendns.com@208.67.222.222"),
        "'aaaa' is not a query kind (expected a, txt or txt-ch, as in dns:txt-ch:whoami.cloudflare@1.1.1.1)"
    );
    assert_eq!(
        refused("dns:@208.67.222.222"),
        "'' is not a DNS name such as myip.opendns.com"
    );
    assert_eq!(
        refused("dns:my ip.example@208.67.222.222"),
        "'my ip.example' is not a DNS name such as myip.opendns.com"
    );
    assert_eq!(
        refused("dns:myip.opendns.com@resolver1.opendns.com"),
        "the server 'resolver1.opendns.com' is not an IP address with an optional port; name it by address, as in @208.67.222.222 or @[2620:119:35::35]:53"
    );
    assert!(
        refused("dns:myip.opendns.com@[208.67.222.222]")
            .starts_with("the server '[208.67.222.222]'")
    );
    assert!(refused("dns:myip.opendns.com@208.67.222.222:99999").starts_with("the server"));
    assert_eq!(
        refused("dns:myip.opendns.com@208.67.222.222:0"),
        "port 0 in '208.67.222.222:0' cannot be asked"
    );
    assert_eq!(
        refused("https://example.com"),
        "'https://example.com' does not start with dns:"
    );
    let long_label = format!("dns:{}.example@192.0.2.1", "a".repeat(70));
    assert!(
        refused(&long_label).contains("is not a valid DNS name"),
        "{}",
        refused(&long_label)
    );
}

fn a(text: &str) -> RData {
    RData::A(A(text.parse().unwrap()))
}

fn aaaa(text: &str) -> RData {
    RData::AAAA(AAAA(text.parse().unwrap()))
}

fn txt(strings: &[&str]) -> RData {
    RData::TXT(TXT::new(strings.iter().map(|s| s.to_string()).collect()))
}

#[test]
fn an_answer_must_hold_exactly_one_address() {
    let one = a("203.0.113.7");
    assert_eq!(
        single_address(&[&one, &one], RecordType::A),
        Ok("203.0.113.7".parse().unwrap()),
        "the same address twice is still one"
    );
    let two = a("203.0.113.8");
    assert_eq!(
        single_address(&[&one, &two], RecordType::A),
        Err("the answer holds 2 different addresses, not one".into())
    );
    assert_eq!(
        single_address(&[], RecordType::AAAA),
        Err("the answer holds no AAAA record".into())
    );
    let v6 = aaaa("2001:db8::7");
    assert_eq!(
        single_address(&[&v6], RecordType::AAAA),
        Ok("2001:db8::7".parse().unwrap())
    );
}

#[test]
fn a_txt_answer_must_be_one_record_holding_one_address() {
    let plain = txt(&["198.51.100.42"]);
    assert_eq!(txt_address(&[&plain]), Ok("198.51.100.42".parse().unwrap()));
    let split = txt(&["2001:db8:", ":42"]);
    assert_eq!(
        txt_address(&[&split]),
        Ok("2001:db8::42".parse().unwrap()),
        "the strings of one record are joined"
    );
    let ecs = txt(&["edns0-client-subnet 198.51.100.0/24"]);
    assert_eq!(
        txt_address(&[&plain, &ecs]),
        Err("the answer holds 2 TXT records, not one".into())
    );
    assert_eq!(
        txt_address(&[&ecs]),
        Err(
            "the TXT record holds 2 words, not one address: 'edns0-client-subnet 198.51.100.0/24'"
                .into()
        )
    );
    assert_eq!(
        txt_address(&[]),
        Err("the answer holds no TXT record".into())
    );
}
