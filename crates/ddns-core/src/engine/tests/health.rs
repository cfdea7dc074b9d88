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

/// Provider calls per operation, for counting what a pass really did.
fn count(provider: &FakeProvider, op: super::fake::Op) -> usize {
    provider.calls().iter().filter(|c| c.op == op).count()
}

async fn start_records(
    provider: Arc<FakeProvider>,
    names: &[&str],
) -> (Harness, Arc<HealthMonitor>) {
    let records: Vec<_> = names.iter().map(|n| record(n, V4)).collect();
    let mut s = settings(records);
    s.startup_confirmations = 2;
    s.startup_spacing = Duration::from_secs(10);
    s.min_update_interval = Duration::ZERO;
    let monitor = Arc::new(HealthMonitor::new(names.len(), 2));
    let engine = DdnsEngine::new(
        s,
        provider,
        Arc::new(MemoryStateStore::default()) as Arc<dyn StateStore>,
    )
    .with_observer(monitor.clone());
    (Harness::start_engine(engine).await, monitor)
}

/// Regression (benchmark: `to=ready` about 10 s early in 36 of 60 runs):
/// an address event that arrived while the engine was still starting left
/// the intake's wake-up stored; the engine then made a second pass at once
/// that sent nothing to the provider, and it was counted as the second
/// confirmation.
#[tokio::test(start_paused = true)]
async fn regression_an_address_during_start_up_does_not_make_ready_early() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    provider.set_check_delay(Duration::from_secs(1));
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    // The engine is still checking the credentials.
    h.send(crate::source::IpEvent::Observed(super::fake::ip(
        "192.0.2.1",
    )));
    sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&provider, super::fake::Op::Read), 1);
    assert_eq!(
        monitor.state(),
        Readiness::Probing,
        "one pass confirmed the record with the provider, not two"
    );
    sleep(Duration::from_secs(8)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Probing,
        "9 s after the first pass"
    );
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Ready,
        "the second read, 10 s after the first"
    );
    let reads: Vec<_> = provider
        .calls()
        .iter()
        .filter(|c| c.op == super::fake::Op::Read)
        .map(|c| c.at)
        .collect();
    assert_eq!(reads.len(), 2, "one read per confirming pass");
    assert_eq!(reads[1] - reads[0], Duration::from_secs(10));
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_pass_that_asks_the_provider_nothing_is_not_a_confirmation() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    h.observe("192.0.2.1").await;
    assert_eq!(monitor.state(), Readiness::Probing);
    // An IPv6 address, and no AAAA record: a pass that sends nothing.
    h.observe("2001:db8::1").await;
    assert_eq!(provider.calls().len(), 1);
    assert_eq!(
        monitor.state(),
        Readiness::Probing,
        "{:?}",
        provider.calls()
    );
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    assert_eq!(count(&provider, super::fake::Op::Read), 2);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_the_engine_confirms_again_by_itself_then_goes_quiet() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    provider.publish("b.example.com/A", &["192.0.2.1"]);
    let (h, monitor) = start_records(provider.clone(), &["a.example.com", "b.example.com"]).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    let before = provider.calls().len();
    assert_eq!(before, 4, "two passes reading both records");

    provider.fail_next_for(A, || ProviderError::transient("HTTP 502"));
    h.observe("192.0.2.2").await;
    assert_eq!(monitor.state(), Readiness::Degraded);
    // The retry (2 s, jittered) writes a.example.com only: the pass
    // confirms one record of two.
    sleep(Duration::from_secs(3)).await;
    assert_eq!(monitor.state(), Readiness::Recovering);
    let recovered = provider.calls().len();
    assert_eq!(recovered, before + 3, "{:?}", provider.calls());
    sleep(Duration::from_secs(11)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Recovering,
        "one confirming pass of two"
    );
    sleep(Duration::from_secs(10)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Ready,
        "no hourly re-check needed"
    );
    let reads_after: Vec<_> = provider.calls()[recovered..]
        .iter()
        .map(|c| (c.op, c.key.clone()))
        .collect();
    assert_eq!(
        reads_after,
        vec![
            (super::fake::Op::Read, A.to_string()),
            (super::fake::Op::Read, "b.example.com/A".to_string()),
            (super::fake::Op::Read, A.to_string()),
            (super::fake::Op::Read, "b.example.com/A".to_string()),
        ],
        "two passes reading every record"
    );
    let quiet = provider.calls().len();
    sleep(Duration::from_secs(86_400)).await;
    assert_eq!(provider.calls().len(), quiet, "no timer once Ready");
    assert_eq!(monitor.state(), Readiness::Ready);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_cannot_read_is_asked_in_every_confirming_pass() {
    let provider = FakeProvider::new(false);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    h.observe("192.0.2.1").await;
    assert_eq!(monitor.state(), Readiness::Probing);
    assert_eq!(provider.writes().len(), 1);
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    assert_eq!(count(&provider, super::fake::Op::Read), 2);
    assert_eq!(provider.writes().len(), 1, "the state store vouches for it");
    h.stop().await.expect("clean stop");
}

/// Reads of the provider so far.
fn reads(provider: &FakeProvider) -> usize {
    provider
        .calls()
        .iter()
        .filter(|c| c.op == super::fake::Op::Read)
        .count()
}

/// Regression: a source failure made the daemon Degraded, and nothing but
/// an address change or the hourly re-check brought it back once the
/// source worked again.
#[tokio::test(start_paused = true)]
async fn a_source_that_works_again_brings_readiness_back() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    assert_eq!(reads(&provider), 2);

    h.source_fails("no trusted address").await;
    assert_eq!(monitor.state(), Readiness::Degraded);
    sleep(Duration::from_secs(600)).await;
    assert_eq!(
        monitor.state(),
        Readiness::Degraded,
        "nothing tells that the source works"
    );
    assert_eq!(reads(&provider), 2, "no pass while the source fails");

    // The same address again, from a source that had failed.
    h.observe("192.0.2.1").await;
    assert_eq!(monitor.state(), Readiness::Recovering, "confirmed at once");
    assert_eq!(reads(&provider), 3);
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    assert_eq!(reads(&provider), 4, "two confirming passes");
    assert!(provider.writes().is_empty());
    let quiet = provider.calls().len();
    sleep(Duration::from_secs(86_400)).await;
    assert_eq!(provider.calls().len(), quiet, "no timer once Ready");
    h.stop().await.expect("clean stop");
}

/// A failure the engine does not see (a network probe's) ends with a
/// request through the handle: the engine confirms every record again.
#[tokio::test(start_paused = true)]
async fn a_reconfirm_request_confirms_every_record_again() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let (h, monitor) = start(provider.clone(), Arc::new(MemoryStateStore::default())).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);

    monitor.network_down("gateway 192.0.2.254 does not answer");
    assert_eq!(monitor.state(), Readiness::Degraded);
    sleep(Duration::from_secs(600)).await;
    assert_eq!(monitor.state(), Readiness::Degraded);
    assert_eq!(reads(&provider), 2);

    let handle = h.engine.reconfirm_handle();
    handle.request();
    handle.request();
    tokio::task::yield_now().await;
    sleep(Duration::from_millis(10)).await;
    assert_eq!(monitor.state(), Readiness::Recovering);
    assert_eq!(reads(&provider), 3, "two requests make one pass");
    sleep(Duration::from_secs(11)).await;
    assert_eq!(monitor.state(), Readiness::Ready);
    assert_eq!(reads(&provider), 4);
    h.stop().await.expect("clean stop");
}
