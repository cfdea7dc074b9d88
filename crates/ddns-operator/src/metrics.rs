//! The operator's Prometheus metrics and readiness, served by the same
//! small endpoint as the daemon's (`ddns_metrics::serve_endpoints`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    reason: String,
}

/// Counters and gauges of the controllers.
pub struct OperatorMetrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ReconcileLabels, Histogram>,
    records: Gauge,
    leader: Gauge,
    per_zone: Mutex<BTreeMap<String, u64>>,
    synced: AtomicBool,
    rrset_changes: Counter,
}

fn buckets() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl OperatorMetrics {
    /// Registers every series.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ddns_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Family::<ReconcileLabels, Histogram>::new_with_constructor(
            buckets as fn() -> Histogram,
        );
        let records = Gauge::default();
        let leader = Gauge::default();
        let rrset_changes = Counter::default();
        registry.register(
            "reconciles",
            "Reconciles finished, by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by kind and reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long reconciles took, by kind and result",
            duration.clone(),
        );
        registry.register(
            "records_managed",
            "Records the operator manages across all zones",
            records.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the lease",
            leader.clone(),
        );
        registry.register(
            "rrset_changes",
            "RRsets changed on servers or in zone files",
            rrset_changes.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            records,
            leader,
            per_zone: Mutex::new(BTreeMap::new()),
            synced: AtomicBool::new(false),
            rrset_changes,
        }
    }

    /// Counts a finished reconcile.
    pub fn reconciled(&self, kind: &str, result: Result<(), &str>, took: Duration) {
        let labels = ReconcileLabels {
            kind: kind.to_string(),
            result: if result.is_ok() { "ok" } else { "error" }.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Err(reason) = result {
            self.errors
                .get_or_create(&ErrorLabels {
                    kind: kind.to_string(),
                    reason: reason.to_string(),
                })
                .inc();
        }
    }

    /// Records how many records a zone holds (0 removes it).
    pub fn zone_records(&self, zone: &str, count: u64) {
        let Ok(mut zones) = self.per_zone.lock() else {
            return;
        };
        if count == 0 {
            zones.remove(zone);
        } else {
            zones.insert(zone.to_string(), count);
        }
        let total: u64 = zones.values().sum();
        self.records.set(i64::try_from(total).unwrap_or(i64::MAX));
    }

    /// Counts RRsets changed.
    pub fn changed(&self, count: u64) {
        self.rrset_changes.inc_by(count);
    }

    /// Sets whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Marks the caches as filled (or, for a replica standing by, that
    /// there is nothing to fill): `/readyz` answers 200 from then on.
    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::Relaxed);
    }

    /// Marks the caches as being filled: `/readyz` answers 503 until
    /// [`OperatorMetrics::set_synced`].
    pub fn set_filling(&self) {
        self.synced.store(false, Ordering::Relaxed);
    }
}

impl ddns_metrics::Endpoints for OperatorMetrics {
    fn metrics(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    fn readiness(&self) -> (bool, String) {
        if self.synced.load(Ordering::Relaxed) {
            let role = if self.leader.get() == 1 {
                "leading"
            } else {
                "standing by"
            };
            (true, format!("ready: {role}"))
        } else {
            (false, "starting: reading resources".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_metrics::Endpoints;

    #[test]
    fn series_and_readiness() {
        let metrics = OperatorMetrics::new();
        assert_eq!(
            metrics.readiness(),
            (false, "starting: reading resources".to_string())
        );
        metrics.reconciled("DNSZone", Ok(()), Duration::from_millis(20));
        metrics.reconciled("DNSZone", Err("delivery"), Duration::from_millis(20));
        metrics.zone_records("default/example.com", 12);
        metrics.zone_records("default/example.org", 3);
        metrics.zone_records("default/example.org", 0);
        metrics.changed(4);
        metrics.set_leader(true);
        metrics.set_synced();
        let text = metrics.metrics();
        for line in [
            "ddns_operator_reconciles_total{kind=\"DNSZone\",result=\"ok\"} 1",
            "ddns_operator_reconcile_errors_total{kind=\"DNSZone\",reason=\"delivery\"} 1",
            "ddns_operator_records_managed 12",
            "ddns_operator_leader 1",
            "ddns_operator_rrset_changes_total 4",
            "ddns_operator_reconcile_duration_seconds_count{kind=\"DNSZone\",result=\"error\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        assert_eq!(metrics.readiness(), (true, "ready: leading".to_string()));
    }
}
