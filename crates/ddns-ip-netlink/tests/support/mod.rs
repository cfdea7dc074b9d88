//! Private network namespaces for the netlink system tests.
//!
//! Each test makes its own namespace with a veth pair `v0`/`v1` (both up)
//! and runs the source on a thread that has entered it, with its own
//! current-thread runtime: the sockets that thread opens belong to the
//! namespace. The namespace is removed when the [`Netns`] guard drops, also
//! when the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ddns_core::{IpEvent, IpFamily, IpSource, SourceError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use nix::sched::{CloneFlags, setns};

/// How long to wait for an expected event. Only outcomes are asserted;
/// this only bounds a failing test.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Set to `1` to turn "cannot create a namespace" into a failure.
pub(crate) const REQUIRE_VARIABLE: &str = "DDNS_REQUIRE_SYSTEM_TESTS";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A network namespace removed on drop.
pub(crate) struct Netns {
    ns: Ns,
}

/// The name of a namespace and commands run in it; cheap to clone into the
/// namespace thread.
#[derive(Debug, Clone)]
pub(crate) struct Ns {
    name: String,
}

impl Netns {
    /// A new namespace with an up veth pair `v0`/`v1`, or `None` after
    /// printing why when namespaces cannot be made here (not root). With
    /// `DDNS_REQUIRE_SYSTEM_TESTS=1` that is a failure instead.
    pub(crate) fn create(test: &str) -> Option<Netns> {
        let name = format!(
            "ddnsnl-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        if let Err(reason) = ip(&["netns", "add", &name]) {
            skip_or_fail(test, &reason);
            return None;
        }
        let netns = Netns { ns: Ns { name } };
        let setup: [&[&str]; 3] = [
            &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            &["link", "set", "v0", "up"],
            &["link", "set", "v1", "up"],
        ];
        for args in setup {
            if let Err(reason) = netns.ns.try_ip(args) {
                skip_or_fail(test, &reason);
                return None;
            }
        }
        Some(netns)
    }

    /// A handle for commands in the namespace.
    pub(crate) fn ns(&self) -> Ns {
        self.ns.clone()
    }

    /// Runs `scenario` on a new thread inside the namespace, on a
    /// current-thread runtime, and re-raises its panic.
    pub(crate) fn run<F, Fut>(&self, scenario: F)
    where
        F: FnOnce(Ns) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let ns = self.ns();
        let path = format!("/run/netns/{}", ns.name);
        let thread = std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            setns(&file, CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("cannot enter {path}: {e}"));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(scenario(ns));
        });
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(reason) = ip(&["netns", "del", &self.ns.name]) {
            eprintln!("cannot remove network namespace {}: {reason}", self.ns.name);
        }
    }
}

