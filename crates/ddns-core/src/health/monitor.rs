//! The health monitor: an engine observer that runs the readiness machine
//! and the uptime counters, keeps them in the state store through the
//! engine, and tells subscribers (metrics, notifications, probes).
//!
//! It arms no timer: time is counted when something happens.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use super::machine::{Machine, Readiness, Signal, Transition};
use super::uptime::{HealthRecord, Uptime};
use crate::observer::{EngineEvent, EngineObserver};
use crate::record::IpFamily;
use crate::state::{StateContributor, StateSnapshot};

/// Subscribers that fall this far behind lose the oldest events.
const EVENT_BUFFER: usize = 256;

/// The health as the monitor sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// The readiness state.
    pub state: Readiness,
    /// Why it is in that state.
    pub reason: String,
    /// When it entered it.
    pub since: SystemTime,
    /// Totals over every run, as of the last event.
    pub uptime: HealthRecord,
    /// When a record was last written or confirmed.
    pub last_success: Option<SystemTime>,
}

/// What subscribers are told, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthEvent {
    /// The readiness state changed.
    Transition(Transition),
    /// A source reported an address different from the last one.
    AddressChanged {
        /// The family.
        family: IpFamily,
        /// The address before, if one was known.
        from: Option<IpAddr>,
        /// The new address.
        to: IpAddr,
    },
    /// A record was written.
    RecordWritten {
        /// `name TYPE`.
        record: String,
        /// The address written.
        address: IpAddr,
    },
    /// A record's update failed, where it had not been failing.
    UpdateFailed {
        /// `name TYPE`.
        record: String,
        /// The provider's message.
        error: String,
    },
    /// A pass ended with every record holding its address.
    Converged {
        /// How many records.
        records: usize,
    },
}

struct Inner {
    machine: Machine,
    uptime: Uptime,
    reason: String,
    since: SystemTime,
    last_success: Option<SystemTime>,
    addresses: [Option<IpAddr>; 2],
    failing: BTreeSet<String>,
    dirty: bool,
}

/// Runs the readiness machine over engine events. See the module docs.
pub struct HealthMonitor {
    inner: Mutex<Inner>,
    snapshot: watch::Sender<HealthSnapshot>,
    events: broadcast::Sender<HealthEvent>,
}

