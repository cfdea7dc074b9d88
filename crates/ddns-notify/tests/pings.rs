//! Health-check pings against a recording server: healthchecks.io-style
//! start, success, fail and heartbeat; Uptime Kuma's push parameters; the
//! success-ping rate limit. The clock is paused: time moves only when a
//! test advances it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Driver, Recorder, Running, settle};

async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn healthchecks_start_success_fail_and_a_heartbeat_only_while_ready() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/ping/canary-uuid");
    let running = Running::start(
        &[
            ("DDNS_HEALTHCHECK_URL", &url),
            ("DDNS_HEALTHCHECK_PERIOD_SECS", "60"),
        ],
        &driver.monitor,
    );
    running.finish(1).await;
    assert_eq!(server.paths(), ["/ping/canary-uuid/start"]);

    advance(600).await;
    settle().await;
    assert_eq!(server.count(), 1, "no heartbeat before Ready");

    driver.ready("192.0.2.1");
    running.finish(2).await;
    assert_eq!(
        server.paths()[1],
        "/ping/canary-uuid",
        "success after convergence"
    );

    advance(59).await;
    settle().await;
    assert_eq!(server.count(), 2, "the period has not passed");
    advance(1).await;
    running.finish(3).await;
    advance(60).await;
    running.finish(4).await;
    assert_eq!(
        server.paths()[2..],
        ["/ping/canary-uuid", "/ping/canary-uuid"]
    );

    driver.fail("HTTP 500");
    running.finish(5).await;
    assert_eq!(server.paths()[4], "/ping/canary-uuid/fail");
    advance(600).await;
    settle().await;
    assert_eq!(server.count(), 5, "no heartbeat while Degraded");

    driver.written("192.0.2.1");
    running.finish(6).await;
    assert_eq!(
        server.paths()[5],
        "/ping/canary-uuid",
        "success once recovered"
    );
    advance(60).await;
    running.finish(7).await;

    for request in server.requests() {
        assert_eq!(request.method, "GET");
        assert!(request.body.is_empty());
        assert!(
            request.header("user-agent").unwrap().starts_with("ddns/"),
            "{request:?}"
        );
    }
    assert_eq!(running.stats.delivered(), 7);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_converged_passes_sends_one_more_ping_after_ten_seconds() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/ping/k");
    let running = Running::start(&[("DDNS_HEALTHCHECK_URL", &url)], &driver.monitor);
    driver.ready("192.0.2.1");
    running.finish(2).await;
    for _ in 0..5 {
        driver.pass();
    }
    settle().await;
    assert_eq!(server.count(), 2, "folded");
    advance(9).await;
    settle().await;
    assert_eq!(server.count(), 2);
    advance(1).await;
    running.finish(3).await;
    settle().await;
    assert_eq!(
        server.paths(),
        ["/ping/k/start", "/ping/k", "/ping/k"],
        "one ping for the burst"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn uptime_kuma_gets_status_and_message_and_no_start() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/api/push/canary-kuma?status=up&msg=OK&ping=");
    let running = Running::start(
        &[
            ("DDNS_UPTIME_KUMA_URL", &url),
            ("DDNS_HEALTHCHECK_PERIOD_SECS", "30"),
        ],
        &driver.monitor,
    );
    settle().await;
    assert_eq!(server.count(), 0, "Uptime Kuma has no start ping");

    driver.ready("192.0.2.1");
    running.finish(1).await;
    advance(30).await;
    running.finish(2).await;
    driver.fail("HTTP 500");
    running.finish(3).await;

    let requests = server.requests();
    let pairs = |i: usize| -> Vec<(String, String)> { requests[i].query_pairs() };
    let expected = |status: &str, msg: &str| -> Vec<(String, String)> {
        vec![
            ("status".into(), status.into()),
            ("msg".into(), msg.into()),
            ("ping".into(), String::new()),
        ]
    };
    for request in &requests {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/api/push/canary-kuma")
        );
    }
    assert_eq!(pairs(0), expected("up", "1 record(s) in sync"));
    assert_eq!(pairs(1), expected("up", "ready"), "the heartbeat");
    assert_eq!(pairs(2), expected("down", "provider failing: HTTP 500"));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn both_services_are_pinged_side_by_side() {
    let server = Recorder::start();
    let driver = Driver::new();
    let hc = server.url("/hc");
    let kuma = server.url("/kuma");
    let running = Running::start(
        &[
            ("DDNS_HEALTHCHECK_URL", &hc),
            ("DDNS_UPTIME_KUMA_URL", &kuma),
        ],
        &driver.monitor,
    );
    driver.ready("192.0.2.1");
    running.finish(3).await;
    assert_eq!(
        server.paths(),
        [
            "/hc/start",
            "/hc",
            "/kuma?status=up&msg=1+record%28s%29+in+sync&ping="
        ]
    );
    running.stop().await;
}
