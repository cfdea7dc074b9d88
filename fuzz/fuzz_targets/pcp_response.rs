//! Arbitrary bytes as the answer to a PCP MAP request (RFC 6887 §11.1),
//! through the parser and the check that it answers our request: a
//! response or a clear error, never a panic.
#![no_main]

use std::net::IpAddr;

use ddns_core::IpFamily;
use ddns_ip_router::pcp::{MapRequest, PROTOCOL_UDP, parse_map_response};
use libfuzzer_sys::fuzz_target;

/// The request the seeds answer; a random nonce would make them useless.
const REQUEST: MapRequest = MapRequest {
    lifetime: 60,
    client: IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 77, 2)),
    nonce: *b"ddns-fuzz-pc",
    protocol: PROTOCOL_UDP,
    internal_port: 40000,
    family: IpFamily::V4,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = parse_map_response(data) {
        assert!(data.len() >= 60 && data.len() <= 1100 && data.len().is_multiple_of(4));
        assert!(!response.external_address.is_unspecified());
    }
    if let Ok(response) = REQUEST.accept(data) {
        assert_eq!(response.nonce, REQUEST.nonce);
        assert_eq!(response.protocol, REQUEST.protocol);
        assert_eq!(response.internal_port, REQUEST.internal_port);
        assert_eq!(IpFamily::of(&response.external_address), IpFamily::V4);
    }
});
