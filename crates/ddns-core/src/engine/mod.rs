//! The engine: from address events to converged records.
//!
//! The engine keeps, for every managed record, what it knows about the
//! published value and when it may act next. It wakes only for an address
//! event or for the earliest of those deadlines (a retry, the end of a
//! minimum interval, a drift re-check); with nothing pending it arms no
//! timer at all.

mod gate;
mod report;
mod runner;
mod slot;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;
use tracing::{info, warn};

use crate::error::Result;
use crate::intake::{Intake, IntakeStats};
use crate::observer::{EngineEvent, EngineObserver};
use crate::provider::DnsProvider;
use crate::record::{IpFamily, Record};
use crate::source::{AddressSnapshot, IpSource};
use crate::state::{StateContributor, StateStore};
use crate::verify::Verifier;

pub use report::{OnceReport, RecordOutcome};
use runner::{Mode, Runner};

/// How the engine behaves. [`EngineSettings::new`] gives the documented
/// defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineSettings {
    /// The managed records, in configuration order.
    pub records: Vec<Record>,
    /// Least time between two successful writes of one record.
    pub min_update_interval: Duration,
    /// Events queued before they coalesce.
    pub event_capacity: usize,
    /// How often published values are read again to catch drift.
    pub recheck_interval: Option<Duration>,
    /// First retry delay after a transient failure.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Consecutive transient failures that pause the provider.
    pub breaker_threshold: u32,
    /// First pause of a failing provider; doubles while probes fail.
    pub breaker_pause: Duration,
    /// Longest pause of a failing provider.
    pub breaker_pause_max: Duration,
    /// Retry again after this long when the state store cannot be written.
    pub state_retry: Duration,
    /// How long, after a write, the verifier may take to see it in DNS.
    pub verify_wait: Duration,
    /// Consecutive passes that confirm every record with the provider (the
    /// readiness rule), at start and again after a failed read or write or
    /// a lost address: while fewer passes confirmed every record and every
    /// record is in line, the engine reads them all again
    /// `startup_spacing` after the last confirming pass. A pass counts
    /// only if it read, verified or wrote every record itself. 1 makes no
    /// extra pass after a pass that confirmed them all.
    pub startup_confirmations: u32,
    /// The pause between the confirming passes.
    pub startup_spacing: Duration,
}

impl EngineSettings {
    /// The defaults for the given records.
    pub fn new(records: Vec<Record>) -> Self {
        Self {
            records,
            min_update_interval: Duration::from_secs(60),
            event_capacity: 1000,
            recheck_interval: Some(Duration::from_secs(3600)),
            retry_initial: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            breaker_threshold: 5,
            breaker_pause: Duration::from_secs(60),
            breaker_pause_max: Duration::from_secs(900),
            state_retry: Duration::from_secs(30),
            verify_wait: Duration::from_secs(10),
            startup_confirmations: 1,
            startup_spacing: Duration::from_secs(10),
        }
    }
}

/// A source and the families the engine takes from it.
pub struct SourceBinding {
    source: Arc<dyn IpSource>,
    families: Vec<IpFamily>,
}

impl SourceBinding {
    /// Takes events of `families` from `source`.
    pub fn new(source: Arc<dyn IpSource>, families: Vec<IpFamily>) -> Self {
        Self { source, families }
    }

    /// The source.
    pub fn source(&self) -> &Arc<dyn IpSource> {
        &self.source
    }

    /// The families taken from it.
    pub fn families(&self) -> &[IpFamily] {
        &self.families
    }
}

/// Converges records to the addresses sources report.
pub struct DdnsEngine {
    settings: EngineSettings,
    provider: Arc<dyn DnsProvider>,
    store: Arc<dyn StateStore>,
    observers: Vec<Arc<dyn EngineObserver>>,
    contributors: Vec<Arc<dyn StateContributor>>,
    verifier: Option<Arc<dyn Verifier>>,
    intake: Arc<Intake>,
}

/// Asks a running engine to confirm every record with the provider again,
/// as it does by itself after a failure of its own: for the end of a
/// failure it cannot see (a network probe that fails, then succeeds), so
/// that readiness recovers without waiting for an event or the re-check.
#[derive(Debug, Clone)]
pub struct ReconfirmHandle(Arc<Intake>);

impl ReconfirmHandle {
    /// Asks for the confirming passes; several requests before the engine
    /// wakes make one.
    pub fn request(&self) {
        self.0.request_reconfirm();
    }
}

