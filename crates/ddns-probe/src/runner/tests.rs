//! The loop on tokio's paused clock, against a real [`HealthMonitor`],
//! with probes and a recovery request that only count their calls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddns_core::{DomainName, EngineEvent, EngineObserver, IpFamily, ProviderError, Record};
use tokio::task::JoinHandle;

use super::*;
use crate::error::Error;
use crate::testing::Logs;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Calls, as seconds since the test's start.
#[derive(Clone)]
struct Calls {
    start: Instant,
    at: Arc<Mutex<Vec<u64>>>,
}

impl Calls {
    fn new(start: Instant) -> Self {
        Self {
            start,
            at: Arc::default(),
        }
    }

    fn record(&self) {
        let elapsed = Instant::now().duration_since(self.start).as_secs();
        self.at.lock().unwrap().push(elapsed);
    }

    fn times(&self) -> Vec<u64> {
        self.at.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.at.lock().unwrap().len()
    }
}

/// A probe that answers what the test says.
struct FakeProbe {
    up: Arc<AtomicBool>,
    calls: Calls,
}

impl Probe for FakeProbe {
    fn name(&self) -> &'static str {
        "gateway"
    }

    fn target(&self) -> String {
        "fake".to_string()
    }

    fn probe(&self) -> Pending<'_, Result<()>> {
        self.calls.record();
        let up = self.up.load(Ordering::SeqCst);
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err(Error::NoDefaultRoute)
            }
        })
    }
}

struct FakeRecovery {
    calls: Calls,
}

impl Recover for FakeRecovery {
    fn method(&self) -> &'static str {
        "POST"
    }

    fn origin(&self) -> &str {
        "http://plug.test"
    }

    fn send(&self) -> Pending<'_, Result<u16>> {
        self.calls.record();
        Box::pin(async { Ok(200) })
    }
}

const SCHEDULE: Schedule = Schedule {
    interval: Duration::from_secs(30),
    every: None,
};

const RULES: RecoveryRules = RecoveryRules {
    after: Duration::from_secs(600),
    cooldown: Duration::from_secs(1800),
    max_attempts: 3,
};

/// A running loop and what it did.
struct Harness {
    start: Instant,
    up: Arc<AtomicBool>,
    probes: Calls,
    recoveries: Calls,
    /// When the runner said the network is up again.
    network_up: Calls,
    task: JoinHandle<()>,
}

impl Harness {
    fn start(monitor: &Arc<HealthMonitor>, schedule: Schedule, up: bool) -> Self {
        let start = Instant::now();
        let up = Arc::new(AtomicBool::new(up));
        let probes = Calls::new(start);
        let recoveries = Calls::new(start);
        let probe = FakeProbe {
            up: up.clone(),
            calls: probes.clone(),
        };
        let recovery = FakeRecovery {
            calls: recoveries.clone(),
        };
        let network_up = Calls::new(start);
        let told = network_up.clone();
        let runner = Runner::new(
            schedule,
            vec![Box::new(probe)],
            Some((RULES, Box::new(recovery))),
        )
        .on_network_up(Some(Arc::new(move || told.record())));
        let task = tokio::spawn(runner.run(monitor.clone()));
        Self {
            start,
            up,
            probes,
            recoveries,
            network_up,
            task,
        }
    }

