//! What the delivery tests share: zones and claims built in a line each.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use ddns_core::zone::{
    Assembly, Claim, HostName, Mailbox, Owner, RecordData, Soa, ZoneName, ZoneSpec, assemble,
};
use ddns_operator::delivery::ManagedRrset;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn host(name: &str) -> HostName {
    HostName::parse(name).unwrap()
}

/// A zone with default TTL `ttl` and the name servers `ns`.
pub(crate) fn spec(zone: &str, ttl: u32, ns: &[&str]) -> ZoneSpec {
    ZoneSpec {
        name: ZoneName::parse(zone).unwrap(),
        ttl,
        soa: Soa {
            primary_ns: host(ns[0]),
            mailbox: Mailbox::parse(&format!("hostmaster@{zone}")).unwrap(),
            refresh: 3600,
            retry: 600,
            expire: 604_800,
            negative_ttl: 60,
        },
        name_servers: ns.iter().map(|n| host(n)).collect(),
    }
}

/// A claim of `owner` (relative to `zone`).
pub(crate) fn claim(
    zone: &ZoneSpec,
    owner: &str,
    ttl: Option<u32>,
    values: Vec<RecordData>,
) -> Claim {
    Claim {
        source: format!("Test/{owner}"),
        owner: Owner::parse(owner, &zone.name).unwrap(),
        ttl,
        values,
    }
}

pub(crate) fn a(text: &str) -> RecordData {
    RecordData::A(text.parse().unwrap())
}

pub(crate) fn aaaa(text: &str) -> RecordData {
    RecordData::Aaaa(text.parse().unwrap())
}

pub(crate) fn txt(text: &str) -> RecordData {
    RecordData::Txt(text.to_owned())
}

/// The assembly of `claims`, which must hold no conflict.
pub(crate) fn assembly(zone: &ZoneSpec, claims: &[Claim]) -> Assembly {
    let assembly = assemble(zone, claims);
    assert!(
        assembly.conflicts.is_empty(),
        "conflicts: {:?}",
        assembly.conflicts
    );
    assert!(
        assembly.problems.is_empty(),
        "problems: {:?}",
        assembly.problems
    );
    assembly
}

/// Status strings as the controller stores them.
pub(crate) fn strings(set: &BTreeSet<ManagedRrset>) -> Vec<String> {
    set.iter().map(ToString::to_string).collect()
}

pub(crate) fn managed(texts: &[&str]) -> BTreeSet<ManagedRrset> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}
