//! The record kinds: one resource is records of one type at one name in
//! one zone.
//!
//! Every kind shares `zoneRef`, `name` and `ttl`; the rest is the kind's
//! own value. A kind whose spec lists values (A, AAAA, TXT) or holds the
//! single CNAME owns its RRset; MX, NS, SRV and CAA resources each add one
//! record, so several of them build one RRset (two mail exchangers).

use std::net::{Ipv4Addr, Ipv6Addr};

use ddns_core::zone::{HostName, RecordData};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::Condition;
use super::zone::HOST_PATTERN;

/// Owner names: `@`, a relative name (`www`, `_dmarc`, `*.dev`), or an
/// absolute one ending in `.`.
pub const OWNER_PATTERN: &str = r"^(@|(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?)$";

/// What the operator last did with a record.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::schema::kubernetes_integers)]
pub struct RecordStatus {
    /// `Ready` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The record's fully qualified name, once its zone is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The zone (`zoneName`) the record was delivered into; deleting the
    /// record removes it from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// What every record kind has in common, and the conversion of its own
/// fields to record values.
pub trait RecordSpec {
    /// The kind's name (`ARecord`).
    const KIND: &'static str;
    /// The `metadata.name` of the DNSZone in the same namespace.
    fn zone_ref(&self) -> &str;
    /// The owner, relative to the zone.
    fn name(&self) -> &str;
    /// The TTL, if set.
    fn ttl(&self) -> Option<u32>;
    /// The values, or why they are invalid.
    fn values(&self) -> Result<Vec<RecordData>, String>;
}

fn host(field: &str, text: &str) -> Result<HostName, String> {
    HostName::parse(text).map_err(|reason| format!("{field}: {reason}"))
}

macro_rules! record_kind {
    (
        $(#[$doc:meta])*
        $kind:literal, $spec:ident, $plural:literal, $short:literal, $column:literal, $column_path:literal,
        $root_doc:literal,
        { $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )* }
        |$this:ident| $values:expr
    ) => {
        $(#[$doc])*
        #[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
        #[kube(
            group = "ddns.dev",
            version = "v1alpha1",
            kind = $kind,
            doc = $root_doc,
            plural = $plural,
            namespaced,
            status = "RecordStatus",
            shortname = $short,
            category = "ddns",
            category = "ddns-records",
            printcolumn(name = "Zone", type_ = "string", json_path = ".spec.zoneRef"),
            printcolumn(name = "Name", type_ = "string", json_path = ".spec.name"),
            printcolumn(name = $column, type_ = "string", json_path = $column_path),
            printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
            printcolumn(name = "Message", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].message", priority = 1),
            printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
        )]
        #[serde(rename_all = "camelCase")]
        #[schemars(transform = super::schema::kubernetes_integers)]
        pub struct $spec {
            /// The `metadata.name` of the DNSZone in the same namespace.
            #[schemars(length(min = 1, max = 253))]
            pub zone_ref: String,
            /// The owner relative to the zone: `@` for the apex, `*` for a
            /// wildcard, or an absolute name ending in `.` inside the zone.
            #[schemars(length(min = 1, max = 254), regex(pattern = OWNER_PATTERN))]
            pub name: String,
            /// TTL in seconds; the zone's default when absent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 0, max = 2_147_483_647))]
            pub ttl: Option<u32>,
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl RecordSpec for $spec {
            const KIND: &'static str = $kind;
            fn zone_ref(&self) -> &str {
                &self.zone_ref
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn ttl(&self) -> Option<u32> {
                self.ttl
            }
            fn values(&self) -> Result<Vec<RecordData>, String> {
                let $this = self;
                $values
            }
        }
    };
}

record_kind! {
    /// IPv4 addresses at a name.
    "ARecord", ARecordSpec, "arecords", "a", "Addresses", ".spec.addresses",
    "IPv4 addresses (A records) at one name of a DNSZone; the resource owns that name's A records.",
    {
        /// The addresses; each one A record.
        #[schemars(length(min = 1, max = 64))]
        pub addresses: Vec<Ipv4Addr>,
    }
    |spec| Ok(spec.addresses.iter().map(|a| RecordData::A(*a)).collect())
}

record_kind! {
    /// IPv6 addresses at a name.
    "AAAARecord", AAAARecordSpec, "aaaarecords", "aaaa", "Addresses", ".spec.addresses",
    "IPv6 addresses (AAAA records) at one name of a DNSZone; the resource owns that name's AAAA records.",
    {
        /// The addresses; each one AAAA record.
        #[schemars(length(min = 1, max = 64))]
        pub addresses: Vec<Ipv6Addr>,
    }
    |spec| Ok(spec.addresses.iter().map(|a| RecordData::Aaaa(*a)).collect())
}

record_kind! {
    /// An alias: the name is another name.
    "CNAMERecord", CNAMERecordSpec, "cnamerecords", "cname", "Target", ".spec.target",
    "An alias (CNAME record) at one name of a DNSZone; no other record can share the name.",
    {
        /// The canonical name (fully qualified).
        #[schemars(length(min = 1, max = 254), regex(pattern = HOST_PATTERN))]
        pub target: String,
    }
    |spec| Ok(vec![RecordData::Cname(host("target", &spec.target)?)])
}

record_kind! {
    /// Text at a name.
    "TXTRecord", TXTRecordSpec, "txtrecords", "txt", "Values", ".spec.values",
    "Text (TXT records) at one name of a DNSZone; the resource owns that name's TXT records.",
    {
        /// The values; each one TXT record. A value over 255 bytes is
        /// split into several character-strings of one record.
        #[schemars(length(min = 1, max = 64), inner(length(max = 16384)))]
        pub values: Vec<String>,
    }
    |spec| Ok(spec.values.iter().map(|v| RecordData::Txt(v.clone())).collect())
}

record_kind! {
    /// A mail exchanger for a name.
    "MXRecord", MXRecordSpec, "mxrecords", "mx", "Exchange", ".spec.exchange",
    "One mail exchanger (MX record) of a name in a DNSZone; several MXRecords build one set.",
    {
        /// Lower is preferred.
        #[schemars(range(min = 0, max = 65535))]
        pub preference: u16,
        /// The exchanger's host name (fully qualified).
        #[schemars(length(min = 1, max = 254), regex(pattern = HOST_PATTERN))]
        pub exchange: String,
    }
    |spec| Ok(vec![RecordData::Mx { preference: spec.preference, exchange: host("exchange", &spec.exchange)? }])
}

record_kind! {
    /// A name server for a delegated name below the apex.
    "NSRecord", NSRecordSpec, "nsrecords", "ns", "Nameserver", ".spec.nameserver",
    "One name server (NS record) delegating a name below a DNSZone's apex; several NSRecords build one set.",
    {
        /// The name server's host name (fully qualified).
        #[schemars(length(min = 1, max = 254), regex(pattern = HOST_PATTERN))]
        pub nameserver: String,
    }
    |spec| Ok(vec![RecordData::Ns(host("nameserver", &spec.nameserver)?)])
}

record_kind! {
    /// A service location (`_service._proto` names).
    "SRVRecord", SRVRecordSpec, "srvrecords", "srv", "Target", ".spec.target",
    "One service location (SRV record) in a DNSZone; several SRVRecords build one set.",
    {
        /// Lower is tried first.
        #[schemars(range(min = 0, max = 65535))]
        pub priority: u16,
        /// Share among equal priorities.
        #[schemars(range(min = 0, max = 65535))]
        pub weight: u16,
        /// The service's port.
        #[schemars(range(min = 0, max = 65535))]
        pub port: u16,
        /// The host (fully qualified), or `.` for "no service here".
        #[schemars(length(min = 1, max = 254))]
        pub target: String,
    }
    |spec| Ok(vec![RecordData::Srv {
        priority: spec.priority,
        weight: spec.weight,
        port: spec.port,
        target: host("target", &spec.target)?,
    }])
}

record_kind! {
    /// A certification authority authorisation.
    "CAARecord", CAARecordSpec, "caarecords", "caa", "Value", ".spec.value",
    "One certification authority authorisation (CAA record) in a DNSZone; several CAARecords build one set.",
    {
        /// Flags; 128 marks the property critical.
        #[schemars(range(min = 0, max = 255))]
        pub flags: u8,
        /// The property: `issue`, `issuewild`, `iodef`, …
        #[schemars(length(min = 1, max = 15), regex(pattern = r"^[A-Za-z0-9]+$"))]
        pub tag: String,
        /// The property's value.
        #[schemars(length(max = 2048))]
        pub value: String,
    }
    |spec| Ok(vec![RecordData::Caa { flags: spec.flags, tag: spec.tag.clone(), value: spec.value.clone() }])
}
