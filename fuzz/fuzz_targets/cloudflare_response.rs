//! Arbitrary bytes as a Cloudflare API answer, with the status taken from
//! the first two bytes: the envelope parse, the typing of the result and
//! the classification of an error never panic, and the message a user
//! reads stays short whatever the body holds.
#![no_main]

use ddns_provider_cloudflare::fuzzing::parse_answer;
use libfuzzer_sys::fuzz_target;

/// The longest message accepted (the same bound in the corpus replay,
/// crates/ddns-provider-cloudflare/tests/fuzz_corpus.rs).
const MAX_MESSAGE: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [high, low, body @ ..] => (u16::from_be_bytes([*high, *low]), body),
        _ => (200, data),
    };
    if let Err(message) = parse_answer(status, body) {
        assert!(!message.is_empty());
        assert!(
            message.len() <= MAX_MESSAGE,
            "a message of {} bytes",
            message.len()
        );
    }
    // A non-2xx status never yields a success.
    if !(200..300).contains(&status) {
        assert!(parse_answer(status, body).is_err());
    }
});
