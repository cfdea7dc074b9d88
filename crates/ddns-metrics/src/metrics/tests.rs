use std::time::Duration;

use ddns_core::health::Readiness;
use ddns_core::{DomainName, ProviderError};

use super::*;

fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse::<DomainName>().expect("name"), family)
}

/// The sample lines of `text`, sorted (series order within a family is
/// not fixed).
fn samples(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[tokio::test(start_paused = true)]
async fn every_event_lands_in_its_series() {
    let a = record("home.example.com", IpFamily::V4);
    let aaaa = record("home.example.com", IpFamily::V6);
    let monitor = Arc::new(HealthMonitor::new(2, 1));
    let metrics = Metrics::new(&[a.clone(), aaaa.clone()], Arc::clone(&monitor));
    let events = [
        EngineEvent::AddressObserved {
            address: "192.0.2.1".parse().expect("ip"),
        },
        EngineEvent::AddressObserved {
            address: "2001:db8::1".parse().expect("ip"),
        },
        EngineEvent::RecordWritten {
            record: &a,
            address: "192.0.2.1".parse().expect("ip"),
        },
        EngineEvent::RecordConfirmed {
            record: &aaaa,
            address: "2001:db8::1".parse().expect("ip"),
        },
        EngineEvent::AddressLost {
            family: IpFamily::V6,
        },
        EngineEvent::SourceFailed {
            source: "http",
            message: "no quorum",
        },
        EngineEvent::BreakerChanged { open: true },
        EngineEvent::EventsCoalesced { count: 7 },
        EngineEvent::EventsCoalesced { count: 3 },
        EngineEvent::PassCompleted {
            in_sync: 1,
            pending: 0,
            failed: 1,
            confirmed: 0,
        },
    ];
    for event in &events {
        metrics.observe(event);
        monitor.observe(event);
    }
    let errors = [
        ProviderError::transient("HTTP 502"),
        ProviderError::rate_limited("HTTP 429", Some(Duration::from_secs(60))),
        ProviderError::timeout("no answer"),
        ProviderError::permanent("no such zone"),
        ProviderError::credentials("bad token"),
        ProviderError::transient("HTTP 503"),
    ];
    for error in &errors {
        metrics.observe(&EngineEvent::RecordFailed {
            record: &aaaa,
            error,
            retry_in: None,
        });
    }
    tokio::time::advance(Duration::from_secs(10)).await;

    let text = metrics.encode();
    let lines = samples(&text);
    let expected = [
        "ddns_build_info{version=\"0.1.0\"} 1",
        "ddns_circuit_breaker_open 1",
        "ddns_detections_total{family=\"ipv4\",result=\"changed\"} 1",
        "ddns_detections_total{family=\"ipv6\",result=\"changed\"} 1",
        "ddns_detections_total{family=\"ipv6\",result=\"lost\"} 1",
        "ddns_detections_total{source=\"http\",result=\"failed\"} 1",
        "ddns_events_coalesced_total 10",
        "ddns_passes_total 1",
        "ddns_provider_results_total{class=\"credentials\"} 1",
        "ddns_provider_results_total{class=\"ok\"} 2",
        "ddns_provider_results_total{class=\"permanent\"} 1",
        "ddns_provider_results_total{class=\"rate_limited\"} 1",
        "ddns_provider_results_total{class=\"timeout\"} 1",
        "ddns_provider_results_total{class=\"transient\"} 2",
        "ddns_readiness_state{state=\"degraded\"} 1",
        "ddns_readiness_state{state=\"probing\"} 0",
        "ddns_readiness_state{state=\"ready\"} 0",
        "ddns_readiness_state{state=\"recovering\"} 0",
        "ddns_readiness_state{state=\"starting\"} 0",
        "ddns_ready_passes_total 0",
        "ddns_ready_seconds_total 0",
        "ddns_record_confirmations_total{record=\"home.example.com\",type=\"A\"} 0",
        "ddns_record_confirmations_total{record=\"home.example.com\",type=\"AAAA\"} 1",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"A\",result=\"failed\"} 0",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"A\",result=\"written\"} 1",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"AAAA\",result=\"failed\"} 6",
        "ddns_record_updates_total{record=\"home.example.com\",type=\"AAAA\",result=\"written\"} 0",
        "ddns_records{status=\"failed\"} 1",
        "ddns_records{status=\"in_sync\"} 1",
        "ddns_records{status=\"pending\"} 0",
        "ddns_running_seconds_total 10",
        "ddns_uptime_ratio 0.0",
    ];
    let without_timestamps: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("ddns_record_last_success_timestamp_seconds"))
        .collect();
    assert_eq!(without_timestamps, expected, "{text}");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    for kind in ["A", "AAAA"] {
        let prefix = format!(
            "ddns_record_last_success_timestamp_seconds{{record=\"home.example.com\",type=\"{kind}\"}} "
        );
        let line = lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix}in {text}"));
        let at: u64 = line[prefix.len()..].parse().expect("whole seconds");
        assert!(now.abs_diff(at) <= 5, "{line} is not about now ({now})");
    }
    assert!(text.contains("# TYPE ddns_record_updates_total counter\n"));
    assert!(text.contains("# TYPE ddns_build_info gauge\n"));
    assert!(
        !text.contains("# EOF"),
        "OpenMetrics trailer in classic text"
    );
}

