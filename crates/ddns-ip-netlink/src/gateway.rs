//! The default gateway of a family and whether the kernel can reach it,
//! read from the neighbour (ARP or NDP) entry of the default route's next
//! hop.
//!
//! The kernel keeps, per next hop, what it last learnt: `REACHABLE` (it
//! answered lately), `STALE` (it answered once, not confirmed since),
//! `FAILED` (it did not answer), or no entry at all when nothing was sent
//! there for a while. An entry that says nothing recent is refreshed by
//! sending one UDP datagram to the gateway's discard port: the kernel must
//! resolve the gateway to send it, which needs no privilege (unlike an
//! ICMP echo), and the gateway at most answers "port unreachable".

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::Duration;

use ddns_core::{IpFamily, SourceError};
use futures_util::TryStreamExt;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState as KernelState,
};
use netlink_packet_route::route::RouteMessage;
use rtnetlink::Handle;
use tokio::time::Instant;
use tracing::debug;

use crate::translate::{self, DefaultRoute};

/// The discard service (RFC 863): a datagram sent there costs the gateway
/// nothing, and sending it makes the kernel resolve the gateway.
const DISCARD_PORT: u16 = 9;

/// The first pause before the neighbour entry is read again; it doubles
/// up to [`MAX_RECHECK`].
const FIRST_RECHECK: Duration = Duration::from_millis(25);

/// The longest pause between two reads of the neighbour entry.
const MAX_RECHECK: Duration = Duration::from_millis(250);

/// The state of a neighbour entry (`ip neighbour` shows the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NeighbourState {
    /// `NUD_REACHABLE`: it answered lately.
    Reachable,
    /// `NUD_STALE`: it answered once; not confirmed since.
    Stale,
    /// `NUD_DELAY`: stale and used again; confirmation is awaited.
    Delay,
    /// `NUD_PROBE`: stale and being asked again.
    Probe,
    /// `NUD_PERMANENT`: configured by hand.
    Permanent,
    /// `NUD_NOARP`: the link needs no resolution (point-to-point).
    Noarp,
    /// `NUD_INCOMPLETE`: being resolved; no answer yet.
    Incomplete,
    /// `NUD_FAILED`: it did not answer.
    Failed,
    /// The kernel has no entry for it.
    Missing,
    /// A state this crate does not know (the kernel's `NUD_*` bits).
    Other(u16),
}

impl NeighbourState {
    /// Whether the state says the gateway answers: reachable, stale,
    /// delay, probe, permanent or noarp. Incomplete, failed and no entry
    /// do not.
    pub fn is_reachable(self) -> bool {
        matches!(
            self,
            NeighbourState::Reachable
                | NeighbourState::Stale
                | NeighbourState::Delay
                | NeighbourState::Probe
                | NeighbourState::Permanent
                | NeighbourState::Noarp
        )
    }

    /// Whether the kernel should be made to resolve the gateway again:
    /// the entry says nothing recent (stale), or nothing good.
    fn needs_nudge(self) -> bool {
        !matches!(
            self,
            NeighbourState::Reachable
                | NeighbourState::Delay
                | NeighbourState::Probe
                | NeighbourState::Permanent
                | NeighbourState::Noarp
        )
    }

    fn from_kernel(state: KernelState) -> Self {
        match state {
            KernelState::Reachable => NeighbourState::Reachable,
            KernelState::Stale => NeighbourState::Stale,
            KernelState::Delay => NeighbourState::Delay,
            KernelState::Probe => NeighbourState::Probe,
            KernelState::Permanent => NeighbourState::Permanent,
            KernelState::Noarp => NeighbourState::Noarp,
            KernelState::Incomplete => NeighbourState::Incomplete,
            KernelState::Failed => NeighbourState::Failed,
            KernelState::None => NeighbourState::Missing,
            other => NeighbourState::Other(u16::from(other)),
        }
    }
}

