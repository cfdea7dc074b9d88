//! What survives a restart: the last address written to each record, and when.

pub(crate) mod file;
pub(crate) mod memory;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub use file::{FileStateStore, STATE_FORMAT_VERSION};
pub use memory::MemoryStateStore;

/// The persisted state of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordState {
    /// The address last written successfully.
    pub address: IpAddr,
    /// When it was written, in seconds since the Unix epoch.
    pub written_at: u64,
}

/// Everything the engine persists. Keys are [`crate::Record::key`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Per-record state.
    #[serde(default)]
    pub records: BTreeMap<String, RecordState>,
    /// Readiness and uptime counters, kept by the health monitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::HealthRecord>,
}

/// Something besides the engine that keeps part of its state in the
/// engine's snapshot (the health monitor's counters). The engine stays the
/// only writer of the store: it asks each contributor before saving.
pub trait StateContributor: Send + Sync {
    /// Takes what an earlier run left, once, after the engine loaded it.
    fn restore(&self, snapshot: &StateSnapshot);

    /// Writes its part into `snapshot`; `true` when it changed since the
    /// last call, so that the engine saves even if no record changed.
    fn contribute(&self, snapshot: &mut StateSnapshot) -> bool;
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where the engine keeps its state.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// A short name for logs: `memory`, `file`.
    fn name(&self) -> &str;

    /// The stored state. A damaged store is recovered (from a backup, or
    /// empty) with a warning rather than failing.
    async fn load(&self) -> Result<StateSnapshot>;

    /// Replaces the stored state atomically.
    async fn save(&self, snapshot: &StateSnapshot) -> Result<()>;
}
