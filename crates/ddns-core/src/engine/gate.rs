//! Provider-wide pauses: rate limits, provider-scope failures and the
//! circuit breaker that stops hammering a provider that keeps failing.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::EngineSettings;

#[derive(Debug, Default)]
pub(super) struct Gate {
    paused_until: Option<Instant>,
    consecutive_failures: u32,
    open: bool,
    pause: Duration,
}

impl Gate {
    /// When the provider may be called again, if it is paused now.
    pub(super) fn blocked_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|t| *t > now)
    }

    /// How many operations may run now: one probe while the breaker is
    /// half-open, otherwise no limit.
    pub(super) fn allowance(&self) -> usize {
        if self.open { 1 } else { usize::MAX }
    }

    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    pub(super) fn on_success(&mut self, provider: &str) {
        if self.open {
            info!(provider, "provider answers again; resuming updates");
        }
        self.open = false;
        self.consecutive_failures = 0;
        self.paused_until = None;
    }

    /// Pauses the whole provider until `until` (rate limits, provider-scope errors).
    pub(super) fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
    }

    /// Counts a transient failure; opens the breaker past the threshold and
    /// lengthens the pause while probes keep failing.
    pub(super) fn on_transient_failure(
        &mut self,
        provider: &str,
        now: Instant,
        settings: &EngineSettings,
    ) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.open {
            self.pause = (self.pause * 2).min(settings.breaker_pause_max);
            self.pause_until(now + self.pause);
        } else if self.consecutive_failures >= settings.breaker_threshold {
            self.open = true;
            self.pause = settings.breaker_pause;
            self.pause_until(now + self.pause);
            warn!(
                provider,
                failures = self.consecutive_failures,
                pause_secs = self.pause.as_secs(),
                "provider keeps failing; pausing all updates before probing it again"
            );
        }
    }
}

/// Exponential back-off with jitter: the n-th retry waits between 3/4 and
/// all of `initial * 2^(n-1)`, capped at `max`, and never less than what
/// the provider asked for.
pub(super) fn backoff(
    attempt: u32,
    retry_after: Option<Duration>,
    settings: &EngineSettings,
    rng: &mut fastrand::Rng,
) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = settings
        .retry_initial
        .saturating_mul(1u32 << exponent)
        .min(settings.retry_max);
    let jittered = base.mul_f64(0.75 + 0.25 * rng.f64());
    retry_after.map_or(jittered, |asked| jittered.max(asked))
}
