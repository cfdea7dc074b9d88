//! How the `env_config` fuzz target turns bytes into an environment;
//! shared, through `#[path]`, with the corpus replay in
//! `crates/ddnsd/tests/fuzz_corpus.rs` so both read a seed the same way.
//!
//! The input is lines `NAME=VALUE`. A name that starts with `DDNS_` is
//! taken as it is (so the fuzzer can also misspell); any other name picks
//! a known variable by its first byte. The value is raw bytes, non-UTF-8
//! included. A line without `=` is skipped.
//!
//! The value of a variable naming a file (`…_FILE`) is never used as a
//! path, so that the fuzzer cannot make the target read `/dev/zero` or a
//! FIFO: its first byte chooses `0` a missing file (the rest of the
//! value names it, under a directory that does not exist), `1` a directory,
//! `2` a file holding the rest of the value, `3` an empty file; a value
//! without a first byte stays empty.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use ddns_core::config::ConfigError;

/// Every variable ddnsd reads: the registry's and the observers'.
pub(crate) fn known_variables() -> Vec<&'static str> {
    let mut known = ddnsd::registry().known_variables();
    known.extend(ddns_metrics::VARIABLES);
    known.extend(ddns_notify::VARIABLES);
    known.extend(ddns_probe::VARIABLES);
    known.sort_unstable();
    known.dedup();
    known
}

/// The path a file variable is given for `tag`, writing what it needs
/// under `dir` (which must exist).
fn file_value(dir: &Path, name: &str, tag: u8, rest: &[u8]) -> PathBuf {
    match tag % 4 {
        // Nothing under a missing directory can be opened, `..` included.
        0 => dir
            .join("missing")
            .join(name)
            .join(OsString::from_vec(rest.to_vec())),
        1 => dir.to_path_buf(),
        2 => {
            let path = dir.join(name);
            // A failed write leaves a missing file: still an input.
            let _ = std::fs::write(&path, rest);
            path
        }
        _ => {
            let path = dir.join(format!("{name}.empty"));
            let _ = std::fs::write(&path, b"");
            path
        }
    }
}

/// The pairs `data` stands for; later lines win over earlier ones.
pub(crate) fn pairs(data: &[u8], known: &[&str], dir: &Path) -> Vec<(String, OsString)> {
    let mut out: Vec<(String, OsString)> = Vec::new();
    if known.is_empty() {
        return out;
    }
    for line in data.split(|b| *b == b'\n') {
        let Some(eq) = line.iter().position(|b| *b == b'=') else {
            continue;
        };
        let (name, value) = (&line[..eq], &line[eq + 1..]);
        let name = match std::str::from_utf8(name) {
            Ok(name) if name.starts_with("DDNS_") => name.to_string(),
            _ => match name.first() {
                Some(byte) => known[usize::from(*byte) % known.len()].to_string(),
                None => continue,
            },
        };
        let value = match value.split_first() {
            Some((tag, rest)) if name.ends_with("_FILE") => {
                file_value(dir, &name, *tag, rest).into_os_string()
            }
            _ => OsString::from_vec(value.to_vec()),
        };
        out.retain(|(n, _)| *n != name);
        out.push((name, value));
    }
    out
}

/// The longest error message accepted: a value may be shown in part, never
/// whole.
pub(crate) const MAX_MESSAGE: usize = 1024;

/// What each reader makes of `env`, in the daemon's order: the log
/// settings, the whole configuration, then the observers.
pub(crate) fn run(env: &ddns_core::config::Env) -> Vec<(&'static str, Result<(), ConfigError>)> {
    let registry = ddnsd::registry();
    vec![
        ("log", ddnsd::logging::LogSettings::from_env(env).map(drop)),
        ("load", ddns_core::config::load(env, &registry).map(drop)),
        (
            "metrics",
            ddns_metrics::MetricsConfig::from_env(env).map(drop),
        ),
        ("notify", ddns_notify::NotifyConfig::from_env(env).map(drop)),
        ("probe", ddns_probe::ProbeConfig::from_env(env).map(drop)),
    ]
}

/// Every error names a `DDNS_` variable and does not show a secret given
/// directly.
pub(crate) fn check(
    pairs: &[(String, OsString)],
    known: &[&str],
    results: &[(&'static str, Result<(), ConfigError>)],
) -> Result<(), String> {
    for (part, result) in results {
        let Err(error) = result else { continue };
        let message = error.to_string();
        if !error.variable().starts_with("DDNS_") {
            return Err(format!("{part}: names no DDNS_ variable: {message}"));
        }
        // A secret is a variable with a `_FILE` form.
        let secret = |name: &str| known.contains(&format!("{name}_FILE").as_str());
        // The value of the variable at fault may be shown in part, unless
        // it is a secret: another variable may hold the same text.
        let own = pairs
            .iter()
            .find(|(name, _)| name == error.variable() && !secret(name))
            .and_then(|(_, value)| value.to_str());
        for (name, value) in pairs {
            // Only distinctive values count: a short or common one may be
            // in any message.
            let Some(value) = value.to_str().map(str::trim) else {
                continue;
            };
            let distinctive = value.len() >= 16 && value.chars().all(|c| c.is_ascii_alphanumeric());
            let shown_as_own = own.is_some_and(|own| own.contains(value));
            if secret(name) && distinctive && !shown_as_own && message.contains(value) {
                return Err(format!("{part}: the value of {name} is shown: {message}"));
            }
        }
    }
    Ok(())
}

/// Every error message is at most [`MAX_MESSAGE`] bytes long.
pub(crate) fn check_length(
    results: &[(&'static str, Result<(), ConfigError>)],
) -> Result<(), String> {
    for (part, result) in results {
        let Err(error) = result else { continue };
        let message = error.to_string();
        if message.len() > MAX_MESSAGE {
            return Err(format!(
                "{part}: a message of {} bytes: {}…",
                message.len(),
                message.chars().take(200).collect::<String>()
            ));
        }
    }
    Ok(())
}