impl DdnsEngine {
    /// An engine over one provider and one state store.
    pub fn new(
        settings: EngineSettings,
        provider: Arc<dyn DnsProvider>,
        store: Arc<dyn StateStore>,
    ) -> Self {
        let intake = Arc::new(Intake::new(settings.event_capacity));
        Self {
            settings,
            provider,
            store,
            observers: Vec::new(),
            contributors: Vec::new(),
            verifier: None,
            intake,
        }
    }

    /// Adds a part of the saved state kept by someone else (the health
    /// monitor's counters): restored after the engine loads its state, and
    /// asked for before every save and at shutdown.
    pub fn with_state_contributor(mut self, contributor: Arc<dyn StateContributor>) -> Self {
        self.contributors.push(contributor);
        self
    }

    /// Adds an observer of engine events.
    pub fn with_observer(mut self, observer: Arc<dyn EngineObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Checks published values through DNS: before a write when the
    /// provider cannot read its own state, and after each write.
    pub fn with_verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// A handle that asks this engine for confirming passes.
    pub fn reconfirm_handle(&self) -> ReconfirmHandle {
        ReconfirmHandle(Arc::clone(&self.intake))
    }

    /// Intake counters.
    pub fn intake_stats(&self) -> IntakeStats {
        self.intake.stats()
    }

    /// Runs until `shutdown` resolves. Returns an error only for what must
    /// stop the daemon: credentials rejected before any success.
    pub async fn run(
        &self,
        sources: Vec<SourceBinding>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let pumps = async {
            join_all(sources.iter().map(|binding| pump(binding, self))).await;
            std::future::pending::<()>().await
        };
        tokio::pin!(shutdown);
        tokio::pin!(pumps);
        let mut runner = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            runner = Runner::new(self, Mode::Daemon) => runner?,
            () = &mut pumps => return Ok(()),
        };
        info!(
            records = self.settings.records.len(),
            provider = self.provider.name(),
            "engine ready"
        );
        let result = {
            let work = async {
                loop {
                    runner.converge().await?;
                    runner.before_idle();
                    let deadline = runner.next_deadline();
                    tokio::select! {
                        () = self.intake.wait() => {}
                        () = sleep_until(deadline) => {}
                    }
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => Ok(()),
                result = work => result,
                () = &mut pumps => Ok(()),
            }
        };
        runner.save_at_exit().await;
        result
    }

    /// One convergence pass over a snapshot, for cron and timers. The
    /// minimum interval is ignored (the run was asked for), transient
    /// failures are retried until `budget` runs out, and a rate limit is
    /// reported rather than waited for.
    pub async fn run_once(
        &self,
        snapshot: AddressSnapshot,
        budget: Duration,
    ) -> Result<OnceReport> {
        let deadline = tokio::time::Instant::now() + budget;
        let mut runner = Runner::new(self, Mode::Once).await?;
        runner.set_addresses(snapshot);
        loop {
            runner.converge().await?;
            match runner.next_deadline() {
                Some(at) if at <= deadline => tokio::time::sleep_until(at).await,
                _ => break,
            }
        }
        Ok(runner.report())
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Moves one source's events into the intake, restarting the source's
/// stream with a growing delay if it ever ends. Errors are told to the
/// observers.
async fn pump(binding: &SourceBinding, engine: &DdnsEngine) {
    let name = binding.source.name().to_string();
    let mut delay = Duration::from_secs(1);
    // The source reported an error: its next event ends the failure, and
    // the records are confirmed again (readiness recovers).
    let mut failing = false;
    loop {
        let mut stream = binding.source.watch();
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => {
                    delay = Duration::from_secs(1);
                    if std::mem::take(&mut failing) {
                        info!(source = %name, "address source works again; confirming every record");
                        engine.intake.request_reconfirm();
                    }
                    if binding.families.contains(&event.family()) {
                        engine.intake.push(event);
                    }
                }
                Err(error) => {
                    failing = true;
                    warn!(source = %name, error = %error, "address source reported an error");
                    let message = error.to_string();
                    for observer in &engine.observers {
                        observer.observe(&EngineEvent::SourceFailed {
                            source: &name,
                            message: &message,
                        });
                    }
                }
            }
        }
        warn!(source = %name, retry_in_secs = delay.as_secs(), "address source stopped; restarting it");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}