impl fmt::Display for NeighbourState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeighbourState::Reachable => f.write_str("reachable"),
            NeighbourState::Stale => f.write_str("stale"),
            NeighbourState::Delay => f.write_str("delay"),
            NeighbourState::Probe => f.write_str("probe"),
            NeighbourState::Permanent => f.write_str("permanent"),
            NeighbourState::Noarp => f.write_str("noarp"),
            NeighbourState::Incomplete => f.write_str("incomplete"),
            NeighbourState::Failed => f.write_str("failed"),
            NeighbourState::Missing => f.write_str("no entry"),
            NeighbourState::Other(bits) => write!(f, "state {bits:#x}"),
        }
    }
}

/// The next hop of a default route and its neighbour entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gateway {
    /// The family of the default route.
    pub family: IpFamily,
    /// The gateway's address.
    pub address: IpAddr,
    /// The interface's name (`ifindex N` when the kernel gave none).
    pub interface: String,
    /// The interface's index.
    pub ifindex: u32,
    /// The neighbour entry's state, after the refresh if there was one.
    pub state: NeighbourState,
    /// Whether a datagram was sent to make the kernel resolve it again.
    pub refreshed: bool,
}

/// What [`default_gateway`] found for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatewayStatus {
    /// The main table has no default route of the family.
    NoDefaultRoute {
        /// The family.
        family: IpFamily,
    },
    /// The default route has no gateway: a point-to-point link (PPPoE, a
    /// tunnel) where there is nothing to resolve. Reachable when the link
    /// is up with a carrier.
    OnLink {
        /// The family.
        family: IpFamily,
        /// The interface's name.
        interface: String,
        /// Whether it is up with a carrier.
        up: bool,
    },
    /// The default route's next hops are held by a nexthop object
    /// (`ip nexthop`), which is not followed: counted reachable.
    NexthopObject {
        /// The family.
        family: IpFamily,
        /// The object's id.
        id: u32,
    },
    /// The default route goes through a gateway.
    Gateway(Gateway),
}

impl GatewayStatus {
    /// Whether the default route leads somewhere: its gateway answers
    /// (see [`NeighbourState::is_reachable`]), or its link is up.
    pub fn is_reachable(&self) -> bool {
        match self {
            GatewayStatus::NoDefaultRoute { .. } => false,
            GatewayStatus::OnLink { up, .. } => *up,
            GatewayStatus::NexthopObject { .. } => true,
            GatewayStatus::Gateway(gateway) => gateway.state.is_reachable(),
        }
    }

    /// The family looked at.
    pub fn family(&self) -> IpFamily {
        match self {
            GatewayStatus::NoDefaultRoute { family }
            | GatewayStatus::OnLink { family, .. }
            | GatewayStatus::NexthopObject { family, .. } => *family,
            GatewayStatus::Gateway(gateway) => gateway.family,
        }
    }
}

fn label(family: IpFamily) -> &'static str {
    match family {
        IpFamily::V4 => "IPv4",
        IpFamily::V6 => "IPv6",
    }
}

impl fmt::Display for GatewayStatus {
    /// `no IPv4 default route`, `IPv4 gateway 192.0.2.1 on eth0 answers
    /// (neighbour reachable)`, `IPv4 gateway 192.0.2.1 on eth0 does not
    /// answer (neighbour failed)`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayStatus::NoDefaultRoute { family } => {
                write!(f, "no {} default route", label(*family))
            }
            GatewayStatus::OnLink {
                family,
                interface,
                up,
            } => write!(
                f,
                "{} default route on {interface} without a gateway, link {}",
                label(*family),
                if *up { "up" } else { "down" }
            ),
            GatewayStatus::NexthopObject { family, id } => write!(
                f,
                "{} default route through nexthop object {id}, not checked",
                label(*family)
            ),
            GatewayStatus::Gateway(gateway) => write!(
                f,
                "{} gateway {} on {} {} (neighbour {})",
                label(gateway.family),
                gateway.address,
                gateway.interface,
                if gateway.state.is_reachable() {
                    "answers"
                } else {
                    "does not answer"
                },
                gateway.state
            ),
        }
    }
}

