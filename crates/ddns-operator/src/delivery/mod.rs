//! Getting an assembled zone into BIND, in either of the two modes a
//! `DNSZone` chooses.
//!
//! - **update** ([`update::deliver`]): RFC 2136 UPDATE messages signed with
//!   TSIG change only the RRsets ddns manages, in a zone that already
//!   exists on the server. The server's RRsets are read first (bounded
//!   concurrency), a pure planner compares them with the desired ones, and
//!   only the differences are sent, many RRsets per message. A requeue with
//!   nothing to do sends no UPDATE at all.
//! - **zonefile** ([`zonefile::deliver`]): the whole zone is rendered,
//!   checked with `named-checkzone`, written atomically into a directory
//!   BIND reads, listed in an include file of `zone {}` stanzas, and loaded
//!   with a reload (or a reconfig when the set of zones changed). The
//!   serial changes only when the content does.
//!
//! Planning (what to change, which serial, the include file's text) is
//! pure and tested on its own; only [`update`] and [`zonefile`] do I/O.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeSet;
//! use ddns_operator::delivery::{UpdateTarget, update};
//! # async fn demo(assembly: ddns_core::zone::Assembly, key: ddns_dns::TsigKey) -> Result<(), ddns_operator::delivery::DeliveryError> {
//! let target = UpdateTarget::new("192.0.2.53:53".parse().unwrap(), key);
//! let previously = BTreeSet::new(); // from the zone's status.managed
//! let report = update::deliver(&target, &assembly, &previously).await?;
//! let status_managed: Vec<String> = report.managed.iter().map(ToString::to_string).collect();
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - update: RRsets ddns does not manage are never touched, nor is the
//!   SOA; the apex NS set is changed record by record and never removed.
//!   Every message is all-or-nothing on the server; deletions of RRsets no
//!   longer wanted go before additions, so a CNAME can replace other data
//!   at a name.
//! - zonefile: a file `named-checkzone -k fail -i full` refuses is never
//!   put in place; the old file stays. The file is replaced by a rename
//!   after an fsync, and the directory is synced. A reload that fails is
//!   remembered on disk and retried by the next delivery of that zone,
//!   even when the file did not change.
//! - A zone with [`ddns_core::zone::Assembly::problems`] is refused by both
//!   modes before anything is sent or written.
//!
//! # Caveats
//!
//! - update: a name covered by a wildcard that ddns does not manage can
//!   look up to date when only the wildcard answers for it (without DNSSEC
//!   a synthesised answer looks like a real one); such a record is written
//!   once its values or TTL differ from the wildcard's. Wildcards ddns
//!   manages are accounted for.
//! - update: BIND silently ignores data added at a name that holds a CNAME
//!   ddns does not manage; the record is then sent again at every delivery.
//! - update: the SOA stays as the server has it (BIND raises the serial on
//!   each UPDATE); the `DNSZone`'s SOA fields apply to zonefile delivery.

mod error;
mod managed;
mod plan;
mod rdata;
#[cfg(test)]
mod tests;
pub mod update;
pub mod zonefile;

pub use error::{DeliveryError, Result};
pub use managed::{ManagedRrset, ManagedRrsetError, managed_after_failure, managed_set};
pub use update::{RemoveReport, UpdateReport, UpdateTarget};
pub use zonefile::{ZoneFileOutcome, ZoneFileReport, ZoneFileTarget, zones_conf};
