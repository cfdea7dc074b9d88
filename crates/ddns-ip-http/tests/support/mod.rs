//! Echo servers on loopback, built with hyper, that answer what a test
//! scripts and record every request they get.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, LOCATION, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub user_agent: String,
    pub accept: String,
    pub peer: SocketAddr,
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
    pub delay: Duration,
    pub location: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Body {
    Fixed(Bytes),
    /// 1 KiB chunks without end and without a length.
    Endless,
}

impl Reply {
    /// 200 text/plain with this body.
    pub fn text(body: impl Into<Bytes>) -> Self {
        Self {
            status: 200,
            content_type: "text/plain",
            body: Body::Fixed(body.into()),
            delay: Duration::ZERO,
            location: None,
        }
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn endless() -> Self {
        Self {
            body: Body::Endless,
            ..Self::text("")
        }
    }

    pub fn redirect(to: &str) -> Self {
        Self {
            status: 302,
            location: Some(to.to_string()),
            ..Self::text("")
        }
    }
}

type Respond = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// An HTTP/1.1 server on loopback, stopped on drop.
pub struct EchoServer {
    addrs: Vec<SocketAddr>,
    seen: Arc<Mutex<Vec<Seen>>>,
    tasks: JoinSet<()>,
}

impl EchoServer {
    /// On 127.0.0.1; `respond` gets the request and its number (from 0).
    pub async fn v4(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], respond).await
    }

    /// Always the same answer.
    pub async fn fixed(reply: Reply) -> Self {
        Self::v4(move |_, _| reply.clone()).await
    }

    /// On 127.0.0.1 and ::1, with the same port on both.
    pub async fn dual(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::on(
            &[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            respond,
        )
        .await
    }

    /// On each of `ips`, on one port free on all of them.
    pub async fn on(
        ips: &[IpAddr],
        respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listeners = bind_all(ips).await;
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr().expect("local address"))
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Respond> = Arc::new(respond);
        let mut tasks = JoinSet::new();
        for listener in listeners {
            tasks.spawn(serve(listener, respond.clone(), seen.clone()));
        }
        Self { addrs, seen, tasks }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn bind_all(ips: &[IpAddr]) -> Vec<TcpListener> {
    'attempt: for _ in 0..20 {
        let first = TcpListener::bind((ips[0], 0)).await.expect("bind");
        let port = first.local_addr().expect("local address").port();
        let mut listeners = vec![first];
        for ip in &ips[1..] {
            match TcpListener::bind((*ip, port)).await {
                Ok(listener) => listeners.push(listener),
                Err(_) => continue 'attempt,
            }
        }
        return listeners;
    }
    panic!("no port free on all of {ips:?}");
}

async fn serve(listener: TcpListener, respond: Arc<Respond>, seen: Arc<Mutex<Vec<Seen>>>) {
    // Dropped with the accept loop: no connection outlives the server.
    let mut connections = JoinSet::new();
    while let Ok((stream, peer)) = listener.accept().await {
        let respond = respond.clone();
        let seen = seen.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let respond = respond.clone();
            let seen = seen.clone();
            async move {
                let header = |name| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let record = Seen {
                    method: request.method().to_string(),
                    target: request
                        .uri()
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    user_agent: header(USER_AGENT),
                    accept: header(ACCEPT),
                    peer,
                };
                let number = {
                    let mut seen = seen.lock().expect("lock");
                    seen.push(record.clone());
                    seen.len() - 1
                };
                let reply = respond(&record, number);
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
                Ok::<_, Infallible>(response(reply))
            }
        });
        connections.spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response(reply: Reply) -> Response<BoxBody<Bytes, Infallible>> {
    let body = match reply.body {
        Body::Fixed(bytes) => Full::new(bytes).boxed(),
        Body::Endless => {
            let chunk = Bytes::from(vec![b'7'; 1024]);
            StreamBody::new(stream::repeat_with(move || {
                Ok::<_, Infallible>(Frame::data(chunk.clone()))
            }))
            .boxed()
        }
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type);
    if let Some(location) = reply.location {
        builder = builder.header(LOCATION, location);
    }
    builder.body(body).expect("a valid response")
}
