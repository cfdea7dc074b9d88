//! Replays fuzz/corpus/natpmp_response and fuzz/corpus/pcp_response as
//! ordinary tests: every input that mattered to the fuzzer keeps running in
//! CI, and each named seed must still give its expected outcome. With
//! `DDNS_WRITE_SEEDS=1` it first writes the seeds built here, field by
//! field from RFC 6886 §3.2 and RFC 6887 §7 and §11.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ddns_core::IpFamily;
use ddns_ip_router::natpmp::parse_public_address;
use ddns_ip_router::pcp::{MapRequest, PROTOCOL_UDP, parse_map_response};

use ddns_testkit::replay_corpus as replay;

// NAT-PMP (RFC 6886 §3.2): version 0, opcode 128, result code (u16),
// seconds since start of epoch (u32), external IPv4 address.

fn natpmp(opcode: u8, code: u16, epoch: u32, address: [u8; 4]) -> Vec<u8> {
    let mut packet = vec![0, opcode];
    packet.extend_from_slice(&code.to_be_bytes());
    packet.extend_from_slice(&epoch.to_be_bytes());
    packet.extend_from_slice(&address);
    packet
}

fn natpmp_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let success = natpmp(0x80, 0, 7, [198, 51, 100, 7]);
    let mut trailing = success.clone();
    trailing.extend_from_slice(&[0xff; 4]);
    let mut oversize = success.clone();
    oversize.resize(1500, 0xa5);
    let mut pcp_announce = vec![2, 0x80];
    pcp_announce.resize(24, 0);
    vec![
        ("seed-success", success.clone()),
        (
            "seed-success-miniupnpd",
            vec![
                0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x0b, 0x16, 0x22, 0x37,
            ],
        ),
        ("seed-success-trailing-bytes", trailing),
        ("seed-success-oversize", oversize),
        (
            "seed-request-looped-back",
            natpmp(0x00, 0, 7, [198, 51, 100, 7]),
        ),
        (
            "seed-opcode-udp-mapping",
            natpmp(0x81, 0, 7, [198, 51, 100, 7]),
        ),
        ("seed-version-pcp-announce", pcp_announce),
        ("seed-refused-network-failure", natpmp(0x80, 3, 1, [0; 4])),
        ("seed-refused-header-only", vec![0, 0x80, 0, 2]),
        ("seed-refused-unknown-code", natpmp(0x80, 999, 0, [0; 4])),
        ("seed-zero-address", natpmp(0x80, 0, 1, [0; 4])),
        ("seed-empty", Vec::new()),
        ("seed-truncated-header", vec![0, 0x80, 0]),
        ("seed-truncated-address", success[..11].to_vec()),
    ]
}

fn natpmp_outcome(packet: &[u8]) -> String {
    match parse_public_address(packet) {
        Ok(answer) => format!("{} epoch {}", answer.address, answer.epoch),
        Err(error) => format!("error: {error}"),
    }
}

#[test]
fn natpmp_response_corpus_never_panics_and_seeds_keep_their_outcome() {
    let seeds = natpmp_seeds();
    let files = replay("natpmp_response", &seeds);
    assert!(files.len() >= seeds.len(), "{} inputs", files.len());
    for (name, bytes) in &files {
        // The fuzz target's invariant: only a complete success answer with
        // a specified address yields one, and it is the one on the wire.
        if let Ok(answer) = parse_public_address(bytes) {
            assert!(bytes.len() >= 12, "{name}");
            assert_eq!(&bytes[..4], &[0, 0x80, 0, 0], "{name}");
            assert!(!answer.address.is_unspecified(), "{name}");
            assert_eq!(answer.address.octets(), bytes[8..12], "{name}");
        }
    }
    let expected = [
        ("seed-success", "198.51.100.7 epoch 7"),
        ("seed-success-miniupnpd", "11.22.34.55 epoch 7"),
        ("seed-success-trailing-bytes", "198.51.100.7 epoch 7"),
        ("seed-success-oversize", "198.51.100.7 epoch 7"),
        (
            "seed-request-looped-back",
            "error: unexpected opcode byte 0x00",
        ),
        (
            "seed-opcode-udp-mapping",
            "error: unexpected opcode byte 0x81",
        ),
        (
            "seed-version-pcp-announce",
            "error: unexpected protocol version 2",
        ),
        (
            "seed-refused-network-failure",
            "error: the gateway refused the NAT-PMP request: result 3 (network failure, the gateway has no external address yet)",
        ),
        (
            "seed-refused-header-only",
            "error: the gateway refused the NAT-PMP request: result 2 (not authorized or refused, NAT-PMP may be disabled on the gateway)",
        ),
        (
            "seed-refused-unknown-code",
            "error: the gateway refused the NAT-PMP request: result 999 (unknown result code)",
        ),
        (
            "seed-zero-address",
            "error: the gateway reports no external address (0.0.0.0)",
        ),
        (
            "seed-empty",
            "error: message of 0 bytes is shorter than the 12 bytes of its format",
        ),
        (
            "seed-truncated-header",
            "error: message of 3 bytes is shorter than the 12 bytes of its format",
        ),
        (
            "seed-truncated-address",
            "error: message of 11 bytes is shorter than the 12 bytes of its format",
        ),
    ];
    assert_eq!(expected.len(), seeds.len(), "every seed has an expectation");
    for (name, outcome) in expected {
        let (_, bytes) = files.iter().find(|(file, _)| file == name).unwrap();
        assert_eq!(natpmp_outcome(bytes), outcome, "{name}");
    }
}

