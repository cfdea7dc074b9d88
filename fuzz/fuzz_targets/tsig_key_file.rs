//! Arbitrary text as a BIND key file: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ddns_dns::TsigKey::from_key_file(text);
    }
});
