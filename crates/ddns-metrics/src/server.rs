//! The HTTP/1 endpoint: `/metrics`, `/healthz` and `/readyz`.
//!
//! Idle, the server is blocked in `accept` and arms no timer. A connection
//! holds one of [`MAX_CONNECTIONS`] permits; while it waits for a request
//! head it has [`HEADER_READ_TIMEOUT`] to send one (idle keep-alive
//! connections included), after which it is closed.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ddns_core::health::{HealthSnapshot, Readiness};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::config::MetricsConfig;
use crate::error::{Error, Result};
use crate::metrics::{self, Metrics};

/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a connection may take to send a request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections may take to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// After an accept error that is not the peer's (out of file descriptors),
/// wait before the next accept rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const TEXT: &str = "text/plain; charset=utf-8";

/// Binds the configured address, so that a busy port is reported before
/// the daemon starts its work.
pub async fn bind(config: &MetricsConfig) -> Result<TcpListener> {
    let addr = config.addr();
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::BindFailed { addr, source })
}

/// What the endpoint serves: the metrics text and the readiness verdict.
///
/// The daemon's engine metrics are one implementation; other programs of
/// the project (the Kubernetes operator) bring their own.
pub trait Endpoints: Send + Sync + 'static {
    /// The `/metrics` body in the Prometheus text format.
    fn metrics(&self) -> String;
    /// Whether `/readyz` answers 200, and the one-line body it sends.
    fn readiness(&self) -> (bool, String);
}

struct EngineEndpoints {
    metrics: Arc<Metrics>,
    health: watch::Receiver<HealthSnapshot>,
}

impl Endpoints for EngineEndpoints {
    fn metrics(&self) -> String {
        self.metrics.encode()
    }

    fn readiness(&self) -> (bool, String) {
        let snapshot = self.health.borrow();
        (
            snapshot.state == Readiness::Ready,
            format!("{}: {}", snapshot.state, snapshot.reason),
        )
    }
}

/// Serves `/metrics` from `metrics` and `/readyz` from `health` on
/// `listener` until `shutdown` completes; then stops accepting, lets open
/// connections finish their request for a few seconds and closes them.
pub async fn serve<F>(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: watch::Receiver<HealthSnapshot>,
    shutdown: F,
) where
    F: Future<Output = ()>,
{
    serve_endpoints(
        listener,
        Arc::new(EngineEndpoints { metrics, health }),
        shutdown,
    )
    .await;
}

/// Serves `/metrics`, `/healthz` and `/readyz` from `endpoints` on
/// `listener` until `shutdown` completes, like [`serve`].
pub async fn serve_endpoints<F>(listener: TcpListener, endpoints: Arc<dyn Endpoints>, shutdown: F)
where
    F: Future<Output = ()>,
{
    match listener.local_addr() {
        Ok(address) => info!(%address, "metrics endpoint listening"),
        Err(error) => warn!(%error, "metrics endpoint listening on an unknown address"),
    }
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (closing, closed) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                connections.spawn(connection(
                    stream,
                    peer,
                    Arc::clone(&endpoints),
                    closed.clone(),
                    permit,
                ));
            }
            Err(error) if is_connection_error(&error) => {
                debug!(%error, "metrics connection failed before it was accepted");
            }
            Err(error) => {
                warn!(%error, "metrics endpoint cannot accept connections");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    closing.send_replace(());
    let open = connections.len();
    if open > 0 {
        debug!(open, "metrics endpoint closing connections");
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            connections.shutdown().await;
        }
    }
    info!("metrics endpoint stopped");
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    )
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    endpoints: Arc<dyn Endpoints>,
    mut closing: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = respond(request.method(), request.uri().path(), endpoints.as_ref());
        debug!(
            %peer,
            method = %request.method(),
            path = request.uri().path(),
            status = response.status().as_u16(),
            "metrics request"
        );
        async move { Ok::<_, Infallible>(response) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        _ = closing.changed() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = result {
        debug!(%peer, %error, "metrics connection ended with an error");
    }
}

/// The answer to `method path`.
pub(crate) fn respond(
    method: &Method,
    path: &str,
    endpoints: &dyn Endpoints,
) -> Response<Full<Bytes>> {
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return text(StatusCode::NOT_FOUND, TEXT, "not found\n".to_string());
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "method not allowed\n".to_string(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/metrics" => text(StatusCode::OK, metrics::CONTENT_TYPE, endpoints.metrics()),
        "/readyz" => {
            let (ready, line) = endpoints.readiness();
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, TEXT, format!("{line}\n"))
        }
        _ => text(StatusCode::OK, TEXT, "ok\n".to_string()),
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