    async fn until(&self, seconds: u64) {
        tokio::time::sleep_until(self.start + secs(seconds)).await;
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record() -> Record {
    Record::new(
        "home.example.com".parse::<DomainName>().unwrap(),
        IpFamily::V4,
    )
}

fn address() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

/// A monitor past Starting: an address and a provider answer.
fn working_monitor() -> Arc<HealthMonitor> {
    let monitor = Arc::new(HealthMonitor::new(1, 1));
    let record = record();
    monitor.observe(&EngineEvent::AddressObserved { address: address() });
    monitor.observe(&EngineEvent::RecordConfirmed {
        record: &record,
        address: address(),
    });
    assert_eq!(monitor.state(), Readiness::Probing);
    monitor
}

/// The provider fails: Degraded for a reason that is not the network's.
fn provider_fails(monitor: &HealthMonitor) {
    let record = record();
    let error = ProviderError::permanent("HTTP 403: invalid token");
    monitor.observe(&EngineEvent::RecordFailed {
        record: &record,
        error: &error,
        retry_in: None,
    });
    assert_eq!(monitor.state(), Readiness::Degraded);
}

fn provider_answers(monitor: &HealthMonitor) {
    let record = record();
    monitor.observe(&EngineEvent::RecordConfirmed {
        record: &record,
        address: address(),
    });
}

#[tokio::test(start_paused = true)]
async fn a_provider_failure_alone_never_sends_the_recovery_request() {
    let (logs, _guard) = Logs::capture();
    let monitor = working_monitor();
    provider_fails(&monitor);
    let harness = Harness::start(&monitor, SCHEDULE, true);
    harness.until(10 * 3600 + 1).await;
    // Probes ran all along, every 30 s while degraded, and said the
    // network is fine: the request is never due.
    assert_eq!(harness.probes.count(), 10 * 120 + 1);
    assert_eq!(harness.recoveries.count(), 0);
    let snapshot = monitor.watch().borrow().clone();
    assert_eq!(snapshot.state, Readiness::Degraded);
    assert!(
        snapshot.reason.starts_with("provider failing"),
        "the probes did not take over the reason: {}",
        snapshot.reason
    );
    let text = logs.text();
    assert_eq!(
        text.matches("network is up: the provider/detection is at fault")
            .count(),
        1,
        "said once per degraded period:\n{text}"
    );
    assert!(text.contains("reason=provider failing: HTTP 403: invalid token"));
    assert_eq!(text.matches("network probe succeeded").count(), 1, "{text}");
}

#[tokio::test(start_paused = true)]
async fn one_request_per_cooldown_and_at_most_max_attempts_per_outage() {
    let (logs, _guard) = Logs::capture();
    let monitor = working_monitor();
    provider_fails(&monitor);
    let harness = Harness::start(&monitor, SCHEDULE, false);
    harness.until(5 * 3600 + 1).await;
    assert_eq!(harness.recoveries.times(), vec![600, 2400, 4200]);
    assert_eq!(harness.probes.count(), 5 * 120 + 1);
    let text = logs.text();
    assert_eq!(text.matches("network probe failed").count(), 1, "{text}");
    assert_eq!(
        text.matches("network down for too long: sending the recovery request")
            .count(),
        3
    );
    assert_eq!(text.matches("recovery request accepted").count(), 3);
    assert_eq!(
        text.matches("recovery requests used up for this outage")
            .count(),
        1
    );
    assert!(
        text.contains(
            "network down for too long: sending the recovery request \
             attempt=1 max_attempts=3 down_secs=600 method=\"POST\" url=http://plug.test"
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_good_round_ends_the_outage_and_resets_attempts_but_not_the_cooldown() {
    let (logs, _guard) = Logs::capture();
    let monitor = working_monitor();
    provider_fails(&monitor);
    let harness = Harness::start(&monitor, SCHEDULE, false);
    harness.until(700).await;
    assert_eq!(harness.recoveries.times(), vec![600]);
    harness.set_up(true);
    harness.until(1000).await;
    harness.set_up(false);
    // The new outage began at 1020; `after` allows a request at 1620,
    // the cooldown of the one at 600 only at 2400.
    harness.until(8 * 3600).await;
    assert_eq!(harness.recoveries.times(), vec![600, 2400, 4200, 6000]);
    let text = logs.text();
    assert!(
        text.contains("network is up again: outage ended down_secs=720 recovery_requests=1"),
        "{text}"
    );
    assert_eq!(text.matches("network is up again").count(), 1, "{text}");
    assert!(
        !text.contains("provider/detection is at fault"),
        "the provider is not blamed right after an outage:\n{text}"
    );
    assert_eq!(text.matches("network probe failed").count(), 2, "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_probe_marks_the_network_down() {
    let monitor = working_monitor();
    let harness = Harness::start(
        &monitor,
        Schedule {
            every: Some(secs(3600)),
            ..SCHEDULE
        },
        false,
    );
    harness.until(1).await;
    assert_eq!(
        harness.probes.times(),
        vec![0],
        "the slow interval starts at once"
    );
    let snapshot = monitor.watch().borrow().clone();
    assert_eq!(snapshot.state, Readiness::Degraded);
    assert_eq!(
        snapshot.reason,
        "network down: gateway: no default route (neither IPv4 nor IPv6)"
    );
    harness.until(100).await;
    assert_eq!(harness.probes.times(), vec![0, 30, 60, 90]);
    harness.set_up(true);
    harness.until(125).await;
    // The provider answers again: no longer degraded, no outage, so back
    // to the slow interval, counted from the last round (at 120).
    provider_answers(&monitor);
    assert_eq!(monitor.state(), Readiness::Recovering);
    harness.until(3600 + 119).await;
    assert_eq!(harness.probes.times(), vec![0, 30, 60, 90, 120]);
    harness.until(3600 + 121).await;
    assert_eq!(harness.probes.times(), vec![0, 30, 60, 90, 120, 3720]);
}

#[tokio::test(start_paused = true)]
async fn a_healthy_daemon_is_never_probed_without_a_slow_interval() {
    let monitor = working_monitor();
    let harness = Harness::start(&monitor, SCHEDULE, true);
    harness.until(24 * 3600).await;
    assert_eq!(harness.probes.count(), 0);
    // Degraded: probes start at once, without waiting for a poll.
    provider_fails(&monitor);
    harness.until(24 * 3600 + 1).await;
    assert_eq!(harness.probes.times(), vec![24 * 3600]);
    provider_answers(&monitor);
    harness.until(48 * 3600).await;
    assert_eq!(harness.probes.count(), 1, "stopped with the degradation");
}

#[tokio::test(start_paused = true)]
async fn an_outage_that_began_before_any_degradation_is_followed() {
    // Starting: the monitor cannot degrade, but the slow interval found
    // the network down; the outage is followed and recovered from.
    let monitor = Arc::new(HealthMonitor::new(1, 1));
    let harness = Harness::start(
        &monitor,
        Schedule {
            every: Some(secs(3600)),
            ..SCHEDULE
        },
        false,
    );
    harness.until(700).await;
    assert_eq!(monitor.state(), Readiness::Starting);
    assert_eq!(harness.probes.count(), 24);
    assert_eq!(harness.recoveries.times(), vec![600]);
}

#[test]
fn the_loop_can_be_spawned() {
    fn is_send<T: Send>(_: &T) {}
    let config = ProbeConfig::from_env(&ddns_core::config::Env::from_pairs([(
        "DDNS_PROBE_GATEWAY",
        "true",
    )]))
    .unwrap()
    .unwrap();
    let future = run(config, Arc::new(HealthMonitor::new(1, 1)), None);
    is_send(&future);
}

/// Regression: after an outage the daemon stayed Degraded until an event
/// or the hourly re-check, as nothing asked the engine to confirm the
/// records again. A good round after a failed one now does, once.
#[tokio::test(start_paused = true)]
async fn a_good_round_after_a_failed_one_asks_for_confirmation_once() {
    let monitor = working_monitor();
    let schedule = Schedule {
        every: Some(secs(60)),
        ..SCHEDULE
    };
    let harness = Harness::start(&monitor, schedule, true);
    harness.until(100).await;
    assert_eq!(harness.probes.times(), vec![0, 60]);
    assert_eq!(harness.network_up.times(), Vec::<u64>::new(), "never down");
    harness.set_up(false);
    harness.until(200).await;
    assert_eq!(monitor.state(), Readiness::Degraded);
    assert_eq!(harness.network_up.times(), Vec::<u64>::new());
    harness.set_up(true);
    harness.until(400).await;
    let up: Vec<u64> = harness.network_up.times();
    assert_eq!(up.len(), 1, "{up:?}");
    let first_good = harness
        .probes
        .times()
        .into_iter()
        .find(|t| *t > 200)
        .unwrap();
    assert_eq!(up, vec![first_good], "at the first good round");
    harness.set_up(false);
    harness.until(500).await;
    harness.set_up(true);
    harness.until(700).await;
    assert_eq!(harness.network_up.times().len(), 2);
}