/// Finds the default route of `family` in the main table (the lowest
/// metric when there are several) and tells whether its gateway answers,
/// from the kernel's neighbour entry.
///
/// An entry that is stale, failed, incomplete or missing is refreshed
/// (one UDP datagram to the gateway's port 9) and read again until it
/// says the gateway answers or `wait` has passed; an entry that stays
/// incomplete or failed means the gateway did not answer. A multipath
/// route is reachable when any of its gateways is.
///
/// ```no_run
/// use std::time::Duration;
/// use ddns_core::IpFamily;
///
/// # async fn demo() -> Result<(), ddns_core::SourceError> {
/// let status = ddns_ip_netlink::default_gateway(IpFamily::V4, Duration::from_secs(3)).await?;
/// println!("{status}: reachable = {}", status.is_reachable());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// When no netlink socket can be opened or a dump fails; it needs a tokio
/// runtime (with the time driver).
pub async fn default_gateway(
    family: IpFamily,
    wait: Duration,
) -> Result<GatewayStatus, SourceError> {
    tokio::runtime::Handle::try_current()
        .map_err(|e| SourceError::new("the gateway lookup needs a tokio runtime").with_source(e))?;
    let (connection, handle, _unsolicited) = rtnetlink::new_connection().map_err(|e| {
        SourceError::new(format!("cannot open a netlink socket: {e}")).with_source(e)
    })?;
    tokio::select! {
        biased;
        status = inspect(&handle, family, wait) => status,
        () = connection => Err(SourceError::new("the netlink socket closed during the gateway lookup")),
    }
}

async fn inspect(
    handle: &Handle,
    family: IpFamily,
    wait: Duration,
) -> Result<GatewayStatus, SourceError> {
    let routes = default_routes(handle, family).await?;
    let Some(route) = best_route(routes) else {
        return Ok(GatewayStatus::NoDefaultRoute { family });
    };
    let gateways: Vec<(u32, IpAddr)> = route
        .hops
        .iter()
        .filter_map(|hop| hop.gateway.map(|gateway| (hop.ifindex, gateway)))
        .collect();
    if gateways.is_empty() {
        return Ok(match (route.hops.first(), route.nexthop_id) {
            (Some(hop), _) => {
                let (interface, up) = link(handle, hop.ifindex).await?;
                GatewayStatus::OnLink {
                    family,
                    interface,
                    up,
                }
            }
            (None, Some(id)) => GatewayStatus::NexthopObject { family, id },
            (None, None) => GatewayStatus::NoDefaultRoute { family },
        });
    }
    let (index, state, refreshed) = resolve(handle, &gateways, wait).await?;
    let (ifindex, address) = gateways[index];
    let (interface, _) = link(handle, ifindex).await?;
    Ok(GatewayStatus::Gateway(Gateway {
        family,
        address,
        interface,
        ifindex,
        state,
        refreshed,
    }))
}

/// Reads the gateways' neighbour entries, refreshes those that need it,
/// and reads them again until one answers or `wait` has passed. Returns
/// which gateway, its state, and whether anything was refreshed.
async fn resolve(
    handle: &Handle,
    gateways: &[(u32, IpAddr)],
    wait: Duration,
) -> Result<(usize, NeighbourState, bool), SourceError> {
    let deadline = Instant::now() + wait;
    let mut states = neighbour_states(handle, gateways).await?;
    if let Some(index) = states.iter().position(|s| !s.needs_nudge()) {
        return Ok((index, states[index], false));
    }
    for (&(ifindex, gateway), state) in gateways.iter().zip(&states) {
        debug!(gateway = %gateway, ifindex, state = %state, "refreshing the gateway's neighbour entry");
        nudge(gateway, ifindex);
    }
    let mut pause = FIRST_RECHECK;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_RECHECK);
        states = neighbour_states(handle, gateways).await?;
        if let Some(index) = states.iter().position(|s| s.is_reachable()) {
            return Ok((index, states[index], true));
        }
    }
    Ok((
        0,
        states.first().copied().unwrap_or(NeighbourState::Missing),
        true,
    ))
}

