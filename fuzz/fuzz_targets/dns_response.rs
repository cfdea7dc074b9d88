//! Arbitrary bytes as the answer to a signed query: the whole path an
//! untrusted answer takes (parsing, matching, TSIG checks) must never panic.
#![no_main]

use ddns_dns::hickory_proto::rr::{Name, RecordType};
use ddns_dns::{TsigAlgorithm, TsigKey, parse_response, query_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = Name::from_ascii("host.example.test.") else { return };
    let mut request = query_message(&name, RecordType::A);
    // The seeds use this ID; a random one would make them useless.
    request.metadata.id = 0x4242;
    let secret = ddns_core::Secret::new("ZnV6ei1rZXktZnV6ei1rZXktZnV6ei1rZXk=");
    let Ok(key) = TsigKey::new("fuzz-key", TsigAlgorithm::HmacSha256, &secret) else { return };
    let Ok((_, mac)) = key.sign(&mut request) else { return };
    if let Ok(response) = parse_response(data, &request) {
        let server = "192.0.2.53:53".parse().expect("address");
        let _ = key.check(server, data, &response, &mac);
    }
});
