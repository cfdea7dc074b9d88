//! Builders for kernel messages in unit tests.

#![allow(clippy::expect_used)]

use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// An `RTM_NEWADDR` body for a global-scope address with no flags.
pub(crate) fn address_message(ifindex: u32, address: &str) -> AddressMessage {
    let address = ip(address);
    let mut message = AddressMessage::default();
    message.header.family = if address.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    message.header.prefix_len = if address.is_ipv4() { 24 } else { 64 };
    message.header.scope = AddressScope::Universe;
    message.header.index = ifindex;
    message.attributes.push(AddressAttribute::Address(address));
    message
}

/// An `RTM_NEWLINK` body.
pub(crate) fn link_message(ifindex: u32, name: &str, flags: LinkFlags) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = ifindex;
    message.header.flags = flags;
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message
}

pub(crate) fn new_address(ifindex: u32, address: &str) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewAddress(address_message(ifindex, address))
}

pub(crate) fn del_address(ifindex: u32, address: &str) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelAddress(address_message(ifindex, address))
}

pub(crate) fn new_link(ifindex: u32, name: &str) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewLink(link_message(ifindex, name, LinkFlags::Up))
}

pub(crate) fn del_link(ifindex: u32, name: &str) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelLink(link_message(ifindex, name, LinkFlags::empty()))
}
