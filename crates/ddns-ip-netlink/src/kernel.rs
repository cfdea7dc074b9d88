//! The netlink sockets: a multicast subscription and one-shot dumps.
//!
//! [`Kernel`] is the seam between the state machines (the address watch and
//! the change trigger) and the real sockets, so that they can be tested with
//! a scripted kernel.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ddns_core::SourceError;
use futures_channel::mpsc::UnboundedReceiver;
use futures_util::{Stream, TryStreamExt};
use netlink_packet_core::{NLM_F_REPLACE, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::proto::Connection;
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use rtnetlink::{Handle, MulticastGroup};
use tracing::{debug, warn};

/// Something the subscription reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A link, address or route message.
    Route(RouteNetlinkMessage),
    /// An `RTM_NEWROUTE` flagged `NLM_F_REPLACE`: the route took the place
    /// of one with the same table, destination, TOS and metric, and the
    /// kernel does not announce that one's removal.
    Replacement(RouteNetlinkMessage),
    /// The socket's receive buffer overflowed: messages were lost.
    Overrun,
}

/// Where link and address state comes from.
pub(crate) trait Kernel: Send + Sync + 'static {
    /// The subscription.
    type Events: Events;

    /// Joins the link and address multicast groups (and the IPv4 and IPv6
    /// route groups when the kernel was asked for routes).
    fn subscribe(&self) -> Result<Self::Events, SourceError>;

    /// All links, then all addresses (then all IPv4 and IPv6 routes when
    /// asked for), as `NewLink`, `NewAddress` and `NewRoute` messages.
    fn dump(&self) -> impl Future<Output = Result<Vec<RouteNetlinkMessage>, SourceError>> + Send;
}

/// A subscription's messages, in the order the socket delivered them; the
/// stream ends when the socket fails.
pub(crate) trait Events: Stream<Item = Notice> + Send + Unpin + 'static {
    /// Reads what the socket holds into the stream's queue without taking
    /// anything out, so that the socket does not overflow during a dump.
    fn poll_read(&mut self, cx: &mut Context<'_>);
}

/// The real rtnetlink sockets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteSocket {
    /// `SO_RCVBUF` for the subscription socket, in bytes.
    pub(crate) receive_buffer: usize,
    /// Also follow and dump routes.
    pub(crate) routes: bool,
}

fn require_runtime() -> Result<(), SourceError> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| SourceError::new("the netlink source needs a tokio runtime").with_source(e))
}

impl Kernel for RouteSocket {
    type Events = Subscription;

    fn subscribe(&self) -> Result<Subscription, SourceError> {
        require_runtime()?;
        let mut groups = vec![
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ];
        if self.routes {
            groups.extend([MulticastGroup::Ipv4Route, MulticastGroup::Ipv6Route]);
        }
        let (mut connection, _handle, messages) = rtnetlink::new_multicast_connection(&groups)
            .map_err(|e| {
                SourceError::new(format!("cannot subscribe to netlink address changes: {e}"))
                    .with_source(e)
            })?;
        // The kernel caps the size at net.core.rmem_max; a failure only
        // makes overruns (and the resyncs they cost) more likely.
        let size = i32::try_from(self.receive_buffer).unwrap_or(i32::MAX);
        if let Err(error) = connection.socket_mut().socket_mut().set_rx_buf_sz(size) {
            warn!(bytes = self.receive_buffer, error = %error, "cannot set the netlink receive buffer size");
        }
        debug!(
            bytes = self.receive_buffer,
            routes = self.routes,
            "netlink subscription opened"
        );
        Ok(Subscription {
            connection: Some(Box::pin(connection)),
            messages,
        })
    }

    async fn dump(&self) -> Result<Vec<RouteNetlinkMessage>, SourceError> {
        require_runtime()?;
        // A separate socket: the subscription's may overflow while we read,
        // and a dump must not depend on it.
        let (connection, handle, _unsolicited) = rtnetlink::new_connection().map_err(|e| {
            SourceError::new(format!("cannot open a netlink socket: {e}")).with_source(e)
        })?;
        tokio::select! {
            biased;
            dump = dump_with(handle, self.routes) => dump,
            () = connection => Err(SourceError::new("the netlink socket closed during a dump")),
        }
    }
}

async fn dump_with(handle: Handle, routes: bool) -> Result<Vec<RouteNetlinkMessage>, SourceError> {
    let mut messages = Vec::new();
    let mut links = handle.link().get().execute();
    while let Some(link) = links.try_next().await.map_err(|e| {
        SourceError::new(format!("cannot list network interfaces: {e}")).with_source(e)
    })? {
        messages.push(RouteNetlinkMessage::NewLink(link));
    }
    let mut addresses = handle.address().get().execute();
    while let Some(address) = addresses
        .try_next()
        .await
        .map_err(|e| SourceError::new(format!("cannot list addresses: {e}")).with_source(e))?
    {
        messages.push(RouteNetlinkMessage::NewAddress(address));
    }
    if routes {
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            // Without NETLINK_GET_STRICT_CHK the kernel only reads the
            // family of a dump request: every table comes back.
            let mut request = RouteMessage::default();
            request.header.address_family = family;
            let mut routes = handle.route().get(request).execute();
            while let Some(route) = routes
                .try_next()
                .await
                .map_err(|e| SourceError::new(format!("cannot list routes: {e}")).with_source(e))?
            {
                messages.push(RouteNetlinkMessage::NewRoute(route));
            }
        }
    }
    Ok(messages)
}

