//! The kernel's interfaces and addresses as last seen, feeding the selector.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ddns_core::{AddressCandidate, AddressSelector, IpFamily, SelectionPolicy};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use tracing::{debug, trace};

use crate::translate::{self, Link};

/// Applies link and address messages to an [`AddressSelector`].
///
/// It keeps its own copy of each candidate so that a link change (a
/// rename, the loopback flag, a link first seen after its addresses) can be
/// pushed to the selector, whose `upsert` keeps each address's age.
#[derive(Debug)]
pub(crate) struct Tracker {
    selector: AddressSelector,
    links: HashMap<u32, Link>,
    candidates: BTreeMap<(u32, IpAddr), AddressCandidate>,
}

impl Tracker {
    pub(crate) fn new(policy: SelectionPolicy) -> Self {
        Self {
            selector: AddressSelector::new(policy),
            links: HashMap::new(),
            candidates: BTreeMap::new(),
        }
    }

    /// Applies one message from the subscription or a dump; other message
    /// types are ignored.
    pub(crate) fn apply(&mut self, message: &RouteNetlinkMessage) {
        match message {
            RouteNetlinkMessage::NewLink(link) => self.link_seen(link),
            RouteNetlinkMessage::DelLink(link) if translate::is_interface_removal(link) => {
                self.link_removed(link.header.index);
            }
            RouteNetlinkMessage::NewAddress(address) => self.address_seen(address),
            RouteNetlinkMessage::DelAddress(address) => self.address_removed(address),
            _ => {}
        }
    }

    /// Replaces everything with a full dump. Addresses that are still there
    /// keep their age, so the selector's choice survives.
    pub(crate) fn resync(&mut self, dump: &[RouteNetlinkMessage]) {
        self.selector.begin_resync();
        self.links.clear();
        self.candidates.clear();
        for message in dump {
            self.apply(message);
        }
        self.selector.end_resync();
        debug!(
            links = self.links.len(),
            addresses = self.candidates.len(),
            "netlink state resynchronised"
        );
    }

    /// The selector's choice for a family (remembered for the next call).
    pub(crate) fn choose(&mut self, family: IpFamily) -> Option<IpAddr> {
        self.selector.choose(family)
    }

    fn link_seen(&mut self, message: &LinkMessage) {
        let (ifindex, mut link) = translate::link(message);
        let previous = self.links.get(&ifindex);
        if link.name.is_none() {
            link.name = previous.and_then(|p| p.name.clone());
        }
        if previous == Some(&link) {
            return;
        }
        match (
            previous.and_then(|p| p.name.as_deref()),
            link.name.as_deref(),
        ) {
            (Some(old), Some(new)) if old != new => {
                debug!(ifindex, old_name = %old, name = %new, "interface renamed");
            }
            (None, Some(new)) => {
                debug!(ifindex, name = %new, loopback = link.loopback, "interface seen")
            }
            _ => {}
        }
        for ((index, _), candidate) in self
            .candidates
            .range_mut((ifindex, IpAddr::from([0u8; 4]))..)
        {
            if *index != ifindex {
                break;
            }
            if let Some(name) = &link.name {
                candidate.interface.clone_from(name);
            }
            candidate.loopback_interface = link.loopback;
            self.selector.upsert(candidate.clone());
        }
        self.links.insert(ifindex, link);
    }

    fn link_removed(&mut self, ifindex: u32) {
        debug!(ifindex, "interface removed");
        self.links.remove(&ifindex);
        self.candidates.retain(|(index, _), _| *index != ifindex);
        self.selector.remove_interface(ifindex);
    }

    fn address_seen(&mut self, message: &AddressMessage) {
        let Some(candidate) = translate::candidate(message, self.links.get(&message.header.index))
        else {
            trace!(
                ifindex = message.header.index,
                "address message without an address ignored"
            );
            return;
        };
        let key = (candidate.ifindex, candidate.address);
        match self.candidates.get(&key) {
            Some(known) if *known == candidate => {
                trace!(ifindex = key.0, address = %key.1, "address lifetime refreshed");
            }
            known => {
                debug!(
                    ifindex = key.0,
                    address = %key.1,
                    interface = %candidate.interface,
                    scope_global = candidate.scope_global,
                    temporary = candidate.temporary,
                    deprecated = candidate.deprecated,
                    tentative = candidate.tentative,
                    dad_failed = candidate.dad_failed,
                    changed = known.is_some(),
                    "address seen"
                );
            }
        }
        self.candidates.insert(key, candidate.clone());
        self.selector.upsert(candidate);
    }

