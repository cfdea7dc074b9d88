//! What Prometheus's own tools say: the exposition passes `promtool check
//! metrics`, and the example alert rules load and fire as their tests say.
//! Skipped without promtool unless `DDNS_REQUIRE_SYSTEM_TESTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ddns_core::health::HealthRecord;
use ddns_core::{EngineEvent, IpFamily, ProviderError, StateContributor, StateSnapshot};
use support::{Served, assert_promtool_accepts, promtool, record, workspace};

/// Metrics with every series there is, as a scrape would see them.
async fn every_series() -> String {
    let a = record("home.example.com", IpFamily::V4);
    let aaaa = record("home.example.com", IpFamily::V6);
    let served = Served::start(&[a.clone(), aaaa.clone()], 1).await;
    let v4 = "192.0.2.1".parse().unwrap();
    let v6 = "2001:db8::1".parse().unwrap();
    let errors = [
        ProviderError::transient("HTTP 502"),
        ProviderError::rate_limited("HTTP 429", None),
        ProviderError::timeout("no answer"),
        ProviderError::permanent("no zone"),
        ProviderError::credentials("bad token"),
    ];
    served.observe(&EngineEvent::AddressObserved { address: v4 });
    served.observe(&EngineEvent::AddressObserved { address: v6 });
    served.observe(&EngineEvent::RecordWritten {
        record: &a,
        address: v4,
    });
    served.observe(&EngineEvent::RecordConfirmed {
        record: &aaaa,
        address: v6,
    });
    served.observe(&EngineEvent::PassCompleted {
        in_sync: 2,
        pending: 0,
        failed: 0,
        confirmed: 2,
    });
    for error in &errors {
        served.observe(&EngineEvent::RecordFailed {
            record: &aaaa,
            error,
            retry_in: Some(Duration::from_secs(1)),
        });
    }
    served.observe(&EngineEvent::AddressLost {
        family: IpFamily::V6,
    });
    // A source name needing escapes in a label value.
    served.observe(&EngineEvent::SourceFailed {
        source: "http \"echo\" \\ 1",
        message: "no quorum",
    });
    served.observe(&EngineEvent::BreakerChanged { open: true });
    served.observe(&EngineEvent::EventsCoalesced { count: 2 });
    // What earlier runs left in the state file, so that the ratio is there
    // without waiting for a second to be counted.
    served.monitor.restore(&StateSnapshot {
        health: Some(HealthRecord {
            running_secs: 1000,
            ready_secs: 900,
            ..HealthRecord::default()
        }),
        ..StateSnapshot::default()
    });
    let text = support::client()
        .get(served.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    served.stop().await;
    text
}

/// The metric names of an exposition, from its TYPE lines.
fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    let text = every_series().await;
    assert!(
        text.contains(
            "ddns_detections_total{source=\"http \\\"echo\\\" \\\\ 1\",result=\"failed\"} 1"
        ),
        "{text}"
    );
    // 900 of 1000 s, plus the whole seconds this test has run.
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ddns_uptime_ratio "))
        .unwrap_or_else(|| panic!("no ratio in {text}"))
        .parse()
        .unwrap();
    assert!((0.89..=0.9).contains(&ratio), "{ratio}");
    assert_eq!(
        names(&text),
        [
            "ddns_build_info",
            "ddns_circuit_breaker_open",
            "ddns_detections_total",
            "ddns_events_coalesced_total",
            "ddns_passes_total",
            "ddns_provider_results_total",
            "ddns_readiness_state",
            "ddns_ready_passes_total",
            "ddns_ready_seconds_total",
            "ddns_record_confirmations_total",
            "ddns_record_last_success_timestamp_seconds",
            "ddns_record_updates_total",
            "ddns_records",
            "ddns_running_seconds_total",
            "ddns_uptime_ratio",
        ]
        .map(String::from)
        .into(),
        "the documented set of metrics"
    );
    assert_promtool_accepts("the_exposition_passes_promtool_check_metrics", &text);
}

#[tokio::test]
async fn promtool_rejects_a_broken_exposition() {
    // Guards the check above: promtool must be able to say no.
    let Some(output) = promtool(
        "promtool_rejects_a_broken_exposition",
        &["check", "metrics"],
        "# TYPE ddns_x counter\nddns_x{a=\"1\" 1\n",
    ) else {
        return;
    };
    assert!(!output.status.success());
}

#[test]
fn the_example_alert_rules_load() {
    let rules = workspace().join("docs/alerts/ddns-rules.yml");
    let Some(output) = promtool(
        "the_example_alert_rules_load",
        &["check", "rules", rules.to_str().unwrap()],
        "",
    ) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SUCCESS: 6 rules found"), "{stdout}");
}

#[test]
fn the_example_alerts_fire_when_their_tests_say() {
    let tests =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts/ddns-rules.test.yml");
    let Some(output) = promtool(
        "the_example_alerts_fire_when_their_tests_say",
        &["test", "rules", tests.to_str().unwrap()],
        "",
    ) else {
        return;
    };
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_alert_rules_use_only_metrics_that_exist() {
    let text = every_series().await;
    let exposed = names(&text);
    let rules = std::fs::read_to_string(workspace().join("docs/alerts/ddns-rules.yml")).unwrap();
    let used: BTreeSet<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("ddns_"))
        .map(str::to_string)
        .collect();
    assert!(!used.is_empty());
    let unknown: Vec<&String> = used.difference(&exposed).collect();
    assert!(unknown.is_empty(), "rules use unknown metrics {unknown:?}");
}