/// Sends one byte to the gateway's discard port, so that the kernel
/// resolves it. Failures only cost the refresh.
fn nudge(gateway: IpAddr, ifindex: u32) {
    let (local, target): (SocketAddr, SocketAddr) = match gateway {
        IpAddr::V4(v4) => ((Ipv4Addr::UNSPECIFIED, 0).into(), (v4, DISCARD_PORT).into()),
        IpAddr::V6(v6) => {
            // A link-local gateway (the usual case with router
            // advertisements) is only meaningful on its interface.
            let scope = if v6.is_unicast_link_local() {
                ifindex
            } else {
                0
            };
            (
                (Ipv6Addr::UNSPECIFIED, 0).into(),
                SocketAddrV6::new(v6, DISCARD_PORT, 0, scope).into(),
            )
        }
    };
    let sent = UdpSocket::bind(local).and_then(|socket| {
        socket.set_nonblocking(true)?;
        socket.connect(target)?;
        socket.send(&[0])
    });
    if let Err(error) = sent {
        debug!(gateway = %gateway, error = %error, "cannot send a datagram to the gateway");
    }
}

async fn default_routes(
    handle: &Handle,
    family: IpFamily,
) -> Result<Vec<RouteMessage>, SourceError> {
    let mut request = RouteMessage::default();
    request.header.address_family = address_family(family);
    let mut routes = handle.route().get(request).execute();
    let mut found = Vec::new();
    while let Some(route) = routes
        .try_next()
        .await
        .map_err(|e| SourceError::new(format!("cannot list routes: {e}")).with_source(e))?
    {
        found.push(route);
    }
    Ok(found)
}

fn address_family(family: IpFamily) -> AddressFamily {
    match family {
        IpFamily::V4 => AddressFamily::Inet,
        IpFamily::V6 => AddressFamily::Inet6,
    }
}

/// The default route the kernel uses: the main table's, lowest metric.
fn best_route(routes: Vec<RouteMessage>) -> Option<DefaultRoute> {
    routes
        .iter()
        .filter_map(translate::default_route)
        .filter(|route| route.tos == 0)
        .min_by_key(|route| route.metric)
}

/// The state of each gateway's entry, in order.
async fn neighbour_states(
    handle: &Handle,
    gateways: &[(u32, IpAddr)],
) -> Result<Vec<NeighbourState>, SourceError> {
    let mut entries = Vec::new();
    for family in IpFamily::ALL {
        if !gateways.iter().any(|(_, g)| IpFamily::of(g) == family) {
            continue;
        }
        let mut dump = handle
            .neighbours()
            .get()
            .set_address_family(address_family(family))
            .execute();
        while let Some(entry) = dump.try_next().await.map_err(|e| {
            SourceError::new(format!("cannot list neighbour entries: {e}")).with_source(e)
        })? {
            entries.push(entry);
        }
    }
    Ok(gateways
        .iter()
        .map(|&(ifindex, gateway)| state_of(&entries, ifindex, gateway))
        .collect())
}

/// The state of the entry for `address` on `ifindex` among `entries`.
fn state_of(entries: &[NeighbourMessage], ifindex: u32, address: IpAddr) -> NeighbourState {
    entries
        .iter()
        .find(|entry| {
            // A route through an interface the kernel did not name (0)
            // matches the entry on any interface.
            (ifindex == 0 || entry.header.ifindex == ifindex) && destination(entry) == Some(address)
        })
        .map_or(NeighbourState::Missing, |entry| {
            NeighbourState::from_kernel(entry.header.state)
        })
}

fn destination(entry: &NeighbourMessage) -> Option<IpAddr> {
    entry
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
            _ => None,
        })
}

