//! systemd's service notifications (`sd_notify(3)`), for `Type=notify`
//! units: `READY=1` once the engine has started, a `STATUS=` line on each
//! readiness change, `STOPPING=1` at shutdown, and `WATCHDOG=1` keep-alives
//! when the unit sets `WatchdogSec=`.
//!
//! Nothing here does anything unless the service manager (or a test) set
//! `NOTIFY_SOCKET`: outside systemd no socket is opened and no timer armed.
//!
//! # Caveats
//!
//! - `READY=1` means "initialised", not "DNS is up to date": a provider
//!   outage at boot must not fail the unit's start. Readiness proper is in
//!   the `STATUS=` line (`systemctl status`) and in `/readyz`.
//! - The watchdog proves that the event loop runs: the keep-alive is sent
//!   by a timer on the same single-threaded runtime as the engine.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ddns_core::health::HealthSnapshot;
use ddns_core::{EngineEvent, EngineObserver};
use sd_notify::NotifyState;
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

/// systemd shows the status line in `systemctl status`; a long reason
/// (a provider's error message) is cut.
const STATUS_MAX_CHARS: usize = 200;

/// The connection to the service manager, or nothing.
#[derive(Debug)]
pub(crate) struct Systemd {
    enabled: bool,
    failing: AtomicBool,
}

impl Systemd {
    /// Enabled when the process was started with `NOTIFY_SOCKET`.
    pub(crate) fn from_process() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        Self {
            enabled,
            failing: AtomicBool::new(false),
        }
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        match sd_notify::notify(states) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    info!("systemd notifications delivered again");
                }
            }
            Err(error) => {
                if self.failing.swap(true, Ordering::Relaxed) {
                    debug!(error = %error, "still cannot notify systemd");
                } else {
                    warn!(error = %error, "cannot notify systemd");
                }
            }
        }
    }

    /// An observer that tells [`Systemd::report`] the engine has started:
    /// the engine reports nothing before it has loaded its state and
    /// checked the provider's credentials, and its first pass always ends
    /// with a report.
    pub(crate) fn start_signal(&self) -> (Option<EngineStarted>, oneshot::Receiver<()>) {
        let (sender, receiver) = oneshot::channel();
        let observer = self
            .enabled
            .then(|| EngineStarted(Mutex::new(Some(sender))));
        (observer, receiver)
    }

    /// Sends `READY=1` when `started` fires, then a `STATUS=` line whenever
    /// the readiness state or its reason changes. Never returns; drop it
    /// to stop.
    pub(crate) async fn report(
        &self,
        started: oneshot::Receiver<()>,
        mut health: watch::Receiver<HealthSnapshot>,
    ) -> Infallible {
        if self.enabled && started.await.is_ok() {
            let mut shown = status_line(&health.borrow_and_update());
            self.send(&[NotifyState::Ready, NotifyState::Status(&shown)]);
            while health.changed().await.is_ok() {
                let line = status_line(&health.borrow_and_update());
                if line != shown {
                    self.send(&[NotifyState::Status(&line)]);
                    shown = line;
                }
            }
        }
        std::future::pending().await
    }

    /// Tells systemd the daemon is stopping (on SIGTERM or SIGINT).
    pub(crate) fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
    }

    /// Sends `WATCHDOG=1` at half the period systemd expects, when the unit
    /// enabled the watchdog for this process (`WATCHDOG_USEC`, and
    /// `WATCHDOG_PID` unset or ours). Never returns; drop it to stop.
    pub(crate) async fn keep_alive(&self) -> Infallible {
        let period = match sd_notify::watchdog_enabled() {
            Some(period) if self.enabled && !period.is_zero() => period,
            _ => return std::future::pending().await,
        };
        let every = (period / 2).max(Duration::from_millis(1));
        info!(
            every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            "systemd watchdog keep-alives enabled"
        );
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.send(&[NotifyState::Watchdog]);
        }
    }
}

/// See [`Systemd::start_signal`].
#[derive(Debug)]
pub(crate) struct EngineStarted(Mutex<Option<oneshot::Sender<()>>>);

impl EngineObserver for EngineStarted {
    fn observe(&self, _event: &EngineEvent<'_>) {
        if let Ok(mut sender) = self.0.lock()
            && let Some(sender) = sender.take()
        {
            let _ = sender.send(());
        }
    }
}

/// `ready: every record confirmed in 2 consecutive pass(es)`, on one line
/// (a newline would end the assignment in the notification protocol).
fn status_line(health: &HealthSnapshot) -> String {
    let line = format!("{}: {}", health.state, health.reason);
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(STATUS_MAX_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use ddns_core::health::{HealthRecord, Readiness};

    use super::*;

    fn snapshot(state: Readiness, reason: &str) -> HealthSnapshot {
        HealthSnapshot {
            state,
            reason: reason.to_string(),
            since: SystemTime::now(),
            uptime: HealthRecord::default(),
            last_success: None,
        }
    }

    #[test]
    fn the_status_line_is_one_bounded_line() {
        assert_eq!(
            status_line(&snapshot(Readiness::Degraded, "provider failing: HTTP 500")),
            "degraded: provider failing: HTTP 500"
        );
        let line = status_line(&snapshot(Readiness::Degraded, "a\nb\r\nc"));
        assert_eq!(line, "degraded: a b  c");
        let long = "x".repeat(500);
        assert_eq!(
            status_line(&snapshot(Readiness::Ready, &long))
                .chars()
                .count(),
            STATUS_MAX_CHARS
        );
    }

    #[test]
    fn the_start_signal_fires_once_on_the_first_engine_event() {
        let systemd = Systemd {
            enabled: true,
            failing: AtomicBool::new(false),
        };
        let (observer, mut started) = systemd.start_signal();
        let observer = observer.expect("enabled");
        assert!(started.try_recv().is_err(), "nothing before an event");
        let event = EngineEvent::EventsCoalesced { count: 1 };
        observer.observe(&event);
        observer.observe(&event);
        assert_eq!(started.try_recv(), Ok(()));
    }

    #[test]
    fn without_notify_socket_there_is_no_observer() {
        let systemd = Systemd {
            enabled: false,
            failing: AtomicBool::new(false),
        };
        assert!(systemd.start_signal().0.is_none());
    }
}
