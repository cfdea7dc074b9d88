//! Arbitrary bytes as a NAT-PMP public address answer or announcement
//! (RFC 6886 §3.2): an address or a clear error, never a panic.
#![no_main]

use ddns_ip_router::natpmp::parse_public_address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = parse_public_address(data) {
        // Only a complete success answer may yield an address.
        assert!(data.len() >= 12);
        assert_eq!(&data[..4], &[0, 0x80, 0, 0]);
        assert!(!answer.address.is_unspecified());
        assert_eq!(answer.address.octets(), data[8..12]);
    }
});
