//! The network as far as the public address is concerned: which links
//! are up, which global addresses they hold, which default routes lead out.
//! Applying a kernel message tells whether any of that changed, so that
//! refreshes and statistics are told apart from changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ddns_core::{AddressCandidate, IpFamily};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::translate::{self, DefaultRoute, Link, LinkState};

/// A change worth a new detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A watched link came up (or up links started to be watched).
    LinkUp {
        ifindex: u32,
        interface: String,
        state: LinkState,
    },
    /// A watched link went down, or was removed.
    LinkDown { ifindex: u32, interface: String },
    /// The carrier or operational state of an up link changed.
    LinkChanged {
        ifindex: u32,
        interface: String,
        from: LinkState,
        to: LinkState,
    },
    /// A global address became usable on a watched link.
    AddressAdded {
        ifindex: u32,
        interface: String,
        address: IpAddr,
    },
    /// A global address is gone (or no longer usable).
    AddressRemoved {
        ifindex: u32,
        interface: String,
        address: IpAddr,
    },
    /// A global address became deprecated, or preferred again.
    AddressDeprecated {
        ifindex: u32,
        interface: String,
        address: IpAddr,
        deprecated: bool,
    },
    /// A default route through a watched link appeared.
    RouteAdded(DefaultRoute),
    /// A default route through a watched link is gone.
    RouteRemoved(DefaultRoute),
}

/// How many facts are watched (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) links_up: usize,
    pub(crate) addresses: usize,
    pub(crate) default_routes: usize,
}

/// The kernel's links, addresses and default routes as last seen.
///
/// Everything is kept, watched or not, so that a link renamed into the
/// watched set, or seen after its addresses, brings them along.
#[derive(Debug)]
pub(crate) struct Network {
    /// Watched interface names; empty: every non-loopback interface.
    interfaces: Vec<String>,
    links: HashMap<u32, LinkEntry>,
    /// Every address, of every scope (the IPv4 route flush below needs the
    /// non-global ones too).
    addresses: BTreeMap<(u32, IpAddr), AddressCandidate>,
    routes: BTreeSet<DefaultRoute>,
}

#[derive(Debug)]
struct LinkEntry {
    link: Link,
    state: LinkState,
}

/// What decides a trigger: the watched part of [`Network`].
#[derive(Debug, Default)]
struct Facts {
    /// Watched links that are administratively up.
    links: BTreeMap<u32, (String, LinkState)>,
    /// Usable global addresses on watched links, with their interface
    /// name and whether they are deprecated.
    addresses: BTreeMap<(u32, IpAddr), (String, bool)>,
    /// Default routes through a watched link.
    routes: BTreeSet<DefaultRoute>,
}

/// The part of the facts a message can change.
#[derive(Debug, Clone, Copy)]
enum Slice {
    All,
    /// One link, its addresses, and the routes.
    Link(u32),
    /// One address, and the routes.
    Address(u32, IpAddr),
    /// The routes.
    Routes,
}

impl Network {
    /// Watches `interfaces`, or every non-loopback interface when empty.
    pub(crate) fn new(interfaces: Vec<String>) -> Self {
        Self {
            interfaces,
            links: HashMap::new(),
            addresses: BTreeMap::new(),
            routes: BTreeSet::new(),
        }
    }

    /// Applies one message of the subscription and says what it changed.
    /// `replacement` marks an `RTM_NEWROUTE` flagged `NLM_F_REPLACE`.
    pub(crate) fn apply(
        &mut self,
        message: &RouteNetlinkMessage,
        replacement: bool,
    ) -> Vec<Change> {
        match slice_of(message) {
            Some(slice) => self.changing(slice, |network| network.update(message, replacement)),
            None => Vec::new(),
        }
    }