/// The multicast messages of one netlink socket.
///
/// The connection that reads the socket is polled by the stream itself, not
/// by a task of its own, so nothing outlives the stream: dropping it closes
/// the socket with whatever it still holds, which is how the follower
/// discards the messages older than an overrun.
pub(crate) struct Subscription {
    /// `None` once the socket failed.
    connection: Option<Pin<Box<Connection<RouteNetlinkMessage>>>>,
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

impl Events for Subscription {
    fn poll_read(&mut self, cx: &mut Context<'_>) {
        if let Some(connection) = self.connection.as_mut() {
            // Ready means the socket failed; dropping the connection closes
            // `messages` once what it queued has been taken.
            if connection.as_mut().poll(cx).is_ready() {
                self.connection = None;
            }
        }
    }
}

impl Stream for Subscription {
    type Item = Notice;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notice>> {
        self.poll_read(cx);
        loop {
            let Some((message, _)) = std::task::ready!(Pin::new(&mut self.messages).poll_next(cx))
            else {
                return Poll::Ready(None);
            };
            match message.payload {
                NetlinkPayload::InnerMessage(inner @ RouteNetlinkMessage::NewRoute(_))
                    if message.header.flags & NLM_F_REPLACE != 0 =>
                {
                    return Poll::Ready(Some(Notice::Replacement(inner)));
                }
                NetlinkPayload::InnerMessage(inner) => {
                    return Poll::Ready(Some(Notice::Route(inner)));
                }
                NetlinkPayload::Overrun(_) => return Poll::Ready(Some(Notice::Overrun)),
                NetlinkPayload::Error(error) => {
                    debug!(error = %error, "netlink error message on the subscription ignored");
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use futures_channel::mpsc::unbounded;
    use futures_util::StreamExt;
    use netlink_packet_core::{DoneMessage, NetlinkHeader};

    use super::*;
    use crate::testing::{default_route, new_address, new_route};

    fn framed(
        payload: NetlinkPayload<RouteNetlinkMessage>,
    ) -> (NetlinkMessage<RouteNetlinkMessage>, SocketAddr) {
        (
            NetlinkMessage::new(NetlinkHeader::default(), payload),
            SocketAddr::new(0, 0),
        )
    }

    #[tokio::test]
    async fn the_subscription_forwards_route_messages_and_overruns_only() {
        let (sender, messages) = unbounded();
        let mut subscription = Subscription {
            connection: None,
            messages,
        };
        sender
            .unbounded_send(framed(NetlinkPayload::Done(DoneMessage::default())))
            .unwrap();
        sender
            .unbounded_send(framed(NetlinkPayload::InnerMessage(new_address(
                2,
                "192.0.2.1",
            ))))
            .unwrap();
        sender.unbounded_send(framed(NetlinkPayload::Noop)).unwrap();
        sender
            .unbounded_send(framed(NetlinkPayload::Overrun(Vec::new())))
            .unwrap();
        drop(sender);
        assert_eq!(
            subscription.next().await,
            Some(Notice::Route(new_address(2, "192.0.2.1")))
        );
        assert_eq!(subscription.next().await, Some(Notice::Overrun));
        assert_eq!(
            subscription.next().await,
            None,
            "a closed channel ends the stream"
        );
    }

    #[tokio::test]
    async fn a_route_replacement_is_told_apart() {
        let (sender, messages) = unbounded();
        let mut subscription = Subscription {
            connection: None,
            messages,
        };
        let route = new_route(default_route("192.0.2.1", 3));
        let mut replaced = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(route.clone()),
        );
        replaced.header.flags = NLM_F_REPLACE;
        sender
            .unbounded_send((replaced.clone(), SocketAddr::new(0, 0)))
            .unwrap();
        sender
            .unbounded_send(framed(NetlinkPayload::InnerMessage(route.clone())))
            .unwrap();
        // Only routes: an address message with the flag is an ordinary one.
        let address = new_address(3, "192.0.2.2");
        replaced.payload = NetlinkPayload::InnerMessage(address.clone());
        sender
            .unbounded_send((replaced, SocketAddr::new(0, 0)))
            .unwrap();
        drop(sender);
        assert_eq!(
            subscription.next().await,
            Some(Notice::Replacement(route.clone()))
        );
        assert_eq!(subscription.next().await, Some(Notice::Route(route)));
        assert_eq!(subscription.next().await, Some(Notice::Route(address)));
    }
}
