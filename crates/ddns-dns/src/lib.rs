//! A small DNS client: query an RRset, find the zone of a name, and apply
//! RRset changes with RFC 2136 dynamic updates signed with TSIG.
//!
//! It is what the RFC 2136 provider, the published-state verifier and the
//! Kubernetes operator share. Messages and TSIG come from `hickory-proto`;
//! this crate only moves bytes (UDP with TCP fallback, or TCP) and reads
//! answers carefully, including the TSIG error field that a client which
//! verifies every response would hide.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use ddns_dns::{Client, RrsetChange, Transport};
//! use hickory_proto::rr::{Name, RData, RecordType, rdata::A};
//! # async fn demo() -> Result<(), ddns_dns::Error> {
//! let client = Client::new("192.0.2.53:53".parse().unwrap(), None, Transport::Udp, Duration::from_secs(5));
//! let name = Name::from_ascii("home.example.com.").unwrap();
//! let zone = client.find_zone(&name).await?;
//! let change = RrsetChange::replace(name, 60, vec![RData::A(A::new(192, 0, 2, 1))]);
//! client.apply(&zone, &[change]).await?;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - A replacement deletes and re-adds the RRset in one UPDATE message, so
//!   a reader never sees the name without a value.
//! - Responses are matched by ID and question; with a key, an unsigned or
//!   badly signed answer is an error, and BADSIG / BADKEY / BADTIME are
//!   reported as such.
//! - An UPDATE is never retransmitted over UDP (a duplicate could fail its
//!   own prerequisites); large messages go over TCP.
//!
//! # Caveats
//!
//! - TSIG with hmac-sha256, hmac-sha384 and hmac-sha512 only; GSS-TSIG
//!   (Windows DNS with Kerberos) is not supported.

mod client;
mod error;
mod message;
mod transport;
mod tsig;

pub use client::{Answer, Client, RrsetChange};
pub use error::{Error, Result, rcode_name};
pub use message::{parse_response, query_message, update_message};
pub use transport::Transport;
pub use tsig::{TsigAlgorithm, TsigKey};

pub use hickory_proto;