impl std::fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitor")
            .field("state", &self.snapshot.borrow().state)
            .finish_non_exhaustive()
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl HealthMonitor {
    /// A monitor for `records` records, Ready after `confirmations`
    /// consecutive confirming passes.
    pub fn new(records: usize, confirmations: u32) -> Self {
        let now = SystemTime::now();
        let reason = "started".to_string();
        let snapshot = HealthSnapshot {
            state: Readiness::Starting,
            reason: reason.clone(),
            since: now,
            uptime: HealthRecord::default(),
            last_success: None,
        };
        Self {
            inner: Mutex::new(Inner {
                machine: Machine::new(records, confirmations),
                uptime: Uptime::new(HealthRecord::default(), Instant::now()),
                reason,
                since: now,
                last_success: None,
                addresses: [None, None],
                failing: BTreeSet::new(),
                dirty: false,
            }),
            snapshot: watch::channel(snapshot).0,
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// The current health, updated on every change.
    pub fn watch(&self) -> watch::Receiver<HealthSnapshot> {
        self.snapshot.subscribe()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HealthEvent> {
        self.events.subscribe()
    }

    /// The uptime totals at this instant (the snapshot's are as of the
    /// last event), for a metrics scrape or a status page.
    pub fn uptime_now(&self) -> HealthRecord {
        self.inner
            .lock()
            .map(|inner| self.record(&inner, Instant::now()))
            .unwrap_or_default()
    }

    /// The current state.
    pub fn state(&self) -> Readiness {
        self.snapshot.borrow().state
    }

    /// A network probe (WAN, gateway) failed: the daemon is Degraded for
    /// a reason that is not the provider's.
    pub fn network_down(&self, reason: &str) {
        self.feed(Signal::NetworkDown(reason.to_string()), Vec::new());
    }

    fn feed(&self, signal: Signal, mut events: Vec<HealthEvent>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let pass = matches!(signal, Signal::Pass { .. });
        let transition = inner.machine.feed(signal);
        let now = Instant::now();
        if pass {
            let state = inner.machine.state();
            inner.uptime.pass(state);
            inner.dirty = true;
        }
        if let Some(t) = &transition {
            match t.to {
                Readiness::Degraded => {
                    warn!(from = %t.from, to = %t.to, reason = %t.reason, "readiness changed")
                }
                _ => info!(from = %t.from, to = %t.to, reason = %t.reason, "readiness changed"),
            }
            inner.uptime.state_changed(t.to, now);
            inner.reason = t.reason.clone();
            inner.since = SystemTime::now();
            inner.dirty = true;
            events.insert(0, HealthEvent::Transition(t.clone()));
        }
        let snapshot = HealthSnapshot {
            state: inner.machine.state(),
            reason: inner.reason.clone(),
            since: inner.since,
            uptime: self.record(&inner, now),
            last_success: inner.last_success,
        };
        drop(inner);
        self.snapshot.send_if_modified(|current| {
            let changed = *current != snapshot;
            *current = snapshot;
            changed
        });
        for event in events {
            // No subscriber is fine: nothing is configured to listen.
            let _ = self.events.send(event);
        }
    }

    fn record(&self, inner: &Inner, now: Instant) -> HealthRecord {
        let mut record = inner.uptime.record(now);
        record.state = Some(inner.machine.state());
        record.since = Some(unix(inner.since));
        record
    }
}

impl EngineObserver for HealthMonitor {
    fn observe(&self, event: &EngineEvent<'_>) {
        match event {
            EngineEvent::AddressObserved { address } => {
                let family = IpFamily::of(address);
                let from = self.inner.lock().ok().map(|mut inner| {
                    let slot = &mut inner.addresses[family.index()];
                    let before = *slot;
                    *slot = Some(*address);
                    before
                });
                let events = match from {
                    Some(from) if from != Some(*address) => vec![HealthEvent::AddressChanged {
                        family,
                        from,
                        to: *address,
                    }],
                    _ => Vec::new(),
                };
                self.feed(Signal::AddressDetected, events);
            }
            EngineEvent::AddressLost { family } => {
                if let Ok(mut inner) = self.inner.lock() {
                    inner.addresses[family.index()] = None;
                }
                self.feed(Signal::AddressLost(family.to_string()), Vec::new());
            }
            EngineEvent::RecordConfirmed { record, .. } => {
                self.succeeded(&record.to_string());
                self.feed(Signal::ProviderAnswered, Vec::new());
            }
            EngineEvent::RecordWritten { record, address } => {
                self.succeeded(&record.to_string());
                let written = HealthEvent::RecordWritten {
                    record: record.to_string(),
                    address: *address,
                };
                self.feed(Signal::ProviderAnswered, vec![written]);
            }
            EngineEvent::RecordFailed { record, error, .. } => {
                let name = record.to_string();
                let new = self
                    .inner
                    .lock()
                    .map(|mut inner| inner.failing.insert(name.clone()))
                    .unwrap_or(false);
                let events = if new {
                    vec![HealthEvent::UpdateFailed {
                        record: name,
                        error: error.to_string(),
                    }]
                } else {
                    Vec::new()
                };
                self.feed(Signal::UpdateFailed(error.to_string()), events);
            }
            EngineEvent::SourceFailed { source, message } => {
                self.feed(
                    Signal::DetectionFailed(format!("{source}: {message}")),
                    Vec::new(),
                );
            }
            EngineEvent::PassCompleted {
                in_sync,
                pending,
                failed,
                confirmed,
            } => {
                let events = if *pending == 0 && *failed == 0 && *in_sync > 0 {
                    vec![HealthEvent::Converged { records: *in_sync }]
                } else {
                    Vec::new()
                };
                self.feed(
                    Signal::Pass {
                        in_sync: *in_sync,
                        pending: *pending,
                        failed: *failed,
                        confirmed: *confirmed,
                    },
                    events,
                );
            }
            _ => {}
        }
    }
}

impl HealthMonitor {
    fn succeeded(&self, record: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.failing.remove(record);
            inner.last_success = Some(SystemTime::now());
        }
    }
}

impl StateContributor for HealthMonitor {
    fn restore(&self, snapshot: &StateSnapshot) {
        let Some(base) = snapshot.health.clone() else {
            return;
        };
        if let Ok(mut inner) = self.inner.lock() {
            let state = inner.machine.state();
            inner.uptime = Uptime::new(base, Instant::now());
            inner.uptime.state_changed(state, Instant::now());
        }
        self.feed_refresh();
    }

    fn contribute(&self, snapshot: &mut StateSnapshot) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let record = self.record(&inner, Instant::now());
        snapshot.health = Some(record);
        std::mem::take(&mut inner.dirty)
    }
}

impl HealthMonitor {
    /// Publishes the snapshot again (after the uptime base changed).
    fn feed_refresh(&self) {
        let Ok(inner) = self.inner.lock() else {
            return;
        };
        let uptime = self.record(&inner, Instant::now());
        drop(inner);
        self.snapshot.send_modify(|s| s.uptime = uptime);
    }
}

#[cfg(test)]
mod tests;
