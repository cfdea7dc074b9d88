#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::endpoint::{Endpoint, Format};
use crate::ping::Service;
use crate::queue::{NotifyStats, Queue};

fn dispatcher(pings: bool, hooks: bool) -> Dispatcher {
    let pings = if pings {
        vec![PingTarget {
            service: Service::Healthchecks,
            endpoint: Endpoint::parse("U", "https://hc.example/k", false).unwrap(),
        }]
    } else {
        Vec::new()
    };
    let webhooks = if hooks {
        vec![
            Webhook::parse(
                "W",
                "F",
                "https://hooks.example/x",
                Some(Format::Json),
                false,
            )
            .unwrap(),
        ]
    } else {
        Vec::new()
    };
    Dispatcher::new(
        pings,
        webhooks,
        Duration::from_secs(60),
        None,
        Readiness::Starting,
    )
}

fn transition(from: Readiness, to: Readiness) -> HealthEvent {
    HealthEvent::Transition(Transition {
        from,
        to,
        reason: "because".into(),
    })
}

/// The events of what the queue holds, emptying it.
async fn drain(queue: &Queue) -> Vec<(&'static str, &'static str)> {
    queue.close();
    let mut out = Vec::new();
    while let Some(d) = queue.pop().await {
        out.push((d.kind, d.event));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn success_pings_are_folded_within_the_gap() {
    let queue = Queue::new(64, NotifyStats::default());
    let mut d = dispatcher(true, false);
    let t0 = Instant::now();
    d.start(&queue, t0);
    d.on_event(transition(Readiness::Probing, Readiness::Ready), &queue, t0);
    for i in 0..5 {
        d.on_event(
            HealthEvent::Converged { records: 1 },
            &queue,
            t0 + Duration::from_secs(i),
        );
    }
    assert_eq!(d.next_wake(), Some(t0 + MIN_SUCCESS_GAP));
    d.tick(&queue, t0 + MIN_SUCCESS_GAP);
    assert_eq!(
        d.next_wake(),
        Some(t0 + MIN_SUCCESS_GAP + Duration::from_secs(60)),
        "the heartbeat follows the last ping"
    );
    assert_eq!(
        drain(&queue).await,
        vec![
            ("healthchecks", "start"),
            ("healthchecks", "success"),
            ("healthchecks", "success")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_held_back_success_is_dropped_by_a_failure() {
    let queue = Queue::new(64, NotifyStats::default());
    let mut d = dispatcher(true, true);
    let t0 = Instant::now();
    d.on_event(transition(Readiness::Probing, Readiness::Ready), &queue, t0);
    d.on_event(HealthEvent::Converged { records: 1 }, &queue, t0);
    d.on_event(HealthEvent::Converged { records: 1 }, &queue, t0);
    d.on_event(
        transition(Readiness::Ready, Readiness::Degraded),
        &queue,
        t0,
    );
    assert_eq!(d.next_wake(), None, "no timer while degraded");
    d.on_event(
        transition(Readiness::Degraded, Readiness::Recovering),
        &queue,
        t0,
    );
    d.on_event(
        transition(Readiness::Recovering, Readiness::Ready),
        &queue,
        t0,
    );
    assert_eq!(
        drain(&queue).await,
        vec![
            ("healthchecks", "success"),
            ("healthchecks", "fail"),
            ("json", "degraded"),
            ("json", "recovered"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn without_ping_urls_there_is_never_a_timer() {
    let queue = Queue::new(64, NotifyStats::default());
    let mut d = dispatcher(false, true);
    let t0 = Instant::now();
    d.start(&queue, t0);
    d.on_event(transition(Readiness::Probing, Readiness::Ready), &queue, t0);
    d.on_event(HealthEvent::Converged { records: 1 }, &queue, t0);
    assert_eq!(d.next_wake(), None);
    d.on_event(
        HealthEvent::AddressChanged {
            family: ddns_core::IpFamily::V4,
            from: None,
            to: "192.0.2.1".parse().unwrap(),
        },
        &queue,
        t0,
    );
    assert!(
        drain(&queue).await.is_empty(),
        "the first address is not a change"
    );
}
