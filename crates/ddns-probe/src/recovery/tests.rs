//! The recovery request against an in-process server that records what
//! it got, and the loop sending it with its logs captured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use ddns_core::health::HealthMonitor;
use tokio::task::JoinHandle;

use super::*;
use crate::policy::{RecoveryRules, Schedule};
use crate::runner::{Pending, Probe, Recover, Runner};
use crate::testing::Logs;

/// The secret parts of the URL: the path's key, the query's token, the
/// user information.
const SECRET_PATH: &str = "/relay/0/k3y-in-path";
const SECRET_QUERY: &str = "turn=off&token=t0ken-in-query";

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
}

/// A server answering every request with `status` (and a `Location`, for
/// redirects), recording each one.
struct Recorder {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Recorder {
    async fn start(status: u16) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let app = Router::new().fallback(move |request: Request| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(Seen {
                    method: request.method().to_string(),
                    uri: request.uri().to_string(),
                    headers: request.headers().clone(),
                });
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::LOCATION, "/elsewhere")],
                    "done",
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            seen,
            task,
        }
    }

    fn url(&self) -> Url {
        format!("http://{}{SECRET_PATH}?{SECRET_QUERY}", self.address)
            .parse()
            .unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn assert_no_secret(text: &str) {
    for secret in [
        "k3y-in-path",
        "t0ken-in-query",
        "relay",
        "pa55word",
        "admin",
    ] {
        assert!(!text.contains(secret), "'{secret}' leaked into:\n{text}");
    }
}

#[tokio::test]
async fn a_post_reaches_the_url_with_its_path_and_query() {
    let server = Recorder::start(200).await;
    let request = RecoveryRequest::new(server.url(), Method::Post).unwrap();
    assert_eq!(request.origin(), format!("http://{}", server.address));
    assert_eq!(request.send().await.unwrap(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].uri, format!("{SECRET_PATH}?{SECRET_QUERY}"));
    assert_eq!(
        seen[0].headers.get(header::CONTENT_LENGTH).unwrap(),
        "0",
        "an empty body, announced"
    );
}

#[tokio::test]
async fn a_get_is_sent_when_asked_and_any_status_is_returned() {
    let server = Recorder::start(503).await;
    let request = RecoveryRequest::new(server.url(), Method::Get).unwrap();
    assert_eq!(request.send().await.unwrap(), 503);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].uri, format!("{SECRET_PATH}?{SECRET_QUERY}"));
}

#[tokio::test]
async fn user_information_becomes_basic_authentication() {
    let server = Recorder::start(200).await;
    let url: Url = format!("http://admin:pa55word@{}/relay/0", server.address)
        .parse()
        .unwrap();
    let request = RecoveryRequest::new(url, Method::Post).unwrap();
    assert_eq!(request.origin(), format!("http://{}", server.address));
    assert_eq!(request.send().await.unwrap(), 200);
    let seen = server.seen();
    // base64("admin:pa55word")
    assert_eq!(
        seen[0].headers.get(header::AUTHORIZATION).unwrap(),
        "Basic YWRtaW46cGE1NXdvcmQ="
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = Recorder::start(302).await;
    let request = RecoveryRequest::new(server.url(), Method::Post).unwrap();
    assert_eq!(request.send().await.unwrap(), 302);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_told_without_the_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url: Url = format!("http://{address}{SECRET_PATH}?{SECRET_QUERY}")
        .parse()
        .unwrap();
    let request = RecoveryRequest::new(url, Method::Post).unwrap();
    let error = request.send().await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "recovery request to http://{address} failed: error sending request"
        )),
        "{error}"
    );
    assert_no_secret(&error);
}

/// Always down.
struct Down;

impl Probe for Down {
    fn name(&self) -> &'static str {
        "wan"
    }

    fn target(&self) -> String {
        "192.0.2.1:443".to_string()
    }

    fn probe(&self) -> Pending<'_, crate::Result<()>> {
        Box::pin(async { Err(crate::Error::NoDefaultRoute) })
    }
}

#[tokio::test]
async fn the_loop_sends_the_request_and_logs_the_host_only() {
    let (logs, _guard) = Logs::capture_all();
    let server = Recorder::start(200).await;
    let request = RecoveryRequest::new(server.url(), Method::Post).unwrap();
    let origin = request.origin().to_string();
    let rules = RecoveryRules {
        after: Duration::ZERO,
        cooldown: Duration::from_secs(3600),
        max_attempts: 3,
    };
    let schedule = Schedule {
        interval: Duration::from_secs(3600),
        every: Some(Duration::from_secs(3600)),
    };
    let recovery: Box<dyn Recover> = Box::new(request);
    let runner = Runner::new(schedule, vec![Box::new(Down)], Some((rules, recovery)));
    let task = tokio::spawn(runner.run(Arc::new(HealthMonitor::new(1, 1))));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("recovery request accepted") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer logged:\n{}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].uri, format!("{SECRET_PATH}?{SECRET_QUERY}"));
    let text = logs.text();
    assert!(
        text.contains(&format!(
            "network down for too long: sending the recovery request attempt=1 max_attempts=3 down_secs=0 method=\"POST\" url={origin}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "recovery request accepted attempt=1 status=200 url={origin}"
        )),
        "{text}"
    );
    assert_no_secret(&text);
}
