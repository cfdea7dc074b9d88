//! The container images' static binaries: where the test command put
//! them, and whether they are linked statically.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::skip_or_fail;

/// The static binary named by the environment variable `variable`, which
/// `scripts/test.sh` sets after building it; `None` (with the skip
/// message, or a failure under `DDNS_REQUIRE_SYSTEM_TESTS=1`) when it is
/// unset or names no file.
pub fn static_binary(variable: &str, test: &str) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) if Path::new(&path).is_file() => Some(PathBuf::from(path)),
        Some(path) => {
            skip_or_fail(
                test,
                &format!("{variable}={} is not a file", Path::new(&path).display()),
            );
            None
        }
        None => {
            skip_or_fail(
                test,
                &format!(
                    "{variable} is not set (scripts/test.sh builds the static binary and sets it)"
                ),
            );
            None
        }
    }
}

/// What `program args…` printed, standard output then standard error.
pub fn output_of(program: &str, args: &[&Path]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Panics unless `file` and `ldd` both say `binary` needs no dynamic
/// loader and no shared library: it runs alone in an empty image.
pub fn assert_statically_linked(binary: &Path) {
    let file = output_of("file", &[binary]);
    assert!(
        file.contains("static-pie linked") || file.contains("statically linked"),
        "{file}"
    );
    assert!(!file.contains("interpreter"), "{file}");
    let ldd = output_of("ldd", &[binary]);
    assert!(
        ldd.contains("statically linked") || ldd.contains("not a dynamic executable"),
        "{ldd}"
    );
}
