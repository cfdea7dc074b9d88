//! Credentials in URLs (path, query, user part) never reach a log line,
//! an error or a setting, whatever goes wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ddns_core::config::Env;
use ddns_notify::NotifyConfig;
use support::{Driver, Logs, Recorder, Running, until};

const CANARIES: [&str; 6] = [
    "canary-hc-3f9a",
    "canary-kuma-77c1",
    "canary-gotify-a0b2",
    "canary-ntfy-pass-51d0",
    "canary-json-e4e4",
    "ZGRuczpjYW5hcnktbnRmeS1wYXNzLTUxZDA=", // the ntfy user and password, as in a Basic header
];

fn assert_clean(what: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{what} shows {canary}:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn refused_requests_of_every_kind_are_logged_by_origin_only() {
    let (logs, _guard) = Logs::capture();
    let server = Recorder::start();
    server.answer_next(usize::MAX, 404);
    let driver = Driver::new();
    let hc = server.url("/ping/canary-hc-3f9a");
    let kuma = server.url("/api/push/canary-kuma-77c1?status=up&msg=OK&ping=");
    let hooks = format!(
        "{}, {}, {}",
        server.url("/message?token=canary-gotify-a0b2"),
        server
            .url("/ddns")
            .replace("http://", "ntfy://ddns:canary-ntfy-pass-51d0@"),
        server.url("/hooks/canary-json-e4e4"),
    );
    let pairs = [
        ("DDNS_HEALTHCHECK_URL", hc.as_str()),
        ("DDNS_UPTIME_KUMA_URL", kuma.as_str()),
        ("DDNS_NOTIFY_WEBHOOK_URL", hooks.as_str()),
    ];
    let config = NotifyConfig::from_env(&Env::from_pairs(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    ))
    .unwrap()
    .unwrap();
    let settings: String = config
        .settings()
        .iter()
        .map(|s| format!("{}={}\n", s.name, s.value))
        .collect();
    assert_clean("settings", &settings);
    assert_clean("Debug", &format!("{config:?}"));

    let running = Running::start(&pairs, &driver.monitor);
    driver.address("192.0.2.1");
    driver.ready("192.0.2.1");
    driver.address("192.0.2.2");
    driver.fail("HTTP 500");
    // start; success ×2; address change ×3; fail ×2; degraded and
    // update failed ×3 each.
    running.finish(14).await;
    assert_eq!(running.stats.failed(), 14, "a 404 is not retried");
    assert_eq!(server.count(), 14);

    let text = logs.text();
    assert_clean("the logs", &text);
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ping or notification not delivered"))
        .collect();
    assert_eq!(warnings.len(), 14, "{text}");
    for kind in ["healthchecks", "uptime-kuma", "gotify", "ntfy", "json"] {
        assert!(
            warnings
                .iter()
                .any(|l| l.contains(&format!("kind=\"{kind}\""))),
            "{kind}: {text}"
        );
    }
    let destination = format!("destination={}", server.origin());
    assert!(warnings.iter().all(|l| l.contains(&destination)), "{text}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_described_without_the_url() {
    let (logs, _guard) = Logs::capture();
    let driver = Driver::new();
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let kuma = format!("http://{addr}/api/push/canary-kuma-77c1?msg=canary-kuma-77c1");
    let running = Running::start(&[("DDNS_UPTIME_KUMA_URL", &kuma)], &driver.monitor);
    driver.ready("192.0.2.1");
    until("the first attempt", || running.stats.attempts() == 1).await;
    tokio::time::advance(Duration::from_secs(2)).await;
    until("the second attempt", || running.stats.attempts() == 2).await;
    tokio::time::advance(Duration::from_secs(8)).await;
    running.finish(1).await;

    let text = logs.text();
    assert_clean("the logs", &text);
    let warning = text
        .lines()
        .find(|l| l.contains("ping or notification not delivered"))
        .unwrap_or_else(|| panic!("no warning:\n{text}"));
    assert!(warning.contains("error=error sending request"), "{warning}");
    assert!(
        warning.contains(&format!("destination=http://{addr}")),
        "{warning}"
    );
    running.stop().await;
}
