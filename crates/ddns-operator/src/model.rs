//! From resources to the core's zone model: a `DNSZone` becomes a
//! [`ZoneSpec`], each record resource a [`Claim`], and a record that cannot
//! even be read (a bad value, a name outside the zone) becomes a
//! [`Conflict`] the same way an overlapping one does.
//!
//! Used alike by the controller and by `ddns-operator render`, so a preview
//! shows exactly what the controller would deliver.

use ddns_core::zone::{
    Assembly, Claim, Conflict, ConflictKind, HostName, Mailbox, Owner, OwnerError, RecordData, Soa,
    ZoneName, ZoneSpec, assemble,
};
use kube::{Resource, ResourceExt};

use crate::crd::{DNSZoneSpec, RecordSpec};

/// A record resource of any kind, reduced to what the zone needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordObject {
    /// The kind (`ARecord`).
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.creationTimestamp` (RFC 3339), which orders claims.
    pub created: Option<String>,
    /// Where the resource stands among resources read together without
    /// an API server (`ddns-operator render` counts documents in file
    /// order); orders claims that have no creation time. 0 for resources
    /// read from the API.
    pub order: u64,
    /// `spec.zoneRef`.
    pub zone_ref: String,
    /// `spec.name`.
    pub owner: String,
    /// `spec.ttl`.
    pub ttl: Option<u32>,
    /// The values, or why they are invalid.
    pub values: Result<Vec<RecordData>, String>,
    /// Whether the resource is being deleted.
    pub deleting: bool,
}

impl RecordObject {
    /// Reduces a record resource.
    pub fn of<K>(object: &K) -> Self
    where
        K: Resource + ResourceExt,
        K: HasRecordSpec,
    {
        let spec = object.record_spec();
        Self {
            kind: spec.kind(),
            name: object.name_any(),
            namespace: object.namespace().unwrap_or_default(),
            created: object
                .meta()
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
            order: 0,
            zone_ref: spec.zone_ref().to_string(),
            owner: spec.name().to_string(),
            ttl: spec.ttl(),
            values: spec.values(),
            deleting: object.meta().deletion_timestamp.is_some(),
        }
    }

    /// The same record, placed `order`-th among resources that have no
    /// creation time (see [`RecordObject::order`]).
    pub fn with_order(mut self, order: u64) -> Self {
        self.order = order;
        self
    }

    /// `Kind/name`, as conflicts and status name the record.
    pub fn source(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Access to a resource's spec as a [`RecordSpec`] (implemented for the
/// eight record kinds).
pub trait HasRecordSpec {
    /// The spec.
    fn record_spec(&self) -> &dyn DynRecordSpec;
}

/// [`RecordSpec`] without the associated constant, for `dyn` use.
pub trait DynRecordSpec {
    /// The kind's name.
    fn kind(&self) -> &'static str;
    /// `spec.zoneRef`.
    fn zone_ref(&self) -> &str;
    /// `spec.name`.
    fn name(&self) -> &str;
    /// `spec.ttl`.
    fn ttl(&self) -> Option<u32>;
    /// The values.
    fn values(&self) -> Result<Vec<RecordData>, String>;
}

impl<T: RecordSpec> DynRecordSpec for T {
    fn kind(&self) -> &'static str {
        T::KIND
    }
    fn zone_ref(&self) -> &str {
        RecordSpec::zone_ref(self)
    }
    fn name(&self) -> &str {
        RecordSpec::name(self)
    }
    fn ttl(&self) -> Option<u32> {
        RecordSpec::ttl(self)
    }
    fn values(&self) -> Result<Vec<RecordData>, String> {
        RecordSpec::values(self)
    }
}

macro_rules! has_record_spec {
    ($($kind:ty),*) => {
        $(impl HasRecordSpec for $kind {
            fn record_spec(&self) -> &dyn DynRecordSpec {
                &self.spec
            }
        })*
    };
}

has_record_spec!(
    crate::crd::ARecord,
    crate::crd::AAAARecord,
    crate::crd::CNAMERecord,
    crate::crd::TXTRecord,
    crate::crd::MXRecord,
    crate::crd::NSRecord,
    crate::crd::SRVRecord,
    crate::crd::CAARecord
);

/// Reads a `DNSZone`'s spec; the error names the field.
pub fn zone_spec(spec: &DNSZoneSpec) -> Result<ZoneSpec, String> {
    fn field(name: &'static str) -> impl Fn(String) -> String {
        move |reason| format!("spec.{name}: {reason}")
    }
    let name = ZoneName::parse(&spec.zone_name).map_err(field("zoneName"))?;
    let soa = Soa {
        primary_ns: HostName::parse(&spec.soa.primary_ns).map_err(field("soa.primaryNs"))?,
        mailbox: Mailbox::parse(&spec.soa.admin_email).map_err(field("soa.adminEmail"))?,
        refresh: spec.soa.refresh,
        retry: spec.soa.retry,
        expire: spec.soa.expire,
        negative_ttl: spec.soa.negative_ttl,
    };
    if spec.name_servers.is_empty() {
        return Err("spec.nameServers: list at least one name server".into());
    }
    let name_servers = spec
        .name_servers
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            HostName::parse(ns)
                .map_err(|reason| format!("spec.nameServers[{i}]: {reason}"))
                .and_then(|host| {
                    if host.is_root() {
                        Err(format!("spec.nameServers[{i}]: '.' is not a name server"))
                    } else {
                        Ok(host)
                    }
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if soa.primary_ns.is_root() {
        return Err("spec.soa.primaryNs: '.' is not a name server".into());
    }
    Ok(ZoneSpec {
        name,
        ttl: spec.ttl,
        soa,
        name_servers,
    })
}

/// The records of one zone, turned into claims in creation order (then
/// kind and name), and assembled. Records being deleted are left out.
///
/// A record without a creation time (read from a file, not yet created)
/// comes after every record that has one, as it would once created, and
/// such records keep their [`RecordObject::order`] among themselves.
pub fn assemble_zone(zone: &ZoneSpec, records: &[RecordObject]) -> Assembly {
    let mut ordered: Vec<&RecordObject> = records.iter().filter(|r| !r.deleting).collect();
    ordered.sort_by(|a, b| claim_order(a).cmp(&claim_order(b)));
    let mut claims = Vec::with_capacity(ordered.len());
    let mut unreadable = Vec::new();
    for record in ordered {
        match claim(zone, record) {
            Ok(claim) => claims.push(claim),
            Err(conflict) => unreadable.push(conflict),
        }
    }
    let mut assembly = assemble(zone, &claims);
    assembly.conflicts.extend(unreadable);
    assembly
}

fn claim_order(record: &RecordObject) -> (bool, Option<&str>, u64, &'static str, &str) {
    (
        record.created.is_none(),
        record.created.as_deref(),
        record.order,
        record.kind,
        record.name.as_str(),
    )
}

/// The file a zone is written to in a zone directory: `<zoneName>.zone`,
/// the name in lower case without the trailing dot (`example.com.zone`).
/// `zonefile` delivery and `ddns-operator render --output-dir` both use it.
pub fn zone_file_name(zone: &ZoneName) -> String {
    format!("{}.zone", zone.as_str())
}

fn claim(zone: &ZoneSpec, record: &RecordObject) -> Result<Claim, Conflict> {
    let source = record.source();
    let reject = |kind, message: String| Conflict {
        source: source.clone(),
        kind,
        message,
    };
    let owner = Owner::parse(&record.owner, &zone.name).map_err(|e| match e {
        OwnerError::OutsideZone(message) => reject(ConflictKind::OutsideZone, message),
        OwnerError::Invalid(message) => {
            reject(ConflictKind::NotAllowed, format!("spec.name: {message}"))
        }
    })?;
    let values = record
        .values
        .clone()
        .map_err(|message| reject(ConflictKind::NotAllowed, format!("spec.{message}")))?;
    Ok(Claim {
        source: source.clone(),
        owner,
        ttl: record.ttl,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_core::zone::ConflictKind;

    fn zone() -> ZoneSpec {
        let spec: DNSZoneSpec = serde_json::from_value(serde_json::json!({
            "zoneName": "example.com",
            "soa": {"primaryNs": "ns1.example.net", "adminEmail": "hostmaster@example.com"},
            "nameServers": ["ns1.example.net"],
        }))
        .unwrap();
        zone_spec(&spec).unwrap()
    }

    fn www(name: &str, created: Option<&str>, order: u64, address: &str) -> RecordObject {
        RecordObject {
            kind: "ARecord",
            name: name.into(),
            namespace: "default".into(),
            created: created.map(str::to_string),
            order,
            zone_ref: "example".into(),
            owner: "www".into(),
            ttl: None,
            values: Ok(vec![RecordData::A(address.parse().unwrap())]),
            deleting: false,
        }
    }

    fn loser(records: &[RecordObject]) -> String {
        let assembly = assemble_zone(&zone(), records);
        assert_eq!(assembly.conflicts.len(), 1, "{:?}", assembly.conflicts);
        assert_eq!(assembly.conflicts[0].kind, ConflictKind::AlreadyClaimed);
        assembly.conflicts[0].source.clone()
    }

    #[test]
    fn claims_follow_creation_time_then_order_then_kind_and_name() {
        let t1 = Some("2026-01-01T00:00:00Z");
        let t2 = Some("2026-01-02T00:00:00Z");
        // The older resource keeps the name, whatever its name or order.
        assert_eq!(
            loser(&[www("a", t2, 0, "192.0.2.1"), www("b", t1, 1, "192.0.2.2")]),
            "ARecord/a"
        );
        // Without creation times, the order decides (file order in render).
        assert_eq!(
            loser(&[
                www("a", None, 2, "192.0.2.1"),
                www("b", None, 1, "192.0.2.2")
            ]),
            "ARecord/a"
        );
        // A resource not yet created comes after every created one.
        assert_eq!(
            loser(&[www("a", None, 0, "192.0.2.1"), www("b", t2, 5, "192.0.2.2")]),
            "ARecord/a"
        );
        // Same time and order (from the API): by name.
        assert_eq!(
            loser(&[www("b", t1, 0, "192.0.2.1"), www("a", t1, 0, "192.0.2.2")]),
            "ARecord/b"
        );
    }

    #[test]
    fn zone_files_are_named_after_the_zone() {
        let name = ZoneName::parse("Example.COM.").unwrap();
        assert_eq!(zone_file_name(&name), "example.com.zone");
    }
}
