//! The HTTP detector against echo servers on loopback: what it sends, what
//! it accepts and what it refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ddns_core::IpFamily;
use ddns_core::detect::Detector;
use ddns_ip_http::{ClientOptions, HttpClients, HttpDetector};
use reqwest::Url;
use support::{EchoServer, Reply};

fn clients(timeout: Duration) -> HttpClients {
    HttpClients::new(&ClientOptions::new(timeout)).unwrap()
}

fn detector(url: &str) -> HttpDetector {
    HttpDetector::new(Url::parse(url).unwrap(), &clients(Duration::from_secs(2)))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The error a user reads when `url` answers `reply`.
async fn refusal(reply: Reply, path: &str) -> (String, EchoServer) {
    let server = EchoServer::fixed(reply).await;
    let error = detector(&server.url(path))
        .detect(IpFamily::V4)
        .await
        .expect_err("the answer was accepted");
    (error.to_string(), server)
}

#[tokio::test]
async fn a_plain_answer_is_read_and_the_request_is_a_get_with_our_user_agent() {
    let server = EchoServer::fixed(Reply::text("  203.0.113.9\n")).await;
    let detector = detector(&server.url("/ip?key=s3cret"));
    assert_eq!(detector.name(), format!("http://{}", server.addr()));
    assert!(detector.supports(IpFamily::V4));
    assert!(!detector.supports(IpFamily::V6), "127.0.0.1 is IPv4 only");
    assert_eq!(
        detector.detect(IpFamily::V4).await.unwrap(),
        ip("203.0.113.9")
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].target, "/ip?key=s3cret");
    assert_eq!(
        seen[0].user_agent,
        concat!("ddns/", env!("CARGO_PKG_VERSION"))
    );
    assert!(seen[0].accept.starts_with("text/plain"), "{:?}", seen[0]);
    assert!(seen[0].peer.is_ipv4());
}

