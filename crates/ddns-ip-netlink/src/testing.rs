//! Builders for kernel messages, and a scripted kernel, for unit tests.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use ddns_core::SourceError;
use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::Stream;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::time::Instant;

use crate::kernel::{Events, Kernel, Notice};

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

/// The flags of a link that is administratively up and has a carrier.
pub(crate) fn running() -> LinkFlags {
    LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running
}

/// An `RTM_NEWLINK` as the kernel sends it: flags, `IFLA_OPERSTATE` and
/// some other attributes.
pub(crate) fn link_in_state(
    ifindex: u32,
    name: &str,
    flags: LinkFlags,
    operstate: State,
) -> RouteNetlinkMessage {
    let mut message = link_message(ifindex, name, flags);
    message.attributes.push(LinkAttribute::OperState(operstate));
    message.attributes.push(LinkAttribute::Mtu(1500));
    RouteNetlinkMessage::NewLink(message)
}

/// A running link (`UP,LOWER_UP,RUNNING`, operstate up).
pub(crate) fn up_link(ifindex: u32, name: &str) -> RouteNetlinkMessage {
    link_in_state(ifindex, name, running(), State::Up)
}

/// A unicast route in the main table as the kernel reports it; `gateway`
/// may be `None` for an on-link route.
pub(crate) fn route_message(
    destination: &str,
    prefix_len: u8,
    gateway: Option<&str>,
    oif: u32,
) -> RouteMessage {
    let destination = ip(destination);
    let mut message = RouteMessage::default();
    message.header.address_family = if destination.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    message.header.destination_prefix_length = prefix_len;
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Boot;
    message.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    message.header.kind = RouteType::Unicast;
    message
        .attributes
        .push(RouteAttribute::Table(u32::from(RouteHeader::RT_TABLE_MAIN)));
    if prefix_len > 0 {
        message
            .attributes
            .push(RouteAttribute::Destination(RouteAddress::from(destination)));
    }
    if let Some(gateway) = gateway {
        message
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(ip(gateway))));
    }
    message.attributes.push(RouteAttribute::Oif(oif));
    message
}

/// A default route of the family of `gateway` via it on `oif`.
pub(crate) fn default_route(gateway: &str, oif: u32) -> RouteMessage {
    let any = if ip(gateway).is_ipv4() {
        "0.0.0.0"
    } else {
        "::"
    };
    route_message(any, 0, Some(gateway), oif)
}

pub(crate) fn new_route(message: RouteMessage) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewRoute(message)
}

pub(crate) fn del_route(message: RouteMessage) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelRoute(message)
}

/// A kernel whose state and subscription the test controls.
#[derive(Clone, Default)]
pub(crate) struct FakeKernel {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// What a dump returns.
    state: Vec<RouteNetlinkMessage>,
    sender: Option<UnboundedSender<Notice>>,
    subscribed_at: Vec<Instant>,
    dumps: usize,
    failing_subscribes: usize,
    failing_dumps: usize,
    /// Sent into the subscription of the time when the next dump starts.
    during_next_dump: Option<(UnboundedSender<Notice>, Vec<Notice>)>,
}

/// The scripted subscription: what the test sent is already "read".
pub(crate) struct FakeEvents(UnboundedReceiver<Notice>);

impl Stream for FakeEvents {
    type Item = Notice;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notice>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

impl Events for FakeEvents {
    fn poll_read(&mut self, _: &mut Context<'_>) {}
}

impl Kernel for FakeKernel {
    type Events = FakeEvents;

    fn subscribe(&self) -> Result<Self::Events, SourceError> {
        let mut inner = self.inner.lock().unwrap();
        inner.subscribed_at.push(Instant::now());
        if inner.failing_subscribes > 0 {
            inner.failing_subscribes -= 1;
            return Err(SourceError::new("cannot subscribe"));
        }
        let (sender, receiver) = unbounded();
        inner.sender = Some(sender);
        Ok(FakeEvents(receiver))
    }

    async fn dump(&self) -> Result<Vec<RouteNetlinkMessage>, SourceError> {
        let mut inner = self.inner.lock().unwrap();
        inner.dumps += 1;
        if let Some((sender, notices)) = inner.during_next_dump.take() {
            // A subscription dropped since then loses them, as a socket
            // closed with messages still queued does.
            for notice in notices {
                let _ = sender.unbounded_send(notice);
            }
        }
        if inner.failing_dumps > 0 {
            inner.failing_dumps -= 1;
            return Err(SourceError::new("cannot list addresses"));
        }
        Ok(inner.state.clone())
    }
}

impl FakeKernel {
    pub(crate) fn with_state(state: Vec<RouteNetlinkMessage>) -> Self {
        let kernel = Self::default();
        kernel.set_state(state);
        kernel
    }

    /// What the next dumps return.
    pub(crate) fn set_state(&self, state: Vec<RouteNetlinkMessage>) {
        self.inner.lock().unwrap().state = state;
    }

    pub(crate) fn send(&self, notices: impl IntoIterator<Item = Notice>) {
        let inner = self.inner.lock().unwrap();
        let sender = inner.sender.as_ref().expect("subscribed");
        for notice in notices {
            sender.unbounded_send(notice).expect("the follower listens");
        }
    }

    /// Queues `notices` in the current subscription, delivered only when
    /// the next dump starts: messages the socket held that the follower
    /// had not read yet when it began to dump.
    pub(crate) fn send_during_next_dump(&self, notices: impl IntoIterator<Item = Notice>) {
        let mut inner = self.inner.lock().unwrap();
        let sender = inner.sender.clone().expect("subscribed");
        inner.during_next_dump = Some((sender, notices.into_iter().collect()));
    }

    pub(crate) fn send_messages(&self, messages: impl IntoIterator<Item = RouteNetlinkMessage>) {
        self.send(messages.into_iter().map(Notice::Route));
    }

    /// Simulates a socket error: the subscription's channel closes.
    pub(crate) fn fail_socket(&self) {
        self.inner.lock().unwrap().sender = None;
    }

    /// The next `count` subscriptions fail.
    pub(crate) fn fail_subscribes(&self, count: usize) {
        self.inner.lock().unwrap().failing_subscribes = count;
    }

    /// The next `count` dumps fail.
    pub(crate) fn fail_dumps(&self, count: usize) {
        self.inner.lock().unwrap().failing_dumps = count;
    }

    pub(crate) fn dumps(&self) -> usize {
        self.inner.lock().unwrap().dumps
    }

    pub(crate) fn subscriptions(&self) -> Vec<Instant> {
        self.inner.lock().unwrap().subscribed_at.clone()
    }
}
