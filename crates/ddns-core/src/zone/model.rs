//! A zone's desired content: the zone's own settings plus the records that
//! resources claim, with every claim that cannot be applied set aside as a
//! conflict instead of breaking the zone.
//!
//! [`assemble`] is pure and deterministic: the same zone and the same
//! claims in the same order give the same result. Claims are considered in
//! the order given, which callers make the resources' creation order, so an
//! existing record keeps its name when a newer resource claims it too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::data::{RecordData, RecordType};
use super::names::{HostName, Mailbox, Owner, ZoneName};

/// The SOA fields a user sets; the serial is managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server (MNAME).
    pub primary_ns: HostName,
    /// The responsible person's mailbox (RNAME).
    pub mailbox: Mailbox,
    /// Seconds between secondary refreshes.
    pub refresh: u32,
    /// Seconds between retries of a failed refresh.
    pub retry: u32,
    /// Seconds after which a secondary stops answering without a refresh.
    pub expire: u32,
    /// TTL of negative answers (the SOA MINIMUM field, RFC 2308).
    pub negative_ttl: u32,
}

/// A zone's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The zone's name.
    pub name: ZoneName,
    /// Default TTL of records without one.
    pub ttl: u32,
    /// The SOA fields.
    pub soa: Soa,
    /// The apex NS records; at least one.
    pub name_servers: Vec<HostName>,
}

/// One resource's claim: records of one type at one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Who claims it, as status and messages name it (`ARecord/www`).
    pub source: String,
    /// The owner, relative to the zone.
    pub owner: Owner,
    /// The TTL, or `None` for the zone's default.
    pub ttl: Option<u32>,
    /// The values; all of one type, at least one.
    pub values: Vec<RecordData>,
}

impl Claim {
    /// The type of the claim's values (`None` for a claim without values).
    pub fn record_type(&self) -> Option<RecordType> {
        self.values.first().map(RecordData::record_type)
    }
}

/// Why a claim was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A CNAME at a name that holds other data, or data at a CNAME's name.
    CnameAndOtherData,
    /// Another resource already claims this name and type (or this value).
    AlreadyClaimed,
    /// The claim cannot stand in this zone as written (apex CNAME, apex NS,
    /// wildcard NS, a host-name rule, values of several types).
    NotAllowed,
    /// The name lies under a delegation, where it would not be served.
    BelowDelegation,
    /// The name is outside the zone the record refers to.
    OutsideZone,
}

impl ConflictKind {
    /// A CamelCase reason for status conditions.
    pub fn reason(self) -> &'static str {
        match self {
            ConflictKind::CnameAndOtherData => "CnameConflict",
            ConflictKind::AlreadyClaimed => "AlreadyClaimed",
            ConflictKind::NotAllowed => "NotAllowed",
            ConflictKind::BelowDelegation => "BelowDelegation",
            ConflictKind::OutsideZone => "OutsideZone",
        }
    }
}

/// A claim that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The claim's source.
    pub source: String,
    /// The kind of conflict.
    pub kind: ConflictKind,
    /// A sentence for the user.
    pub message: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// The records of one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrSet {
    /// The owner.
    pub owner: Owner,
    /// The type.
    pub record_type: RecordType,
    /// One TTL for the set (RFC 2181 §5.2): a claim's own, or for a set
    /// several resources build, the lowest of theirs.
    pub ttl: u32,
    /// The values, sorted and without duplicates.
    pub values: Vec<RecordData>,
    /// The claims that built it (empty for the zone's own apex NS set).
    pub sources: Vec<String>,
}

/// The key that orders RRsets: owners in DNSSEC canonical order (apex
/// first, then by labels from the right), then type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RrSetKey {
    labels: Vec<String>,
    /// The type.
    pub record_type: RecordType,
}

impl RrSetKey {
    /// The key of `owner`'s `record_type` set.
    pub fn new(owner: &Owner, record_type: RecordType) -> Self {
        Self {
            labels: owner
                .canonical_key()
                .into_iter()
                .map(str::to_string)
                .collect(),
            record_type,
        }
    }
}

/// The assembled zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembly {
    /// The zone's settings.
    pub zone: ZoneSpec,
    /// Every RRset the zone holds except the SOA, in canonical order; the
    /// apex NS set comes from the zone's name servers.
    pub rrsets: BTreeMap<RrSetKey, RrSet>,
    /// Claims set aside.
    pub conflicts: Vec<Conflict>,
    /// Problems of the zone as a whole that stop it from loading (an
    /// in-zone name server without an address); the zone must not be
    /// delivered while there are any.
    pub problems: Vec<String>,
}

