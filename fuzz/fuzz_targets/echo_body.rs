//! Arbitrary bytes as an echo service's answer, for both families: an
//! address or a clear error, never a panic.
#![no_main]

use ddns_core::IpFamily;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for family in [IpFamily::V4, IpFamily::V6] {
        if let Ok(address) = ddns_ip_http::parse_echo_body(data, family) {
            assert_eq!(IpFamily::of(&address), family);
        }
    }
});