    /// Replaces everything with a full dump and says what differs from
    /// before.
    pub(crate) fn resync(&mut self, dump: &[RouteNetlinkMessage]) -> Vec<Change> {
        self.changing(Slice::All, |network| {
            network.links.clear();
            network.addresses.clear();
            network.routes.clear();
            for message in dump {
                network.update(message, false);
            }
        })
    }

    /// Whether `message` is about something watched (a watched link, a
    /// usable global address on one, a default route through one), changed
    /// or not.
    pub(crate) fn concerns(&self, message: &RouteNetlinkMessage) -> bool {
        match message {
            RouteNetlinkMessage::NewLink(link) | RouteNetlinkMessage::DelLink(link)
                if is_device_notice(link) =>
            {
                let (ifindex, mut seen) = translate::link(link);
                if seen.name.is_none() {
                    seen.name = self.links.get(&ifindex).and_then(|e| e.link.name.clone());
                }
                self.watches(&seen)
            }
            RouteNetlinkMessage::NewAddress(message) | RouteNetlinkMessage::DelAddress(message) => {
                let link = self.links.get(&message.header.index).map(|e| &e.link);
                link.is_some_and(|link| self.watches(link))
                    && translate::candidate(message, link).is_some_and(|c| usable(&c))
            }
            RouteNetlinkMessage::NewRoute(message) | RouteNetlinkMessage::DelRoute(message) => {
                translate::default_route(message).is_some_and(|route| self.route_watched(&route))
            }
            _ => false,
        }
    }

    /// How much is watched.
    pub(crate) fn counts(&self) -> Counts {
        let facts = self.facts(Slice::All);
        Counts {
            links_up: facts.links.len(),
            addresses: facts.addresses.len(),
            default_routes: facts.routes.len(),
        }
    }

    fn changing(&mut self, slice: Slice, change: impl FnOnce(&mut Self)) -> Vec<Change> {
        let before = self.facts(slice);
        change(self);
        let after = self.facts(slice);
        diff(before, after)
    }

    fn update(&mut self, message: &RouteNetlinkMessage, replacement: bool) {
        match message {
            RouteNetlinkMessage::NewLink(link) if is_device_notice(link) => self.link_seen(link),
            RouteNetlinkMessage::DelLink(link) if translate::is_interface_removal(link) => {
                self.link_removed(link.header.index);
            }
            RouteNetlinkMessage::NewAddress(message) => self.address_seen(message),
            RouteNetlinkMessage::DelAddress(message) => {
                if let Some(address) = translate::address(message) {
                    self.address_removed(message.header.index, address);
                }
            }
            RouteNetlinkMessage::NewRoute(message) => {
                if let Some(route) = translate::default_route(message) {
                    self.route_seen(route, replacement);
                }
            }
            RouteNetlinkMessage::DelRoute(message) => {
                if let Some(route) = translate::default_route(message) {
                    self.routes.remove(&route);
                }
            }
            _ => {}
        }
    }

    fn link_seen(&mut self, message: &LinkMessage) {
        let (ifindex, mut link) = translate::link(message);
        let mut state = translate::link_state(message);
        let previous = self.links.get(&ifindex);
        if link.name.is_none() {
            link.name = previous.and_then(|p| p.link.name.clone());
        }
        if state.operstate.is_none() {
            state.operstate = previous.and_then(|p| p.state.operstate);
        }
        let went_down = previous.is_some_and(|p| p.state.up) && !state.up;
        self.links.insert(ifindex, LinkEntry { link, state });
        if went_down {
            // The kernel flushes a downed link's IPv4 routes without a
            // word (IPv6 announces its removals); a route added again later
            // must not pass for a refresh.
            self.forget_routes_only_on(ifindex, IpFamily::V4);
        }
    }

    fn link_removed(&mut self, ifindex: u32) {
        self.links.remove(&ifindex);
        self.addresses.retain(|(index, _), _| *index != ifindex);
        self.routes
            .retain(|route| !route.hops.iter().any(|hop| hop.ifindex == ifindex));
    }