impl Assembly {
    /// The claims applied: sources of every RRset.
    pub fn applied_sources(&self) -> BTreeSet<&str> {
        self.rrsets
            .values()
            .flat_map(|set| set.sources.iter().map(String::as_str))
            .collect()
    }

    /// The conflict of `source`, if its claim was set aside.
    pub fn conflict_of(&self, source: &str) -> Option<&Conflict> {
        self.conflicts.iter().find(|c| c.source == source)
    }

    /// How many records (values) the zone holds apart from the SOA.
    pub fn record_count(&self) -> usize {
        self.rrsets.values().map(|set| set.values.len()).sum()
    }
}

struct Builder<'a> {
    zone: &'a ZoneSpec,
    sets: BTreeMap<RrSetKey, RrSet>,
    types_at: BTreeMap<Owner, BTreeSet<RecordType>>,
    conflicts: Vec<Conflict>,
}

impl Builder<'_> {
    fn reject(&mut self, claim: &Claim, kind: ConflictKind, message: String) {
        self.conflicts.push(Conflict {
            source: claim.source.clone(),
            kind,
            message,
        });
    }

    fn claimant(&self, owner: &Owner, record_type: RecordType) -> String {
        self.sets
            .get(&RrSetKey::new(owner, record_type))
            .and_then(|set| set.sources.first().cloned())
            .unwrap_or_else(|| "the DNSZone".to_string())
    }

    /// Checks that hold for a claim on its own.
    fn shape(&self, claim: &Claim) -> Result<RecordType, (ConflictKind, String)> {
        let name = claim.owner.in_zone(&self.zone.name);
        let Some(record_type) = claim.record_type() else {
            return Err((
                ConflictKind::NotAllowed,
                "the resource lists no values".into(),
            ));
        };
        if claim.values.iter().any(|v| v.record_type() != record_type) {
            return Err((
                ConflictKind::NotAllowed,
                "the values are of several types".into(),
            ));
        }
        for value in &claim.values {
            value
                .validate()
                .map_err(|reason| (ConflictKind::NotAllowed, reason))?;
        }
        match record_type {
            RecordType::Cname if claim.owner.is_apex() => Err((
                ConflictKind::CnameAndOtherData,
                format!("a CNAME cannot be at the zone's apex {name}, which holds the SOA and NS records"),
            )),
            RecordType::Cname if claim.values.len() > 1 => Err((
                ConflictKind::NotAllowed,
                "a name holds at most one CNAME".into(),
            )),
            RecordType::Ns if claim.owner.is_apex() => Err((
                ConflictKind::NotAllowed,
                "the apex NS records come from the DNSZone's nameServers; an NSRecord delegates a name below the apex".into(),
            )),
            RecordType::Ns if claim.owner.is_wildcard() => Err((
                ConflictKind::NotAllowed,
                format!("{name} is a wildcard, which cannot hold NS records"),
            )),
            RecordType::A | RecordType::Aaaa | RecordType::Mx if !claim.owner.is_host_name() => Err((
                ConflictKind::NotAllowed,
                format!("{name} is not a host name ('_' is not allowed in the owner of {record_type} records)"),
            )),
            RecordType::Soa => Err((ConflictKind::NotAllowed, "the SOA record is managed".into())),
            _ => Ok(record_type),
        }
    }

    fn add(&mut self, claim: &Claim) {
        let record_type = match self.shape(claim) {
            Ok(record_type) => record_type,
            Err((kind, message)) => return self.reject(claim, kind, message),
        };
        let name = claim.owner.in_zone(&self.zone.name);
        let present = self.types_at.get(&claim.owner).cloned().unwrap_or_default();
        if record_type == RecordType::Cname {
            if let Some(other) = present.iter().find(|t| **t != RecordType::Cname) {
                let holder = self.claimant(&claim.owner, *other);
                return self.reject(
                    claim,
                    ConflictKind::CnameAndOtherData,
                    format!("{name} already holds {other} records (from {holder}); a CNAME must be the only record at its name"),
                );
            }
        } else if present.contains(&RecordType::Cname) {
            let holder = self.claimant(&claim.owner, RecordType::Cname);
            return self.reject(
                claim,
                ConflictKind::CnameAndOtherData,
                format!("{name} is a CNAME (from {holder}); no other record can share its name"),
            );
        }
        let key = RrSetKey::new(&claim.owner, record_type);
        let ttl = claim.ttl.unwrap_or(self.zone.ttl);
        if let Some(existing) = self.sets.get(&key) {
            if record_type.is_exclusive() {
                let holder = existing.sources.first().cloned().unwrap_or_default();
                return self.reject(
                    claim,
                    ConflictKind::AlreadyClaimed,
                    format!("{name} {record_type} is already claimed by {holder}"),
                );
            }
            if let Some(value) = claim.values.iter().find(|v| existing.values.contains(v)) {
                let holder = existing.sources.first().cloned().unwrap_or_default();
                return self.reject(
                    claim,
                    ConflictKind::AlreadyClaimed,
                    format!(
                        "{name} {record_type} {} is already claimed by {holder}",
                        value.presentation()
                    ),
                );
            }
        }
        let set = self.sets.entry(key).or_insert_with(|| RrSet {
            owner: claim.owner.clone(),
            record_type,
            ttl,
            values: Vec::new(),
            sources: Vec::new(),
        });
        set.ttl = set.ttl.min(ttl);
        set.values.extend(claim.values.iter().cloned());
        set.values.sort();
        set.values.dedup();
        set.sources.push(claim.source.clone());
        self.types_at
            .entry(claim.owner.clone())
            .or_default()
            .insert(record_type);
    }
}

