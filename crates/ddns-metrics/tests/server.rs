//! The endpoint on 127.0.0.1:0, driven by a real `HealthMonitor` fed with
//! engine events: each path, status and body as a prober sees it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ddns_core::{EngineEvent, IpFamily, ProviderError};
use ddns_metrics::{MAX_CONNECTIONS, MetricsConfig};
use reqwest::StatusCode;
use support::{Served, assert_promtool_accepts, client, record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(url: &str) -> (StatusCode, String, String) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn readyz_follows_the_monitor_and_metrics_follow_the_events() {
    let a = record("home.example.com", IpFamily::V4);
    let served = Served::start(std::slice::from_ref(&a), 2).await;
    let address = "192.0.2.10".parse().unwrap();

    let (status, content_type, body) = get(&served.url("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(content_type, "text/plain; charset=utf-8");
    let (status, _, body) = get(&served.url("/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "starting: started\n")
    );

    served.observe(&EngineEvent::AddressObserved { address });
    served.observe(&EngineEvent::RecordConfirmed {
        record: &a,
        address,
    });
    let (status, _, body) = get(&served.url("/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "probing: an address is detected and the provider answers\n"
        )
    );

    let pass = EngineEvent::PassCompleted {
        in_sync: 1,
        pending: 0,
        failed: 0,
        confirmed: 1,
    };
    served.observe(&pass);
    let (status, _, _) = get(&served.url("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "one of two passes");
    served.observe(&pass);
    let (status, _, body) = get(&served.url("/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            "ready: every record confirmed in 2 consecutive pass(es)\n"
        )
    );

    let (status, content_type, text) = get(&served.url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "ddns_readiness_state{state=\"ready\"} 1",
        "ddns_readiness_state{state=\"starting\"} 0",
        "ddns_record_confirmations_total{record=\"home.example.com\",type=\"A\"} 1",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"A\",result=\"written\"} 0",
        "ddns_provider_results_total{class=\"ok\"} 1",
        "ddns_detections_total{family=\"ipv4\",result=\"changed\"} 1",
        "ddns_records{status=\"in_sync\"} 1",
        "ddns_passes_total 2",
        "ddns_ready_passes_total 1",
        "ddns_circuit_breaker_open 0",
        "ddns_build_info{version=\"0.1.0\"} 1",
    ] {
        assert!(has_line(&text, line), "{line} in:\n{text}");
    }
    assert_promtool_accepts(
        "readyz_follows_the_monitor_and_metrics_follow_the_events",
        &text,
    );

    let error = ProviderError::transient("HTTP 500");
    served.observe(&EngineEvent::RecordFailed {
        record: &a,
        error: &error,
        retry_in: Some(Duration::from_secs(30)),
    });
    served.observe(&EngineEvent::BreakerChanged { open: true });
    let (status, _, body) = get(&served.url("/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "degraded: provider failing: HTTP 500\n"
        )
    );
    let (_, _, text) = get(&served.url("/metrics")).await;
    for line in [
        "ddns_readiness_state{state=\"ready\"} 0",
        "ddns_readiness_state{state=\"degraded\"} 1",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"A\",result=\"failed\"} 1",
        "ddns_provider_results_total{class=\"transient\"} 1",
        "ddns_circuit_breaker_open 1",
    ] {
        assert!(has_line(&text, line), "{line} in:\n{text}");
    }
    let (status, _, body) = get(&served.url("/healthz")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "ok\n"),
        "alive while degraded"
    );
    served.stop().await;
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let served = Served::start(&[record("home.example.com", IpFamily::V4)], 1).await;
    let http = client();

    let response = http.get(served.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.text().await.unwrap(), "not found\n");
    let response = http.get(served.url("/metricsx")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    for path in ["/metrics", "/healthz", "/readyz"] {
        let response = http.post(served.url(path)).body("x").send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "POST {path}"
        );
        assert_eq!(response.headers()["allow"], "GET, HEAD");
        assert_eq!(response.text().await.unwrap(), "method not allowed\n");
    }

    let response = http.head(served.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.text().await.unwrap().is_empty(),
        "HEAD has no body"
    );

    let (status, _, text) = get(&served.url("/metrics?name[]=ddns_build_info")).await;
    assert_eq!(status, StatusCode::OK, "a query string is ignored");
    assert!(text.contains("ddns_build_info"));
    served.stop().await;
}

/// Sends one keep-alive request on `stream` and reads the whole answer.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 512];
    while !answer.ends_with(b"ok\n") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn at_most_max_connections_are_served_at_once() {
    let served = Served::start(&[record("home.example.com", IpFamily::V4)], 1).await;
    let mut open = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200 OK"));
        open.push(stream);
    }
    // One more connects (the kernel's backlog) but is not served...
    let mut extra = TcpStream::connect(served.addr).await.unwrap();
    let waiting = tokio::spawn(async move { healthz(&mut extra).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "served beyond {MAX_CONNECTIONS}");
    // ...until one of the others closes.
    drop(open.pop());
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    served.stop().await;
}

#[tokio::test]
async fn shutdown_closes_the_port_even_with_idle_connections_open() {
    let served = Served::start(&[record("home.example.com", IpFamily::V4)], 1).await;
    let addr = served.addr;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    healthz(&mut idle).await;
    let started = std::time::Instant::now();
    served.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an idle keep-alive connection held shutdown for {:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).await.unwrap(), 0, "closed");
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens");
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_the_address_and_the_variable() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let error = ddns_metrics::bind(&MetricsConfig::new(addr))
        .await
        .expect_err("port in use");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr} (DDNS_METRICS_ADDR): ")),
        "{message}"
    );
    let ddns_metrics::Error::BindFailed { source, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);

    drop(taken);
    let listener = ddns_metrics::bind(&MetricsConfig::new(addr)).await.unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);
}
