//! [`NetlinkTrigger`]: tells a detecting source when the network changed in
//! a way that may have changed the public address.

use std::time::Duration;

use ddns_core::SourceError;
use ddns_core::detect::Trigger;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use netlink_packet_route::RouteNetlinkMessage;
use tracing::{debug, info, warn};

use crate::DEFAULT_RECEIVE_BUFFER;
use crate::follow::{Follow, Follower};
use crate::kernel::{Kernel, RouteSocket};
use crate::network::{Change, Network};
use crate::translate;

/// A [`Trigger`] on the kernel's link, address and default-route changes.
///
/// Each [`Trigger::changes`] stream opens its own rtnetlink subscription
/// (links, IPv4 and IPv6 addresses, IPv4 and IPv6 routes) at once, reads
/// the current state when first polled, and from then on yields `()` after
/// each burst of messages that changed any of:
///
/// - a watched link's `IFF_UP`, `IFF_LOWER_UP` (carrier), `IFF_RUNNING`
///   or `IFLA_OPERSTATE`, its removal, or its appearance already up;
/// - the usable global-scope addresses on watched links (not temporary,
///   tentative or failed duplicate address detection), or whether one of
///   them is deprecated;
/// - the unicast default routes (IPv4 `0.0.0.0/0`, IPv6 `::/0`) of the
///   main table through a watched link: their gateway, interface, metric.
///
/// Everything else is not a change: lifetime refreshes of a known address
/// (DHCP renewals, router advertisements), `RTM_NEWLINK`s that only carry
/// statistics or other attributes, other routes and tables, link-local
/// addresses, temporary IPv6 addresses coming and going. The initial state
/// is read without yielding.
///
/// What happens after `changes()` returns is not missed: a message about a
/// watched link, address or default route that arrives before the initial
/// state is read yields one `()`, since that state may already include it
/// while the caller looked before. (Called outside a tokio runtime, the
/// subscription waits for the first poll.)
///
/// When messages were lost (the receive buffer overran) it yields once and
/// reads the state again. When the socket fails it logs a warning and
/// resubscribes after 100 ms, doubling up to 30 s, then yields once if the
/// state differs from before. The stream never ends, never waits for its
/// consumer and starts no task; dropping it closes the socket.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use ddns_core::detect::Trigger;
/// use ddns_ip_netlink::NetlinkTrigger;
///
/// # async fn demo() {
/// let trigger = NetlinkTrigger::new().with_interfaces(vec!["ppp0".into()]);
/// let mut changes = trigger.changes();
/// while changes.next().await.is_some() {
///     println!("the network changed; ask for the public address again");
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct NetlinkTrigger {
    interfaces: Vec<String>,
    socket: RouteSocket,
}

impl NetlinkTrigger {
    /// A trigger on every non-loopback interface. Nothing is opened until
    /// [`Trigger::changes`] is called.
    pub fn new() -> Self {
        Self {
            interfaces: Vec::new(),
            socket: RouteSocket {
                receive_buffer: DEFAULT_RECEIVE_BUFFER,
                routes: true,
            },
        }
    }

    /// Watches only the interfaces with these names (loopback included if
    /// named); an empty list means every non-loopback interface. A default
    /// route counts when one of its next hops goes through a watched
    /// interface.
    pub fn with_interfaces(mut self, interfaces: Vec<String>) -> Self {
        self.interfaces = interfaces;
        self
    }

    /// Sets the subscription socket's receive buffer (`SO_RCVBUF`), in
    /// bytes; the kernel caps it at `net.core.rmem_max`. Tests use a tiny one
    /// to provoke overruns.
    pub fn with_receive_buffer(mut self, bytes: usize) -> Self {
        self.socket.receive_buffer = bytes;
        self
    }

    /// The watched interfaces; empty for every non-loopback interface.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }
}

impl Default for NetlinkTrigger {
    fn default() -> Self {
        Self::new()
    }
}

impl Trigger for NetlinkTrigger {
    fn changes(&self) -> BoxStream<'static, ()> {
        let changes = Changes::new(self.socket, Network::new(self.interfaces.clone()));
        // Outside a runtime the socket cannot be registered yet: the first
        // poll subscribes instead.
        if tokio::runtime::Handle::try_current().is_ok() {
            changes.subscribe_now().into_stream()
        } else {
            changes.into_stream()
        }
    }
}

/// Follows one kernel and yields `()` after each burst that changed
/// something.
pub(crate) struct Changes<K: Kernel> {
    follower: Follower<K, Spotter>,
}

/// What the trigger makes of the kernel's messages.
#[derive(Debug)]
struct Spotter {
    network: Network,
    /// Changes seen since the last `()`.
    changes: usize,
    /// Messages were lost since the last `()`.
    missed: bool,
    /// The subscription failed since it last worked (or before it ever did).
    interrupted: bool,
    /// Between the first subscription's dump and the end of the batch that
    /// follows it.
    starting: bool,
}

impl<K: Kernel> Changes<K> {
    pub(crate) fn new(kernel: K, network: Network) -> Self {
        let spotter = Spotter {
            network,
            changes: 0,
            missed: false,
            interrupted: false,
            starting: false,
        };
        Self {
            follower: Follower::new(kernel, spotter),
        }
    }

    /// Opens the subscription now (see [`Follower::subscribe_now`]).
    pub(crate) fn subscribe_now(mut self) -> Self {
        self.follower.subscribe_now();
        self
    }

