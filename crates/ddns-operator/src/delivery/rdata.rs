//! The zone's values as DNS message data (hickory's `RData`).

use ddns_core::zone::{Assembly, HostName, RecordData, RecordType, txt_chunks};
use ddns_dns::hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SRV, TXT};
use ddns_dns::hickory_proto::rr::{Name, RData};

use super::error::DeliveryError;
use super::managed::ManagedRrset;

/// One RRset the server should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DesiredRrset {
    /// What the status calls it.
    pub(crate) key: ManagedRrset,
    /// The owner as a DNS name.
    pub(crate) name: Name,
    /// The TTL.
    pub(crate) ttl: u32,
    /// The values, as the server will answer them.
    pub(crate) values: Vec<RData>,
    /// Whether this is the NS set at the zone's apex, which servers never
    /// let go of entirely and which therefore changes record by record.
    pub(crate) apex_ns: bool,
}

/// A DNS name from an absolute name in presentation form.
pub(crate) fn dns_name(absolute: &str) -> Result<Name, String> {
    Name::from_ascii(absolute).map_err(|e| format!("'{absolute}' is not a DNS name: {e}"))
}

fn host(host: &HostName) -> Result<Name, String> {
    if host.is_root() {
        return Ok(Name::root());
    }
    dns_name(&host.absolute())
}

/// One value as message data. TXT values are split into 255-byte
/// character-strings; CAA keeps any tag and its value's bytes as they are.
pub(crate) fn rdata(value: &RecordData) -> Result<RData, String> {
    Ok(match value {
        RecordData::A(address) => RData::A(A::from(*address)),
        RecordData::Aaaa(address) => RData::AAAA(AAAA::from(*address)),
        RecordData::Cname(target) => RData::CNAME(CNAME(host(target)?)),
        RecordData::Ns(target) => RData::NS(NS(host(target)?)),
        RecordData::Txt(text) => RData::TXT(TXT::from_bytes(txt_chunks(text))),
        RecordData::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, host(exchange)?)),
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(*priority, *weight, *port, host(target)?)),
        RecordData::Caa { flags, tag, value } => {
            // hickory's constructors know only issue, issuewild and iodef
            // and parse their values; a CAA record here is any tag with its
            // value's bytes as given, so the fields are set directly.
            let mut caa = CAA::new_issue(flags & 0x80 != 0, None, Vec::new());
            caa.reserved_flags = flags & 0x7f;
            caa.tag = tag.clone();
            caa.value = value.as_bytes().to_vec();
            RData::CAA(caa)
        }
    })
}

/// Every RRset of `assembly` but the SOA, in the assembly's order.
pub(crate) fn desired(assembly: &Assembly) -> Result<Vec<DesiredRrset>, DeliveryError> {
    let zone = &assembly.zone.name;
    let mut out = Vec::with_capacity(assembly.rrsets.len());
    for set in assembly.rrsets.values() {
        if set.record_type == RecordType::Soa {
            continue;
        }
        let Some(key) = ManagedRrset::new(zone, &set.owner, set.record_type) else {
            continue;
        };
        let invalid = |reason: String| DeliveryError::RecordData {
            rrset: key.clone(),
            reason,
        };
        let name = dns_name(key.name()).map_err(invalid)?;
        let values = set
            .values
            .iter()
            .map(rdata)
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        out.push(DesiredRrset {
            apex_ns: key.is_apex_ns(zone),
            key,
            name,
            ttl: set.ttl,
            values,
        });
    }
    Ok(out)
}
