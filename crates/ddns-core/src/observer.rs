//! What the engine reports to whoever watches it (readiness, metrics,
//! notifications). Observers must return quickly: they run inline.

use std::net::IpAddr;
use std::time::Duration;

use crate::provider::ProviderError;
use crate::record::{IpFamily, Record};

/// Something the engine did or learned.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineEvent<'a> {
    /// A source reported a new trusted address.
    AddressObserved {
        /// The address.
        address: IpAddr,
    },
    /// A family has no trusted address any more.
    AddressLost {
        /// The family.
        family: IpFamily,
    },
    /// The record was found to hold the address already.
    RecordConfirmed {
        /// The record.
        record: &'a Record,
        /// The address it holds.
        address: IpAddr,
    },
    /// The record was written.
    RecordWritten {
        /// The record.
        record: &'a Record,
        /// The new address.
        address: IpAddr,
    },
    /// A write is held back by the minimum update interval.
    RecordDeferred {
        /// The record.
        record: &'a Record,
        /// How long until the write.
        delay: Duration,
    },
    /// A read or write failed.
    RecordFailed {
        /// The record.
        record: &'a Record,
        /// The provider's classified error.
        error: &'a ProviderError,
        /// When it will be tried again, if it will.
        retry_in: Option<Duration>,
    },
    /// A source reported an error: it cannot tell the address now.
    SourceFailed {
        /// The source's name.
        source: &'a str,
        /// What went wrong.
        message: &'a str,
    },
    /// The circuit breaker opened (the provider kept failing: only one
    /// probe call at a time until it answers) or closed again.
    BreakerChanged {
        /// Whether it is open now.
        open: bool,
    },
    /// Events were coalesced because the intake was full.
    EventsCoalesced {
        /// How many.
        count: u64,
    },
    /// A convergence pass ended.
    PassCompleted {
        /// Records holding the current address.
        in_sync: usize,
        /// Records waiting for an interval, a retry or an address.
        pending: usize,
        /// Records whose last attempt failed.
        failed: usize,
        /// Records this pass confirmed with the provider: read back holding
        /// their address (from the provider, through DNS or, for a provider
        /// that cannot read, from the state store) or written. A record
        /// merely known to be in line is not counted.
        confirmed: usize,
    },
}

/// Receives engine events.
pub trait EngineObserver: Send + Sync {
    /// Called inline for every event.
    fn observe(&self, event: &EngineEvent<'_>);
}
