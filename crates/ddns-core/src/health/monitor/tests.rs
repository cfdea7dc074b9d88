use std::net::IpAddr;

use super::*;
use crate::provider::ProviderError;
use crate::record::{DomainName, Record};

fn record() -> Record {
    Record::new(
        "a.example.com".parse::<DomainName>().expect("name"),
        IpFamily::V4,
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

#[tokio::test(start_paused = true)]
async fn failures_are_told_once_per_record_until_it_succeeds() {
    let monitor = HealthMonitor::new(1, 1);
    let mut events = monitor.subscribe();
    let r = record();
    let error = ProviderError::transient("HTTP 500");
    for _ in 0..3 {
        monitor.observe(&EngineEvent::RecordFailed {
            record: &r,
            error: &error,
            retry_in: None,
        });
    }
    monitor.observe(&EngineEvent::RecordWritten {
        record: &r,
        address: ip("192.0.2.1"),
    });
    monitor.observe(&EngineEvent::RecordFailed {
        record: &r,
        error: &error,
        retry_in: None,
    });
    let mut failures = 0;
    let mut written = 0;
    while let Ok(event) = events.try_recv() {
        match event {
            HealthEvent::UpdateFailed { record, error } => {
                assert_eq!(record, "a.example.com A");
                assert_eq!(error, "HTTP 500");
                failures += 1;
            }
            HealthEvent::RecordWritten { .. } => written += 1,
            _ => {}
        }
    }
    assert_eq!((failures, written), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn an_address_change_is_told_with_the_old_address() {
    let monitor = HealthMonitor::new(1, 1);
    let mut events = monitor.subscribe();
    monitor.observe(&EngineEvent::AddressObserved {
        address: ip("192.0.2.1"),
    });
    monitor.observe(&EngineEvent::AddressObserved {
        address: ip("192.0.2.1"),
    });
    monitor.observe(&EngineEvent::AddressObserved {
        address: ip("192.0.2.2"),
    });
    let changes: Vec<HealthEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert_eq!(
        changes,
        vec![
            HealthEvent::AddressChanged {
                family: IpFamily::V4,
                from: None,
                to: ip("192.0.2.1")
            },
            HealthEvent::AddressChanged {
                family: IpFamily::V4,
                from: Some(ip("192.0.2.1")),
                to: ip("192.0.2.2")
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_network_probe_failure_degrades_and_the_snapshot_says_why() {
    let monitor = HealthMonitor::new(1, 1);
    let watch = monitor.watch();
    monitor.observe(&EngineEvent::AddressObserved {
        address: ip("192.0.2.1"),
    });
    let r = record();
    monitor.observe(&EngineEvent::RecordConfirmed {
        record: &r,
        address: ip("192.0.2.1"),
    });
    monitor.observe(&EngineEvent::PassCompleted {
        in_sync: 1,
        pending: 0,
        failed: 0,
        confirmed: 1,
    });
    assert_eq!(watch.borrow().state, Readiness::Ready);
    monitor.network_down("WAN probe 1.1.1.1:443: connection timed out");
    let snapshot = watch.borrow().clone();
    assert_eq!(snapshot.state, Readiness::Degraded);
    assert_eq!(
        snapshot.reason,
        "network down: WAN probe 1.1.1.1:443: connection timed out"
    );
    assert!(snapshot.last_success.is_some());
    let mut state = StateSnapshot::default();
    assert!(
        monitor.contribute(&mut state),
        "changed since the last save"
    );
    assert!(!monitor.contribute(&mut state), "nothing new");
    let health = state.health.expect("contributed");
    assert_eq!(health.state, Some(Readiness::Degraded));
    assert_eq!((health.evaluations, health.ready_evaluations), (1, 1));
}