// PCP (RFC 6887 §7.2, §11.1): a 24-byte header (version 2, opcode 0x81,
// reserved, result code, lifetime, epoch, 12 reserved bytes), then the
// 36-byte MAP body (nonce, protocol, 3 reserved, internal port, external
// port, external address as 16 bytes), then options.

/// The request the fuzz target checks answers against (same nonce).
const REQUEST: MapRequest = MapRequest {
    lifetime: 60,
    client: IpAddr::V4(Ipv4Addr::new(192, 168, 77, 2)),
    nonce: *b"ddns-fuzz-pc",
    protocol: PROTOCOL_UDP,
    internal_port: 40000,
    family: IpFamily::V4,
};

fn pcp(version: u8, code: u8, nonce: [u8; 12], external: Ipv6Addr) -> Vec<u8> {
    let mut packet = vec![version, 0x81, 0, code];
    packet.extend_from_slice(&120u32.to_be_bytes());
    packet.extend_from_slice(&9u32.to_be_bytes());
    packet.extend_from_slice(&[0; 12]);
    packet.extend_from_slice(&nonce);
    packet.extend_from_slice(&[REQUEST.protocol, 0, 0, 0]);
    packet.extend_from_slice(&REQUEST.internal_port.to_be_bytes());
    packet.extend_from_slice(&4242u16.to_be_bytes());
    packet.extend_from_slice(&external.octets());
    packet
}

fn pcp_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mapped = Ipv4Addr::new(198, 51, 100, 1).to_ipv6_mapped();
    let success = pcp(2, 0, REQUEST.nonce, mapped);
    let mut with_option = success.clone();
    // An unknown optional option (code 0x80), padded to 4 bytes.
    with_option.extend_from_slice(&[0x80, 0, 0, 4, 1, 2, 3, 4]);
    let mut longest = success.clone();
    longest.resize(1100, 0);
    let mut oversize = success.clone();
    oversize.resize(1104, 0);
    let miniupnpd = "02810000000000780000000200000000000000000000000028938b9f502e256f2df4342511000000be46be4600000000000000000000ffff0b162237";
    let miniupnpd: Vec<u8> = (0..miniupnpd.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&miniupnpd[i..i + 2], 16).unwrap())
        .collect();
    // An ANNOUNCE response: the header alone.
    let mut announce = REQUEST.encode()[..24].to_vec();
    announce[1] = 0x80;
    let mut header_only = pcp(2, 2, REQUEST.nonce, mapped);
    header_only.truncate(24);
    let mut older = vec![1, 0x81, 0, 1];
    older.resize(24, 0);
    vec![
        ("seed-success-ipv4-mapped", success.clone()),
        ("seed-success-with-option", with_option),
        ("seed-success-longest", longest),
        ("seed-success-miniupnpd", miniupnpd),
        (
            "seed-success-ipv6",
            pcp(2, 0, REQUEST.nonce, "2001:db8::7".parse().unwrap()),
        ),
        ("seed-other-nonce", pcp(2, 0, [9; 12], mapped)),
        (
            "seed-refused-no-resources",
            pcp(2, 8, REQUEST.nonce, mapped),
        ),
        ("seed-refused-other-nonce", pcp(2, 2, [9; 12], mapped)),
        ("seed-refused-header-only", header_only),
        (
            "seed-zero-address-mapped",
            pcp(2, 0, REQUEST.nonce, Ipv4Addr::UNSPECIFIED.to_ipv6_mapped()),
        ),
        (
            "seed-zero-address-ipv6",
            pcp(2, 0, REQUEST.nonce, Ipv6Addr::UNSPECIFIED),
        ),
        ("seed-natpmp-only-gateway", vec![0, 0x81, 0, 1, 0, 0, 0, 5]),
        ("seed-version-1-unsupported", older),
        ("seed-version-3", pcp(3, 0, REQUEST.nonce, mapped)),
        ("seed-request-looped-back", REQUEST.encode().to_vec()),
        ("seed-opcode-announce", announce),
        ("seed-truncated-header", success[..23].to_vec()),
        ("seed-truncated-body", success[..56].to_vec()),
        ("seed-length-not-multiple-of-4", success[..58].to_vec()),
        ("seed-oversize", oversize),
    ]
}

fn pcp_outcome(packet: &[u8]) -> String {
    match parse_map_response(packet) {
        Ok(response) => format!(
            "{} port {} lifetime {}",
            response.external_address, response.external_port, response.lifetime
        ),
        Err(error) => format!("error: {error}"),
    }
}

fn accept_outcome(packet: &[u8]) -> String {
    match REQUEST.accept(packet) {
        Ok(response) => response.external_address.to_string(),
        Err(error) => format!("error: {error}"),
    }
}

