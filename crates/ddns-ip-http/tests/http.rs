//! The HTTP detector against echo servers on loopback: what it sends, what
//! it accepts and what it refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use ddns_core::IpFamily;
use ddns_core::detect::Detector;
use ddns_ip_http::{ClientOptions, HttpClients, HttpDetector, LocalIpv6, LocalIpv6Lookup};
use ddns_testkit::{HttpEcho, TestCa};
use futures_util::FutureExt;
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

/// An https echo on 127.0.0.1 (python3's `http.server` in `ssl`), its
/// certificate signed by a test CA.
fn https_echo(test: &str) -> Option<(TestCa, HttpEcho)> {
    let ca = TestCa::create(test)?;
    let certificate = ca.issue(&["127.0.0.1"]);
    let echo = HttpEcho::on(ip("127.0.0.1"))
        .tls(&certificate)
        .start(test)?;
    Some((ca, echo))
}

fn clients_trusting(ca: Option<&TestCa>) -> HttpClients {
    let mut options = ClientOptions::new(Duration::from_secs(5));
    options.extra_roots_pem = ca.map(|ca| std::fs::read(ca.ca_file()).unwrap());
    HttpClients::new(&options).unwrap()
}

#[tokio::test]
async fn an_https_service_signed_by_the_extra_ca_is_asked() {
    let Some((ca, echo)) = https_echo("an_https_service_signed_by_the_extra_ca_is_asked") else {
        return;
    };
    let url = Url::parse(&echo.url("/ip")).unwrap();
    assert_eq!(url.scheme(), "https");
    let clients = clients_trusting(Some(&ca));
    assert!(clients.root_certificates() >= 1);
    let detector = HttpDetector::new(url, &clients);
    assert_eq!(
        detector.detect(IpFamily::V4).await.unwrap(),
        ip("127.0.0.1"),
        "the echo answers the address it saw"
    );
    assert_eq!(echo.hits().len(), 1);
}

#[tokio::test]
async fn without_the_ca_the_certificate_problem_is_named() {
    let Some((_ca, echo)) = https_echo("without_the_ca_the_certificate_problem_is_named") else {
        return;
    };
    let detector = HttpDetector::new(
        Url::parse(&echo.url("/ip?token=s3cret")).unwrap(),
        &clients_trusting(None),
    );
    let error = detector.detect(IpFamily::V4).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "https://127.0.0.1:{}: request failed: ",
            echo.port()
        )),
        "{error}"
    );
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "the rustls reason is kept: {error}"
    );
    assert!(
        error.ends_with("(no trusted authority signed the service's certificate; for a private CA, name its certificate in DDNS_IP_SOURCE_CA_FILE)"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
    assert!(echo.hits().is_empty(), "no request got through");
}

#[tokio::test]
async fn an_https_redirect_to_plain_http_is_refused_even_to_loopback() {
    let test = "an_https_redirect_to_plain_http_is_refused_even_to_loopback";
    let Some((ca, echo)) = https_echo(test) else {
        return;
    };
    let Some(plain) = HttpEcho::on(ip("127.0.0.1")).start(test) else {
        return;
    };
    let clients = clients_trusting(Some(&ca));
    let target = plain.url("/ip");
    let detector = HttpDetector::new(
        Url::parse(&echo.url(&format!("/redirect?to={target}"))).unwrap(),
        &clients,
    );
    let error = detector.detect(IpFamily::V4).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "https://127.0.0.1:{}: request failed: ",
            echo.port()
        )),
        "{error}"
    );
    assert!(
        error.contains("refused a redirect to plain http://127.0.0.1"),
        "{error}"
    );
    assert_eq!(echo.hits().len(), 1, "the redirect was asked");
    assert!(plain.hits().is_empty(), "the plain-http target never was");
    // The same target asked directly is fine: only the downgrade is refused.
    let direct = HttpDetector::new(Url::parse(&target).unwrap(), &clients);
    assert_eq!(direct.detect(IpFamily::V4).await.unwrap(), ip("127.0.0.1"));
}

/// A lookup of the host's IPv6 addresses that answers what the test set.
fn local_ipv6(stable: &[&str], temporary: &[&str]) -> LocalIpv6Lookup {
    let parse =
        |list: &[&str]| -> Vec<Ipv6Addr> { list.iter().map(|a| a.parse().unwrap()).collect() };
    let found = LocalIpv6::new(parse(stable), parse(temporary));
    LocalIpv6Lookup::new(Vec::new(), move |_: &[String]| {
        let found = found.clone();
        async move { Ok(found) }.boxed()
    })
}

#[tokio::test]
async fn ipv6_requests_leave_from_the_stable_address_and_a_temporary_answer_is_refused() {
    let server = EchoServer::on(&["::1".parse().unwrap()], |seen, _| {
        Reply::text(seen.peer.ip().to_string())
    })
    .await;
    let url = Url::parse(&format!("http://[::1]:{}/ip", server.port())).unwrap();

    // Bound to the stable address the lookup names (here ::1, the only
    // address a test without a namespace can bind).
    let mut options = ClientOptions::new(Duration::from_secs(2));
    options.local_ipv6 = Some(local_ipv6(&["::1"], &[]));
    let detector = HttpDetector::new(url.clone(), &HttpClients::new(&options).unwrap());
    assert_eq!(detector.detect(IpFamily::V6).await.unwrap(), ip("::1"));
    assert_eq!(detector.detect(IpFamily::V6).await.unwrap(), ip("::1"));

    // The lookup says ::1 is a temporary address: the kernel's choice
    // answered it, and it is refused.
    let mut options = ClientOptions::new(Duration::from_secs(2));
    options.local_ipv6 = Some(local_ipv6(&[], &["::1"]));
    let detector = HttpDetector::new(url, &HttpClients::new(&options).unwrap());
    let error = detector.detect(IpFamily::V6).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "http://[::1]:{}: answered ::1, a temporary (privacy) address of this host, which is never published",
            server.port()
        )
    );
    assert_eq!(server.seen().len(), 3);
}
