//! The loop: follows the readiness state, runs a round of probes when the
//! policy says, tells the monitor and the logs, and sends the recovery
//! request when it is due.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ddns_core::health::{HealthMonitor, Readiness};
use futures_util::future::join_all;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use crate::config::ProbeConfig;
use crate::error::Result;
use crate::gateway::GatewayProbe;
use crate::policy::{Policy, RecoveryRules, Schedule, Step};
use crate::recovery::RecoveryRequest;
use crate::wan::WanProbe;

/// A boxed future, `Send` so that the loop can be spawned.
pub(crate) type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A network probe, as the loop sees it.
pub(crate) trait Probe: Send + Sync {
    /// `wan` or `gateway`, for the logs.
    fn name(&self) -> &'static str;
    /// What it looks at, for the logs.
    fn target(&self) -> String;
    /// One probe.
    fn probe(&self) -> Pending<'_, Result<()>>;
}

/// The recovery request, as the loop sees it.
pub(crate) trait Recover: Send + Sync {
    /// `GET` or `POST`.
    fn method(&self) -> &'static str;
    /// `scheme://host[:port]`: all the logs may show of the URL.
    fn origin(&self) -> &str;
    /// Sends it; the answer's status.
    fn send(&self) -> Pending<'_, Result<u16>>;
}

impl Probe for WanProbe {
    fn name(&self) -> &'static str {
        "wan"
    }

    fn target(&self) -> String {
        self.target().to_string()
    }

    fn probe(&self) -> Pending<'_, Result<()>> {
        Box::pin(self.check())
    }
}

impl Probe for GatewayProbe {
    fn name(&self) -> &'static str {
        "gateway"
    }

    fn target(&self) -> String {
        "default gateway".to_string()
    }

    fn probe(&self) -> Pending<'_, Result<()>> {
        Box::pin(self.check())
    }
}

impl Recover for RecoveryRequest {
    fn method(&self) -> &'static str {
        RecoveryRequest::method(self).as_str()
    }

    fn origin(&self) -> &str {
        RecoveryRequest::origin(self)
    }

    fn send(&self) -> Pending<'_, Result<u16>> {
        Box::pin(RecoveryRequest::send(self))
    }
}

/// Runs the configured probes for as long as it is polled: see the crate
/// documentation for when probes run and what they change. It never
/// returns; drop it to stop it.
///
/// A probe that cannot be set up (the WAN probe on a system without root
/// certificates) is left out with an error logged; with no probe left it
/// only waits.
///
/// When a round succeeds after one that failed, `network_up` is called:
/// the daemon asks the engine for the confirming passes that bring
/// readiness back (`DdnsEngine::reconfirm_handle`).
pub async fn run(config: ProbeConfig, monitor: Arc<HealthMonitor>, network_up: Option<NetworkUp>) {
    let ProbeConfig {
        wan,
        gateway,
        timeout,
        schedule,
        recovery,
    } = config;
    let mut probes: Vec<Box<dyn Probe>> = Vec::new();
    if let Some(target) = wan {
        match WanProbe::new(target.clone(), timeout) {
            Ok(probe) => probes.push(Box::new(probe)),
            Err(error) => error!(target = %target, error = %error, "the WAN probe cannot run"),
        }
    }
    if gateway {
        probes.push(Box::new(GatewayProbe::new(timeout)));
    }
    if probes.is_empty() {
        error!("no network probe can run: network outages will not be told from provider outages");
        return std::future::pending().await;
    }
    let recovery =
        recovery.and_then(
            |recovery| match RecoveryRequest::new(recovery.url, recovery.method) {
                Ok(request) => Some((recovery.rules, Box::new(request) as Box<dyn Recover>)),
                Err(error) => {
                    error!(error = %error, "the recovery request is off");
                    None
                }
            },
        );
    let names: Vec<&str> = probes.iter().map(|p| p.name()).collect();
    info!(
        probes = %names.join(","),
        interval_secs = schedule.interval.as_secs(),
        every_secs = schedule.every.map_or(0, |d| d.as_secs()),
        recovery = recovery.as_ref().map_or("off", |(_, r)| r.origin()),
        "network probes ready"
    );
    Runner::new(schedule, probes, recovery)
        .on_network_up(network_up)
        .run(monitor)
        .await;
}

/// What a probe said last.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Up,
    Down(String),
}

/// The loop's state.
pub(crate) struct Runner {
    policy: Policy,
    probes: Vec<Box<dyn Probe>>,
    last: Vec<Option<Outcome>>,
    recovery: Option<Box<dyn Recover>>,
    max_attempts: u32,
    /// "The network is up" was said during this degraded period.
    told_up: bool,
    /// The last round failed.
    down: bool,
    /// Called when a round succeeds after one that failed.
    network_up: Option<NetworkUp>,
}

/// What to do when the network is up again after a failed round.
pub type NetworkUp = Arc<dyn Fn() + Send + Sync>;

