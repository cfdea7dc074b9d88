//! The Linux netlink address source for ddns, and a netlink change trigger
//! for sources that ask outside services.
//!
//! [`NetlinkSource`] follows the kernel's interfaces and addresses over an
//! rtnetlink multicast subscription and reports, per address family, the
//! address ddns should publish. The rules for which address that is live in
//! [`ddns_core::AddressSelector`]; this crate only turns kernel messages into
//! [`ddns_core::AddressCandidate`]s and drives the selector. Register
//! [`NetlinkSourceFactory`] to make the source available as
//! `DDNS_IP_SOURCE_TYPE=netlink`; it reads `DDNS_IP_SOURCE_INTERFACE`.
//!
//! [`NetlinkTrigger`] is a [`ddns_core::detect::Trigger`]: it follows
//! links, addresses and default routes and tells a
//! [`ddns_core::detect::DetectingSource`] when to ask again (see
//! [Trigger](#trigger)).
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
//!   overflows (`ENOBUFS`), the subscription is replaced by a new one
//!   (dropping the old messages still queued, which are older than the
//!   loss), links and addresses are dumped again and the selector
//!   resynchronised; addresses still present keep their age, so the
//!   current choice stays.
//! - The stream does not end: if the socket fails it yields an error and
//!   resubscribes after 100 ms, doubling up to 30 s, with the same selector,
//!   so an unchanged choice is not reported again.
//! - The stream never waits for its consumer and starts no task: it reads
//!   the socket itself when polled (and while it dumps), and dropping it
//!   closes the socket. A consumer that stops polling for long only costs an
//!   overrun and a resync.
//!
//! # Trigger
//!
//! Behind NAT the public address cannot be read from an interface, but its
//! changes mostly follow local ones: a PPPoE reconnect, a new DHCP lease, a
//! WAN link coming back. [`NetlinkTrigger`] turns those into a re-detection
//! at once, so that the poll interval is only a safety net:
//!
//! ```no_run
//! use std::sync::Arc;
//! use ddns_core::IpFamily;
//! use ddns_core::detect::{DetectingSource, DetectionSettings, Detector, Trigger};
//! use ddns_ip_netlink::NetlinkTrigger;
//!
//! # fn demo(detectors: Vec<Arc<dyn Detector>>) {
//! let trigger: Arc<dyn Trigger> = Arc::new(NetlinkTrigger::new());
//! let source = DetectingSource::new(
//!     "http",
//!     detectors,
//!     Some(trigger),
//!     DetectionSettings::new(vec![IpFamily::V4, IpFamily::V6]),
//! );
//! # }
//! ```
//!
//! It yields `()` after a burst of messages that changed any of these,
//! on every non-loopback interface or on those named with
//! [`NetlinkTrigger::with_interfaces`]:
//!
//! - links: a link coming up (`IFF_UP`), going down or being removed, and
//!   while up any change of its carrier (`IFF_LOWER_UP`), `IFF_RUNNING` or
//!   `IFLA_OPERSTATE`;
//! - addresses: a global-scope address becoming usable (added, or done
//!   with duplicate address detection) or going away, and an address
//!   becoming deprecated or preferred again; temporary IPv6 addresses,
//!   link-local ones and tentative ones do not count;
//! - routes: a unicast default route (`0.0.0.0/0`, `::/0`) of the main
//!   table through a watched interface added or removed, its gateway,
//!   interface or metric changed (`ip route replace` included).
//!
//! Not triggers: lifetime refreshes of a known address (DHCP renewals,
//! router advertisements), the kernel's repeated `RTM_NEWLINK`s carrying
//! statistics, MTU or other attributes, other routes and routing tables.
//! A burst of changes costs one `()`. A link's IPv4 routes that the
//! kernel drops without a notice (when the link goes down, or loses its
//! last IPv4 address) are dropped from the trigger's state too, so that the
//! route added back later counts as new.
//!
//! When the receive buffer overflows it yields once (something changed
//! that was missed) and reads the state again; when the socket fails it
//! logs a warning, resubscribes after 100 ms doubling up to 30 s, and
//! yields once if the state then differs. Each reason is logged at debug
//! level with its fields (`global address added`, `default route removed`,
//! `link state changed`, …).
//!
//! Latency: on the host that holds the public address or the WAN link (the
//! router itself, a PPPoE host), a reconnect is a local change and triggers
//! within the consumer's debounce. On a host behind a router, the router's
//! reconnect changes nothing locally: only the poll interval (or the
//! router's own announcements) notices it.
//!
//! # Stable IPv6 addresses
//!
//! [`host_ipv6_addresses`] reads, in one dump, the host's IPv6 addresses
//! as an echo service would see them: the stable ones a request may be
//! bound to (global scope, not temporary, deprecated, tentative or
//! duplicate, not on loopback; best first), and the temporary ones an
//! answer must not be. The `http` and `dns` sources use it through the
//! hook ddnsd plugs in, so that a privacy address is never published.
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
//! - The trigger does not follow nexthop objects (`ip nexthop`): a default
//!   route through one counts, a change of the object behind it does not.
//! - The trigger reads its initial state when first polled; a message
//!   about a watched link, address or route that arrives before that state
//!   is read yields once, since the caller looked before. A notice the
//!   kernel sends after the change is already visible (IPv6 announces
//!   addresses from a work queue) and that straddles the initial read may
//!   go unreported: the poll interval covers it.

mod config;
mod follow;
mod gateway;
mod kernel;
mod network;
mod stable;
mod tracker;
mod translate;
mod trigger;
mod watch;

#[cfg(test)]
mod testing;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use ddns_core::{AddressSnapshot, IpEvent, IpFamily, IpSource, SelectionPolicy, SourceError};

pub use config::{INTERFACE_VARIABLE, NetlinkSourceFactory};
pub use gateway::{Gateway, GatewayStatus, NeighbourState, default_gateway};
pub use stable::{HostIpv6Addresses, host_ipv6_addresses};
pub use trigger::NetlinkTrigger;

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
                routes: false,
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
