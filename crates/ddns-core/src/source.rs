//! The contract for address sources.

use std::fmt;
use std::net::IpAddr;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::record::IpFamily;

/// A change of the trusted address of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpEvent {
    /// The family's address is now this one.
    Observed(IpAddr),
    /// The family has no trusted address any more. Records are left alone.
    Lost(IpFamily),
}

impl IpEvent {
    /// The family the event concerns.
    pub fn family(&self) -> IpFamily {
        match self {
            IpEvent::Observed(address) => IpFamily::of(address),
            IpEvent::Lost(family) => *family,
        }
    }
}

/// The addresses a source holds right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressSnapshot {
    /// The IPv4 address, if any.
    pub v4: Option<IpAddr>,
    /// The IPv6 address, if any.
    pub v6: Option<IpAddr>,
}

impl AddressSnapshot {
    /// The address of a family.
    pub fn get(&self, family: IpFamily) -> Option<IpAddr> {
        match family {
            IpFamily::V4 => self.v4,
            IpFamily::V6 => self.v6,
        }
    }

    /// Sets the address of a family.
    pub fn set(&mut self, family: IpFamily, address: Option<IpAddr>) {
        match family {
            IpFamily::V4 => self.v4 = address,
            IpFamily::V6 => self.v6 = address,
        }
    }
}

/// A failure inside a source. Sources recover by themselves where they can
/// (resubscribe, resync) and report what happened through this type.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SourceError {
    /// A failure described by a message (it must hold no secret).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// Observes addresses and reports changes of the trusted address per family.
///
/// A source only observes. It holds no DNS logic, never retries provider
/// work and never blocks on the engine: the engine takes events through a
/// bounded intake that coalesces under load.
#[async_trait]
pub trait IpSource: Send + Sync {
    /// A short name for logs, such as `netlink`.
    fn name(&self) -> &str;

    /// The addresses trusted right now (used by one-shot runs).
    async fn current(&self) -> Result<AddressSnapshot, SourceError>;

    /// Follows changes. The stream first reports the current state, then
    /// every real change. Errors are reported in the stream, and the source
    /// keeps going when it can; if the stream ends, the engine calls
    /// `watch` again after a back-off.
    fn watch(&self) -> BoxStream<'static, Result<IpEvent, SourceError>>;
}

impl fmt::Display for IpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpEvent::Observed(address) => write!(f, "{} address {address}", IpFamily::of(address)),
            IpEvent::Lost(family) => write!(f, "{family} address lost"),
        }
    }
}
