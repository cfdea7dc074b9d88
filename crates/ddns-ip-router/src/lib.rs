//! The public address as the gateway itself reports it, for ddns hosts
//! behind a NAT router: no third party is asked.
//!
//! - [`NatPmpDetector`]: NAT-PMP (RFC 6886) public address request.
//! - [`PcpDetector`]: PCP (RFC 6887) MAP request, IPv4 or IPv6.
//! - [`UpnpDetector`]: UPnP-IGD `GetExternalIPAddress`.
//! - [`NatPmpAnnouncements`]: a [`Trigger`](ddns_core::detect::Trigger)
//!   that fires when the gateway multicasts a new external address (RFC
//!   6886 §3.2.1), so a host behind the router re-detects at once instead
//!   of at the next poll.
//!
//! The detectors plug into [`ddns_core::detect::DetectingSource`] next to
//! the HTTP and DNS ones, and [`parse_entry`] turns the router entries of
//! `DDNS_IP_SOURCE_URLS` into detectors.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ddns_core::IpFamily;
//! use ddns_core::detect::{DetectingSource, DetectionSettings, Detector, Trigger};
//! use ddns_ip_router::{NatPmpAnnouncements, parse_entry};
//!
//! let detectors: Vec<Arc<dyn Detector>> = ["natpmp:", "upnp:"]
//!     .iter()
//!     .map(|entry| parse_entry(entry).expect("a router entry").expect("valid"))
//!     .collect();
//! let trigger: Arc<dyn Trigger> = Arc::new(NatPmpAnnouncements::new(None));
//! let source = DetectingSource::new(
//!     "router",
//!     detectors,
//!     Some(trigger),
//!     DetectionSettings::new(vec![IpFamily::V4]),
//! );
//! # let _ = source;
//! ```
//!
//! # Entry syntax
//!
//! Entries of `DDNS_IP_SOURCE_URLS` with these schemes belong to this crate
//! ([`parse_entry`] returns `None` for all others). The scheme is
//! case-insensitive; surrounding spaces are ignored.
//!
//! | entry | asks |
//! | --- | --- |
//! | `natpmp:` | the IPv4 default route's gateway, by NAT-PMP |
//! | `natpmp:192.168.1.1` | that gateway (IPv4 only) |
//! | `pcp:` | by PCP, the IPv4 default gateway for IPv4 and the IPv6 default router for IPv6 |
//! | `pcp:192.168.1.1`, `pcp:fd00::1`, `pcp:[fd00::1]` | that gateway, for its family only |
//! | `pcp:fe80::1%eth0`, `pcp:[fe80::1%eth0]` | a link-local gateway, with its interface (required) |
//! | `upnp:` | the UPnP-IGD gateway found by SSDP discovery |
//! | `upnp:http://192.168.1.1:5000/ctl/IPConn` | that control URL (the host must be an IP address) |
//! | `upnp:http://…/ctl/PPPConn#WANPPPConnection:1` | that control URL, naming its service (default `WANIPConnection:1`) |
//!
//! NAT-PMP and PCP take no port: gateways listen on UDP 5351. `natpmp` or
//! `upnp` without the colon is not a router entry. Errors quote the entry
//! and say what is wrong, e.g. ``"`natpmp:fd00::1`: NAT-PMP is IPv4 only,
//! …"``. [`RouterEntry::parse`] validates without building anything.
//!
//! # Guarantees
//!
//! - Only the gateway is trusted: NAT-PMP and PCP sockets are connected to
//!   the gateway's address and port, so the kernel drops datagrams from
//!   anyone else; announcements from any other source are discarded (RFC
//!   6886 §3.2.1); UPnP device and service URLs must point to the address
//!   that answered discovery.
//! - A datagram that is not the answer (malformed, another opcode, a PCP
//!   answer with another nonce, an announcement) is skipped, not taken as
//!   a failure; an error result code is reported with its meaning from the
//!   RFC. The parsers [`natpmp::parse_public_address`] and
//!   [`pcp::parse_map_response`] are pure and never panic (fuzz targets).
//! - Retransmission follows the RFCs (NAT-PMP: 250 ms doubling; PCP: 3 s
//!   ±10 % doubling) and ends with the caller's timeout.
//! - The default gateway is looked up at every request, so a new network
//!   is followed; routes are read from `/proc/thread-self/net`, which is
//!   the calling thread's network namespace.
//! - [`NatPmpAnnouncements`] reports each announced address once (gateways
//!   repeat announcements up to ten times), shares port 5350 with other
//!   listeners (`SO_REUSEADDR`), and its stream never ends: socket failures
//!   are retried after 1 s, doubling up to 60 s.
//!
//! # Caveats
//!
//! - PCP has no read-only request for the external address: as RFC 6887
//!   §11.6 describes, a MAP request is made, here for UDP to the asking
//!   socket's own ephemeral port with a 60 s lifetime, deleted as soon as
//!   the answer arrives (the delete is sent once; if lost, the mapping
//!   expires). Gateways may raise the lifetime (miniupnpd: 120 s).
//! - For IPv6, a PCP firewall without NPTv6 reports the address the request
//!   came from, which the kernel picks and may be a temporary one. The
//!   netlink source is the better choice for IPv6.
//! - PCP ANNOUNCE messages (which gateways multicast too) carry no address
//!   and are not triggers; a PCP-only gateway gives no announcement events.
//! - Behind a second NAT (carrier-grade NAT) the gateway reports its own
//!   external address, which is not the public one. miniupnpd refuses to
//!   report a private, CGNAT or documentation address: NAT-PMP answers
//!   "network failure" (3), PCP `NO_RESOURCES` (8). A gateway that does
//!   report such an address is caught by the consensus, which rejects
//!   non-global answers.
//! - UPnP discovery answers within 3 s or fails; a failed call searches
//!   again at the next detection.
//!
//! # Why NAT-PMP and PCP are implemented here
//!
//! The crates that exist (`natpmp`, `crab_nat`) do not expose their message
//! parsers for fuzzing or for the announcement listener, which needs the
//! public-address parser; they treat the first datagram that arrives as
//! the answer instead of skipping strays; and `crab_nat` has no way to ask
//! PCP for the external address alone. The messages are small and of fixed
//! format; the parsers here check every length and field.

mod announce;
mod entry;
mod error;
mod exchange;
mod gateway;
pub mod natpmp;
pub mod pcp;
mod upnp;

pub use announce::{ANNOUNCEMENT_GROUP, Announcement, NatPmpAnnouncements};
pub use entry::{RouterEntry, parse_entry};
pub use error::{Error, Result};
pub use gateway::{Gateway, SERVER_PORT};
pub use natpmp::NatPmpDetector;
pub use pcp::PcpDetector;
pub use upnp::{ControlUrl, DEFAULT_SEARCH_TIMEOUT, DEFAULT_SERVICE, UpnpDetector};