    /// The endless stream of triggers.
    pub(crate) fn into_stream(self) -> BoxStream<'static, ()> {
        stream::unfold(self, |mut changes| async move {
            changes.next().await;
            Some(((), changes))
        })
        .boxed()
    }

    async fn next(&mut self) {
        loop {
            let spotter = self.follower.follow_mut();
            if spotter.changes > 0 || spotter.missed {
                debug!(
                    changes = spotter.changes,
                    missed = spotter.missed,
                    "network changed; triggering a new detection"
                );
                spotter.changes = 0;
                spotter.missed = false;
                return;
            }
            self.follower.step().await;
        }
    }
}

impl Spotter {
    fn note(&mut self, changes: Vec<Change>) {
        for change in &changes {
            log(change);
        }
        self.changes += changes.len();
    }
}

impl Follow for Spotter {
    fn connected(&mut self, dump: &[RouteNetlinkMessage], attempt: u64) {
        let changes = self.network.resync(dump);
        let counts = self.network.counts();
        if attempt == 1 {
            info!(
                links_up = counts.links_up,
                addresses = counts.addresses,
                default_routes = counts.default_routes,
                "netlink change trigger started"
            );
            // Nothing to compare with: what happened before the first
            // subscription is unknown, unless there was no wait for it.
            self.missed |= self.interrupted;
            self.starting = true;
        } else {
            info!(
                attempt,
                links_up = counts.links_up,
                addresses = counts.addresses,
                default_routes = counts.default_routes,
                "netlink change trigger resubscribed"
            );
            self.note(changes);
        }
        self.interrupted = false;
    }

    fn apply(&mut self, message: &RouteNetlinkMessage, replacement: bool) {
        if self.starting && self.network.concerns(message) {
            // It came before the first dump ended, which may already show
            // it: compared with that it may look like nothing, though the
            // consumer, which looked before, has not seen it.
            debug!(
                kind = kind(message),
                subject = %subject(message),
                "watched state changed while the trigger started"
            );
            self.changes += 1;
        }
        let changes = self.network.apply(message, replacement);
        self.note(changes);
    }

    fn resynced(&mut self, dump: &[RouteNetlinkMessage]) {
        let changes = self.network.resync(dump);
        self.note(changes);
        self.missed = true;
    }

    fn settled(&mut self) {
        self.starting = false;
    }

    fn failed(&mut self, error: SourceError, retry_in: Duration) {
        let retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
        if self.interrupted {
            debug!(error = %error, retry_in_ms, "netlink change trigger still interrupted");
        } else {
            warn!(error = %error, retry_in_ms, "netlink change trigger interrupted; resubscribing");
            self.interrupted = true;
        }
    }
}

/// The kind of a message, for logs.
fn kind(message: &RouteNetlinkMessage) -> &'static str {
    match message {
        RouteNetlinkMessage::NewLink(_) => "RTM_NEWLINK",
        RouteNetlinkMessage::DelLink(_) => "RTM_DELLINK",
        RouteNetlinkMessage::NewAddress(_) => "RTM_NEWADDR",
        RouteNetlinkMessage::DelAddress(_) => "RTM_DELADDR",
        RouteNetlinkMessage::NewRoute(_) => "RTM_NEWROUTE",
        RouteNetlinkMessage::DelRoute(_) => "RTM_DELROUTE",
        _ => "other",
    }
}

/// What a message is about, for logs: an interface, an address, a route.
fn subject(message: &RouteNetlinkMessage) -> String {
    match message {
        RouteNetlinkMessage::NewLink(link) | RouteNetlinkMessage::DelLink(link) => {
            let (ifindex, link) = translate::link(link);
            link.name.unwrap_or_else(|| format!("ifindex {ifindex}"))
        }
        RouteNetlinkMessage::NewAddress(message) | RouteNetlinkMessage::DelAddress(message) => {
            translate::address(message).map_or_else(String::new, |a| a.to_string())
        }
        RouteNetlinkMessage::NewRoute(message) | RouteNetlinkMessage::DelRoute(message) => {
            translate::default_route(message).map_or_else(String::new, |r| r.to_string())
        }
        _ => String::new(),
    }
}

/// One debug line per reason for a trigger.
fn log(change: &Change) {
    match change {
        Change::LinkUp {
            ifindex,
            interface,
            state,
        } => debug!(
            ifindex,
            interface = %interface,
            lower_up = state.lower_up,
            running = state.running,
            operstate = ?state.operstate,
            "link up"
        ),
        Change::LinkDown { ifindex, interface } => {
            debug!(ifindex, interface = %interface, "link down or removed");
        }
        Change::LinkChanged {
            ifindex,
            interface,
            from,
            to,
        } => debug!(
            ifindex,
            interface = %interface,
            lower_up = to.lower_up,
            running = to.running,
            operstate = ?to.operstate,
            was_lower_up = from.lower_up,
            was_running = from.running,
            was_operstate = ?from.operstate,
            "link state changed"
        ),
        Change::AddressAdded {
            ifindex,
            interface,
            address,
        } => debug!(ifindex, interface = %interface, address = %address, "global address added"),
        Change::AddressRemoved {
            ifindex,
            interface,
            address,
        } => debug!(ifindex, interface = %interface, address = %address, "global address removed"),
        Change::AddressDeprecated {
            ifindex,
            interface,
            address,
            deprecated,
        } => debug!(
            ifindex,
            interface = %interface,
            address = %address,
            deprecated,
            "global address preference changed"
        ),
        Change::RouteAdded(route) => {
            debug!(family = %route.family, route = %route, "default route added");
        }
        Change::RouteRemoved(route) => {
            debug!(family = %route.family, route = %route, "default route removed");
        }
    }
}

#[cfg(test)]
mod tests;