#[test]
fn pcp_response_corpus_never_panics_and_seeds_keep_their_outcome() {
    let seeds = pcp_seeds();
    let files = replay("pcp_response", &seeds);
    assert!(files.len() >= seeds.len(), "{} inputs", files.len());
    for (name, bytes) in &files {
        // The fuzz target's invariants.
        if let Ok(response) = parse_map_response(bytes) {
            assert!(
                (60..=1100).contains(&bytes.len()) && bytes.len() % 4 == 0,
                "{name}"
            );
            assert!(!response.external_address.is_unspecified(), "{name}");
        }
        if let Ok(response) = REQUEST.accept(bytes) {
            assert_eq!(response.nonce, REQUEST.nonce, "{name}");
            assert_eq!(response.protocol, REQUEST.protocol, "{name}");
            assert_eq!(response.internal_port, REQUEST.internal_port, "{name}");
            assert!(response.external_address.is_ipv4(), "{name}");
        }
    }
    let refused_2 = "error: the gateway refused the PCP request: result 2 (NOT_AUTHORIZED: PCP may be disabled on the gateway, or mappings are not allowed for this host or port)";
    let not_ours = "error: the PCP response answers another request";
    // (seed, what the parser says, what the check against REQUEST says)
    let expected = [
        (
            "seed-success-ipv4-mapped",
            "198.51.100.1 port 4242 lifetime 120",
            "198.51.100.1",
        ),
        (
            "seed-success-with-option",
            "198.51.100.1 port 4242 lifetime 120",
            "198.51.100.1",
        ),
        (
            "seed-success-longest",
            "198.51.100.1 port 4242 lifetime 120",
            "198.51.100.1",
        ),
        (
            "seed-success-miniupnpd",
            "11.22.34.55 port 48710 lifetime 120",
            not_ours,
        ),
        (
            "seed-success-ipv6",
            "2001:db8::7 port 4242 lifetime 120",
            "error: asked for an ipv4 address, the gateway reported 2001:db8::7",
        ),
        (
            "seed-other-nonce",
            "198.51.100.1 port 4242 lifetime 120",
            not_ours,
        ),
        (
            "seed-refused-no-resources",
            "error: the gateway refused the PCP request: result 8 (NO_RESOURCES)",
            "error: the gateway refused the PCP request: result 8 (NO_RESOURCES)",
        ),
        ("seed-refused-other-nonce", refused_2, not_ours),
        ("seed-refused-header-only", refused_2, refused_2),
        (
            "seed-zero-address-mapped",
            "error: the gateway reports no external address (0.0.0.0)",
            "error: the gateway reports no external address (0.0.0.0)",
        ),
        (
            "seed-zero-address-ipv6",
            "error: the gateway reports no external address (::)",
            "error: the gateway reports no external address (::)",
        ),
        (
            "seed-natpmp-only-gateway",
            "error: the gateway speaks NAT-PMP only, not PCP; use a natpmp: source",
            "error: the gateway speaks NAT-PMP only, not PCP; use a natpmp: source",
        ),
        (
            "seed-version-1-unsupported",
            "error: the gateway refused the PCP request: result 1 (UNSUPP_VERSION: the gateway does not speak PCP version 2)",
            "error: the gateway refused the PCP request: result 1 (UNSUPP_VERSION: the gateway does not speak PCP version 2)",
        ),
        (
            "seed-version-3",
            "error: unexpected protocol version 3",
            "error: unexpected protocol version 3",
        ),
        (
            "seed-request-looped-back",
            "error: unexpected opcode byte 0x01",
            "error: unexpected opcode byte 0x01",
        ),
        (
            "seed-opcode-announce",
            "error: unexpected opcode byte 0x80",
            "error: unexpected opcode byte 0x80",
        ),
        (
            "seed-truncated-header",
            "error: message of 23 bytes is shorter than the 24 bytes of its format",
            "error: message of 23 bytes is shorter than the 24 bytes of its format",
        ),
        (
            "seed-truncated-body",
            "error: message of 56 bytes is shorter than the 60 bytes of its format",
            "error: message of 56 bytes is shorter than the 60 bytes of its format",
        ),
        (
            "seed-length-not-multiple-of-4",
            "error: PCP message of 58 bytes: not a multiple of 4 up to 1100",
            "error: PCP message of 58 bytes: not a multiple of 4 up to 1100",
        ),
        (
            "seed-oversize",
            "error: PCP message of 1104 bytes: not a multiple of 4 up to 1100",
            "error: PCP message of 1104 bytes: not a multiple of 4 up to 1100",
        ),
    ];
    assert_eq!(expected.len(), seeds.len(), "every seed has an expectation");
    for (name, parsed, accepted) in expected {
        let (_, bytes) = files.iter().find(|(file, _)| file == name).unwrap();
        assert_eq!(pcp_outcome(bytes), parsed, "{name}: parse_map_response");
        assert_eq!(
            accept_outcome(bytes),
            accepted,
            "{name}: MapRequest::accept"
        );
    }
}
