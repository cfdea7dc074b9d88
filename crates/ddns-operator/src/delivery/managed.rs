//! The RRsets ddns manages on a server, as the zone's status records them:
//! `www.example.com. A`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use ddns_core::zone::{Assembly, Owner, RecordType, ZoneName};

/// Longest name in presentation form, with the trailing dot.
const MAX_NAME: usize = 254;

/// One RRset ddns manages: an absolute owner name (lower case, with the
/// trailing dot) and a type other than SOA.
///
/// Its [`Display`](fmt::Display) form, `www.example.com. A`, is what the
/// zone's status lists, and [`FromStr`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ManagedRrset {
    name: String,
    record_type: RecordType,
}

/// Why a status entry is not a managed RRset. The message quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManagedRrsetError(String);

fn quoted(text: &str) -> String {
    let shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        format!("'{shown}…'")
    } else {
        format!("'{shown}'")
    }
}

impl ManagedRrset {
    /// The RRset of `record_type` at `owner` in `zone`. SOA is refused:
    /// ddns never manages the SOA through this set.
    pub fn new(zone: &ZoneName, owner: &Owner, record_type: RecordType) -> Option<Self> {
        (record_type != RecordType::Soa).then(|| Self {
            name: format!("{}.", owner.in_zone(zone)),
            record_type,
        })
    }

    /// The owner name, absolute, with the trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type.
    pub fn record_type(&self) -> RecordType {
        self.record_type
    }

    /// Whether the name is `zone` or below it.
    pub fn is_in(&self, zone: &ZoneName) -> bool {
        let apex = zone.absolute();
        self.name == apex || self.name.ends_with(&format!(".{apex}"))
    }

    /// Whether this is the NS set at `zone`'s apex.
    pub fn is_apex_ns(&self, zone: &ZoneName) -> bool {
        self.record_type == RecordType::Ns && self.name == zone.absolute()
    }

    /// For a wildcard owner `*.P.`, the suffix `.P.` that the names it
    /// covers end with.
    pub(crate) fn wildcard_suffix(&self) -> Option<&str> {
        self.name.strip_prefix('*')
    }

    /// Whether a wildcard at `wildcard` (a name `*.P.`) answers for this
    /// name when the name does not exist itself.
    pub(crate) fn is_covered_by(&self, wildcard: &ManagedRrset) -> bool {
        wildcard
            .wildcard_suffix()
            .is_some_and(|suffix| self.name != wildcard.name && self.name.ends_with(suffix))
    }
}

impl fmt::Display for ManagedRrset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.record_type)
    }
}

impl FromStr for ManagedRrset {
    type Err = ManagedRrsetError;

    /// Reads `NAME TYPE` as [`Display`](fmt::Display) writes it; case is
    /// folded and surrounding spaces are ignored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = text.split_whitespace();
        let (Some(name), Some(kind), None) = (words.next(), words.next(), words.next()) else {
            return Err(ManagedRrsetError(format!(
                "{} is not 'NAME TYPE' (such as 'www.example.com. A')",
                quoted(text)
            )));
        };
        let record_type = RecordType::parse(kind).ok_or_else(|| {
            ManagedRrsetError(format!(
                "{} in {} is not a record type ddns manages",
                quoted(kind),
                quoted(text)
            ))
        })?;
        if record_type == RecordType::Soa {
            return Err(ManagedRrsetError(format!(
                "{}: the SOA is never a managed RRset",
                quoted(text)
            )));
        }
        let name = name.to_ascii_lowercase();
        check_name(&name).map_err(|reason| {
            ManagedRrsetError(format!("{} in {}: {reason}", quoted(&name), quoted(text)))
        })?;
        Ok(Self { name, record_type })
    }
}

/// Checks an absolute name as this module writes them.
fn check_name(name: &str) -> Result<(), String> {
    let Some(relative) = name.strip_suffix('.') else {
        return Err("the name must be absolute, ending with '.'".into());
    };
    if relative.is_empty() {
        return Err("the root is not a name in a zone".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the name is longer than {} characters",
            MAX_NAME - 1
        ));
    }
    for (index, label) in relative.split('.').enumerate() {
        let valid = !label.is_empty()
            && label.len() <= 63
            && (label == "*" && index == 0
                || label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if !valid {
            return Err(format!("label {} is not valid", quoted(label)));
        }
    }
    Ok(())
}

/// The RRsets a delivered `assembly` holds on the server: every RRset but
/// the SOA, the apex NS set included. What the status records after a
/// successful update delivery.
pub fn managed_set(assembly: &Assembly) -> BTreeSet<ManagedRrset> {
    assembly
        .rrsets
        .values()
        .filter_map(|set| ManagedRrset::new(&assembly.zone.name, &set.owner, set.record_type))
        .collect()
}

/// What the status should record after a delivery of `assembly` that
/// failed: what was managed before plus everything the delivery may have
/// created, so that no RRset written before the failure is forgotten (a
/// later deletion removes what may not exist, which is harmless).
pub fn managed_after_failure(
    assembly: &Assembly,
    previously: &BTreeSet<ManagedRrset>,
) -> BTreeSet<ManagedRrset> {
    let mut managed = managed_set(assembly);
    managed.extend(
        previously
            .iter()
            .filter(|rrset| rrset.is_in(&assembly.zone.name))
            .cloned(),
    );
    managed
}