fn skip_or_fail(test: &str, reason: &str) {
    let message = format!(
        "SKIPPED {test}: cannot create a network namespace with a veth pair ({reason}); \
         the netlink system tests need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    );
    if std::env::var(REQUIRE_VARIABLE).as_deref() == Ok("1") {
        panic!("{message}; failing because {REQUIRE_VARIABLE}=1");
    }
    // Straight to stderr: libtest would capture `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "{message}");
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Ns {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn try_ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// `ip -n NS args…`, which must succeed. It blocks the thread, and with
    /// it the runtime: only for setup and for provoking overruns.
    pub(crate) fn ip_blocking(&self, args: &[&str]) {
        self.try_ip(args)
            .unwrap_or_else(|reason| panic!("{reason}"));
    }

    /// `ip -n NS args…`, which must succeed; the runtime keeps running.
    pub(crate) async fn ip(&self, args: &[&str]) {
        let output = tokio::process::Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .await
            .expect("run ip");
        assert!(
            output.status.success(),
            "ip -n {} {} failed: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }

    /// Adds an address (`spec` is `address/prefix`) to `dev` with extra options.
    pub(crate) async fn add(&self, dev: &str, spec: &str, options: &[&str]) {
        let mut args = vec!["address", "add", spec, "dev", dev];
        args.extend_from_slice(options);
        self.ip(&args).await;
    }

    pub(crate) async fn del(&self, dev: &str, spec: &str) {
        self.ip(&["address", "del", spec, "dev", dev]).await;
    }

    /// `ip -n NS address show dev DEV` as text.
    pub(crate) async fn show(&self, dev: &str) -> String {
        let output = tokio::process::Command::new("ip")
            .args(["-n", &self.name, "address", "show", "dev", dev])
            .output()
            .await
            .expect("run ip");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The `ip address show` line of one address, if present.
    pub(crate) async fn line_of(&self, dev: &str, address: &str) -> Option<String> {
        let needle = format!(" {address}/");
        self.show(dev)
            .await
            .lines()
            .find(|l| l.contains(&needle))
            .map(str::to_string)
    }

    /// Waits until `ip address show` has a line for which `ready` holds.
    pub(crate) async fn wait_for_line(
        &self,
        dev: &str,
        what: &str,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let text = self.show(dev).await;
            if let Some(line) = text.lines().find(|l| ready(l)) {
                return line.to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {what} on {dev} after {TIMEOUT:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `dev` has its carrier and is operationally up: veth
    /// carriers come up asynchronously after `ip link set … up`.
    pub(crate) async fn wait_for_carrier(&self, dev: &str) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let output = tokio::process::Command::new("ip")
                .args(["-n", &self.name, "link", "show", "dev", dev])
                .output()
                .await
                .expect("run ip");
            let text = String::from_utf8_lossy(&output.stdout);
            if text.contains("LOWER_UP") && text.contains("state UP") {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{dev} not up after {TIMEOUT:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `sysctl -w key=value` inside the namespace.
    pub(crate) fn sysctl(&self, key: &str, value: &str) {
        let status = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "sysctl",
                "-q",
                "-w",
                &format!("{key}={value}"),
            ])
            .status()
            .expect("run sysctl");
        assert!(
            status.success(),
            "sysctl {key}={value} failed in {}",
            self.name
        );
    }
}

/// The events of a running source.
pub(crate) struct Watch {
    events: BoxStream<'static, Result<IpEvent, SourceError>>,
}

impl Watch {
    pub(crate) fn start(source: &dyn IpSource) -> Self {
        Self {
            events: source.watch(),
        }
    }

    /// The next event; an error item or nothing within [`TIMEOUT`] fails.
    pub(crate) async fn next(&mut self) -> IpEvent {
        match tokio::time::timeout(TIMEOUT, self.events.next()).await {
            Err(_) => panic!("no event within {TIMEOUT:?}"),
            Ok(None) => panic!("the event stream ended"),
            Ok(Some(Err(error))) => panic!("the source reported an error: {error}"),
            Ok(Some(Ok(event))) => event,
        }
    }

    pub(crate) async fn expect(&mut self, expected: IpEvent, when: &str) {
        let event = self.next().await;
        assert_eq!(event, expected, "{when}");
    }
}

pub(crate) fn addr(spec: &str) -> IpAddr {
    spec.split('/')
        .next()
        .unwrap_or(spec)
        .parse()
        .expect("test address")
}

pub(crate) fn observed(spec: &str) -> IpEvent {
    IpEvent::Observed(addr(spec))
}

/// An address of one family on `v0` that is toggled to prove that the
/// source processed every earlier change without reporting anything: the
/// next event must be the sentinel's own.
pub(crate) struct Sentinel {
    ns: Ns,
    spec: &'static str,
    options: &'static [&'static str],
    present: bool,
}

impl Sentinel {
    /// A sentinel in the other family than `family`.
    pub(crate) fn opposite(ns: &Ns, family: IpFamily) -> Self {
        match family {
            IpFamily::V4 => Self::new(ns, "2001:db8:ffff::1/64", &["nodad"]),
            IpFamily::V6 => Self::new(ns, "203.0.113.254/32", &[]),
        }
    }

    pub(crate) fn new(ns: &Ns, spec: &'static str, options: &'static [&'static str]) -> Self {
        Self {
            ns: ns.clone(),
            spec,
            options,
            present: false,
        }
    }

    /// Toggles the sentinel and asserts its event comes next.
    pub(crate) async fn barrier(&mut self, watch: &mut Watch, after: &str) {
        let family = IpFamily::of(&addr(self.spec));
        let expected = if self.present {
            self.ns.del("v0", self.spec).await;
            IpEvent::Lost(family)
        } else {
            self.ns.add("v0", self.spec, self.options).await;
            IpEvent::Observed(addr(self.spec))
        };
        self.present = !self.present;
        let event = watch.next().await;
        assert_eq!(
            event, expected,
            "expected no event after {after}, only the sentinel's"
        );
    }
}

// Not every test binary that includes this module captures logs.
#[allow(unused_imports)]
pub(crate) use ddns_testkit::Logs;
