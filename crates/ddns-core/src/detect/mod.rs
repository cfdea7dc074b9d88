//! Public-address detection: asking outside services (echo servers,
//! resolvers, the gateway) what our address is, trusting only what enough
//! of them agree on, and turning that into an address source.
//!
//! The detectors themselves (HTTP, DNS, NAT-PMP, UPnP) live in their own
//! crates; this module holds the rules that decide what is trusted.

mod consensus;
mod source;

use std::net::IpAddr;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::record::IpFamily;
use crate::source::SourceError;

pub use consensus::{Answer, Verdict, decide};
pub use source::{DetectingSource, DetectionSettings};

/// Asks one service for the public address of a family.
#[async_trait]
pub trait Detector: Send + Sync {
    /// How the service is named in logs (never a credential).
    fn name(&self) -> &str;

    /// Whether it can answer for `family`.
    fn supports(&self, family: IpFamily) -> bool;

    /// The address of `family` as the service sees it.
    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError>;
}

/// Tells when the network changed, so that detection runs again at once
/// instead of at the next poll.
pub trait Trigger: Send + Sync {
    /// One item per change worth a new detection (not lifetime refreshes).
    fn changes(&self) -> BoxStream<'static, ()>;
}

/// Several triggers as one: a change reported by any of them counts.
pub struct AnyTrigger(pub Vec<std::sync::Arc<dyn Trigger>>);

impl Trigger for AnyTrigger {
    fn changes(&self) -> BoxStream<'static, ()> {
        use futures_util::StreamExt;
        futures_util::stream::select_all(self.0.iter().map(|t| t.changes())).boxed()
    }
}
