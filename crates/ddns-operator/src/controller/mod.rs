//! The controllers: one for `DNSZone`s, which does the work, and one per
//! record kind, which only looks after records whose zone is gone.
//!
//! A zone's reconcile reads its records from watch caches (no list calls),
//! assembles the zone, delivers it, and writes the status of the zone and
//! of each record. A change to a record triggers its zone's reconcile
//! through a watch mapping (the zone named by `spec.zoneRef`, and the one
//! in `status.zone` so that a record moved to another zone leaves the old
//! one); a change to a `Bind9Instance` triggers every zone of its
//! namespace.

mod context;
mod deliver;
mod error;
mod patch;
mod record;
pub mod selector;
mod stores;
mod triggers;
mod zone;

pub use context::Context;
pub use deliver::{
    BindDeliverer, Deliverer, DeliveryFailure, FileResult, UpdateResult, UpdateTarget,
};
pub use error::Error;
pub use stores::RecordStores;

/// The finalizer on zones and records.
pub const FINALIZER: &str = "ddns.dev/cleanup";

/// The first delay after a failed reconcile; it doubles per failure.
pub const BACKOFF_START: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest delay after failures.
pub const BACKOFF_CAP: std::time::Duration = std::time::Duration::from_secs(600);

/// The delay after `failures` consecutive failures (1 → 30 s, doubling,
/// at most [`BACKOFF_CAP`]).
pub fn backoff(failures: u32) -> std::time::Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_START
        .saturating_mul(1 << doublings)
        .min(BACKOFF_CAP)
}

mod run;
pub use run::{RunHandles, run};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_30_seconds_to_the_cap() {
        let delays: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, vec![30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }
}
