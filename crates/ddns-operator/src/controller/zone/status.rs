//! Statuses of the zone and its records.

use std::collections::BTreeMap;

use ddns_core::zone::Assembly;
use kube::ResourceExt;
use kube::api::ApiResource;
use kube::runtime::events::EventType;
use serde_json::json;

use super::events::publish_record;
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::patch;
use crate::controller::stores::TrackedRecord;
use crate::crd::status::{Condition, DEGRADED, READY, set_condition};
use crate::crd::{DNSZone, DNSZoneStatus, RecordStatus};

pub(super) async fn write_zone_status(
    ctx: &Context,
    zone: &DNSZone,
    previous: &DNSZoneStatus,
    next: DNSZoneStatus,
) -> Result<(), Error> {
    if *previous == next {
        return Ok(());
    }
    let value = serde_json::to_value(&next).map_err(|e| Error::Delivery(format!("status: {e}")))?;
    let resource = ApiResource::erase::<DNSZone>(&());
    // A merge patch only adds and replaces; lists emptied since last time
    // must be sent as empty lists to be cleared.
    let mut value = value;
    if let Some(object) = value.as_object_mut() {
        for key in ["managed", "instances", "conflicts", "leftovers"] {
            object.entry(key).or_insert_with(|| json!([]));
        }
    }
    patch::patch_status(
        &ctx.client,
        &resource,
        &zone.namespace().unwrap_or_default(),
        &zone.name_any(),
        value,
    )
    .await
}

/// A record status to write, and the Event that goes with it.
struct RecordWrite<'a> {
    record: &'a TrackedRecord,
    status: RecordStatus,
    event: Option<(&'static str, String)>,
}

/// The status each member record should have after this round, written
/// where it differs from what the record shows, several at a time.
pub(super) async fn write_record_statuses(
    ctx: &Context,
    zone: &DNSZone,
    records: &[TrackedRecord],
    assembly: &Assembly,
    delivered: bool,
    now: &str,
) -> Result<(), Error> {
    let namespace = zone.namespace().unwrap_or_default();
    let zone_name = zone.name_any();
    let writes = record_writes(&zone_name, records, assembly, delivered, now);
    let namespace = namespace.as_str();
    patch::each(writes, |write| async move {
        if let Some((reason, message)) = &write.event {
            publish_record(ctx, write.record, EventType::Warning, reason, message).await;
        }
        let value = serde_json::to_value(&write.status)
            .map_err(|e| Error::Delivery(format!("status: {e}")))?;
        patch::patch_status(
            &ctx.client,
            &write.record.resource,
            namespace,
            &write.record.object.name,
            value,
        )
        .await
    })
    .await
}

/// The statuses that change this round (pure: no API call).
fn record_writes<'a>(
    zone_name: &str,
    records: &'a [TrackedRecord],
    assembly: &Assembly,
    delivered: bool,
    now: &str,
) -> Vec<RecordWrite<'a>> {
    let conflicts: BTreeMap<&str, _> = assembly
        .conflicts
        .iter()
        .map(|c| (c.source.as_str(), c))
        .collect();
    let applied = assembly.applied_sources();
    let mut writes = Vec::new();
    for record in records.iter().filter(|r| r.is_member(zone_name)) {
        let previous = record.status.clone().unwrap_or_default();
        let mut next = previous.clone();
        let mut event = None;
        if record.object.deleting {
            // Released by `apply` once the zone is delivered without it;
            // until then it waits, and says why.
            if delivered || !record.has_finalizer() {
                continue;
            }
            let message = format!(
                "being deleted: its records stay on the server until zone {} is delivered again; see DNSZone {zone_name}",
                assembly.zone.name
            );
            set_condition(
                &mut next.conditions,
                Condition::new(READY, false, "ZoneNotDelivered", &message),
                now,
            );
        } else {
            let source = record.object.source();
            next.observed_generation = record.generation;
            next.fqdn = ddns_core::zone::Owner::parse(&record.object.owner, &assembly.zone.name)
                .ok()
                .map(|o| format!("{}.", o.in_zone(&assembly.zone.name)));
            if let Some(conflict) = conflicts.get(source.as_str()) {
                let reason = conflict.kind.reason();
                set_condition(
                    &mut next.conditions,
                    Condition::new(READY, false, reason, &conflict.message),
                    now,
                );
                set_condition(
                    &mut next.conditions,
                    Condition::new(DEGRADED, true, reason, &conflict.message),
                    now,
                );
                let is_new = previous
                    .conditions
                    .iter()
                    .find(|c| c.type_ == READY)
                    .is_none_or(|c| c.message != conflict.message);
                if is_new {
                    event = Some((reason, conflict.message.clone()));
                }
            } else if applied.contains(source.as_str()) {
                if delivered {
                    set_condition(
                        &mut next.conditions,
                        Condition::new(
                            READY,
                            true,
                            "Delivered",
                            format!("in zone {}", assembly.zone.name),
                        ),
                        now,
                    );
                    set_condition(
                        &mut next.conditions,
                        Condition::new(DEGRADED, false, "Delivered", ""),
                        now,
                    );
                    next.zone = Some(zone_name.to_string());
                } else {
                    let message = format!(
                        "zone {} is not delivered; see DNSZone {zone_name}",
                        assembly.zone.name
                    );
                    set_condition(
                        &mut next.conditions,
                        Condition::new(READY, false, "ZoneNotDelivered", &message),
                        now,
                    );
                }
            }
        }
        if next != previous {
            writes.push(RecordWrite {
                record,
                status: next,
                event,
            });
        }
    }
    writes
}

/// The record status written for a record whose zone does not exist.
pub(crate) fn zone_not_found(
    previous: Option<&RecordStatus>,
    zone_ref: &str,
    namespace: &str,
    generation: Option<i64>,
    now: &str,
) -> RecordStatus {
    let mut next = previous.cloned().unwrap_or_default();
    let message = format!("DNSZone {zone_ref} not found in namespace {namespace}");
    set_condition(
        &mut next.conditions,
        Condition::new(READY, false, "ZoneNotFound", &message),
        now,
    );
    set_condition(
        &mut next.conditions,
        Condition::new(DEGRADED, true, "ZoneNotFound", &message),
        now,
    );
    next.observed_generation = generation;
    next.zone = None;
    next
}