    fn address_removed(&mut self, message: &AddressMessage) {
        let Some(address) = translate::address(message) else {
            return;
        };
        let ifindex = message.header.index;
        debug!(ifindex, address = %address, "address removed");
        self.candidates.remove(&(ifindex, address));
        self.selector.remove(ifindex, address);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::testing::{
        address_message, del_address, del_link, ip, link_message, new_address, new_link,
    };
    use netlink_packet_route::AddressFamily;
    use netlink_packet_route::link::LinkFlags;

    fn on_v0() -> Tracker {
        Tracker::new(SelectionPolicy::Interfaces(vec!["v0".into()]))
    }

    #[test]
    fn addresses_seen_before_their_link_follow_it_once_it_is_known() {
        let mut tracker = on_v0();
        tracker.apply(&new_address(3, "192.0.2.1"));
        assert_eq!(
            tracker.choose(IpFamily::V4),
            None,
            "interface name not known yet"
        );
        tracker.apply(&new_link(3, "v0"));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
    }

    #[test]
    fn a_rename_moves_addresses_in_and_out_of_the_policy() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        tracker.apply(&new_address(3, "192.0.2.1"));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
        tracker.apply(&new_link(3, "wan"));
        assert_eq!(tracker.choose(IpFamily::V4), None);
        tracker.apply(&new_link(3, "v0"));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
    }

    #[test]
    fn a_link_message_without_a_name_keeps_the_known_name() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        tracker.apply(&new_address(3, "192.0.2.1"));
        let mut nameless = link_message(3, "v0", LinkFlags::Up);
        nameless.attributes.clear();
        tracker.apply(&RouteNetlinkMessage::NewLink(nameless));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
    }

    #[test]
    fn the_loopback_flag_follows_the_link() {
        let mut tracker = Tracker::new(SelectionPolicy::GloballyRoutable);
        tracker.apply(&new_link(5, "tun0"));
        tracker.apply(&new_address(5, "81.2.69.160"));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("81.2.69.160")));
        tracker.apply(&RouteNetlinkMessage::NewLink(link_message(
            5,
            "tun0",
            LinkFlags::Up | LinkFlags::Loopback,
        )));
        assert_eq!(tracker.choose(IpFamily::V4), None);
    }

    #[test]
    fn deleting_a_link_drops_its_addresses() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        tracker.apply(&new_address(3, "192.0.2.1"));
        tracker.apply(&new_address(3, "2001:db8::1"));
        tracker.apply(&del_link(3, "v0"));
        assert_eq!(tracker.choose(IpFamily::V4), None);
        assert_eq!(tracker.choose(IpFamily::V6), None);
    }

    #[test]
    fn regression_bridge_port_removal_keeps_the_addresses() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        tracker.apply(&new_address(3, "192.0.2.1"));
        let mut port_left_bridge = link_message(3, "v0", LinkFlags::Up);
        port_left_bridge.header.interface_family = AddressFamily::Bridge;
        tracker.apply(&RouteNetlinkMessage::DelLink(port_left_bridge));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
    }

    #[test]
    fn deleting_an_address_uses_the_local_address_like_adding_it() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        let mut ptp = address_message(3, "198.51.100.1");
        ptp.attributes
            .push(netlink_packet_route::address::AddressAttribute::Local(ip(
                "192.0.2.7",
            )));
        tracker.apply(&RouteNetlinkMessage::NewAddress(ptp.clone()));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.7")));
        tracker.apply(&RouteNetlinkMessage::DelAddress(ptp));
        assert_eq!(tracker.choose(IpFamily::V4), None);
    }

    #[test]
    fn resync_drops_what_is_gone_and_keeps_the_choice() {
        let mut tracker = on_v0();
        tracker.apply(&new_link(3, "v0"));
        tracker.apply(&new_address(3, "192.0.2.1"));
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.1")));
        tracker.apply(&new_address(3, "192.0.2.2"));
        tracker.apply(&new_address(3, "192.0.2.3"));
        assert_eq!(
            tracker.choose(IpFamily::V4),
            Some(ip("192.0.2.1")),
            "the current address stays"
        );
        tracker.apply(&del_address(3, "192.0.2.1"));
        tracker.resync(&[
            new_link(3, "v0"),
            new_address(3, "192.0.2.2"),
            new_address(3, "192.0.2.3"),
        ]);
        // The newest of the remaining addresses, by first sight before the resync.
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.3")));
        tracker.resync(&[new_link(3, "v0"), new_address(3, "192.0.2.2")]);
        assert_eq!(tracker.choose(IpFamily::V4), Some(ip("192.0.2.2")));
        tracker.resync(&[new_link(3, "v0")]);
        assert_eq!(tracker.choose(IpFamily::V4), None);
    }
}
