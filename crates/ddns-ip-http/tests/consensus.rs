//! Detection end to end: several echo servers on loopback, the core's
//! `DetectingSource` deciding, and the source built from the environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ddns_core::config::Env;
use ddns_core::detect::{DetectingSource, DetectionSettings, Detector, Trigger};
use ddns_core::{IpEvent, IpFamily, IpSource, SourceFactory};
use ddns_ip_http::{ClientOptions, HttpClients, HttpDetector, HttpSourceFactory};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use reqwest::Url;
use support::{EchoServer, Reply};
use tokio::sync::mpsc;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

async fn server_saying(address: &'static str) -> EchoServer {
    EchoServer::fixed(Reply::text(address)).await
}

fn settings() -> DetectionSettings {
    let mut settings = DetectionSettings::new(vec![IpFamily::V4]);
    // Loopback servers answer documentation addresses.
    settings.allow_nonglobal = true;
    settings.timeout = Duration::from_millis(500);
    settings
}

fn source(servers: &[&EchoServer], settings: DetectionSettings) -> DetectingSource {
    let clients = HttpClients::new(&ClientOptions::new(settings.timeout)).unwrap();
    let detectors = servers
        .iter()
        .map(|s| {
            Arc::new(HttpDetector::new(
                Url::parse(&s.url("/ip")).unwrap(),
                &clients,
            )) as Arc<dyn Detector>
        })
        .collect();
    DetectingSource::new("http", detectors, None, settings)
}

#[tokio::test]
async fn two_of_three_agreeing_is_an_event() {
    let a = server_saying("198.51.100.7").await;
    let b = server_saying("198.51.100.7\n").await;
    let c = server_saying("198.51.100.8").await;
    let source = source(&[&a, &b, &c], settings());
    assert_eq!(source.current().await.unwrap().v4, Some(ip("198.51.100.7")));
    let mut events = source.watch();
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .expect("the stream goes on")
        .expect("no error");
    assert_eq!(event, IpEvent::Observed(ip("198.51.100.7")));
    for server in [&a, &b, &c] {
        assert_eq!(
            server.seen().len(),
            2,
            "current() and watch() each asked once"
        );
    }
}

#[tokio::test]
async fn a_split_is_no_event() {
    let a = server_saying("198.51.100.7").await;
    let b = server_saying("198.51.100.8").await;
    let c = server_saying("198.51.100.9").await;
    let source = source(&[&a, &b, &c], settings());
    let error = source.current().await.unwrap_err().to_string();
    assert!(
        error.starts_with("no trusted address (ipv4: sources disagree: "),
        "{error}"
    );
    for (server, address) in [
        (&a, "198.51.100.7"),
        (&b, "198.51.100.8"),
        (&c, "198.51.100.9"),
    ] {
        assert!(
            error.contains(&format!("http://{} says {address}", server.addr())),
            "{error}"
        );
    }
    let mut events = source.watch();
    let next = tokio::time::timeout(Duration::from_secs(1), events.next())
        .await
        .expect("the split is reported")
        .expect("the stream goes on");
    let reported = next.expect_err("a split is no address event").to_string();
    assert!(
        reported.starts_with(
            "no trusted address; nothing is published until enough sources agree (ipv4: sources disagree: "
        ),
        "{reported}"
    );
    let later = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
    assert!(later.is_err(), "nothing else: {later:?}");
    assert!(a.seen().len() >= 2, "watch() asked");
}

#[tokio::test]
async fn a_slow_or_failing_source_does_not_hold_the_others_up() {
    let a = server_saying("198.51.100.7").await;
    let b = server_saying("198.51.100.7").await;
    let slow = EchoServer::fixed(Reply::text("198.51.100.7").after(Duration::from_secs(10))).await;
    let failing = EchoServer::fixed(Reply::text("oops").status(500)).await;
    let source = source(&[&a, &slow, &failing, &b], settings());
    let started = Instant::now();
    let mut events = source.watch();
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    assert_eq!(event, IpEvent::Observed(ip("198.51.100.7")));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_changed_answer_is_seen_at_the_next_poll() {
    let changing = |_: &support::Seen, n: usize| {
        Reply::text(if n < 2 {
            "198.51.100.7"
        } else {
            "198.51.100.99"
        })
    };
    let a = EchoServer::v4(changing).await;
    let b = EchoServer::v4(changing).await;
    let mut settings = settings();
    settings.poll_interval = Duration::from_millis(300);
    let source = source(&[&a, &b], settings);
    let mut events = source.watch();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap()
    };
    assert_eq!(next().await, IpEvent::Observed(ip("198.51.100.7")));
    assert_eq!(next().await, IpEvent::Observed(ip("198.51.100.99")));
    // The second poll gave the first address again: no event for it.
    assert!(a.seen().len() >= 3);
}

/// A trigger fed by the test.
struct ChannelTrigger(Mutex<Option<mpsc::UnboundedReceiver<()>>>);

impl Trigger for ChannelTrigger {
    fn changes(&self) -> BoxStream<'static, ()> {
        match self.0.lock().unwrap().take() {
            Some(mut rx) => futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed(),
            None => futures_util::stream::pending().boxed(),
        }
    }
}

#[tokio::test]
async fn the_source_built_from_the_environment_detects_and_follows_its_trigger() {
    // The first request of each server is the initial round; after that
    // the address "changes".
    let changing = |_: &support::Seen, n: usize| {
        Reply::text(if n == 0 {
            "198.51.100.7"
        } else {
            "198.51.100.42"
        })
    };
    let a = EchoServer::v4(changing).await;
    let b = EchoServer::v4(changing).await;
    let c = EchoServer::fixed(Reply::text("198.51.100.1")).await;
    let urls = format!(
        "{},{},{}",
        a.url("/ip?token=s3cret"),
        b.url("/"),
        c.url("/cdn-cgi/trace")
    );
    let env = Env::from_pairs([
        ("DDNS_IP_SOURCE_URLS", urls.as_str()),
        ("DDNS_IP_ALLOW_NONGLOBAL", "true"),
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "3600"),
        ("DDNS_IP_SOURCE_TIMEOUT_SECS", "2"),
        ("DDNS_IP_SOURCE_TRIGGER", "netlink"),
    ]);
    let (tx, rx) = mpsc::unbounded_channel();
    let trigger = Arc::new(ChannelTrigger(Mutex::new(Some(rx))));
    let factory = HttpSourceFactory::http()
        .with_netlink_trigger(move |_: &[String]| trigger.clone() as Arc<dyn Trigger>);
    let plan = factory.configure(&env, &[IpFamily::V4]).unwrap();
    let shown = format!("{:?}", plan.settings());
    assert!(
        !shown.contains("s3cret") && !shown.contains("/ip"),
        "{shown}"
    );
    let source = plan.build().await.unwrap();
    assert_eq!(source.name(), "http");

    let mut events = source.watch();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the first round")
        .unwrap()
        .unwrap();
    assert_eq!(first, IpEvent::Observed(ip("198.51.100.7")));
    assert_eq!(
        c.seen().len(),
        1,
        "the trace server was asked (and its malformed answer ignored)"
    );

    // The poll interval is an hour: only the trigger can bring the change.
    let sent = Instant::now();
    tx.send(()).unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a round after the trigger")
        .unwrap()
        .unwrap();
    assert_eq!(second, IpEvent::Observed(ip("198.51.100.42")));
    let latency = sent.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert_eq!(a.seen()[0].target, "/ip?token=s3cret");
}
