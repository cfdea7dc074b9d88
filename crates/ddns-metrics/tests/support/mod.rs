//! Shared by the integration tests: a served `Metrics` on 127.0.0.1:0,
//! and `promtool`, skipped when missing unless system tests are required.

#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use ddns_core::health::HealthMonitor;
use ddns_core::{DomainName, IpFamily, Record};
use ddns_metrics::Metrics;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A record of `name` for `family`.
pub(crate) fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse::<DomainName>().unwrap(), family)
}

/// `serve` running on 127.0.0.1:0 in a task.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    pub(crate) monitor: Arc<HealthMonitor>,
    pub(crate) metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves metrics for `records`, Ready after `confirmations` passes.
    pub(crate) async fn start(records: &[Record], confirmations: u32) -> Self {
        let monitor = Arc::new(HealthMonitor::new(records.len(), confirmations));
        let metrics = Arc::new(Metrics::new(records, Arc::clone(&monitor)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(ddns_metrics::serve(
            listener,
            Arc::clone(&metrics),
            monitor.watch(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            monitor,
            metrics,
            stop: Some(stop),
            task,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Triggers shutdown and waits for `serve` to return.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve does not panic");
    }

    /// Feeds an event to the monitor and the metrics, as the engine would.
    pub(crate) fn observe(&self, event: &ddns_core::EngineEvent<'_>) {
        use ddns_core::EngineObserver;
        self.monitor.observe(event);
        self.metrics.observe(event);
    }
}

/// An HTTP client that ignores proxy variables.
pub(crate) fn client() -> reqwest::Client {
    // The workspace builds reqwest with rustls and no default crypto
    // provider (the product picks ring); give it that one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `promtool args` with `stdin`; `None` (after saying why) when
/// promtool is not installed and system tests are not required.
pub(crate) fn promtool(test: &str, args: &[&str], stdin: &str) -> Option<Output> {
    let child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let reason = "promtool is not installed (Debian package prometheus)";
            if ddns_testkit::require_system_tests() {
                panic!(
                    "{test}: cannot run: {reason} (DDNS_REQUIRE_SYSTEM_TESTS=1 forbids skipping)"
                );
            }
            eprintln!("SKIPPED {test}: {reason}; scripts/test.sh installs it");
            return None;
        }
        Err(error) => panic!("{test}: cannot run promtool: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

/// Asserts that `promtool check metrics` accepts `text` without a lint
/// complaint.
pub(crate) fn assert_promtool_accepts(test: &str, text: &str) {
    let Some(output) = promtool(test, &["check", "metrics"], text) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics: {}\nstdout: {stdout}\nstderr: {stderr}\ntext:\n{text}",
        output.status
    );
}
