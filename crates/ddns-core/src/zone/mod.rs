//! DNS zones described by resources: names, record values, the assembled
//! zone with its conflicts, the zone file, and SOA serials.
//!
//! This is the domain logic of the Kubernetes operator, kept here without
//! any I/O so that rendering, conflict rules and serials are tested on
//! their own and shared by every way a zone is delivered (RFC 2136
//! updates or a zone file).
//!
//! # Example
//!
//! ```
//! use ddns_core::zone::{assemble, render, Claim, HostName, Mailbox, Owner, RecordData, Soa, ZoneName, ZoneSpec};
//! # fn demo() -> Result<(), String> {
//! let name = ZoneName::parse("example.com")?;
//! let zone = ZoneSpec {
//!     soa: Soa {
//!         primary_ns: HostName::parse("ns1.example.net")?,
//!         mailbox: Mailbox::parse("hostmaster@example.com")?,
//!         refresh: 3600, retry: 600, expire: 604800, negative_ttl: 300,
//!     },
//!     name_servers: vec![HostName::parse("ns1.example.net")?],
//!     ttl: 3600,
//!     name: name.clone(),
//! };
//! let www = Claim {
//!     source: "ARecord/www".into(),
//!     owner: Owner::parse("www", &name).map_err(|e| e.to_string())?,
//!     ttl: Some(300),
//!     values: vec![RecordData::A("192.0.2.1".parse().map_err(|_| "address")?)],
//! };
//! let assembly = assemble(&zone, &[www]);
//! assert!(assembly.conflicts.is_empty());
//! assert!(render(&assembly, 2026112800).contains("www\t300\tIN\tA\t192.0.2.1\n"));
//! # Ok(()) }
//! # demo().unwrap();
//! ```
//!
//! # Guarantees
//!
//! - A claim that cannot be applied (CNAME beside other data, a name and
//!   type another resource holds, data under a delegation, a name outside
//!   the zone) is reported as a [`Conflict`] and leaves the rest of the zone
//!   as it was; the earlier claim keeps the name.
//! - Rendering is deterministic, and a zone without [`Assembly::problems`]
//!   renders to a file `named-checkzone -k fail -i full` accepts (a
//!   property test checks this against BIND's own tool).
//! - Serials follow BIND's date rule with RFC 1982 arithmetic, so the next
//!   serial is always greater than the last.
//!
//! # Caveats
//!
//! - Host names that records point at are fully qualified (a trailing dot
//!   is optional); only owners are written relative to the zone.
//! - Records of one RRset share one TTL: when several resources build a set
//!   (MX, NS, SRV, CAA), the lowest of their TTLs is used.

mod data;
mod model;
mod names;
mod render;
mod serial;
#[cfg(test)]
mod tests;

pub use data::{MAX_CAA_VALUE, MAX_TXT_VALUE, RecordData, RecordType, txt_chunks};
pub use model::{
    Assembly, Claim, Conflict, ConflictKind, RrSet, RrSetKey, Soa, ZoneSpec, assemble,
};
pub use names::{HostName, Mailbox, NameError, Owner, OwnerError, ZoneName};
pub use render::{describe, render, rendered_serial, same_content};
pub use serial::{Date, next_serial, serial_gt};
