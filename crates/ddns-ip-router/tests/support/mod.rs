//! A home network in two network namespaces, with a real miniupnpd as the
//! router.
//!
//! ```text
//!  client namespace                 router namespace
//!  v1 192.168.77.2/24  ── veth ──   v0 192.168.77.1/24  (miniupnpd listens)
//!  default via 192.168.77.1         wan0 EXTERNAL/24 ── veth ── wan1
//! ```
//!
//! The client runs the code under test on a thread that entered its
//! namespace. miniupnpd refuses private, reserved and documentation
//! addresses as its external address (NAT-PMP answers "network failure"),
//! so the success cases give `wan0` addresses from 11.0.0.0/8. They exist
//! only inside the router namespace, which has no link to the outside:
//! nothing is ever sent to them.
//!
//! miniupnpd's nftables backend adds its rules to existing chains; the
//! chains of `/etc/miniupnpd/nft_init.sh` are created first (in the router
//! namespace only), else PCP and UPnP mappings fail with NO_RESOURCES.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::fs::File;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ddns_testkit::{Netns, skip_or_fail};
use nix::sched::{CloneFlags, setns};

/// Bounds every wait of a failing test; never asserted as a latency.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
pub(crate) const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);

const NFT_RULESET: &str = "\
table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
";

/// The router and client namespaces with miniupnpd running; all is
/// stopped and removed on drop.
pub(crate) struct Lab {
    // Field order is drop order: miniupnpd stops before its namespace goes.
    miniupnpd: Child,
    pub(crate) router: Netns,
    pub(crate) client: Netns,
    dir: tempfile::TempDir,
    external: Mutex<String>,
}

impl Lab {
    /// The lab with `external` (`address/prefix`) on the router's uplink,
    /// or `None` after saying why it cannot run here.
    pub(crate) fn start(test: &str, external: &str) -> Option<Lab> {
        for (program, package) in [("miniupnpd", "miniupnpd-nftables"), ("nft", "nftables")] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                skip_or_fail(
                    test,
                    &format!("`{program}` is not installed (Debian package {package})"),
                );
                return None;
            }
        }
        let router = Netns::create(test)?;
        let client = Netns::create(test)?;
        // The client's own pair is not used; the router's v1 moves over.
        client.ip(&["link", "del", "v0"]);
        router.ip(&["link", "set", "v1", "netns", client.name()]);
        client.ip(&["link", "set", "v1", "up"]);
        client.ip(&["addr", "add", &format!("{CLIENT}/24"), "dev", "v1"]);
        client.ip(&["route", "add", "default", "via", &GATEWAY.to_string()]);
        router.ip(&["addr", "add", &format!("{GATEWAY}/24"), "dev", "v0"]);
        router.ip(&[
            "link", "add", "wan0", "type", "veth", "peer", "name", "wan1",
        ]);
        router.ip(&["link", "set", "wan0", "up"]);
        router.ip(&["link", "set", "wan1", "up"]);
        router.ip(&["addr", "add", external, "dev", "wan0"]);

        let dir = tempfile::Builder::new()
            .prefix("ddns-miniupnpd-")
            .tempdir()
            .unwrap();
        let ruleset = dir.path().join("miniupnpd.nft");
        std::fs::write(&ruleset, NFT_RULESET).unwrap();
        let status = router
            .command("nft")
            .arg("-f")
            .arg(&ruleset)
            .status()
            .unwrap();
        assert!(status.success(), "nft -f {} failed", ruleset.display());

        let config = dir.path().join("miniupnpd.conf");
        std::fs::write(
            &config,
            "ext_ifname=wan0\n\
             listening_ip=v0\n\
             port=0\n\
             enable_natpmp=yes\n\
             enable_upnp=yes\n\
             secure_mode=no\n\
             system_uptime=no\n\
             notify_interval=60\n\
             upnp_table_name=filter\n\
             upnp_nat_table_name=filter\n\
             upnp_forward_chain=miniupnpd\n\
             upnp_nat_chain=prerouting_miniupnpd\n\
             upnp_nat_postrouting_chain=postrouting_miniupnpd\n\
             uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b\n\
             allow 1024-65535 192.168.77.0/24 1024-65535\n\
             deny 0-65535 0.0.0.0/0 0-65535\n",
        )
        .unwrap();
        let log = File::create(dir.path().join("miniupnpd.log")).unwrap();
        let miniupnpd = router
            .command("miniupnpd")
            .arg("-d")
            .arg("-f")
            .arg(&config)
            .arg("-P")
            .arg(dir.path().join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start miniupnpd");
        let lab = Lab {
            miniupnpd,
            router,
            client,
            dir,
            external: Mutex::new(external.to_string()),
        };
        lab.wait_for_log("NAT-PMP/PCP listening", |log| {
            log.contains("Listening for NAT-PMP/PCP traffic on port 5351")
                && log.contains("HTTP listening on port")
        });
        Some(lab)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("miniupnpd.log")
    }

    /// What miniupnpd logged so far.
    pub(crate) fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// Waits (blocking) until miniupnpd's log satisfies `ready`.
    pub(crate) fn wait_for_log(&self, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = self.log();
            if ready(&log) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "miniupnpd: no {what} within {TIMEOUT:?}; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port miniupnpd's HTTP server (UPnP) listens on.
    pub(crate) fn http_port(&self) -> u16 {
        let log = self.log();
        let (_, rest) = log
            .split_once("HTTP listening on port ")
            .expect("miniupnpd logged its HTTP port");
        rest.split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port number")
    }

    /// Replaces the uplink's address; miniupnpd sees it over netlink and
    /// announces the new external address.
    pub(crate) fn set_external(&self, spec: &str) {
        let mut current = self.external.lock().unwrap();
        self.router.ip(&["addr", "del", &current, "dev", "wan0"]);
        self.router.ip(&["addr", "add", spec, "dev", "wan0"]);
        *current = spec.to_string();
    }

    /// The router's NAT rules (`nft list chain … prerouting_miniupnpd`).
    pub(crate) fn nat_rules(&self) -> String {
        let output = self
            .router
            .command("nft")
            .args(["list", "chain", "inet", "filter", "prerouting_miniupnpd"])
            .output()
            .unwrap();
        assert!(output.status.success(), "nft list chain failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `scenario` on a thread inside the client namespace, on a
    /// current-thread runtime, and re-raises its panic with miniupnpd's
    /// log.
    pub(crate) fn run_in_client<F, Fut>(&self, scenario: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let path = format!("/run/netns/{}", self.client.name());
        let thread = std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            setns(&file, CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("cannot enter {path}: {e}"));
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(scenario());
        });
        if let Err(panic) = thread.join() {
            eprintln!("miniupnpd log:\n{}", self.log());
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.miniupnpd.kill();
        let _ = self.miniupnpd.wait();
    }
}

// Not every test binary that includes this module captures logs.
#[allow(unused_imports)]
pub(crate) use ddns_testkit::Logs;
