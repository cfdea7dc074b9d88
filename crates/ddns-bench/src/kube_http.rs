//! The fake Kubernetes API server (`ddns-kube-fake`) served over HTTP/1.1
//! on loopback (`FakeApi::serve_http_with`), so that a real
//! `ddns-operator run` process can talk to it, with a log of when each
//! request arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ddns_kube_fake::{FakeApi, HttpServer};
use tokio::net::TcpListener;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub(crate) at: Instant,
    pub(crate) method: http::Method,
    pub(crate) path: String,
    /// A watch (`watch=true` or `watch=1`): a long-lived stream.
    pub(crate) watch: bool,
}

impl Arrival {
    /// A Lease read or write (leader election).
    pub(crate) fn is_lease(&self) -> bool {
        self.path.contains("/leases")
    }

    /// A write to a status subresource of `plural` (any kind when `None`).
    pub(crate) fn is_status_patch(&self, plural: Option<&str>) -> bool {
        self.method == http::Method::PATCH
            && self.path.ends_with("/status")
            && plural.is_none_or(|p| self.path.contains(&format!("/{p}/")))
    }
}

/// Every request the server received, in order.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    arrivals: Mutex<Vec<Arrival>>,
}

impl RequestLog {
    fn push(&self, arrival: Arrival) {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(arrival);
    }

    /// The requests that arrived at or after `since`.
    pub(crate) fn since(&self, since: Instant) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|a| a.at >= since)
            .cloned()
            .collect()
    }

    /// How many requests arrived that are neither watches nor Lease
    /// traffic: what changes while a reconcile is busy.
    pub(crate) fn work_count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|a| !a.watch && !a.is_lease())
            .count()
    }
}

/// The fake served on a loopback port until dropped.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    pub(crate) log: Arc<RequestLog>,
    _server: HttpServer,
}

/// Serves `fake` on 127.0.0.1 at a free port. Every request but a watch
/// is answered `delay` late, to stand for a real API server's latency
/// (its etcd write, admission, the network).
pub(crate) async fn serve(fake: &FakeApi, delay: Duration) -> std::io::Result<Served> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let log = Arc::new(RequestLog::default());
    let arrivals = Arc::clone(&log);
    let server = fake.serve_http_with(listener, move |request: &http::request::Parts| {
        let watch = request.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair == "watch=true" || pair == "watch=1")
        });
        arrivals.push(Arrival {
            at: Instant::now(),
            method: request.method.clone(),
            path: request.uri.path().to_owned(),
            watch,
        });
        if watch { Duration::ZERO } else { delay }
    })?;
    Ok(Served {
        addr: server.addr(),
        log,
        _server: server,
    })
}

/// A kubeconfig naming the server at `addr`, plain HTTP, no credentials.
pub(crate) fn kubeconfig(addr: SocketAddr) -> String {
    ddns_kube_fake::kubeconfig(addr, "dns")
}