    fn address_seen(&mut self, message: &AddressMessage) {
        let link = self.links.get(&message.header.index).map(|e| &e.link);
        if let Some(candidate) = translate::candidate(message, link) {
            self.addresses
                .insert((candidate.ifindex, candidate.address), candidate);
        }
    }

    fn address_removed(&mut self, ifindex: u32, address: IpAddr) {
        self.addresses.remove(&(ifindex, address));
        let ipv4_left = self
            .addresses_of(ifindex)
            .any(|(address, _)| address.is_ipv4());
        if address.is_ipv4() && !ipv4_left {
            // Removing a link's last IPv4 address flushes its IPv4 routes,
            // again without a word.
            self.forget_routes_only_on(ifindex, IpFamily::V4);
        }
    }

    fn route_seen(&mut self, route: DefaultRoute, replacement: bool) {
        if replacement && !self.routes.contains(&route) {
            // It replaced the route with the same key, whose removal is not
            // announced: for IPv4 exactly one with this TOS and metric; for
            // IPv6 usually so.
            self.routes.retain(|known| {
                (known.family, known.tos, known.metric) != (route.family, route.tos, route.metric)
            });
        }
        self.routes.insert(route);
    }

    /// Drops the routes of `family` whose every hop is on `ifindex`.
    fn forget_routes_only_on(&mut self, ifindex: u32, family: IpFamily) {
        self.routes.retain(|route| {
            route.family != family
                || route.hops.is_empty()
                || route.hops.iter().any(|hop| hop.ifindex != ifindex)
        });
    }

    fn addresses_of(&self, ifindex: u32) -> impl Iterator<Item = (IpAddr, &AddressCandidate)> {
        self.addresses
            .range((ifindex, IpAddr::from([0u8; 4]))..)
            .take_while(move |((index, _), _)| *index == ifindex)
            .map(|((_, address), candidate)| (*address, candidate))
    }

    fn watched(&self, ifindex: u32) -> bool {
        self.links
            .get(&ifindex)
            .is_some_and(|entry| self.watches(&entry.link))
    }

    fn watches(&self, link: &Link) -> bool {
        if self.interfaces.is_empty() {
            !link.loopback
        } else {
            link.name
                .as_ref()
                .is_some_and(|name| self.interfaces.contains(name))
        }
    }

    fn route_watched(&self, route: &DefaultRoute) -> bool {
        let mut interfaces = route
            .hops
            .iter()
            .map(|hop| hop.ifindex)
            .filter(|ifindex| *ifindex != 0)
            .peekable();
        if interfaces.peek().is_none() {
            // Through a nexthop object: no interface to match.
            return self.interfaces.is_empty();
        }
        interfaces.any(|ifindex| self.watched(ifindex))
    }

    fn name(&self, ifindex: u32) -> String {
        self.links
            .get(&ifindex)
            .and_then(|entry| entry.link.name.clone())
            .unwrap_or_default()
    }

    fn link_fact(&self, ifindex: u32) -> Option<(String, LinkState)> {
        let entry = self.links.get(&ifindex)?;
        (entry.state.up && self.watched(ifindex)).then(|| (self.name(ifindex), entry.state))
    }

    fn address_fact(&self, ifindex: u32, candidate: &AddressCandidate) -> Option<(String, bool)> {
        (usable(candidate) && self.watched(ifindex))
            .then(|| (self.name(ifindex), candidate.deprecated))
    }

