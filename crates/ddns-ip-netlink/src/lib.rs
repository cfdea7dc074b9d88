//! The Linux netlink address source for ddns.
//!
//! [`NetlinkSource`] follows the kernel's interfaces and addresses over an
//! rtnetlink multicast subscription and reports, per address family, the
//! address ddns should publish. The rules for which address that is live in
//! [`ddns_core::AddressSelector`]; this crate only turns kernel messages into
//! [`ddns_core::AddressCandidate`]s and drives the selector. Register
//! [`NetlinkSourceFactory`] to make the source available as
//! `DDNS_IP_SOURCE_TYPE=netlink`; it reads `DDNS_IP_SOURCE_INTERFACE`.
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ddns_core::{IpSource, Registry, SelectionPolicy};
//! use ddns_ip_netlink::{NetlinkSource, NetlinkSourceFactory};
//!
//! # async fn demo() -> Result<(), ddns_core::SourceError> {
//! // Through the registry, as ddnsd does:
//! let mut registry = Registry::new();
//! registry.register_source(NetlinkSourceFactory);
//!
//! // Or directly:
//! let source = NetlinkSource::new(SelectionPolicy::Interfaces(vec!["eth0".into()]));
//! println!("now: {:?}", source.current().await?);
//! let mut events = source.watch();
//! while let Some(event) = events.next().await {
//!     match event {
//!         Ok(event) => println!("{event}"),
//!         Err(error) => eprintln!("{error}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - Subscribe before dump: the multicast subscription is opened before
//!   links and addresses are read, so no change between the two is missed.
//! - Only real changes are reported: an event is emitted when the chosen
//!   address of a family changes, never for lifetime refreshes, and a burst
//!   of kernel messages costs one choice.
//! - Lost messages are recovered: when the socket's receive buffer
//!   overflows (`ENOBUFS`), links and addresses are dumped again and the
//!   selector resynchronised; addresses still present keep their age, so
//!   the current choice stays.
//! - The stream does not end: if the socket fails it yields an error and
//!   resubscribes after 100 ms, doubling up to 30 s, with the same selector,
//!   so an unchanged choice is not reported again.
//! - The stream never waits for its consumer and starts no task: it reads
//!   the socket itself when polled (and while it dumps), and dropping it
//!   closes the socket. A consumer that stops polling for long only costs an
//!   overrun and a resync.
//!
//! # Caveats
//!
//! - Linux only. Inside a container (or any network namespace) only that
//!   namespace's interfaces are seen, typically not the host's public
//!   address; run in the host's namespace or use another source.
//! - Behind NAT the interface holds a private address: with
//!   `DDNS_IP_SOURCE_INTERFACE` unset nothing is reported for that family.
//! - The 1 MiB receive buffer is capped by `net.core.rmem_max`; a smaller
//!   buffer only makes resynchronisations more frequent.
//! - Interfaces are matched by name: an interface renamed out of
//!   `DDNS_IP_SOURCE_INTERFACE` stops counting, one renamed into it starts.

mod config;
mod kernel;
mod tracker;
mod translate;
mod watch;

#[cfg(test)]
mod testing;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use ddns_core::{AddressSnapshot, IpEvent, IpFamily, IpSource, SelectionPolicy, SourceError};

pub use config::{INTERFACE_VARIABLE, NetlinkSourceFactory};

use kernel::{Kernel, RouteSocket};
use tracker::Tracker;
use watch::Watcher;

/// The default receive buffer of the subscription socket: 1 MiB.
pub const DEFAULT_RECEIVE_BUFFER: usize = 1 << 20;

/// Reports the address chosen per family among the kernel's addresses.
#[derive(Debug, Clone)]
pub struct NetlinkSource {
    policy: SelectionPolicy,
    families: Vec<IpFamily>,
    socket: RouteSocket,
}

impl NetlinkSource {
    /// A source for both families with the given policy. Nothing is opened
    /// until [`IpSource::current`] or [`IpSource::watch`] is used.
    pub fn new(policy: SelectionPolicy) -> Self {
        Self {
            policy,
            families: IpFamily::ALL.to_vec(),
            socket: RouteSocket {
                receive_buffer: DEFAULT_RECEIVE_BUFFER,
            },
        }
    }

    /// Reports only these families (the others are neither chosen nor
    /// logged).
    pub fn with_families(mut self, families: &[IpFamily]) -> Self {
        self.families = IpFamily::ALL
            .into_iter()
            .filter(|family| families.contains(family))
            .collect();
        self
    }

    /// Sets the subscription socket's receive buffer (`SO_RCVBUF`), in
    /// bytes; the kernel caps it at `net.core.rmem_max`. Tests use a tiny one
    /// to provoke overruns.
    pub fn with_receive_buffer(mut self, bytes: usize) -> Self {
        self.socket.receive_buffer = bytes;
        self
    }

    /// The selection policy.
    pub fn policy(&self) -> &SelectionPolicy {
        &self.policy
    }

    /// The families reported.
    pub fn families(&self) -> &[IpFamily] {
        &self.families
    }
}

#[async_trait]
impl IpSource for NetlinkSource {
    fn name(&self) -> &str {
        "netlink"
    }

    async fn current(&self) -> Result<AddressSnapshot, SourceError> {
        let dump = self.socket.dump().await?;
        let mut tracker = Tracker::new(self.policy.clone());
        tracker.resync(&dump);
        let mut snapshot = AddressSnapshot::default();
        for family in &self.families {
            snapshot.set(*family, tracker.choose(*family));
        }
        Ok(snapshot)
    }

    fn watch(&self) -> BoxStream<'static, Result<IpEvent, SourceError>> {
        let tracker = Tracker::new(self.policy.clone());
        Watcher::new(self.socket, tracker, self.families.clone()).into_stream()
    }
}
