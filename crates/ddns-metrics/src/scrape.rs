//! Values read when Prometheus scrapes: readiness, uptime and the build,
//! taken from the health monitor so that they are current, not as of the
//! last engine event.

use std::fmt;
use std::sync::Arc;

use ddns_core::health::{HealthMonitor, Readiness};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the monitor at each scrape.
#[derive(Debug)]
pub(crate) struct HealthCollector {
    monitor: Arc<HealthMonitor>,
}

impl HealthCollector {
    pub(crate) fn new(monitor: Arc<HealthMonitor>) -> Self {
        Self { monitor }
    }
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for HealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let state = self.monitor.state();
        let uptime = self.monitor.uptime_now();

        let mut states = encoder.encode_descriptor(
            "readiness_state",
            "The readiness state: 1 for the current one, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for candidate in Readiness::ALL {
            let labels = [("state", candidate.as_str())];
            ConstGauge::new(i64::from(candidate == state))
                .encode(states.encode_family(&labels)?)?;
        }

        // Before the first second is counted there is no ratio to give;
        // an absent series is better than a made-up 0 or 1.
        if let Some(percent) = uptime.availability() {
            let ratio = ConstGauge::new(percent / 100.0);
            ratio.encode(encoder.encode_descriptor(
                "uptime_ratio",
                "Time Ready over time running, over every run the state file remembers (0 to 1).",
                None,
                ratio.metric_type(),
            )?)?;
        }
        counter(
            &mut encoder,
            "running_seconds",
            "Seconds the daemon has run, over every run the state file remembers.",
            uptime.running_secs,
        )?;
        counter(
            &mut encoder,
            "ready_seconds",
            "Seconds the daemon was Ready, over every run the state file remembers.",
            uptime.ready_secs,
        )?;
        counter(
            &mut encoder,
            "passes",
            "Convergence passes, over every run the state file remembers.",
            uptime.evaluations,
        )?;
        counter(
            &mut encoder,
            "ready_passes",
            "Convergence passes that ended while Ready, over every run the state file remembers.",
            uptime.ready_evaluations,
        )?;

        let mut build = encoder.encode_descriptor(
            "build_info",
            "Always 1; the version label says which ddns is running.",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        ConstGauge::new(1i64).encode(build.encode_family(&labels)?)
    }
}
