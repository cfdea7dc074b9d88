//! NAT-PMP announcements (RFC 6886 §3.2.1) as a [`Trigger`]: the gateway
//! multicasts its external address to 224.0.0.1:5350 when it changes (and
//! when it restarts), repeating each announcement up to ten times.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use ddns_core::IpFamily;
use ddns_core::detect::Trigger;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::gateway::Gateway;
use crate::natpmp::parse_public_address;

/// Where NAT-PMP clients listen for announcements (RFC 6886 §3.2.1).
pub const ANNOUNCEMENT_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 1), 5350);

/// The first pause before opening the socket again after a failure.
const RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest such pause.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// An announcement the gateway made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The gateway that sent it.
    pub gateway: Ipv4Addr,
    /// The external address it announced.
    pub address: Ipv4Addr,
}

/// Listens for the gateway's NAT-PMP address announcements and reports
/// each new external address as a change.
///
/// Each stream from [`Trigger::changes`] opens its own socket bound to
/// 224.0.0.1:5350 with `SO_REUSEADDR`, so several listeners (other NAT-PMP
/// clients on this host, several streams) share the port and each receives
/// every announcement. Announcements are accepted only from the gateway
/// (RFC 6886 §3.2.1): the given one, or the IPv4 default route's gateway
/// at the time the announcement arrives. An announcement of the address
/// last announced by the same gateway is a repeat and is not reported.
///
/// The stream never ends: when the socket cannot be opened or fails, it
/// logs a warning and tries again after 1 s, doubling up to 60 s.
#[derive(Debug, Clone)]
pub struct NatPmpAnnouncements {
    gateway: Gateway,
    listen: SocketAddrV4,
}

impl NatPmpAnnouncements {
    /// Announcements from `gateway`, or from the IPv4 default route's
    /// gateway when `None`.
    pub fn new(gateway: Option<Ipv4Addr>) -> Self {
        Self {
            gateway: gateway.map_or(Gateway::DefaultRoute, Gateway::address),
            listen: ANNOUNCEMENT_GROUP,
        }
    }

    /// Listens on another address (tests use a loopback address).
    pub fn listening_on(mut self, listen: SocketAddrV4) -> Self {
        self.listen = listen;
        self
    }

    /// Every new announced address, with the gateway that announced it;
    /// repeats and messages from others are left out.
    pub fn announcements(&self) -> BoxStream<'static, Announcement> {
        let listener = Listener {
            gateway: self.gateway.clone(),
            listen: self.listen,
            socket: None,
            last: None,
            retry: RETRY_MIN,
            warned: false,
        };
        stream::unfold(listener, |mut listener| async move {
            let announcement = listener.next().await;
            Some((announcement, listener))
        })
        .boxed()
    }
}

impl Trigger for NatPmpAnnouncements {
    fn changes(&self) -> BoxStream<'static, ()> {
        self.announcements().map(|_| ()).boxed()
    }
}

struct Listener {
    gateway: Gateway,
    listen: SocketAddrV4,
    socket: Option<UdpSocket>,
    last: Option<Announcement>,
    retry: Duration,
    warned: bool,
}

impl Listener {
    async fn next(&mut self) -> Announcement {
        let mut buffer = [0u8; 64];
        loop {
            let socket = match &self.socket {
                Some(socket) => socket,
                None => match open(self.listen) {
                    Ok(socket) => {
                        if self.warned {
                            info!(listen = %self.listen, "listening for NAT-PMP announcements again");
                        } else {
                            debug!(listen = %self.listen, "listening for NAT-PMP announcements");
                        }
                        self.warned = false;
                        self.retry = RETRY_MIN;
                        self.socket.insert(socket)
                    }
                    Err(error) => {
                        self.pause("open", &error).await;
                        continue;
                    }
                },
            };
            let (len, from) = match socket.recv_from(&mut buffer).await {
                Ok(received) => received,
                Err(error) => {
                    self.socket = None;
                    self.pause("receive", &error).await;
                    continue;
                }
            };
            if let Some(announcement) = self.accept(&buffer[..len], from) {
                return announcement;
            }
        }
    }

    /// The announcement in a datagram, if it is a new one from the gateway.
    fn accept(&mut self, packet: &[u8], from: SocketAddr) -> Option<Announcement> {
        let answer = match parse_public_address(packet) {
            Ok(answer) => answer,
            Err(error) => {
                // PCP ANNOUNCE messages arrive here too; they carry no address.
                debug!(from = %from, reason = %error, "ignored a datagram that is no NAT-PMP announcement");
                return None;
            }
        };
        let gateway = match self.gateway.resolve(IpFamily::V4) {
            Ok(Some(SocketAddr::V4(gateway))) => *gateway.ip(),
            Ok(_) => return None,
            Err(error) => {
                debug!(from = %from, error = %error, "ignored a NAT-PMP announcement: no gateway to compare its source with");
                return None;
            }
        };
        if from.ip() != IpAddr::V4(gateway) {
            debug!(from = %from, gateway = %gateway, "ignored a NAT-PMP announcement that is not from the gateway");
            return None;
        }
        let announcement = Announcement {
            gateway,
            address: answer.address,
        };
        if self.last == Some(announcement) {
            debug!(gateway = %gateway, address = %answer.address, epoch = answer.epoch, "ignored a repeated NAT-PMP announcement");
            return None;
        }
        self.last = Some(announcement);
        info!(gateway = %gateway, address = %answer.address, epoch = answer.epoch, "gateway announced an external address");
        Some(announcement)
    }

    async fn pause(&mut self, what: &'static str, error: &std::io::Error) {
        if self.warned {
            debug!(step = what, listen = %self.listen, error = %error, retry_secs = self.retry.as_secs(), "NAT-PMP announcement listener failed again");
        } else {
            warn!(step = what, listen = %self.listen, error = %error, retry_secs = self.retry.as_secs(), "NAT-PMP announcement listener failed; retrying");
            self.warned = true;
        }
        tokio::time::sleep(self.retry).await;
        self.retry = (self.retry * 2).min(RETRY_MAX);
    }
}

/// A non-blocking socket on `listen` that shares the port.
fn open(listen: SocketAddrV4) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(listen).into())?;
    // Every multicast-capable interface is in 224.0.0.1 already (all
    // hosts); only other groups need joining.
    if listen.ip().is_multicast() && *listen.ip() != Ipv4Addr::new(224, 0, 0, 1) {
        socket.join_multicast_v4(listen.ip(), &Ipv4Addr::UNSPECIFIED)?;
    }
    UdpSocket::from_std(socket.into())
}

#[cfg(test)]
mod tests;