#[tokio::test]
async fn a_cloudflare_trace_is_read_by_path_or_by_body() {
    let trace =
        "fl=29f1\nh=1.1.1.1\nip=198.51.100.20\nts=1700000000.123\nvisit_scheme=https\nloc=DE\n";
    let server = EchoServer::fixed(Reply::text(trace)).await;
    let by_path = detector(&server.url("/cdn-cgi/trace"));
    assert_eq!(
        by_path.detect(IpFamily::V4).await.unwrap(),
        ip("198.51.100.20")
    );
    let by_body = detector(&server.url("/whoami"));
    assert_eq!(
        by_body.detect(IpFamily::V4).await.unwrap(),
        ip("198.51.100.20")
    );
    // A trace path that answers a bare address is not a trace.
    let (error, _server) = refusal(Reply::text("198.51.100.20"), "/cdn-cgi/trace").await;
    assert!(
        error.ends_with(": line 1 of the trace answer is not key=value: '198.51.100.20'"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_answers_are_refused_naming_the_host_only() {
    let cases = [
        (
            Reply::text("203.0.113.9\n203.0.113.10\n"),
            "the answer holds 2 words, not one address: '203.0.113.9\\n203.0.113.10'",
        ),
        (
            Reply::text("<html><body>203.0.113.9</body></html>")
                .content_type("text/html; charset=utf-8"),
            "the answer is an HTML page (text/html), not an address",
        ),
        (
            Reply::text("<!doctype html><p>203.0.113.9</p>"),
            "the answer is an HTML page, not an address",
        ),
        (
            Reply::text("Hello, world"),
            "the answer holds 2 words, not one address: 'Hello, world'",
        ),
        (
            Reply::text("not-an-ip"),
            "the answer 'not-an-ip' is not an IP address",
        ),
        (Reply::text(""), "the answer is empty"),
        (
            Reply::text("ip=203.0.113.9\nip=203.0.113.10\n"),
            "the trace answer has more than one ip= line",
        ),
        (
            Reply::text("2001:db8::9"),
            "answered 2001:db8::9, an ipv6 address, when asked for ipv4",
        ),
    ];
    for (reply, reason) in cases {
        let (error, server) = refusal(reply, "/ip/s3cret-token?k=v").await;
        assert_eq!(error, format!("http://{}: {reason}", server.addr()));
        assert!(!error.contains("s3cret"), "{error}");
    }
}

#[tokio::test]
async fn failing_statuses_are_refused() {
    for status in [500, 404, 429, 204] {
        let reply = Reply::text("203.0.113.9").status(status);
        let (error, server) = refusal(reply, "/ip").await;
        if status == 204 {
            // 2xx, but a 204 has no body.
            assert_eq!(
                error,
                format!("http://{}: the answer is empty", server.addr())
            );
        } else {
            assert_eq!(
                error,
                format!("http://{} answered HTTP {status}", server.addr())
            );
        }
    }
}

#[tokio::test]
async fn an_oversized_answer_is_refused_without_reading_it_all() {
    let mebibyte = Reply::text(vec![b'1'; 1 << 20]);
    let (error, server) = refusal(mebibyte, "/ip").await;
    assert_eq!(
        error,
        format!(
            "http://{}: the answer is 1048576 bytes long; an address answer is at most 4096",
            server.addr()
        )
    );

    // No length announced and no end: reading must stop at the limit.
    let started = Instant::now();
    let (error, server) = refusal(Reply::endless(), "/ip").await;
    assert_eq!(
        error,
        format!(
            "http://{}: the answer is longer than 4096 bytes; an address answer is at most that",
            server.addr()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_slow_service_times_out() {
    let server = EchoServer::fixed(Reply::text("203.0.113.9").after(Duration::from_secs(5))).await;
    let detector = HttpDetector::new(
        Url::parse(&server.url("/ip")).unwrap(),
        &clients(Duration::from_millis(300)),
    );
    let started = Instant::now();
    let error = detector.detect(IpFamily::V4).await.unwrap_err().to_string();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(
        error.starts_with(&format!("http://{}: request failed: ", server.addr())),
        "{error}"
    );
    assert!(error.ends_with("no answer within 300 ms"), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_a_request_failure_naming_the_host() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = detector(&format!("http://127.0.0.1:{port}/ip?token=s3cret"))
        .detect(IpFamily::V4)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("http://127.0.0.1:{port}: request failed: ")),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[tokio::test]
async fn each_family_is_asked_over_its_own_sockets() {
    // Answers the address it sees the request come from.
    let server = EchoServer::dual(|seen, _| Reply::text(seen.peer.ip().to_string())).await;
    let port = server.port();
    let mut options = ClientOptions::new(Duration::from_secs(2));
    // One name for both loopback addresses, as a dual-stack service has.
    options.resolve.push((
        "dual.test".to_string(),
        vec![
            format!("127.0.0.1:{port}").parse().unwrap(),
            format!("[::1]:{port}").parse().unwrap(),
        ],
    ));
    let clients = HttpClients::new(&options).unwrap();
    let detector = HttpDetector::new(
        Url::parse(&format!("http://dual.test:{port}/ip")).unwrap(),
        &clients,
    );
    assert!(detector.supports(IpFamily::V4) && detector.supports(IpFamily::V6));
    for _ in 0..3 {
        assert_eq!(detector.detect(IpFamily::V6).await.unwrap(), ip("::1"));
        assert_eq!(
            detector.detect(IpFamily::V4).await.unwrap(),
            ip("127.0.0.1")
        );
    }
    let peers: Vec<bool> = server.seen().iter().map(|s| s.peer.is_ipv6()).collect();
    assert_eq!(peers, [true, false, true, false, true, false]);

    // A name with IPv4 addresses only cannot be asked for IPv6.
    let mut options = ClientOptions::new(Duration::from_secs(2));
    options.resolve.push((
        "v4only.test".to_string(),
        vec![format!("127.0.0.1:{port}").parse().unwrap()],
    ));
    let v4_only = HttpDetector::new(
        Url::parse(&format!("http://v4only.test:{port}/ip")).unwrap(),
        &HttpClients::new(&options).unwrap(),
    );
    let error = v4_only.detect(IpFamily::V6).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("http://v4only.test:{port}: request failed")),
        "{error}"
    );
    assert_eq!(server.seen().len(), 6, "no IPv4 request stood in for IPv6");
}

#[tokio::test]
async fn an_ipv6_literal_is_asked_for_ipv6_only() {
    let server = EchoServer::on(&["::1".parse().unwrap()], |_, _| {
        Reply::text("2001:db8::77")
    })
    .await;
    let detector = detector(&format!("http://[::1]:{}/ip", server.port()));
    assert!(!detector.supports(IpFamily::V4));
    assert_eq!(
        detector.detect(IpFamily::V6).await.unwrap(),
        ip("2001:db8::77")
    );
    let error = detector.detect(IpFamily::V4).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("http://[::1]:{} cannot answer for ipv4", server.port())
    );
}

#[tokio::test]
async fn redirects_never_lead_to_plain_http_elsewhere() {
    // Plain http on loopback to loopback is followed.
    let target = EchoServer::fixed(Reply::text("203.0.113.9")).await;
    let hop = EchoServer::fixed(Reply::redirect(&target.url("/final"))).await;
    assert_eq!(
        detector(&hop.url("/start"))
            .detect(IpFamily::V4)
            .await
            .unwrap(),
        ip("203.0.113.9")
    );
    assert_eq!(target.seen()[0].target, "/final");

    // To a plain-http host that is not loopback: refused before any
    // connection is made (the name does not even resolve).
    let away = EchoServer::fixed(Reply::redirect("http://ip.example.invalid/ip")).await;
    let error = detector(&away.url("/start"))
        .detect(IpFamily::V4)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("refused a redirect to plain http://ip.example.invalid"),
        "{error}"
    );

    // A loop ends.
    let lo = EchoServer::v4(|seen, _| Reply::redirect(&format!("{}x", seen.target))).await;
    let error = detector(&lo.url("/x"))
        .detect(IpFamily::V4)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("more than 3 redirects"), "{error}");
    assert_eq!(lo.seen().len(), 4);
}
