//! Reads what DNS really publishes for a record, independently of the
//! provider's API: before a write, so that a provider which cannot read its
//! own state can skip a write that is not needed; after a write, to confirm
//! that it took.
//!
//! Two kinds, chosen with `DDNS_VERIFY`:
//!
//! - `dns` ([`DnsVerifier`]): plain queries without recursion to the
//!   servers of `DDNS_VERIFY_DNS_SERVER`, or by default to the zone's
//!   authoritative servers, found once per zone through the resolvers of
//!   `/etc/resolv.conf` (SOA, then NS, then their addresses).
//! - `doh` ([`DohVerifier`]): RFC 8484 DNS over HTTPS (POST) to
//!   `DDNS_VERIFY_DOH_URL`, trusting the system's root certificates and
//!   those of `DDNS_VERIFY_CA_FILE`.
//!
//! Every question gets 5 seconds ([`TIMEOUT`]).
//!
//! # Example
//!
//! ```
//! use ddns_core::{VerifierFactory, config::Env};
//! let env = Env::from_pairs([("DDNS_VERIFY_DNS_SERVER", "192.0.2.53, [2001:db8::53]:5353")]);
//! let plan = ddns_verify::DnsVerifierFactory.configure(&env).expect("valid");
//! assert_eq!(plan.settings()[0].value, "192.0.2.53:53, [2001:db8::53]:5353");
//! ```
//!
//! # Guarantees
//!
//! - An observation is authoritative only when every server asked answered
//!   with the AA bit and all served the same values. A server that lags
//!   (a secondary before its zone transfer), fails or is not authoritative
//!   makes the observation "not confirmed", and the engine then writes
//!   rather than skips.
//! - Every failure is transient and names the server or the endpoint's
//!   origin; the engine treats it as "cannot tell" and never as "absent".
//! - TLS certificates are always verified. The DoH URL is a secret: only
//!   its origin (`https://host:port`) appears in settings, logs and errors.
//! - `http://` is refused for a DoH endpoint that is not on loopback,
//!   unless `DDNS_ALLOW_HTTP=true`.
//! - The authoritative servers of a zone are looked up once and kept for
//!   the life of the verifier; a failed lookup is tried again next time.
//!
//! # Caveats
//!
//! - A DoH endpoint in front of a recursive resolver answers without AA, and
//!   from its cache for up to the record's TTL: it can confirm a write (late
//!   by up to that TTL) but never justify skipping one.
//! - Records served through a proxy (Cloudflare's proxied records answer
//!   with edge addresses) are never checked: the provider says so with
//!   `dns_shows_published`, and the engine does not ask.
//! - Discovery asks each name server at one address, its first IPv4 one
//!   (IPv6 only for a server without IPv4), on port 53. A change of the
//!   zone's NS records is seen after a restart.
//! - resolv.conf nameservers with a zone index (`fe80::1%eth0`) are
//!   skipped; set `DDNS_VERIFY_DNS_SERVER` for them.
//! - The DoH request honours `HTTPS_PROXY` and `NO_PROXY`, like other HTTP
//!   clients; it follows no redirect.
//! - DNSSEC is not validated: the answers are trusted as the network
//!   delivers them (DoH protects the path to the endpoint only).

mod config;
mod discovery;
mod dns;
mod doh;
mod error;
mod resolv;
mod resolver;
mod server;

use std::time::Duration;

pub use config::{DnsVerifierFactory, DohVerifierFactory};
pub use dns::DnsVerifier;
pub use doh::DohVerifier;
pub use error::{Error, Result};

/// The `DDNS_VERIFY` name of [`DnsVerifier`].
pub const DNS: &str = "dns";

/// The `DDNS_VERIFY` name of [`DohVerifier`].
pub const DOH: &str = "doh";

/// How long one question may take: a DNS exchange, or an HTTPS request
/// from connection to the last byte.
pub const TIMEOUT: Duration = Duration::from_secs(5);
