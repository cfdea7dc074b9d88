//! What every reconcile shares: the client, the caches, the settings,
//! the Event recorder, metrics, and the failure counts behind backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use super::stores::RecordStores;
use crate::config::OperatorConfig;
use crate::crd::{Bind9Instance, DNSZone};
use crate::metrics::OperatorMetrics;

/// A record the orphan worker should look at: kind, namespace, name.
pub(crate) type RecordKey = (&'static str, String, String);

/// Shared by every reconcile.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The settings.
    pub config: OperatorConfig,
    /// Zones, from the zone controller's cache.
    pub zones: Store<DNSZone>,
    /// Instances.
    pub instances: Store<Bind9Instance>,
    /// Records of every kind.
    pub records: RecordStores,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<OperatorMetrics>,
    /// Consecutive failures per zone, for backoff.
    pub failures: Mutex<HashMap<ObjectRef<DNSZone>, u32>>,
    /// Records whose zone may be gone, for the orphan worker.
    pub orphans: mpsc::UnboundedSender<RecordKey>,
    /// Zones to reconcile now: those waiting for a zone name that another
    /// `DNSZone` just gave up (deleted, or renamed).
    pub handover: mpsc::UnboundedSender<ObjectRef<DNSZone>>,
    /// The clock (tests move it).
    pub now: fn() -> SystemTime,
    /// Delivery to servers and the zone directory.
    pub deliverer: Arc<dyn super::deliver::Deliverer>,
}

impl Context {
    /// Asks for a reconcile of every other zone named `zone_name`: one of
    /// them may have been waiting for `zone` to let go of the name.
    pub(crate) fn hand_over(&self, zone: &DNSZone, zone_name: &str) {
        let Ok(name) = ddns_core::zone::ZoneName::parse(zone_name) else {
            return;
        };
        let me = ObjectRef::from_obj(zone);
        for other in self.zones.state() {
            let reference = ObjectRef::from_obj(other.as_ref());
            if reference != me
                && ddns_core::zone::ZoneName::parse(&other.spec.zone_name).is_ok_and(|n| n == name)
            {
                let _ = self.handover.send(reference);
            }
        }
    }

    /// Waits until the zone, instance and record caches are filled, so
    /// that no reconcile mistakes a cache still loading for a zone without
    /// records (which would delete them from DNS).
    pub async fn wait_ready(&self) -> bool {
        self.zones.wait_until_ready().await.is_ok()
            && self.instances.wait_until_ready().await.is_ok()
            && self.records.wait_ready().await
    }

    /// Counts a failure of `zone` and returns how many in a row.
    pub fn failed(&self, zone: &ObjectRef<DNSZone>) -> u32 {
        let Ok(mut failures) = self.failures.lock() else {
            return 1;
        };
        let count = failures.entry(zone.clone()).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    /// Forgets the failures of `zone`.
    pub fn succeeded(&self, zone: &ObjectRef<DNSZone>) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(zone);
        }
    }

    /// The current time as an RFC 3339 string (for condition timestamps).
    pub fn timestamp(&self) -> String {
        k8s_openapi::jiff::Timestamp::try_from((self.now)())
            .map(|t| t.to_string())
            .unwrap_or_default()
    }
}
