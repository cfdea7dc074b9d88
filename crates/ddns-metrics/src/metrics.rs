//! The metrics: counters and gauges fed by engine events, plus the values
//! read from the health monitor when Prometheus scrapes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ddns_core::health::HealthMonitor;
use ddns_core::{EngineEvent, EngineObserver, IpFamily, Record};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::labels::{
    CLASSES, ClassLabels, DetectionLabels, RecordLabels, STATUSES, StatusLabels, UpdateLabels,
    UpdateResult, failure_class,
};
use crate::scrape::HealthCollector;

/// Every metric name starts with `ddns_`.
const PREFIX: &str = "ddns";

/// The `Content-Type` of [`Metrics::encode`]'s text: the classic
/// Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The daemon's metrics, an [`EngineObserver`] that only bumps atomics.
///
/// Add it to the engine next to the [`HealthMonitor`] it reads (in either
/// order), and serve [`Metrics::encode`] (see [`serve`](crate::serve)).
/// Series of the configured records and of every provider result class
/// exist from the start, at zero, so that `rate()` and `increase()` see
/// the first event.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    updates: Family<UpdateLabels, Counter>,
    confirmations: Family<RecordLabels, Counter>,
    provider_results: Family<ClassLabels, Counter>,
    detections: Family<DetectionLabels, Counter>,
    last_success: Family<RecordLabels, Gauge>,
    records: Family<StatusLabels, Gauge>,
    coalesced: Counter,
    breaker_open: Gauge,
}

impl Metrics {
    /// Metrics for the configured `records`, with readiness and uptime
    /// read from `monitor` at each scrape.
    pub fn new(records: &[Record], monitor: Arc<HealthMonitor>) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let updates = Family::<UpdateLabels, Counter>::default();
        let confirmations = Family::<RecordLabels, Counter>::default();
        let provider_results = Family::<ClassLabels, Counter>::default();
        let detections = Family::<DetectionLabels, Counter>::default();
        let last_success = Family::<RecordLabels, Gauge>::default();
        let records_gauge = Family::<StatusLabels, Gauge>::default();
        let coalesced = Counter::default();
        let breaker_open = Gauge::default();

        // prometheus-client adds `_total` to counters and a full stop to
        // each help text.
        registry.register(
            "record_updates",
            "Record updates by record and result: written, or failed (a read or a write)",
            updates.clone(),
        );
        registry.register(
            "record_confirmations",
            "Times a record was found to hold its address already",
            confirmations.clone(),
        );
        registry.register(
            "provider_results",
            "Outcomes of provider reads and writes by class: ok, or the class of the failure",
            provider_results.clone(),
        );
        registry.register(
            "detections",
            "Address detection results: changed or lost (by family), failed (by source)",
            detections.clone(),
        );
        registry.register(
            "record_last_success_timestamp_seconds",
            "When the record was last written or confirmed, in seconds since the Unix epoch",
            last_success.clone(),
        );
        registry.register(
            "records",
            "Records by status at the end of the last convergence pass",
            records_gauge.clone(),
        );
        registry.register(
            "events_coalesced",
            "Address events merged because the engine's intake was full",
            coalesced.clone(),
        );
        registry.register(
            "circuit_breaker_open",
            "1 while the provider circuit breaker is open, else 0",
            breaker_open.clone(),
        );
        registry.register_collector(Box::new(HealthCollector::new(monitor)));

        for record in records {
            let labels = RecordLabels::of(record);
            for result in UpdateResult::ALL {
                create(
                    &updates,
                    &UpdateLabels {
                        record: labels.clone(),
                        result,
                    },
                );
            }
            create(&confirmations, &labels);
        }
        for class in CLASSES {
            create(&provider_results, &ClassLabels { class });
        }
        for family in IpFamily::ALL {
            if records.iter().any(|r| r.family() == family) {
                create(&detections, &DetectionLabels::Changed(family));
            }
        }

        Self {
            registry,
            updates,
            confirmations,
            provider_results,
            detections,
            last_success,
            records: records_gauge,
            coalesced,
            breaker_open,
        }
    }

    /// Every metric in the Prometheus text format 0.0.4 (see
    /// [`CONTENT_TYPE`]), with readiness and uptime as of now.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(4096);
        // Writing to a String fails only if a collector does, and ours
        // do not; a partial text is still better than none.
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::warn!(%error, "metrics encoding failed");
        }
        text
    }

    fn succeeded(&self, record: &Record) {
        self.provider_results
            .get_or_create(&ClassLabels { class: "ok" })
            .inc();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.last_success
            .get_or_create(&RecordLabels::of(record))
            .set(now);
    }
}

/// Makes the series exist (at zero) before its first event.
fn create<S, M>(family: &Family<S, M>, labels: &S)
where
    S: Clone + std::hash::Hash + Eq,
    M: Default,
{
    // The guard only holds the family's lock.
    drop(family.get_or_create(labels));
}

impl EngineObserver for Metrics {
    fn observe(&self, event: &EngineEvent<'_>) {
        match event {
            EngineEvent::AddressObserved { address } => {
                let family = IpFamily::of(address);
                self.detections
                    .get_or_create(&DetectionLabels::Changed(family))
                    .inc();
            }
            EngineEvent::AddressLost { family } => {
                self.detections
                    .get_or_create(&DetectionLabels::Lost(*family))
                    .inc();
            }
            EngineEvent::SourceFailed { source, .. } => {
                self.detections
                    .get_or_create(&DetectionLabels::Failed((*source).to_string()))
                    .inc();
            }
            EngineEvent::RecordConfirmed { record, .. } => {
                self.confirmations
                    .get_or_create(&RecordLabels::of(record))
                    .inc();
                self.succeeded(record);
            }
            EngineEvent::RecordWritten { record, .. } => {
                self.updates
                    .get_or_create(&UpdateLabels {
                        record: RecordLabels::of(record),
                        result: UpdateResult::Written,
                    })
                    .inc();
                self.succeeded(record);
            }
            EngineEvent::RecordFailed { record, error, .. } => {
                self.updates
                    .get_or_create(&UpdateLabels {
                        record: RecordLabels::of(record),
                        result: UpdateResult::Failed,
                    })
                    .inc();
                self.provider_results
                    .get_or_create(&ClassLabels {
                        class: failure_class(error.kind()),
                    })
                    .inc();
            }
            EngineEvent::BreakerChanged { open } => {
                self.breaker_open.set(i64::from(*open));
            }
            EngineEvent::EventsCoalesced { count } => {
                self.coalesced.inc_by(*count);
            }
            EngineEvent::PassCompleted {
                in_sync,
                pending,
                failed,
                ..
            } => {
                for (status, count) in STATUSES.into_iter().zip([in_sync, pending, failed]) {
                    self.records
                        .get_or_create(&StatusLabels { status })
                        .set(i64::try_from(*count).unwrap_or(i64::MAX));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