impl Runner {
    pub(crate) fn new(
        schedule: Schedule,
        probes: Vec<Box<dyn Probe>>,
        recovery: Option<(RecoveryRules, Box<dyn Recover>)>,
    ) -> Self {
        let rules = recovery.as_ref().map(|(rules, _)| *rules);
        Self {
            policy: Policy::new(schedule, rules),
            last: vec![None; probes.len()],
            probes,
            max_attempts: rules.map_or(0, |r| r.max_attempts),
            recovery: recovery.map(|(_, action)| action),
            told_up: false,
            down: false,
            network_up: None,
        }
    }

    /// Sets what is called when the network is up again.
    pub(crate) fn on_network_up(mut self, network_up: Option<NetworkUp>) -> Self {
        self.network_up = network_up;
        self
    }

    /// Follows the monitor and probes when due, forever.
    pub(crate) async fn run(mut self, monitor: Arc<HealthMonitor>) {
        let mut health = monitor.watch();
        let mut watching = true;
        let state = health.borrow_and_update().state;
        self.follow(state);
        loop {
            let now = Instant::now();
            let due = self.policy.next_round(now);
            tokio::select! {
                changed = health.changed(), if watching => match changed {
                    Ok(()) => {
                        let state = health.borrow_and_update().state;
                        self.follow(state);
                    }
                    // The monitor is gone: the state stays as it was.
                    Err(_) => watching = false,
                },
                () = sleep_until(due.unwrap_or(now)), if due.is_some() => {
                    self.round(&monitor).await;
                }
                else => std::future::pending::<()>().await,
            }
        }
    }

    fn follow(&mut self, state: Readiness) {
        let degraded = state == Readiness::Degraded;
        self.policy.set_degraded(degraded);
        if !degraded {
            self.told_up = false;
        }
    }

    async fn round(&mut self, monitor: &HealthMonitor) {
        self.policy.round_started(Instant::now());
        let results = join_all(self.probes.iter().map(|probe| probe.probe())).await;
        let mut failures = Vec::new();
        for ((probe, last), result) in self.probes.iter().zip(&mut self.last).zip(results) {
            let outcome = match result {
                Ok(()) => Outcome::Up,
                Err(error) => Outcome::Down(error.to_string()),
            };
            if last.as_ref() != Some(&outcome) {
                match &outcome {
                    Outcome::Up => {
                        info!(probe = probe.name(), target = %probe.target(), "network probe succeeded")
                    }
                    Outcome::Down(reason) => {
                        warn!(probe = probe.name(), target = %probe.target(), error = %reason, "network probe failed")
                    }
                }
            }
            if let Outcome::Down(reason) = &outcome {
                failures.push(reason.clone());
            }
            *last = Some(outcome);
        }
        let up = failures.is_empty();
        debug!(up, failures = failures.len(), "network probe round");
        if !up {
            self.told_up = false;
            monitor.network_down(&failures.join("; "));
        }
        if std::mem::replace(&mut self.down, !up)
            && up
            && let Some(network_up) = &self.network_up
        {
            info!("network probes succeed again; confirming every record");
            network_up();
        }
        let step = self.policy.round_finished(Instant::now(), up);
        if step == Step::Up {
            self.blame(monitor);
        }
        self.act(step).await;
    }

    /// The network is up but the daemon is Degraded: says so, once per
    /// degraded period, so that the logs tell whose fault it is.
    fn blame(&mut self, monitor: &HealthMonitor) {
        let snapshot = monitor.watch().borrow().clone();
        if snapshot.state != Readiness::Degraded || self.told_up {
            return;
        }
        self.told_up = true;
        info!(reason = %snapshot.reason, "network is up: the provider/detection is at fault");
    }

    async fn act(&mut self, step: Step) {
        match step {
            Step::Up | Step::Down => {}
            Step::OutageEnded { lasted, attempts } => {
                // Whatever still fails is most likely catching up; the
                // provider is not blamed during this degraded period.
                self.told_up = true;
                info!(
                    down_secs = lasted.as_secs(),
                    recovery_requests = attempts,
                    "network is up again: outage ended"
                );
            }
            Step::AttemptsUsedUp { attempts } => warn!(
                attempts,
                "recovery requests used up for this outage; waiting for the network to come back"
            ),
            Step::Recover { attempt, down_for } => {
                let Some(recovery) = &self.recovery else {
                    return;
                };
                let url = recovery.origin();
                warn!(
                    attempt,
                    max_attempts = self.max_attempts,
                    down_secs = down_for.as_secs(),
                    method = recovery.method(),
                    url = %url,
                    "network down for too long: sending the recovery request"
                );
                match recovery.send().await {
                    Ok(status) if (200..300).contains(&status) => {
                        info!(attempt, status, url = %url, "recovery request accepted")
                    }
                    Ok(status) => {
                        warn!(attempt, status, url = %url, "recovery request refused")
                    }
                    Err(error) => {
                        warn!(attempt, url = %url, error = %error, "recovery request failed")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
