//! What to send: a pure comparison of the desired RRsets with what the
//! server holds, and the grouping of the changes into UPDATE messages.

use std::collections::BTreeMap;

use ddns_dns::RrsetChange;
use ddns_dns::hickory_proto::rr::RData;
use ddns_dns::hickory_proto::serialize::binary::BinEncodable;

use super::managed::ManagedRrset;
use super::rdata::DesiredRrset;

/// An UPDATE message holds changes up to about this many bytes (names
/// uncompressed, so the real message is smaller), well under the 64 KiB
/// a DNS message can have over TCP.
pub(crate) const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// And at most this many RRset changes.
pub(crate) const MAX_MESSAGE_CHANGES: usize = 500;

/// What the server answered for one RRset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    /// The values (empty when there are none).
    pub(crate) values: Vec<RData>,
    /// Their TTL.
    pub(crate) ttl: Option<u32>,
}

/// What a change does, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Creates or changes the RRset.
    Replace,
    /// Removes the RRset.
    Delete,
}

/// One RRset change, with what it weighs in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedChange {
    pub(crate) rrset: ManagedRrset,
    pub(crate) action: Action,
    pub(crate) change: RrsetChange,
    /// An upper bound of its bytes in a message.
    pub(crate) size: usize,
}

/// Whether two value lists hold the same records, in any order. Servers
/// keep no duplicates in an RRset, and the desired values have none.
pub(crate) fn same_values(a: &[RData], b: &[RData]) -> bool {
    a.len() == b.len() && a.iter().all(|value| b.contains(value))
}

fn up_to_date(desired: &DesiredRrset, observed: Option<&Observed>) -> bool {
    observed.is_some_and(|o| o.ttl == Some(desired.ttl) && same_values(&o.values, &desired.values))
}

/// Bytes of a record in a message, without name compression.
fn record_size(name_len: usize, value: Option<&RData>) -> usize {
    let rdata = value.map_or(0, |v| v.to_bytes().map_or(256, |b| b.len()));
    name_len + 1 + 10 + rdata
}

fn delete(rrset: &ManagedRrset, desired_name: Option<&DesiredRrset>) -> Option<PlannedChange> {
    let name = match desired_name {
        Some(d) => d.name.clone(),
        None => super::rdata::dns_name(rrset.name()).ok()?,
    };
    let record_type = hickory_type(rrset.record_type());
    Some(PlannedChange {
        size: record_size(rrset.name().len(), None),
        rrset: rrset.clone(),
        action: Action::Delete,
        change: RrsetChange::Delete {
            name,
            record_type,
            expect: None,
        },
    })
}

/// The hickory type of a zone type.
pub(crate) fn hickory_type(
    record_type: ddns_core::zone::RecordType,
) -> ddns_dns::hickory_proto::rr::RecordType {
    use ddns_core::zone::RecordType as Z;
    use ddns_dns::hickory_proto::rr::RecordType as H;
    match record_type {
        Z::Soa => H::SOA,
        Z::Ns => H::NS,
        Z::A => H::A,
        Z::Aaaa => H::AAAA,
        Z::Cname => H::CNAME,
        Z::Mx => H::MX,
        Z::Txt => H::TXT,
        Z::Srv => H::SRV,
        Z::Caa => H::CAA,
    }
}

fn replace(desired: &DesiredRrset, observed: Option<&Observed>) -> PlannedChange {
    let name_len = desired.key.name().len();
    let adds: usize = desired
        .values
        .iter()
        .map(|v| record_size(name_len, Some(v)))
        .sum();
    if desired.apex_ns {
        // A deletion of the whole apex NS set is ignored by the server
        // (RFC 2136 §3.4.2.3): add what is missing (all of it, so a new TTL
        // applies to the set), then remove the records no longer wanted.
        let remove: Vec<RData> = observed
            .map(|o| {
                o.values
                    .iter()
                    .filter(|v| !desired.values.contains(v))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let removes: usize = remove.iter().map(|v| record_size(name_len, Some(v))).sum();
        return PlannedChange {
            rrset: desired.key.clone(),
            action: Action::Replace,
            size: adds + removes,
            change: RrsetChange::Edit {
                name: desired.name.clone(),
                ttl: desired.ttl,
                add: desired.values.clone(),
                remove,
            },
        };
    }
    PlannedChange {
        rrset: desired.key.clone(),
        action: Action::Replace,
        size: adds + record_size(name_len, None),
        change: RrsetChange::replace(desired.name.clone(), desired.ttl, desired.values.clone()),
    }
}

/// The changes that make the server hold `desired` and no longer hold
/// `stale` (RRsets managed before and not wanted now), given what it
/// answered for each desired RRset. Deletions come first, so that a name
/// can change from other data to a CNAME or back.
///
/// A desired RRset that looks up to date at a name a managed wildcard
/// covers may be the wildcard's answer rather than the name's own: when
/// anything else changes, it is written as well, since the change could
/// create the name (hiding the wildcard's answer) or change the wildcard.
/// With nothing else to change, what clients see is already right.
pub(crate) fn plan(
    desired: &[DesiredRrset],
    observed: &BTreeMap<ManagedRrset, Observed>,
    stale: &[ManagedRrset],
) -> Vec<PlannedChange> {
    let mut changes: Vec<PlannedChange> = stale.iter().filter_map(|s| delete(s, None)).collect();
    let wildcards = Wildcards {
        desired: desired
            .iter()
            .filter(|w| w.key.wildcard_suffix().is_some())
            .collect(),
        stale: stale
            .iter()
            .filter(|w| w.wildcard_suffix().is_some())
            .collect(),
    };
    let mut suspicious = Vec::new();
    for set in desired {
        let answer = observed.get(&set.key);
        if !up_to_date(set, answer) {
            changes.push(replace(set, answer));
        } else if wildcards.may_answer_for(set, answer, observed) {
            suspicious.push(set);
        }
    }
    if !changes.is_empty() {
        changes.extend(suspicious.into_iter().map(|set| replace(set, None)));
    }
    changes
}

/// The managed wildcards: the desired ones and those being deleted.
struct Wildcards<'a> {
    desired: Vec<&'a DesiredRrset>,
    stale: Vec<&'a ManagedRrset>,
}

impl Wildcards<'_> {
    /// Whether the answer for `set` could have come from a managed
    /// wildcard: one being deleted, or one whose answer for the same type
    /// is the same.
    fn may_answer_for(
        &self,
        set: &DesiredRrset,
        answer: Option<&Observed>,
        observed: &BTreeMap<ManagedRrset, Observed>,
    ) -> bool {
        self.stale.iter().any(|w| set.key.is_covered_by(w))
            || self.desired.iter().any(|w| {
                w.key.record_type() == set.key.record_type()
                    && set.key.is_covered_by(&w.key)
                    && observed.get(&w.key) == answer
            })
    }
}

/// Groups `changes`, in order, into messages of at most
/// [`MAX_MESSAGE_BYTES`] and [`MAX_MESSAGE_CHANGES`]; a change bigger than
/// the limit goes alone.
pub(crate) fn batches(changes: &[PlannedChange]) -> Vec<&[PlannedChange]> {
    batches_within(changes, MAX_MESSAGE_BYTES, MAX_MESSAGE_CHANGES)
}

pub(crate) fn batches_within(
    changes: &[PlannedChange],
    max_bytes: usize,
    max_changes: usize,
) -> Vec<&[PlannedChange]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, change) in changes.iter().enumerate() {
        let full =
            index > start && (bytes + change.size > max_bytes || index - start >= max_changes);
        if full {
            out.push(&changes[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += change.size;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}
