//! Kubernetes Events about zones and records.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event as KubeEvent, EventType};
use tracing::debug;

use crate::controller::context::Context;
use crate::controller::stores::TrackedRecord;
use crate::crd::DNSZone;

/// Records an Event about the zone; a failure to record it is only logged.
pub(super) async fn publish(
    ctx: &Context,
    zone: &DNSZone,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    record(ctx, &zone.object_ref(&()), type_, reason, note).await;
}

/// Records an Event about one of the zone's records.
pub(super) async fn publish_record(
    ctx: &Context,
    record: &TrackedRecord,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let reference = ObjectReference {
        api_version: Some(record.resource.api_version.clone()),
        kind: Some(record.resource.kind.clone()),
        name: Some(record.object.name.clone()),
        namespace: Some(record.object.namespace.clone()),
        ..Default::default()
    };
    self::record(ctx, &reference, type_, reason, note).await;
}

async fn record(
    ctx: &Context,
    about: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = KubeEvent {
        type_,
        reason: reason.to_string(),
        note: Some(truncate(note)),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, about).await {
        debug!(%error, "event not recorded");
    }
}

/// Events carry at most 1 KiB of note.
pub(super) fn truncate(note: &str) -> String {
    if note.len() <= 1000 {
        return note.to_string();
    }
    let mut cut = 1000;
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &note[..cut])
}
