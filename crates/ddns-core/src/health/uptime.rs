//! Availability over the daemon's whole life: time Ready against time
//! running, and Ready passes against all passes, carried across restarts
//! in the state store.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::machine::Readiness;

/// What the state store keeps of the daemon's health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    /// Seconds the daemon has run, over every run.
    pub running_secs: u64,
    /// Seconds it was Ready.
    pub ready_secs: u64,
    /// Convergence passes.
    pub evaluations: u64,
    /// Passes that ended while Ready.
    pub ready_evaluations: u64,
    /// The last state, and since when (seconds since the Unix epoch), for
    /// `ddnsd status`.
    #[serde(default)]
    pub state: Option<Readiness>,
    /// When the last state began.
    #[serde(default)]
    pub since: Option<u64>,
}

impl HealthRecord {
    /// Time Ready over time running, in percent; `None` before any time
    /// was counted.
    pub fn availability(&self) -> Option<f64> {
        (self.running_secs > 0).then(|| 100.0 * self.ready_secs as f64 / self.running_secs as f64)
    }

    /// Ready passes over all passes, in percent.
    pub fn pass_availability(&self) -> Option<f64> {
        (self.evaluations > 0)
            .then(|| 100.0 * self.ready_evaluations as f64 / self.evaluations as f64)
    }
}

/// Counts time and passes from a stored base.
#[derive(Debug, Clone)]
pub struct Uptime {
    base: HealthRecord,
    started: Instant,
    ready_since: Option<Instant>,
    ready_before: Duration,
    evaluations: u64,
    ready_evaluations: u64,
}

impl Uptime {
    /// Counting from `base` (what earlier runs left), starting now.
    pub fn new(base: HealthRecord, now: Instant) -> Self {
        Self {
            base,
            started: now,
            ready_since: None,
            ready_before: Duration::ZERO,
            evaluations: 0,
            ready_evaluations: 0,
        }
    }

    /// The state changed at `now`.
    pub fn state_changed(&mut self, state: Readiness, now: Instant) {
        match (state == Readiness::Ready, self.ready_since) {
            (true, None) => self.ready_since = Some(now),
            (false, Some(since)) => {
                self.ready_before += now.saturating_duration_since(since);
                self.ready_since = None;
            }
            _ => {}
        }
    }

    /// A pass ended while in `state`.
    pub fn pass(&mut self, state: Readiness) {
        self.evaluations += 1;
        if state == Readiness::Ready {
            self.ready_evaluations += 1;
        }
    }

    /// The totals at `now`, earlier runs included.
    pub fn record(&self, now: Instant) -> HealthRecord {
        let ready = self.ready_before
            + self
                .ready_since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let running = now.saturating_duration_since(self.started);
        HealthRecord {
            running_secs: self.base.running_secs + running.as_secs(),
            ready_secs: self.base.ready_secs + ready.as_secs(),
            evaluations: self.base.evaluations + self.evaluations,
            ready_evaluations: self.base.ready_evaluations + self.ready_evaluations,
            state: self.base.state,
            since: self.base.since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn time_ready_and_passes_add_to_what_earlier_runs_left() {
        let base = HealthRecord {
            running_secs: 100,
            ready_secs: 50,
            evaluations: 10,
            ready_evaluations: 5,
            state: None,
            since: None,
        };
        let start = Instant::now();
        let mut uptime = Uptime::new(base, start);
        uptime.pass(Readiness::Probing);
        uptime.state_changed(Readiness::Ready, start + Duration::from_secs(10));
        uptime.pass(Readiness::Ready);
        uptime.state_changed(Readiness::Degraded, start + Duration::from_secs(40));
        uptime.state_changed(Readiness::Ready, start + Duration::from_secs(60));
        let record = uptime.record(start + Duration::from_secs(100));
        assert_eq!(record.running_secs, 200);
        assert_eq!(record.ready_secs, 50 + 30 + 40);
        assert_eq!((record.evaluations, record.ready_evaluations), (12, 6));
        assert_eq!(record.availability(), Some(60.0));
        assert_eq!(record.pass_availability(), Some(50.0));
        assert_eq!(HealthRecord::default().availability(), None);
    }
}
