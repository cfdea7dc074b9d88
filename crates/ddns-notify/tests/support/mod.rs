//! A recording HTTP server, log capture and a health monitor driver.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::convert::Infallible;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddns_core::config::Env;
use ddns_core::health::HealthMonitor;
use ddns_core::{DomainName, EngineEvent, EngineObserver, IpFamily, ProviderError, Record};
use ddns_notify::{Notifier, NotifyConfig, NotifyStats};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The query's pairs, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!(
            "http://x{}?{}",
            self.path,
            self.query.as_deref().unwrap_or("")
        ))
        .unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    fail_next: AtomicUsize,
    fail_status: AtomicU16,
    hang: AtomicBool,
}

/// An HTTP/1.1 server on 127.0.0.1 in its own thread and runtime (real
/// time, whatever the test's clock), recording every request. It answers
/// 200 `ok`, or the scheduled status while failures are scheduled, or
/// never when hanging.
pub struct Recorder {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let served = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let shared = served.clone();
                        tokio::spawn(async move {
                            let service =
                                service_fn(move |request| handle(shared.clone(), request));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://127.0.0.1:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// The paths (with query) of what was received.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| match r.query {
                Some(q) => format!("{}?{q}", r.path),
                None => r.path,
            })
            .collect()
    }

    /// The next `n` requests are answered 500.
    pub fn fail_next(&self, n: usize) {
        self.answer_next(n, 500);
    }

    /// The next `n` requests are answered `status`.
    pub fn answer_next(&self, n: usize, status: u16) {
        self.shared.fail_status.store(status, Ordering::SeqCst);
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// From now on, requests are recorded and never answered.
    pub fn hang(&self) {
        self.shared.hang.store(true, Ordering::SeqCst);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    shared.requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    });
    if shared.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        shared.fail_status.load(Ordering::SeqCst)
    } else {
        200
    };
    let response = Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap();
    Ok(response)
}

/// Waits, without letting the paused clock move, until `done` holds: the
/// runtime keeps running its tasks and polling sockets meanwhile. Gives
/// up after 10 s of real time.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// Lets the runtime run for a while (real time) without moving the
/// paused clock, for asserting that nothing happens.
pub async fn settle() {
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    while std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// A running notifier and its shutdown switch.
pub struct Running {
    pub stats: NotifyStats,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Builds the configuration from `pairs`, and runs a notifier for
    /// `monitor` on a task of the test's runtime.
    pub fn start(pairs: &[(&str, &str)], monitor: &HealthMonitor) -> Self {
        let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = NotifyConfig::from_env(&env).unwrap().expect("configured");
        let notifier = Notifier::new(config, monitor).unwrap();
        let stats = notifier.stats();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(notifier.run(async {
            let _ = stopped.await;
        }));
        Self {
            stats,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Requests finished (delivered or given up).
    pub fn finished(&self) -> u64 {
        self.stats.delivered() + self.stats.failed()
    }

    /// Waits until `n` requests have finished.
    pub async fn finish(&self, n: u64) {
        until(&format!("{n} finished requests"), || self.finished() >= n).await;
        assert_eq!(self.finished(), n, "more requests than expected");
    }

    /// Shuts down and waits for the task without moving the paused
    /// clock (awaiting the task would let it jump, and time out requests
    /// still in flight).
    pub async fn stop(self) {
        self.stop_after(Duration::ZERO).await;
    }

    /// Shuts down, lets the paused clock move by `wait` once the task
    /// has settled, and waits for the task to end.
    pub async fn stop_after(mut self, wait: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return;
        };
        if !wait.is_zero() {
            settle().await;
            tokio::time::advance(wait).await;
        }
        until("the notifier to stop", || task.is_finished()).await;
        task.await.unwrap();
    }
}

/// The record the monitor is told about.
pub fn record() -> Record {
    Record::new(
        "home.example.com".parse::<DomainName>().unwrap(),
        IpFamily::V4,
    )
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Drives a one-record monitor (Ready after one confirming pass).
pub struct Driver {
    pub monitor: HealthMonitor,
    record: Record,
}

impl Driver {
    pub fn new() -> Self {
        Self {
            monitor: HealthMonitor::new(1, 1),
            record: record(),
        }
    }

    pub fn address(&self, text: &str) {
        self.monitor
            .observe(&EngineEvent::AddressObserved { address: ip(text) });
    }

    /// Address, confirmation, converged pass: Starting → Probing → Ready.
    pub fn ready(&self, address: &str) {
        self.address(address);
        self.monitor.observe(&EngineEvent::RecordConfirmed {
            record: &self.record,
            address: ip(address),
        });
        self.pass();
    }

    /// A pass with the record in line.
    pub fn pass(&self) {
        self.monitor.observe(&EngineEvent::PassCompleted {
            in_sync: 1,
            pending: 0,
            failed: 0,
            confirmed: 1,
        });
    }

    /// A failed write and a failed pass: Degraded (from Probing, Ready or
    /// Recovering), with reason `provider failing: {message}`.
    pub fn fail(&self, message: &str) {
        let error = ProviderError::transient(message);
        self.monitor.observe(&EngineEvent::RecordFailed {
            record: &self.record,
            error: &error,
            retry_in: Some(Duration::from_secs(30)),
        });
        self.monitor.observe(&EngineEvent::PassCompleted {
            in_sync: 0,
            pending: 0,
            failed: 1,
            confirmed: 0,
        });
    }

    /// A write of `address`, then a converged pass: Recovering → Ready
    /// when degraded.
    pub fn written(&self, address: &str) {
        self.monitor.observe(&EngineEvent::RecordWritten {
            record: &self.record,
            address: ip(address),
        });
        self.pass();
    }
}

/// Collects what `tracing` writes on this thread (the test's runtime runs
/// its tasks here), at every level.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}
