//! Replays fuzz/corpus/echo_body as an ordinary test: every input that
//! mattered to the fuzzer keeps running in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use ddns_core::IpFamily;
use ddns_ip_http::parse_echo_body;

#[test]
fn echo_body_corpus_never_panics_and_never_crosses_families() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/echo_body");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for family in [IpFamily::V4, IpFamily::V6] {
            if let Ok(address) = parse_echo_body(&bytes, family) {
                assert_eq!(IpFamily::of(&address), family);
            }
        }
        count += 1;
    }
    assert!(count >= 5, "{count} inputs in {}", dir.display());
    assert_eq!(
        parse_echo_body(b"81.2.69.160\n", IpFamily::V4)
            .unwrap()
            .to_string(),
        "81.2.69.160"
    );
}