/// Builds the zone from its settings and the claims, in order.
///
/// Claims are checked in two rounds: NS claims first (they decide where
/// delegations are), then the rest. A claim that cannot be applied becomes
/// a [`Conflict`] and leaves the others untouched.
pub fn assemble(zone: &ZoneSpec, claims: &[Claim]) -> Assembly {
    let mut builder = Builder {
        zone,
        sets: BTreeMap::new(),
        types_at: BTreeMap::new(),
        conflicts: Vec::new(),
    };
    let mut apex_ns: Vec<RecordData> = zone
        .name_servers
        .iter()
        .map(|ns| RecordData::Ns(ns.clone()))
        .collect();
    apex_ns.sort();
    apex_ns.dedup();
    builder.sets.insert(
        RrSetKey::new(&Owner::apex(), RecordType::Ns),
        RrSet {
            owner: Owner::apex(),
            record_type: RecordType::Ns,
            ttl: zone.ttl,
            values: apex_ns,
            sources: Vec::new(),
        },
    );
    builder
        .types_at
        .entry(Owner::apex())
        .or_default()
        .extend([RecordType::Soa, RecordType::Ns]);

    let is_ns = |c: &&Claim| c.record_type() == Some(RecordType::Ns);
    for claim in claims.iter().filter(is_ns) {
        builder.add(claim);
    }
    let delegations: Vec<Owner> = builder
        .sets
        .values()
        .filter(|set| set.record_type == RecordType::Ns && !set.owner.is_apex())
        .map(|set| set.owner.clone())
        .collect();
    let glue: BTreeSet<String> = builder
        .sets
        .values()
        .filter(|set| set.record_type == RecordType::Ns)
        .flat_map(|set| set.values.iter().filter_map(RecordData::target))
        .map(|host| host.as_str().to_string())
        .collect();

    for claim in claims.iter().filter(|c| !is_ns(c)) {
        let cut = delegations
            .iter()
            .find(|cut| claim.owner == **cut || claim.owner.is_below(cut));
        if let Some(cut) = cut {
            let name = claim.owner.in_zone(&zone.name);
            let is_address = matches!(claim.record_type(), Some(RecordType::A | RecordType::Aaaa));
            if !(is_address && glue.contains(&name)) {
                let cut_name = cut.in_zone(&zone.name);
                builder.reject(
                    claim,
                    ConflictKind::BelowDelegation,
                    format!("{name} is at or below the delegation {cut_name}, where it would not be served (only glue addresses of its name servers belong there)"),
                );
                continue;
            }
        }
        builder.add(claim);
    }

    let mut problems = Vec::new();
    if zone.name_servers.is_empty() {
        problems.push("the zone has no name servers; list at least one in nameServers".to_string());
    }
    for ns in &zone.name_servers {
        let Some(owner) = Owner::of_host(ns, &zone.name) else {
            continue;
        };
        let types = builder.types_at.get(&owner);
        let has = |t| types.is_some_and(|types| types.contains(&t));
        if has(RecordType::Cname) {
            problems.push(format!(
                "name server {ns} is a CNAME, which a name server must not be"
            ));
        } else if !has(RecordType::A) && !has(RecordType::Aaaa) {
            problems.push(format!(
                "name server {ns} is inside the zone but has no A or AAAA record; add an ARecord or AAAARecord for it"
            ));
        }
    }

    Assembly {
        zone: zone.clone(),
        rrsets: builder.sets,
        conflicts: builder.conflicts,
        problems,
    }
}
