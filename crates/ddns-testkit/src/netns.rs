//! Network namespaces removed on drop.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether `DDNS_REQUIRE_SYSTEM_TESTS=1` is set: a missing prerequisite
/// (root, `ip netns`) then fails the test instead of skipping it.
pub fn require_system_tests() -> bool {
    std::env::var("DDNS_REQUIRE_SYSTEM_TESTS").is_ok_and(|v| v == "1")
}

/// Prints why `test` is skipped, or panics when system tests are required.
pub fn skip_or_fail(test: &str, reason: &str) {
    if require_system_tests() {
        panic!("{test}: cannot run: {reason} (DDNS_REQUIRE_SYSTEM_TESTS=1 forbids skipping)");
    }
    eprintln!("SKIPPED {test}: {reason}; run as root to include it");
}

/// A network namespace with an up veth pair `v0`/`v1`, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Netns {
    /// A new namespace, or `None` (after saying why) when namespaces cannot
    /// be made here and system tests are not required.
    pub fn create(test: &str) -> Option<Self> {
        let name = format!(
            "ddnst-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        if let Err(reason) = run_ip(&["netns", "add", &name]) {
            skip_or_fail(test, &reason);
            return None;
        }
        let ns = Netns { name };
        for args in [
            &["link", "add", "v0", "type", "veth", "peer", "name", "v1"][..],
            &["link", "set", "lo", "up"],
            &["link", "set", "v0", "up"],
            &["link", "set", "v1", "up"],
        ] {
            if let Err(reason) = ns.try_ip(args) {
                skip_or_fail(test, &reason);
                return None;
            }
        }
        Some(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS…`.
    pub fn try_ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ip(&full)
    }

    /// Runs `ip -n NAME ARGS…` and panics on failure.
    pub fn ip(&self, args: &[&str]) {
        if let Err(reason) = self.try_ip(args) {
            panic!("{reason}");
        }
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_ip(&["netns", "del", &self.name]);
    }
}
