//! One record's knowledge and the decision of what to do with it next.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::record::Record;

/// What the engine knows about the value the provider publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Published {
    /// Not read yet, or the last read or write left it uncertain.
    Unknown,
    /// Read (or written) with these values.
    Values(Vec<IpAddr>),
    /// The provider cannot read; this is the last address written, from
    /// this run or from the state store.
    Unreadable { last_written: Option<IpAddr> },
}

/// Why the last attempt failed, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Retried with back-off.
    Transient { message: String },
    /// Not retried for this address until a re-check.
    Permanent { address: IpAddr, message: String },
    /// A one-shot run met a rate limit and stops trying.
    RateLimited { message: String },
}

/// The next step for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing to do.
    Idle,
    /// Blocked until then (a retry back-off or a provider pause).
    Wait(Instant),
    /// Held back by the minimum update interval until then.
    Deferred(Instant),
    /// Read the published value first.
    Read,
    /// Write this address.
    Write(IpAddr),
}

/// A write waiting to be seen in DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Confirm {
    pub(super) address: IpAddr,
    pub(super) next_at: Instant,
    pub(super) delay: Duration,
    pub(super) deadline: Instant,
    pub(super) started: Instant,
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) record: Record,
    pub(super) supported: bool,
    pub(super) published: Published,
    pub(super) needs_read: bool,
    pub(super) last_write: Option<Instant>,
    pub(super) attempts: u32,
    pub(super) retry_at: Option<Instant>,
    pub(super) failure: Option<Failure>,
    pub(super) recheck_at: Option<Instant>,
    pub(super) deferred_logged: Option<IpAddr>,
    pub(super) written_this_run: bool,
    pub(super) confirm: Option<Confirm>,
    /// The address the provider confirmed in the current pass (a read
    /// found it, or it was written); cleared when a pass starts.
    pub(super) confirmed: Option<IpAddr>,
}

pub(super) struct Context {
    pub(super) now: Instant,
    pub(super) desired: Option<IpAddr>,
    pub(super) provider_blocked: Option<Instant>,
    pub(super) min_interval: Duration,
    pub(super) ignore_interval: bool,
}

impl Slot {
    pub(super) fn new(record: Record, supported: bool, last_write: Option<Instant>) -> Self {
        Self {
            record,
            supported,
            published: Published::Unknown,
            needs_read: true,
            last_write,
            attempts: 0,
            retry_at: None,
            failure: None,
            recheck_at: None,
            deferred_logged: None,
            written_this_run: false,
            confirm: None,
            confirmed: None,
        }
    }

    /// Whether the published value is exactly `address`.
    pub(super) fn holds(&self, address: IpAddr) -> bool {
        match &self.published {
            Published::Values(values) => values.len() == 1 && values[0] == address,
            Published::Unreadable { last_written } => *last_written == Some(address),
            Published::Unknown => false,
        }
    }

    pub(super) fn can_read(&self) -> bool {
        !matches!(self.published, Published::Unreadable { .. })
    }

    pub(super) fn step(&self, cx: &Context) -> Step {
        let Some(address) = cx.desired else {
            // No trusted address: leave the record exactly as it is.
            return Step::Idle;
        };
        if !self.supported {
            return Step::Idle;
        }
        match &self.failure {
            Some(Failure::Permanent {
                address: failed, ..
            }) if *failed == address => return Step::Idle,
            Some(Failure::RateLimited { .. }) => return Step::Idle,
            _ => {}
        }
        if let Some(until) = cx.provider_blocked {
            return Step::Wait(until);
        }
        if let Some(at) = self.retry_at.filter(|t| *t > cx.now) {
            return Step::Wait(at);
        }
        if self.needs_read {
            return Step::Read;
        }
        if self.holds(address) {
            return Step::Idle;
        }
        if let Some(last) = self.last_write.filter(|_| !cx.ignore_interval) {
            let allowed = last + cx.min_interval;
            if allowed > cx.now {
                return Step::Deferred(allowed);
            }
        }
        Step::Write(address)
    }
}
