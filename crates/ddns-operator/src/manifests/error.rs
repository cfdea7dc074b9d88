//! What can be wrong with manifests, each message naming where.

use super::{API_VERSION, Origin};

/// Why manifests cannot be rendered. Each message names where the problem
/// is (`file:line: document N`), the object and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A source is not YAML (or JSON).
    #[error("{input}:{line}: not valid YAML: {message}")]
    Syntax {
        /// The source's name.
        input: String,
        /// The line of the error (1-based).
        line: usize,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A document is not a Kubernetes object, is of an unknown `ddns.dev`
    /// kind, or breaks the schema of its kind.
    #[error("{origin}: {}", subject(.object, .field, .reason))]
    Invalid {
        /// Where.
        origin: Origin,
        /// `Kind/name`, or what is known of it.
        object: String,
        /// The field's path (`spec.soa.refresh`); empty for the whole object.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Two objects of one kind share a name in one namespace.
    #[error(
        "{origin}: {object}: metadata.name: Duplicate value: namespace {namespace} already has {object} (at {first})"
    )]
    Duplicate {
        /// The second one's origin.
        origin: Origin,
        /// `Kind/name`.
        object: String,
        /// The namespace.
        namespace: String,
        /// The first one's origin.
        first: Origin,
    },
    /// Two `DNSZone`s of one namespace have the same `zoneName`.
    #[error(
        "{origin}: {object}: spec.zoneName: Duplicate value: {zone} is already the zone of {first_object} in namespace {namespace} (at {first})"
    )]
    DuplicateZoneName {
        /// The second zone's origin.
        origin: Origin,
        /// The second zone, `DNSZone/name`.
        object: String,
        /// The zone's name.
        zone: String,
        /// The namespace.
        namespace: String,
        /// The first zone, `DNSZone/name`.
        first_object: String,
        /// The first zone's origin.
        first: Origin,
    },
    /// A record's `zoneRef` names no `DNSZone` of its namespace.
    #[error("{origin}: {object}: spec.zoneRef: Not found: no DNSZone named '{zone_ref}' in namespace {namespace} ({})", known_zones(.known))]
    ZoneNotFound {
        /// The record's origin.
        origin: Origin,
        /// The record, `Kind/name`.
        object: String,
        /// The namespace.
        namespace: String,
        /// The name looked for.
        zone_ref: String,
        /// The `DNSZone`s of that namespace.
        known: Vec<String>,
    },
    /// A `DNSZone`'s spec describes no valid zone.
    #[error("{origin}: {object}: {reason}")]
    InvalidZone {
        /// The zone's origin.
        origin: Origin,
        /// `DNSZone/name`.
        object: String,
        /// The field and what is wrong with it.
        reason: String,
    },
    /// A record that cannot be applied (see [`ddns_core::zone::Conflict`]).
    #[error("{origin}: conflict in zone {zone} (namespace {namespace}): {conflict}")]
    Conflict {
        /// The record's origin.
        origin: Origin,
        /// The zone's name.
        zone: String,
        /// The namespace.
        namespace: String,
        /// `Kind/name: message`.
        conflict: String,
    },
    /// A zone that would not load.
    #[error("{origin}: {object}: zone {zone} cannot be loaded: {problem}")]
    ZoneProblem {
        /// The zone's origin.
        origin: Origin,
        /// `DNSZone/name`.
        object: String,
        /// The zone's name.
        zone: String,
        /// What is wrong.
        problem: String,
    },
    /// Two zones would be written to the same file.
    #[error(
        "{origin}: {object}: zone {zone} of namespace {namespace} would overwrite {file}, the file of {first_object} in namespace {first_namespace}"
    )]
    SameFile {
        /// The second zone's origin.
        origin: Origin,
        /// The second zone, `DNSZone/name`.
        object: String,
        /// The zone's name.
        zone: String,
        /// The second zone's namespace.
        namespace: String,
        /// The file name.
        file: String,
        /// The first zone, `DNSZone/name`.
        first_object: String,
        /// The first zone's namespace.
        first_namespace: String,
    },
    /// The input holds no `DNSZone`.
    #[error("no DNSZone ({API_VERSION}) in the input: nothing to render")]
    NoZone,
}

/// `object: field: reason`, leaving out what is empty.
fn subject(object: &str, field: &str, reason: &str) -> String {
    [object, field, reason]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn known_zones(known: &[String]) -> String {
    if known.is_empty() {
        "it has none".to_string()
    } else {
        format!("it has {}", known.join(", "))
    }
}
