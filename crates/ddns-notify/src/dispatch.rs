//! From health events to requests: which pings and notifications an event
//! calls for, the success-ping rate limit and the heartbeat.
//!
//! Everything here is synchronous and only pushes to the queue, so a slow
//! or dead receiver never holds up the events.

use std::time::{Duration, SystemTime};

use ddns_core::health::{HealthEvent, Readiness, Transition};
use tokio::time::Instant;

use crate::endpoint::Webhook;
use crate::message::{Context, Notice};
use crate::ping::PingTarget;
use crate::queue::Queue;

/// Success pings are sent at most this often; one in a burst is kept and
/// sent when the gap has passed.
pub(crate) const MIN_SUCCESS_GAP: Duration = Duration::from_secs(10);

/// A success ping held back by the rate limit.
#[derive(Debug)]
struct Deferred {
    due: Instant,
    message: String,
}

/// Turns events into requests on the queue.
pub(crate) struct Dispatcher {
    pings: Vec<PingTarget>,
    webhooks: Vec<Webhook>,
    period: Duration,
    host: Option<String>,
    state: Readiness,
    last_success: Option<Instant>,
    deferred: Option<Deferred>,
    next_heartbeat: Option<Instant>,
}

impl Dispatcher {
    pub(crate) fn new(
        pings: Vec<PingTarget>,
        webhooks: Vec<Webhook>,
        period: Duration,
        host: Option<String>,
        state: Readiness,
    ) -> Self {
        Self {
            pings,
            webhooks,
            period,
            host,
            state,
            last_success: None,
            deferred: None,
            next_heartbeat: None,
        }
    }

    /// The start pings, and the heartbeat if already Ready.
    pub(crate) fn start(&mut self, queue: &Queue, now: Instant) {
        for ping in &self.pings {
            if let Some(delivery) = ping.start() {
                queue.push(delivery);
            }
        }
        self.entered(self.state, now);
    }

    /// When [`Dispatcher::tick`] has something to do: a held-back success
    /// ping or the heartbeat. `None` means no timer at all.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let deferred = self.deferred.as_ref().map(|d| d.due);
        match (deferred, self.next_heartbeat) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// One health event.
    pub(crate) fn on_event(&mut self, event: HealthEvent, queue: &Queue, now: Instant) {
        match event {
            HealthEvent::Transition(transition) => self.on_transition(transition, queue, now),
            HealthEvent::AddressChanged {
                family,
                from: Some(from),
                to,
            } => self.notify(Notice::AddressChanged { family, from, to }, queue),
            HealthEvent::UpdateFailed { record, error } => {
                self.notify(Notice::UpdateFailed { record, error }, queue)
            }
            HealthEvent::Converged { records } => {
                self.success(format!("{records} record(s) in sync"), queue, now)
            }
            _ => {}
        }
    }

    /// Events were lost: take the state from the snapshot, without
    /// notifying a transition that may not have happened.
    pub(crate) fn resync(&mut self, state: Readiness, now: Instant) {
        if state != self.state {
            self.state = state;
            self.entered(state, now);
        }
    }

    /// A timer fired: the held-back success ping, the heartbeat, or both.
    pub(crate) fn tick(&mut self, queue: &Queue, now: Instant) {
        if self.deferred.as_ref().is_some_and(|d| d.due <= now)
            && let Some(deferred) = self.deferred.take()
        {
            self.send_success(&deferred.message, queue, now);
        }
        if self.next_heartbeat.is_some_and(|at| at <= now) {
            // Re-armed by the ping itself, whether sent now or held back.
            self.next_heartbeat = None;
            if self.state == Readiness::Ready {
                self.success("ready".to_string(), queue, now);
            }
        }
    }

    fn on_transition(&mut self, transition: Transition, queue: &Queue, now: Instant) {
        let Transition { from, to, reason } = transition;
        self.state = to;
        self.entered(to, now);
        match to {
            Readiness::Degraded => {
                for ping in &self.pings {
                    queue.push(ping.fail(&reason));
                }
                self.notify(Notice::Degraded { reason }, queue);
            }
            Readiness::Ready if matches!(from, Readiness::Degraded | Readiness::Recovering) => {
                self.notify(Notice::Recovered { reason }, queue);
            }
            _ => {}
        }
    }

    /// Arms or disarms the heartbeat for a new state; a success held back
    /// must not follow a failure.
    fn entered(&mut self, state: Readiness, now: Instant) {
        match state {
            Readiness::Ready if !self.pings.is_empty() => {
                self.next_heartbeat = Some(now + self.period);
            }
            Readiness::Degraded => {
                self.next_heartbeat = None;
                self.deferred = None;
            }
            _ => self.next_heartbeat = None,
        }
    }

    fn success(&mut self, message: String, queue: &Queue, now: Instant) {
        if self.pings.is_empty() {
            return;
        }
        match self.last_success {
            Some(last) if now < last + MIN_SUCCESS_GAP => {
                self.deferred = Some(Deferred {
                    due: last + MIN_SUCCESS_GAP,
                    message,
                });
            }
            _ => self.send_success(&message, queue, now),
        }
    }

    fn send_success(&mut self, message: &str, queue: &Queue, now: Instant) {
        self.last_success = Some(now);
        self.deferred = None;
        for ping in &self.pings {
            queue.push(ping.success(message));
        }
        if self.state == Readiness::Ready {
            self.next_heartbeat = Some(now + self.period);
        }
    }

    fn notify(&self, notice: Notice, queue: &Queue) {
        if self.webhooks.is_empty() {
            return;
        }
        let context = Context {
            time: SystemTime::now(),
            host: self.host.clone(),
        };
        for hook in &self.webhooks {
            queue.push(notice.delivery(hook, &context));
        }
    }
}

#[cfg(test)]
mod tests;