/// The name of an interface and whether it is up with a carrier.
async fn link(handle: &Handle, ifindex: u32) -> Result<(String, bool), SourceError> {
    let mut links = handle.link().get().match_index(ifindex).execute();
    let message = links.try_next().await.map_err(|e| {
        SourceError::new(format!("cannot read interface {ifindex}: {e}")).with_source(e)
    })?;
    Ok(match message {
        Some(message) => {
            let (_, link) = translate::link(&message);
            let state = translate::link_state(&message);
            (
                link.name.unwrap_or_else(|| format!("ifindex {ifindex}")),
                state.up && state.lower_up,
            )
        }
        None => (format!("ifindex {ifindex}"), false),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::testing::{default_route, ip, route_message};
    use netlink_packet_route::route::RouteAttribute;

    fn entry(ifindex: u32, address: &str, state: KernelState) -> NeighbourMessage {
        let address = ip(address);
        let mut message = NeighbourMessage::default();
        message.header.ifindex = ifindex;
        message.header.state = state;
        message.header.family = match address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        message
            .attributes
            .push(NeighbourAttribute::Destination(match address {
                IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
                IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
            }));
        message
    }

    fn with_metric(mut route: RouteMessage, metric: u32) -> RouteMessage {
        route.attributes.push(RouteAttribute::Priority(metric));
        route
    }

    #[test]
    fn the_lowest_metric_default_route_is_the_one_used() {
        let routes = vec![
            route_message("192.0.2.0", 24, None, 2),
            with_metric(default_route("192.0.2.254", 3), 600),
            with_metric(default_route("192.0.2.1", 2), 100),
        ];
        let best = best_route(routes).expect("a default route");
        assert_eq!(best.metric, 100);
        assert_eq!(best.hops[0].gateway, Some(ip("192.0.2.1")));
        assert_eq!(best.hops[0].ifindex, 2);
    }

    #[test]
    fn other_routes_are_no_default_route() {
        assert!(best_route(vec![route_message("192.0.2.0", 24, None, 2)]).is_none());
        assert!(best_route(Vec::new()).is_none());
    }

    #[test]
    fn the_entry_is_matched_by_address_and_interface() {
        let entries = vec![
            entry(3, "192.0.2.1", KernelState::Failed),
            entry(2, "192.0.2.9", KernelState::Reachable),
            entry(2, "192.0.2.1", KernelState::Stale),
            entry(2, "fe80::1", KernelState::Reachable),
        ];
        assert_eq!(
            state_of(&entries, 2, ip("192.0.2.1")),
            NeighbourState::Stale
        );
        assert_eq!(
            state_of(&entries, 3, ip("192.0.2.1")),
            NeighbourState::Failed
        );
        assert_eq!(
            state_of(&entries, 4, ip("192.0.2.1")),
            NeighbourState::Missing
        );
        assert_eq!(
            state_of(&entries, 2, ip("fe80::1")),
            NeighbourState::Reachable
        );
    }

    #[test]
    fn which_states_answer_and_which_are_refreshed() {
        use NeighbourState::*;
        for (state, reachable, refreshed) in [
            (Reachable, true, false),
            (Stale, true, true),
            (Delay, true, false),
            (Probe, true, false),
            (Permanent, true, false),
            (Noarp, true, false),
            (Incomplete, false, true),
            (Failed, false, true),
            (Missing, false, true),
            (Other(0x100), false, true),
        ] {
            assert_eq!(state.is_reachable(), reachable, "{state}");
            assert_eq!(state.needs_nudge(), refreshed, "{state}");
        }
        assert_eq!(
            NeighbourState::from_kernel(KernelState::None),
            NeighbourState::Missing
        );
    }

    #[test]
    fn statuses_read_as_sentences() {
        let gateway = |state| {
            GatewayStatus::Gateway(Gateway {
                family: IpFamily::V4,
                address: ip("192.0.2.1"),
                interface: "eth0".into(),
                ifindex: 2,
                state,
                refreshed: true,
            })
        };
        let cases = [
            (
                GatewayStatus::NoDefaultRoute {
                    family: IpFamily::V6,
                },
                "no IPv6 default route",
                false,
            ),
            (
                gateway(NeighbourState::Reachable),
                "IPv4 gateway 192.0.2.1 on eth0 answers (neighbour reachable)",
                true,
            ),
            (
                gateway(NeighbourState::Failed),
                "IPv4 gateway 192.0.2.1 on eth0 does not answer (neighbour failed)",
                false,
            ),
            (
                GatewayStatus::OnLink {
                    family: IpFamily::V4,
                    interface: "ppp0".into(),
                    up: false,
                },
                "IPv4 default route on ppp0 without a gateway, link down",
                false,
            ),
            (
                GatewayStatus::NexthopObject {
                    family: IpFamily::V4,
                    id: 7,
                },
                "IPv4 default route through nexthop object 7, not checked",
                true,
            ),
        ];
        for (status, text, reachable) in cases {
            assert_eq!(status.to_string(), text);
            assert_eq!(status.is_reachable(), reachable, "{text}");
        }
    }
}
