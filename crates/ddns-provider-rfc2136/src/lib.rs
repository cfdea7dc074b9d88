//! The RFC 2136 provider: dynamic updates to authoritative servers people
//! run themselves (BIND9, Knot, PowerDNS, Windows DNS without GSS-TSIG),
//! signed with TSIG.
//!
//! Each change replaces the RRset in one UPDATE (delete and add together),
//! so a reader never sees the name empty. Changes due together in one zone
//! travel in one message. The published value is read with a plain query
//! to the same server, so unneeded writes are skipped and hand-made changes
//! are put back.
//!
//! # Example
//!
//! ```
//! use ddns_core::{ProviderFactory, config::Env};
//! let env = Env::from_pairs([
//!     ("DDNS_RFC2136_SERVER", "192.0.2.53:5353"),
//!     ("DDNS_RFC2136_TSIG_KEY_NAME", "ddns-key"),
//!     ("DDNS_RFC2136_TSIG_SECRET", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="),
//! ]);
//! let plan = ddns_provider_rfc2136::Rfc2136Factory.configure(&env).expect("valid");
//! assert!(plan.settings().iter().any(|s| s.value == "<redacted>"));
//! ```
//!
//! # Guarantees
//!
//! - A rejected key (BADSIG, BADKEY) is a credentials error: at start the
//!   daemon exits with code 1. BADTIME is a clock problem and is retried.
//! - REFUSED, NOTAUTH and NOTZONE are permanent, with a message saying what
//!   to fix; SERVFAIL and timeouts are transient.
//!
//! # Caveats
//!
//! - GSS-TSIG (Kerberos, as Windows DNS uses with secure updates) is not
//!   supported; use a TSIG key, or unsigned updates allowed by address.
//! - A server given by name is resolved once, at start.

mod config;
mod provider;

pub use config::Rfc2136Factory;
pub use provider::Rfc2136Provider;

/// The registry name.
pub const NAME: &str = "rfc2136";
