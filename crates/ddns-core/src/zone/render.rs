//! The zone file: a pure function of the assembled zone and a serial.
//!
//! The output is deterministic (canonical owner order, types in a fixed
//! order, values sorted), so rendering twice gives the same bytes and a
//! file only changes when the zone does.

use std::fmt::Write as _;

use super::data::RecordData;
use super::model::Assembly;

/// Renders the zone with `serial` in its SOA.
pub fn render(assembly: &Assembly, serial: u32) -> String {
    let zone = &assembly.zone;
    let soa = &zone.soa;
    let mut out = String::with_capacity(128 + assembly.rrsets.len() * 48);
    let _ = writeln!(
        out,
        "; Zone {} written by ddns-operator. Changes made here are overwritten.",
        zone.name
    );
    let _ = writeln!(out, "$ORIGIN {}", zone.name.absolute());
    let _ = writeln!(out, "$TTL {}", zone.ttl);
    let _ = writeln!(
        out,
        "@\t{}\tIN\tSOA\t{} {} {serial} {} {} {} {}",
        zone.ttl,
        soa.primary_ns.absolute(),
        soa.mailbox.to_dns_name(),
        soa.refresh,
        soa.retry,
        soa.expire,
        soa.negative_ttl
    );
    for set in assembly.rrsets.values() {
        for value in &set.values {
            let _ = writeln!(
                out,
                "{}\t{}\tIN\t{}\t{}",
                set.owner.relative(),
                set.ttl,
                set.record_type,
                value.presentation()
            );
        }
    }
    out
}

/// The serial in a zone file this module rendered, read from its SOA line.
pub fn rendered_serial(text: &str) -> Option<u32> {
    text.lines()
        .find(|line| line.starts_with("@\t") && line.contains("\tIN\tSOA\t"))
        .and_then(|line| line.rsplit('\t').next())
        .and_then(|fields| fields.split(' ').nth(2))
        .and_then(|serial| serial.parse().ok())
}

/// Whether `existing` (a file this module rendered) holds exactly what
/// `assembly` renders, whatever its serial.
pub fn same_content(assembly: &Assembly, existing: &str) -> bool {
    rendered_serial(existing).is_some_and(|serial| render(assembly, serial) == existing)
}

/// Values a value list would render to, one per line (for messages).
pub fn describe(values: &[RecordData]) -> Vec<String> {
    values.iter().map(RecordData::presentation).collect()
}
