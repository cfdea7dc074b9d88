//! Kubernetes Events about zones and records.

use kube::Resource;
use kube::runtime::events::{Event as KubeEvent, EventType};
use tracing::debug;

use crate::controller::context::Context;
use crate::controller::stores::TrackedRecord;
use crate::crd::DNSZone;

pub(super) async fn publish(
    ctx: &Context,
    zone: &DNSZone,
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
    if let Err(error) = ctx.recorder.publish(&event, &zone.object_ref(&())).await {
        debug!(%error, "event not recorded");
    }
}

pub(super) async fn publish_record(
    ctx: &Context,
    record: &TrackedRecord,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(record.resource.api_version.clone()),
        kind: Some(record.resource.kind.clone()),
        name: Some(record.object.name.clone()),
        namespace: Some(record.object.namespace.clone()),
        ..Default::default()
    };
    let event = KubeEvent {
        type_,
        reason: reason.to_string(),
        note: Some(truncate(note)),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &reference).await {
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
