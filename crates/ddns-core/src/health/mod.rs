//! Readiness and uptime: how well the daemon is doing its job, over this
//! run and every earlier one.
//!
//! [`HealthMonitor`] is an [`EngineObserver`](crate::EngineObserver): the
//! engine reports what it does, the monitor draws conclusions. Add it with
//! `DdnsEngine::with_observer` and `DdnsEngine::with_state_contributor` (so
//! that its counters are saved with the engine's state). Metrics,
//! notifications and probes read [`HealthMonitor::watch`] and
//! [`HealthMonitor::subscribe`].
//!
//! # States
//!
//! | state | entered when |
//! |---|---|
//! | `starting` | at start |
//! | `probing` | an address is detected and the provider answered |
//! | `ready` | every record was confirmed (read, verified or written) in `confirmations` consecutive passes |
//! | `degraded` | a record failed, a source failed, an address was lost, or a network probe failed (not before `probing`) |
//! | `recovering` | the provider answered, or every record was confirmed, while degraded |
//!
//! Each transition is logged once, at info (warn for `degraded`), with
//! `from`, `to` and `reason`.

mod machine;
mod monitor;
mod uptime;

pub use machine::{Machine, Readiness, Signal, Transition};
pub use monitor::{HealthEvent, HealthMonitor, HealthSnapshot};
pub use uptime::{HealthRecord, Uptime};
