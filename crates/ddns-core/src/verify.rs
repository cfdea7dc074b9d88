//! The contract for checking what DNS actually serves.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::provider::ProviderError;
use crate::record::Record;

/// What a DNS server answered for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The values served (empty when the name or type does not exist).
    pub values: Vec<IpAddr>,
    /// Whether the answer came from a server of the zone (AA set). Only an
    /// authoritative answer may justify skipping a write.
    pub authoritative: bool,
}

/// Reads the published value of a record through DNS, independently of
/// the provider's API. Used before a write when the provider cannot read
/// its own state, and after a write to confirm that it took.
#[async_trait]
pub trait Verifier: Send + Sync {
    /// A short name for logs: `dns`, `doh`.
    fn name(&self) -> &str;

    /// What DNS serves for the record now.
    async fn observe(&self, record: &Record) -> Result<Observation, ProviderError>;
}
