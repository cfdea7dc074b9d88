//! The health monitor over a running engine, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::sleep;

use super::fake::{FakeProvider, Harness, record, settings};
use crate::engine::DdnsEngine;
use crate::health::{HealthEvent, HealthMonitor, Readiness};
use crate::provider::ProviderError;
use crate::record::IpFamily::V4;
use crate::state::{MemoryStateStore, StateStore};

const A: &str = "a.example.com/A";

async fn start(
    provider: Arc<FakeProvider>,
    store: Arc<MemoryStateStore>,
) -> (Harness, Arc<HealthMonitor>) {
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.startup_confirmations = 2;
    s.startup_spacing = Duration::from_secs(10);
    s.min_update_interval = Duration::ZERO;
    let monitor = Arc::new(HealthMonitor::new(1, 2));
    let engine = DdnsEngine::new(s, provider, store as Arc<dyn StateStore>)
        .with_observer(monitor.clone())
        .with_state_contributor(monitor.clone());
    (Harness::start_engine(engine).await, monitor)
}

#[tokio::test(start_paused = true)]
async fn ready_after_the_engine_confirms_twice_at_start() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    let mut events = monitor.subscribe();
    assert_eq!(monitor.state(), Readiness::Starting);
    h.observe("192.0.2.1").await;
    assert_eq!(
        monitor.state(),
        Readiness::Probing,
        "one confirmation of two"
    );
    sleep(Duration::from_secs(11)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Ready,
        "the engine read the record again by itself"
    );
    let reads = provider
        .calls()
        .iter()
        .filter(|c| c.op == super::fake::Op::Read)
        .count();
    assert_eq!(reads, 2, "one read per confirming pass");
    assert!(provider.writes().is_empty());
    let mut transitions = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let HealthEvent::Transition(t) = event {
            transitions.push((t.from, t.to));
        }
    }
    assert_eq!(
        transitions,
        vec![
            (Readiness::Starting, Readiness::Probing),
            (Readiness::Probing, Readiness::Ready)
        ]
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_failing_provider_degrades_and_its_return_makes_ready_again() {
    let provider = FakeProvider::new(true);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    let mut events = monitor.subscribe();
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    provider.fail_next_for(A, || ProviderError::transient("HTTP 502"));
    h.observe("192.0.2.2").await;
    assert_eq!(monitor.state(), Readiness::Degraded);
    assert!(monitor.watch().borrow().reason.contains("HTTP 502"));
    sleep(Duration::from_secs(10)).await;
    assert_eq!(provider.published(A), vec![super::fake::ip("192.0.2.2")]);
    assert_eq!(monitor.state(), Readiness::Recovering);
    h.observe("192.0.2.2").await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    assert!(
        seen.iter().any(|e| matches!(e, HealthEvent::UpdateFailed { record, error } if record == "a.example.com A" && error.contains("HTTP 502"))),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(
            |e| matches!(e, HealthEvent::AddressChanged { to, .. } if to.to_string() == "192.0.2.2")
        ),
        "{seen:?}"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn uptime_survives_a_restart() {
    let store = Arc::new(MemoryStateStore::default());
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let (h, _monitor) = start(provider.clone(), store.clone()).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(100)).await;
    h.stop().await.expect("clean stop");
    let saved = store.load().await.expect("load").health.expect("saved");
    assert_eq!(saved.running_secs, 100, "{saved:?}");
    assert_eq!(saved.ready_secs, 90, "Ready 10 s after start: {saved:?}");
    assert_eq!(
        (saved.evaluations, saved.ready_evaluations),
        (3, 1),
        "the pass at start (no address yet) and two confirming passes"
    );
    assert_eq!(saved.state, Some(Readiness::Ready));

    let (h, monitor) = start(provider, store.clone()).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(50)).await;
    h.stop().await.expect("clean stop");
    let saved = store.load().await.expect("load").health.expect("saved");
    assert_eq!(saved.running_secs, 150, "{saved:?}");
    assert_eq!(saved.ready_secs, 130, "{saved:?}");
    assert_eq!((saved.evaluations, saved.ready_evaluations), (6, 2));
    let live = monitor.uptime_now();
    assert_eq!(live.running_secs, 150, "{live:?}");
    assert_eq!(
        monitor.watch().borrow().uptime.running_secs,
        110,
        "the snapshot is as of the last event (the confirming pass at 10 s)"
    );
}

/// Notes the breaker's changes.
#[derive(Default)]
struct BreakerLog(std::sync::Mutex<Vec<bool>>);

impl crate::observer::EngineObserver for BreakerLog {
    fn observe(&self, event: &crate::observer::EngineEvent<'_>) {
        if let crate::observer::EngineEvent::BreakerChanged { open } = event {
            self.0.lock().expect("lock").push(*open);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opening_and_closing_is_reported() {
    let provider = FakeProvider::new(true);
    for _ in 0..5 {
        provider.fail_next(super::fake::Op::Write, false, || {
            ProviderError::transient("503")
        });
    }
    let records = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| record(&format!("{n}.example.com"), V4))
        .collect();
    let log = Arc::new(BreakerLog::default());
    let engine = DdnsEngine::new(
        settings(records),
        provider.clone(),
        Arc::new(MemoryStateStore::default()) as Arc<dyn StateStore>,
    )
    .with_observer(log.clone());
    let h = Harness::start_engine(engine).await;
    h.observe("192.0.2.1").await;
    assert_eq!(
        *log.0.lock().expect("lock"),
        vec![true],
        "opened after five failures"
    );
    sleep(Duration::from_secs(65)).await;
    assert_eq!(
        *log.0.lock().expect("lock"),
        vec![true, false],
        "closed by the probe's success"
    );
    h.stop().await.expect("clean stop");
}
