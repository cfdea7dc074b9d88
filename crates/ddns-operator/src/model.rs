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
            zone_ref: spec.zone_ref().to_string(),
            owner: spec.name().to_string(),
            ttl: spec.ttl(),
            values: spec.values(),
            deleting: object.meta().deletion_timestamp.is_some(),
        }
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
pub fn assemble_zone(zone: &ZoneSpec, records: &[RecordObject]) -> Assembly {
    let mut ordered: Vec<&RecordObject> = records.iter().filter(|r| !r.deleting).collect();
    ordered.sort_by(|a, b| {
        (a.created.as_deref(), a.kind, a.name.as_str()).cmp(&(
            b.created.as_deref(),
            b.kind,
            b.name.as_str(),
        ))
    });
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