    fn facts(&self, slice: Slice) -> Facts {
        let mut facts = Facts::default();
        let add_link = |facts: &mut Facts, ifindex: u32| {
            if let Some(fact) = self.link_fact(ifindex) {
                facts.links.insert(ifindex, fact);
            }
        };
        match slice {
            Slice::All => {
                for ifindex in self.links.keys() {
                    add_link(&mut facts, *ifindex);
                }
                for ((ifindex, address), candidate) in &self.addresses {
                    if let Some(fact) = self.address_fact(*ifindex, candidate) {
                        facts.addresses.insert((*ifindex, *address), fact);
                    }
                }
            }
            Slice::Link(ifindex) => {
                add_link(&mut facts, ifindex);
                for (address, candidate) in self.addresses_of(ifindex) {
                    if let Some(fact) = self.address_fact(ifindex, candidate) {
                        facts.addresses.insert((ifindex, address), fact);
                    }
                }
            }
            Slice::Address(ifindex, address) => {
                if let Some(fact) = self
                    .addresses
                    .get(&(ifindex, address))
                    .and_then(|candidate| self.address_fact(ifindex, candidate))
                {
                    facts.addresses.insert((ifindex, address), fact);
                }
            }
            Slice::Routes => {}
        }
        facts.routes = self
            .routes
            .iter()
            .filter(|route| self.route_watched(route))
            .cloned()
            .collect();
        facts
    }
}

/// Whether an address counts: global scope, and neither temporary (IPv6
/// privacy addresses come and go daily) nor waiting for or failed by
/// duplicate address detection.
fn usable(candidate: &AddressCandidate) -> bool {
    candidate.scope_global && !candidate.temporary && !candidate.tentative && !candidate.dad_failed
}

/// The facts `message` can change, or `None` when it cannot change any.
fn slice_of(message: &RouteNetlinkMessage) -> Option<Slice> {
    match message {
        RouteNetlinkMessage::NewLink(link) if is_device_notice(link) => {
            Some(Slice::Link(link.header.index))
        }
        RouteNetlinkMessage::DelLink(link) if translate::is_interface_removal(link) => {
            Some(Slice::Link(link.header.index))
        }
        RouteNetlinkMessage::NewAddress(message) | RouteNetlinkMessage::DelAddress(message) => {
            translate::address(message).map(|address| Slice::Address(message.header.index, address))
        }
        RouteNetlinkMessage::NewRoute(message) | RouteNetlinkMessage::DelRoute(message) => {
            translate::default_route(message).map(|_| Slice::Routes)
        }
        _ => None,
    }
}

/// Whether an `RTM_NEWLINK` describes the device itself: the bridge code
/// also sends them with family `AF_BRIDGE` about a port, repeating its state.
fn is_device_notice(message: &LinkMessage) -> bool {
    message.header.interface_family == AddressFamily::Unspec
}

/// What changed from `before` to `after`: links, then addresses, then
/// routes.
fn diff(before: Facts, mut after: Facts) -> Vec<Change> {
    let mut changes = Vec::new();
    for (ifindex, (interface, from)) in before.links {
        match after.links.remove(&ifindex) {
            None => changes.push(Change::LinkDown { ifindex, interface }),
            Some((interface, to)) if to != from => changes.push(Change::LinkChanged {
                ifindex,
                interface,
                from,
                to,
            }),
            Some(_) => {}
        }
    }
    for (ifindex, (interface, state)) in after.links {
        changes.push(Change::LinkUp {
            ifindex,
            interface,
            state,
        });
    }
    for ((ifindex, address), (interface, was_deprecated)) in before.addresses {
        match after.addresses.remove(&(ifindex, address)) {
            None => changes.push(Change::AddressRemoved {
                ifindex,
                interface,
                address,
            }),
            Some((interface, deprecated)) if deprecated != was_deprecated => {
                changes.push(Change::AddressDeprecated {
                    ifindex,
                    interface,
                    address,
                    deprecated,
                });
            }
            Some(_) => {}
        }
    }
    for ((ifindex, address), (interface, _)) in after.addresses {
        changes.push(Change::AddressAdded {
            ifindex,
            interface,
            address,
        });
    }
    for route in before.routes.difference(&after.routes) {
        changes.push(Change::RouteRemoved(route.clone()));
    }
    for route in after.routes.difference(&before.routes) {
        changes.push(Change::RouteAdded(route.clone()));
    }
    changes
}

#[cfg(test)]
mod tests;