#[tokio::test(start_paused = true)]
async fn uptime_ratio_is_time_ready_over_time_running_at_scrape_time() {
    let r = record("home.example.com", IpFamily::V4);
    let monitor = Arc::new(HealthMonitor::new(1, 1));
    let metrics = Metrics::new(std::slice::from_ref(&r), Arc::clone(&monitor));
    assert!(
        !metrics.encode().contains("ddns_uptime_ratio"),
        "no ratio before a second was counted"
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    for event in [
        EngineEvent::AddressObserved {
            address: "192.0.2.1".parse().expect("ip"),
        },
        EngineEvent::RecordConfirmed {
            record: &r,
            address: "192.0.2.1".parse().expect("ip"),
        },
        EngineEvent::PassCompleted {
            in_sync: 1,
            pending: 0,
            failed: 0,
            confirmed: 1,
        },
    ] {
        monitor.observe(&event);
        metrics.observe(&event);
    }
    assert_eq!(monitor.state(), Readiness::Ready);
    // No event between: the scrape alone must see the time go by.
    tokio::time::advance(Duration::from_secs(90)).await;
    let lines = samples(&metrics.encode());
    for expected in [
        "ddns_readiness_state{state=\"ready\"} 1",
        "ddns_running_seconds_total 120",
        "ddns_ready_seconds_total 90",
        "ddns_uptime_ratio 0.75",
        "ddns_passes_total 1",
        "ddns_ready_passes_total 1",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
}

#[test]
fn series_of_records_and_classes_exist_before_any_event() {
    let monitor = Arc::new(HealthMonitor::new(1, 1));
    let metrics = Metrics::new(
        &[record("v6.example.net", IpFamily::V6)],
        Arc::clone(&monitor),
    );
    let lines = samples(&metrics.encode());
    for expected in [
        "ddns_record_updates_total{record=\"v6.example.net\",type=\"AAAA\",result=\"written\"} 0",
        "ddns_record_updates_total{record=\"v6.example.net\",type=\"AAAA\",result=\"failed\"} 0",
        "ddns_record_confirmations_total{record=\"v6.example.net\",type=\"AAAA\"} 0",
        "ddns_provider_results_total{class=\"ok\"} 0",
        "ddns_provider_results_total{class=\"credentials\"} 0",
        "ddns_detections_total{family=\"ipv6\",result=\"changed\"} 0",
        "ddns_events_coalesced_total 0",
        "ddns_circuit_breaker_open 0",
        "ddns_readiness_state{state=\"starting\"} 1",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.contains("family=\"ipv4\"")),
        "no IPv4 record, no IPv4 series: {lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("ddns_records{")));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("ddns_record_last_success_timestamp_seconds"))
    );
}
