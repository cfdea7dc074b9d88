//! Delivery: bounded retries with back-off, a dead receiver that never
//! holds up the events, and shutdown. The clock is paused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Driver, Logs, Recorder, Running, settle, until};

async fn advance(duration: Duration) {
    tokio::time::advance(duration).await;
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_after_two_then_eight_seconds() {
    let server = Recorder::start();
    server.fail_next(2);
    let driver = Driver::new();
    let url = server.url("/ping/k");
    let running = Running::start(&[("DDNS_HEALTHCHECK_URL", &url)], &driver.monitor);
    until("the first attempt", || running.stats.attempts() == 1).await;

    advance(Duration::from_millis(1999)).await;
    settle().await;
    assert_eq!(server.count(), 1, "the back-off has not passed");
    advance(Duration::from_millis(1)).await;
    until("the second attempt", || running.stats.attempts() == 2).await;

    advance(Duration::from_secs(7)).await;
    settle().await;
    assert_eq!(server.count(), 2);
    advance(Duration::from_secs(1)).await;
    running.finish(1).await;

    assert_eq!(running.stats.attempts(), 3);
    assert_eq!(running.stats.delivered(), 1);
    assert_eq!(server.paths(), ["/ping/k/start"; 3]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn attempts_are_bounded_and_the_give_up_is_logged_by_origin() {
    let (logs, _guard) = Logs::capture();
    let server = Recorder::start();
    server.fail_next(1000);
    let driver = Driver::new();
    let url = server.url("/ping/canary-hc-uuid");
    let running = Running::start(&[("DDNS_HEALTHCHECK_URL", &url)], &driver.monitor);
    until("the first attempt", || running.stats.attempts() == 1).await;
    advance(Duration::from_secs(2)).await;
    until("the second attempt", || running.stats.attempts() == 2).await;
    advance(Duration::from_secs(8)).await;
    running.finish(1).await;
    advance(Duration::from_secs(3600)).await;
    settle().await;

    assert_eq!(server.count(), 3, "three attempts, no more");
    assert_eq!((running.stats.failed(), running.stats.delivered()), (1, 0));
    let text = logs.text();
    let warning = text
        .lines()
        .find(|l| l.contains("ping or notification not delivered"))
        .unwrap_or_else(|| panic!("no warning in:\n{text}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&format!("destination={}", server.origin())),
        "{warning}"
    );
    assert!(warning.contains("kind=\"healthchecks\""), "{warning}");
    assert!(warning.contains("event=\"start\""), "{warning}");
    assert!(warning.contains("attempts=3"), "{warning}");
    assert!(warning.contains("error=answered HTTP 500"), "{warning}");
    assert!(!text.contains("canary"), "{text}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refusal_that_retrying_cannot_fix_gets_one_attempt() {
    let server = Recorder::start();
    server.answer_next(1, 404);
    let driver = Driver::new();
    let url = server.url("/ping/deleted-check");
    let running = Running::start(&[("DDNS_HEALTHCHECK_URL", &url)], &driver.monitor);
    running.finish(1).await;
    advance(Duration::from_secs(60)).await;
    settle().await;
    assert_eq!(server.count(), 1);
    assert_eq!((running.stats.attempts(), running.stats.failed()), (1, 1));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_then_given_up() {
    let driver = Driver::new();
    // Nothing listens on the URL's port any more.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/hc")
    };
    let running = Running::start(&[("DDNS_HEALTHCHECK_URL", &refused)], &driver.monitor);
    until("the first attempt", || running.stats.attempts() == 1).await;
    advance(Duration::from_secs(2)).await;
    until("the second attempt", || running.stats.attempts() == 2).await;
    advance(Duration::from_secs(8)).await;
    running.finish(1).await;
    assert_eq!((running.stats.attempts(), running.stats.failed()), (3, 1));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_dead_receiver_fills_the_queue_and_the_oldest_are_dropped() {
    let (logs, _guard) = Logs::capture();
    let server = Recorder::start();
    server.hang();
    let driver = Driver::new();
    let url = server.url("/hooks/canary-dead");
    let running = Running::start(
        &[
            ("DDNS_NOTIFY_WEBHOOK_URL", &url),
            ("DDNS_NOTIFY_TIMEOUT_SECS", "5"),
        ],
        &driver.monitor,
    );
    driver.address("192.0.2.1");
    // The observer side is synchronous and only publishes: 100 changes go
    // through at once whatever the receiver does.
    for i in 0..100 {
        driver.address(&format!("198.51.100.{i}"));
    }
    until(
        "one request in flight and the rest queued or dropped",
        || server.count() == 1 && running.stats.dropped() + running.stats.queued() == 99,
    )
    .await;
    assert!(running.stats.queued() <= 64, "{}", running.stats.queued());
    assert!(running.stats.dropped() >= 35, "{}", running.stats.dropped());
    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|l| l.contains("notification queue full; dropped the oldest request"))
        .count() as u64;
    assert_eq!(warnings, running.stats.dropped());
    assert!(!text.contains("canary"), "{text}");

    // The engine goes on: more events are taken while the receiver hangs.
    // Still Starting: the failure is told, without a transition.
    driver.fail("HTTP 500");
    until("the new notice queued", || {
        running.stats.dropped() + running.stats.queued() == 100
    })
    .await;
    assert_eq!(server.count(), 1, "still the one request in flight");

    // Shutdown is bounded: the stuck request times out, the rest get one
    // timeout in all, and what is left is dropped.
    let stats = running.stats.clone();
    running.stop_after(Duration::from_secs(5)).await;
    assert_eq!(stats.queued(), 0);
    assert!(stats.delivered() == 0 && stats.dropped() >= 90, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_what_is_queued() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/hooks/x");
    let running = Running::start(&[("DDNS_NOTIFY_WEBHOOK_URL", &url)], &driver.monitor);
    settle().await;
    driver.address("192.0.2.1");
    driver.address("192.0.2.2");
    let stats = running.stats.clone();
    running.stop().await;
    assert_eq!(server.count(), 1);
    assert_eq!(stats.delivered(), 1);
}
