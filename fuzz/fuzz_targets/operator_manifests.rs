//! Arbitrary bytes as the manifests `ddns-operator render -` reads on
//! standard input (multi-document YAML or JSON from anyone, such as a pull
//! request in CI): the YAML parse, the schema checks, the zone assembly and
//! the rendering never panic; the answer is zone files (exit 0) or
//! problems and "nothing was rendered" (exit 1), and the same every time.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = ddns_operator::fuzzing::check(data) {
        panic!("{violation}");
    }
});
