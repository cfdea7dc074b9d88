//! The outcome of a one-shot run, per record.

use std::fmt;
use std::net::IpAddr;

use crate::record::Record;

/// What happened to one record in a one-shot run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordOutcome {
    /// It already held the address.
    Unchanged(IpAddr),
    /// It was written with the address.
    Updated(IpAddr),
    /// No trusted address of its family was found; it was left alone.
    NoAddress,
    /// The provider cannot manage this record.
    Unsupported,
    /// The provider asked to wait; nothing was written.
    RateLimited(String),
    /// It could not be brought up to date.
    Failed(String),
}

impl RecordOutcome {
    /// Whether the record holds the current address.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            RecordOutcome::Unchanged(_) | RecordOutcome::Updated(_)
        )
    }
}

impl fmt::Display for RecordOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordOutcome::Unchanged(a) => write!(f, "unchanged, holds {a}"),
            RecordOutcome::Updated(a) => write!(f, "updated to {a}"),
            RecordOutcome::NoAddress => {
                f.write_str("no address of this family was found; record left alone")
            }
            RecordOutcome::Unsupported => f.write_str("not supported by the provider"),
            RecordOutcome::RateLimited(m) => write!(f, "rate limited, nothing written: {m}"),
            RecordOutcome::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// Every record's outcome, in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnceReport {
    /// Records and what happened to them.
    pub records: Vec<(Record, RecordOutcome)>,
}

impl OnceReport {
    /// Whether every record holds the current address.
    pub fn all_ok(&self) -> bool {
        self.records.iter().all(|(_, outcome)| outcome.is_ok())
    }
}

impl fmt::Display for OnceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (record, outcome) in &self.records {
            writeln!(f, "{record}: {outcome}")?;
        }
        Ok(())
    }
}
