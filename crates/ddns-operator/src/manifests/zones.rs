//! From the objects read to assembled zones: records grouped by namespace
//! and `zoneRef`, each zone assembled by [`crate::model::assemble_zone`]
//! exactly as the controller assembles it.

use std::collections::BTreeMap;

use ddns_core::zone::{Assembly, ZoneName, render};

use super::{ManifestError, Manifests, Object, Origin, Resource};
use crate::crd::{DNSZone, Delivery};
use crate::model::{RecordObject, assemble_zone, zone_file_name, zone_spec};

/// One zone, assembled, ready to render.
#[derive(Debug, Clone)]
pub struct ZonePreview {
    /// The `DNSZone`'s namespace.
    pub namespace: String,
    /// The `DNSZone`'s `metadata.name`.
    pub resource: String,
    /// Where the `DNSZone` was read.
    pub origin: Origin,
    /// The zone's delivery mode (rendering ignores it).
    pub delivery: Delivery,
    /// The zone with its records.
    pub assembly: Assembly,
}

impl ZonePreview {
    /// The zone's name.
    pub fn name(&self) -> &ZoneName {
        &self.assembly.zone.name
    }

    /// The file `zonefile` delivery writes: `<zoneName>.zone`.
    pub fn file_name(&self) -> String {
        zone_file_name(self.name())
    }

    /// The zone file with `serial`, byte for byte what `zonefile` delivery
    /// writes.
    pub fn render(&self, serial: u32) -> String {
        render(&self.assembly, serial)
    }
}

struct ZoneEntry<'a> {
    object: &'a Object,
    zone: &'a DNSZone,
    spec: Option<ddns_core::zone::ZoneSpec>,
    records: Vec<RecordObject>,
}

/// Assembles every `DNSZone` with its records, sorted by namespace, then
/// zone name. Fails with every problem found: duplicate names, two zones
/// with one `zoneName` in a namespace, an invalid zone, a record whose
/// zone does not exist, conflicts, and zones that would not load.
pub fn zones(manifests: &Manifests) -> Result<Vec<ZonePreview>, Vec<ManifestError>> {
    let mut errors = Vec::new();
    let objects = duplicates(manifests, &mut errors);

    // (namespace, metadata.name) → zone
    let mut zones: BTreeMap<(&str, &str), ZoneEntry<'_>> = BTreeMap::new();
    // (namespace, zoneName) → the first DNSZone with it
    let mut zone_names: BTreeMap<(String, String), &Object> = BTreeMap::new();
    for object in objects.iter().copied() {
        let Resource::Zone(zone) = &object.resource else {
            continue;
        };
        let spec = match zone_spec(&zone.spec) {
            Ok(spec) => Some(spec),
            Err(reason) => {
                errors.push(ManifestError::InvalidZone {
                    origin: object.origin.clone(),
                    object: object.id(),
                    reason,
                });
                None
            }
        };
        if let Some(spec) = &spec {
            let key = (object.namespace.clone(), spec.name.as_str().to_string());
            if let Some(first) = zone_names.get(&key) {
                errors.push(ManifestError::DuplicateZoneName {
                    origin: object.origin.clone(),
                    object: object.id(),
                    zone: spec.name.to_string(),
                    namespace: object.namespace.clone(),
                    first_object: first.id(),
                    first: first.origin.clone(),
                });
            } else {
                zone_names.insert(key, object);
            }
        }
        zones
            .entry((object.namespace.as_str(), object.name.as_str()))
            .or_insert(ZoneEntry {
                object,
                zone,
                spec,
                records: Vec::new(),
            });
    }
    if zones.is_empty() && errors.is_empty() {
        errors.push(ManifestError::NoZone);
    }

    let mut origins: BTreeMap<(&str, String), &Origin> = BTreeMap::new();
    for object in objects.iter().copied() {
        let Resource::Record(record) = &object.resource else {
            continue;
        };
        origins.insert((object.namespace.as_str(), object.id()), &object.origin);
        match zones.get_mut(&(object.namespace.as_str(), record.zone_ref.as_str())) {
            Some(entry) => entry.records.push((**record).clone()),
            None => errors.push(ManifestError::ZoneNotFound {
                origin: object.origin.clone(),
                object: object.id(),
                namespace: object.namespace.clone(),
                zone_ref: record.zone_ref.clone(),
                known: zones
                    .keys()
                    .filter(|(ns, _)| *ns == object.namespace)
                    .map(|(_, name)| name.to_string())
                    .collect(),
            }),
        }
    }

    let mut previews = Vec::new();
    for entry in zones.into_values() {
        let Some(spec) = &entry.spec else {
            continue;
        };
        let assembly = assemble_zone(spec, &entry.records);
        let namespace = entry.object.namespace.as_str();
        for conflict in &assembly.conflicts {
            let origin = origins
                .get(&(namespace, conflict.source.clone()))
                .map_or_else(|| entry.object.origin.clone(), |o| (*o).clone());
            errors.push(ManifestError::Conflict {
                origin,
                zone: spec.name.to_string(),
                namespace: namespace.to_string(),
                conflict: conflict.to_string(),
            });
        }
        for problem in &assembly.problems {
            errors.push(ManifestError::ZoneProblem {
                origin: entry.object.origin.clone(),
                object: entry.object.id(),
                zone: spec.name.to_string(),
                problem: problem.clone(),
            });
        }
        previews.push(ZonePreview {
            namespace: namespace.to_string(),
            resource: entry.object.name.clone(),
            origin: entry.object.origin.clone(),
            delivery: entry.zone.spec.delivery,
            assembly,
        });
    }
    previews.sort_by(|a, b| (&a.namespace, a.name()).cmp(&(&b.namespace, b.name())));
    if errors.is_empty() {
        Ok(previews)
    } else {
        Err(errors)
    }
}

/// Zones of several namespaces with one name would write one file; fails
/// with each such pair (for `--output-dir`).
pub fn distinct_files(previews: &[ZonePreview]) -> Result<(), Vec<ManifestError>> {
    let mut seen: BTreeMap<String, &ZonePreview> = BTreeMap::new();
    let mut errors = Vec::new();
    for preview in previews {
        let file = preview.file_name();
        match seen.get(&file) {
            Some(first) => errors.push(ManifestError::SameFile {
                origin: preview.origin.clone(),
                object: format!("DNSZone/{}", preview.resource),
                zone: preview.name().to_string(),
                namespace: preview.namespace.clone(),
                file,
                first_object: format!("DNSZone/{}", first.resource),
                first_namespace: first.namespace.clone(),
            }),
            None => {
                seen.insert(file, preview);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Reports every object whose kind, namespace and name an earlier one
/// has; returns the others (the first of each name).
fn duplicates<'a>(manifests: &'a Manifests, errors: &mut Vec<ManifestError>) -> Vec<&'a Object> {
    let mut seen: BTreeMap<(&str, &str, &str), &Object> = BTreeMap::new();
    let mut unique = Vec::new();
    for object in &manifests.objects {
        let key = (object.kind, object.namespace.as_str(), object.name.as_str());
        match seen.get(&key) {
            Some(first) => errors.push(ManifestError::Duplicate {
                origin: object.origin.clone(),
                object: object.id(),
                namespace: object.namespace.clone(),
                first: first.origin.clone(),
            }),
            None => {
                seen.insert(key, object);
                unique.push(object);
            }
        }
    }
    unique
}
