//! Arbitrary bytes as the daemon's environment (lines `NAME=VALUE`, see
//! `fuzz/common/env_input.rs`), through every reader `ddnsd check` runs:
//! never a panic, and every error names a `DDNS_` variable in a short
//! message that shows no secret.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../common/env_input.rs"]
mod env_input;

struct Fixture {
    known: Vec<&'static str>,
    dir: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ddns-fuzz-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fixture directory");
        Fixture {
            known: env_input::known_variables(),
            dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let pairs = env_input::pairs(data, &fixture.known, &fixture.dir);
    let env = ddns_core::config::Env::from_pairs(pairs.clone());
    let results = env_input::run(&env);
    if let Err(violation) = env_input::check(&pairs, &fixture.known, &results)
        .and_then(|()| env_input::check_length(&results))
    {
        panic!("{violation}");
    }
});
