//! Public-address detection for ddns behind NAT: ask outside services
//! which address they see, and trust only what enough of them agree on.
//!
//! Two kinds of [`Detector`](ddns_core::detect::Detector) live here:
//!
//! - [`HttpDetector`]: an HTTP echo service, whose body is the address
//!   (the icanhazip / ipify style) or Cloudflare's `/cdn-cgi/trace` lines
//!   with `ip=`;
//! - [`DnsDetector`]: a DNS server that answers with the address it sees
//!   (`myip.opendns.com` A/AAAA, `whoami.cloudflare` TXT in class CH,
//!   `o-o.myaddr.l.google.com` TXT).
//!
//! The consensus, the polling, the debounce of triggers and the back-off
//! of failing detectors are the core's
//! [`DetectingSource`](ddns_core::detect::DetectingSource); this crate
//! builds one from the environment. Register
//! [`HttpSourceFactory::http`] and [`HttpSourceFactory::dns`] to offer
//! `DDNS_IP_SOURCE_TYPE=http` and `DDNS_IP_SOURCE_TYPE=dns`.
//!
//! # Configuration
//!
//! | Variable | Default | Meaning |
//! | --- | --- | --- |
//! | `DDNS_IP_SOURCE_URLS` (or `_FILE`) | the built-in list of the type | Sources, comma-separated (commas or newlines in a file). |
//! | `DDNS_IP_SOURCE_QUORUM` | 2, or 1 for a family with one source | How many must give the same address (1..=64, at most the sources of each family). |
//! | `DDNS_IP_SOURCE_POLL_INTERVAL_SECS` | 300 | Detection runs at least this often (1..=86400). |
//! | `DDNS_IP_SOURCE_TIMEOUT_SECS` | 5 | How long one source may take (1..=60). |
//! | `DDNS_IP_ALLOW_NONGLOBAL` | false | Accept private, CGNAT, loopback and documentation answers. |
//! | `DDNS_IP_SOURCE_TRIGGER` | `netlink` on Linux when the build has it, else `none` | `netlink`: re-detect at once on link, address and default-route changes. |
//! | `DDNS_IP_SOURCE_INTERFACE` | unset (all interfaces) | The WAN interfaces, comma-separated: the netlink trigger watches only these, and IPv6 requests prefer their stable addresses. Same rules as for the `netlink` source. |
//! | `DDNS_IP_SOURCE_CA_FILE` | unset | A PEM file of extra root certificates for https services (a private echo service); the system's roots stay trusted. Unreadable or without a certificate: a configuration error. |
//! | `DDNS_ALLOW_HTTP` | false | Allow `http://` URLs and redirects to hosts that are not loopback. |
//!
//! Each entry of `DDNS_IP_SOURCE_URLS` is one of
//!
//! - `URL`: an `https://` URL (`http://` only for a loopback host or with
//!   `DDNS_ALLOW_HTTP=true`). It is asked for both families, unless the
//!   host is an address literal (`https://1.1.1.1/cdn-cgi/trace`), which
//!   is asked for its own family only. A path ending in `/cdn-cgi/trace`
//!   expects the trace shape; other answers are recognised by their body.
//! - `ipv4:URL` or `ipv6:URL`: the URL, asked for that family only (for a
//!   host with addresses of one family, such as `ipv4.icanhazip.com`).
//! - `dns:[KIND:]NAME@SERVER`: see [`DnsEndpoint`]. `KIND` is `a`, `txt`
//!   or `txt-ch` (default: `txt-ch` for `whoami.cloudflare`, else `a`);
//!   `SERVER` is an IP address with an optional port (`208.67.222.222`,
//!   `[2620:119:35::35]:53`), and its family is the one asked.
//!
//! A URL may carry a token: the list is read like a secret (also from
//! `DDNS_IP_SOURCE_URLS_FILE` or a systemd credential), and settings,
//! logs and errors show only `scheme://host[:port]` of a URL.
//!
//! # Example
//!
//! ```
//! use ddns_core::config::Env;
//! use ddns_core::{IpFamily, SourceFactory};
//! use ddns_ip_http::HttpSourceFactory;
//!
//! let env = Env::from_pairs([
//!     ("DDNS_IP_SOURCE_URLS", "https://ip.example/k/s3cret, ipv4:https://v4.example, dns:myip.opendns.com@208.67.222.222"),
//!     ("DDNS_IP_SOURCE_TRIGGER", "none"),
//! ]);
//! let plan = HttpSourceFactory::http().configure(&env, &[IpFamily::V4]).expect("valid");
//! let urls = &plan.settings()[0];
//! assert_eq!(urls.value, "https://ip.example, ipv4:https://v4.example, dns:myip.opendns.com@208.67.222.222");
//! // plan.build().await gives a DetectingSource: 2 of the 3 must agree.
//! ```
//!
//! # Guarantees
//!
//! - IPv4 and IPv6 are asked separately, over connections from sockets of
//!   that family, and an answer over a connection of the other family is
//!   refused: an IPv4 answer never stands in for IPv6 (nor an IPv4-mapped
//!   IPv6 address).
//! - With a [`LocalIpv6Lookup`] plugged in
//!   ([`HttpSourceFactory::with_local_ipv6`]; ddnsd reads netlink), IPv6
//!   echo requests leave from the host's stable global address (not
//!   temporary, deprecated or tentative), through a client bound to it and
//!   rebuilt when the address changes, and an IPv6 answer (HTTP or `dns:`)
//!   that is one of the host's temporary addresses is refused, so a
//!   privacy address is never published. Without a stable address the
//!   kernel picks the source; a warning says so once.
//! - Answers are read strictly: the whole body is one address, or the
//!   trace has exactly one `ip=` line; a DNS answer holds exactly one
//!   address (one TXT record holding one). HTML, two addresses, garbage,
//!   non-2xx statuses and bodies over 4 KiB are refused, and at most
//!   4 KiB is ever read. [`parse_echo_body`] is that parser.
//! - No redirect leads from https to http, nor to a plain-http host that
//!   is not loopback unless `DDNS_ALLOW_HTTP=true`; proxies are never used
//!   (a proxy's address is not ours).
//! - A source listed twice is refused (it would vote twice); a quorum no
//!   family can reach is a configuration error.
//! - Nothing is published without a quorum, and no failure ever removes
//!   an address (the core's rules).
//!
//! # Caveats
//!
//! - Latency. On the router itself (the machine holding the public
//!   address, such as a PPPoE link), the netlink trigger sees a reconnect
//!   and detection runs about a second later (the core's 250 ms debounce
//!   plus the sources' answer time). On a host behind the router, nothing
//!   local changes when the router reconnects: the change is found at the
//!   next poll, up to `DDNS_IP_SOURCE_POLL_INTERVAL_SECS` (300 s by
//!   default) later, until the router's own announcements (NAT-PMP) are a
//!   trigger.
//! - Each detection asks every source of every family: with the built-in
//!   `http` list, 4 requests per family per poll (48 an hour per family
//!   at the default interval), plus one round per trigger.
//! - `dns:` questions over IPv6 are not bound to the stable address: on a
//!   host that prefers temporary addresses (`use_tempaddr=2`) the server
//!   sees a temporary one, and that answer is refused. Use HTTP echo
//!   services for IPv6 there.
//! - The stable address chosen is the best by rank (globally routable,
//!   then on `DDNS_IP_SOURCE_INTERFACE`, then the lowest), not the kernel's
//!   route to each service: with policy routing between several prefixes,
//!   bind the source with `DDNS_IP_SOURCE_INTERFACE`.
//! - `dns:` servers are named by address (no lookup of a server name),
//!   and are asked over plain DNS, which a network on the path can forge.
//! - Two of the built-in `http` services (icanhazip and 1.1.1.1) belong to
//!   Cloudflare: with the default quorum of 2, Cloudflare alone can agree
//!   with itself. Raise `DDNS_IP_SOURCE_QUORUM` to 3 to require another
//!   operator.

mod config;
mod dns;
mod error;
mod http;
mod local;
mod parse;
mod sources;
mod tls;

pub use config::{
    ALLOW_NONGLOBAL_VARIABLE, CA_FILE_VARIABLE, HttpSourceFactory, INTERFACE_VARIABLE,
    POLL_INTERVAL_VARIABLE, QUORUM_VARIABLE, TIMEOUT_VARIABLE, TRIGGER_VARIABLE, TriggerMaker,
    URLS_VARIABLE,
};
pub use dns::{DnsDetector, DnsEndpoint, DnsQueryKind};
pub use error::{Error, Result};
pub use http::{ClientOptions, HttpClients, HttpDetector};
pub use local::{LocalIpv6, LocalIpv6Lookup};
pub use parse::{MAX_BODY, parse_echo_body};
pub use sources::{DEFAULT_DNS_SOURCES, DEFAULT_HTTP_SOURCES};
