//! Injected faults and the automatic rate limit, seen from a client: what
//! arrives (or does not) on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ddns_cloudflare_standin::{Fault, FaultKind, RateLimit, StandIn, TokenSpec};
use support::{TOKEN, get};

async fn standin() -> StandIn {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    cf
}

#[tokio::test]
async fn rate_limited_fault_answers_429_with_retry_after_once() {
    let cf = standin().await;
    cf.inject(
        Fault::new(FaultKind::RateLimited {
            retry_after_secs: Some(7),
        })
        .path_contains("/zones"),
    );
    let answer = get(&cf, "/zones").await;
    answer.assert_error(429, 971);
    assert_eq!(
        answer.message(),
        "Please wait and consider throttling your request speed"
    );
    assert_eq!(answer.headers["retry-after"], "7");
    get(&cf, "/zones").await.ok();
    assert!(cf.pending_faults().is_empty());
    let log = cf.requests();
    assert_eq!(log[0].status, Some(429));
    assert!(matches!(log[0].fault, Some(FaultKind::RateLimited { .. })));
    assert_eq!(log[1].fault, None);
}

#[tokio::test]
async fn faults_hit_only_matching_requests_and_as_often_as_asked() {
    let cf = standin().await;
    let zone = cf.add_zone("example.com");
    cf.inject(
        Fault::new(FaultKind::Status {
            status: 500,
            code: 10001,
            message: "Internal error".to_owned(),
        })
        .method("PATCH")
        .times(2),
    );
    get(&cf, &format!("/zones/{zone}/dns_records")).await.ok();
    let id = cf.add_record(&zone, "A", "h", "192.0.2.1");
    let path = format!("/zones/{zone}/dns_records/{id}");
    let body = serde_json::json!({"content": "192.0.2.2"});
    for _ in 0..2 {
        let answer = support::send(&cf, "PATCH", &path, body.clone()).await;
        answer.assert_error(500, 10001);
    }
    assert_eq!(cf.record(&id).unwrap().content, "192.0.2.1");
    support::send(&cf, "PATCH", &path, body).await.ok();
    assert_eq!(cf.record(&id).unwrap().content, "192.0.2.2");
}

#[tokio::test]
async fn dropped_connection_gets_no_answer() {
    let cf = standin().await;
    cf.inject(Fault::new(FaultKind::Drop));
    let error = support::builder()
        .build()
        .unwrap()
        .get(format!("{}/zones", cf.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect_err("a dropped connection must not produce a response");
    assert!(!error.is_timeout(), "{error:?}");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    get(&cf, "/zones").await.ok();
    let log = cf.requests();
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault, Some(FaultKind::Drop));
}

#[test]
fn dropped_connection_closes_without_a_byte_on_a_thread_standin() {
    let cf = StandIn::start_in_thread();
    cf.add_token(TOKEN, TokenSpec::user());
    cf.inject(Fault::new(FaultKind::Drop));
    let mut stream = TcpStream::connect(cf.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /client/v4/zones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );

    // The next connection is answered normally.
    let mut stream = TcpStream::connect(cf.addr()).unwrap();
    write!(
        stream,
        "GET /client/v4/zones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut received = String::new();
    stream.read_to_string(&mut received).unwrap();
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
    assert!(received.contains("\"success\":true"), "{received}");
}

#[tokio::test]
async fn delay_makes_clients_time_out_then_answers_normally() {
    let cf = standin().await;
    cf.inject(Fault::new(FaultKind::Delay(Duration::from_millis(600))).times(2));
    let error = support::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap()
        .get(format!("{}/zones", cf.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect_err("the delay outlasts the timeout");
    assert!(error.is_timeout(), "{error:?}");

    let started = Instant::now();
    get(&cf, "/zones").await.ok();
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn html_challenge_and_garbage_are_not_the_envelope() {
    let cf = standin().await;
    cf.inject(Fault::new(FaultKind::HtmlChallenge { status: 403 }));
    cf.inject(Fault::new(FaultKind::Garbage));
    let client = support::builder().build().unwrap();

    let response = client
        .get(format!("{}/zones", cf.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["cf-mitigated"], "challenge");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().await.unwrap().contains("Just a moment"));

    let response = client
        .get(format!("{}/zones", cf.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
}

#[tokio::test]
async fn automatic_rate_limit_refuses_past_the_limit() {
    let cf = standin().await;
    cf.set_rate_limit(Some(RateLimit {
        requests: 3,
        window: Duration::from_secs(60),
    }));
    for _ in 0..3 {
        get(&cf, "/zones").await.ok();
    }
    let answer = get(&cf, "/zones").await;
    answer.assert_error(429, 971);
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    cf.set_rate_limit(None);
    get(&cf, "/zones").await.ok();
}
