//! The orphan worker: records whose zone is missing or gone.
//!
//! The zone controller looks after the records of zones that exist. A
//! record whose `zoneRef` names no zone gets status `ZoneNotFound`, and
//! when it is deleted its finalizer is removed at once (nothing of it is
//! in DNS: its zone removed everything when it went). The watch mapping
//! sends every record whose zone it cannot find here.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::context::{Context, RecordKey};
use super::patch;
use super::zone::zone_not_found;
use crate::crd::DNSZone;

/// Handles records sent on `queue` until it closes or `shutdown` fires.
pub(crate) async fn orphan_worker(
    ctx: Arc<Context>,
    mut queue: mpsc::UnboundedReceiver<RecordKey>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // Judging a zone missing needs the zone cache filled first.
    tokio::select! {
        ready = ctx.zones.wait_until_ready() => {
            if ready.is_err() {
                return;
            }
        }
        _ = shutdown.wait_for(|stop| *stop) => return,
    }
    loop {
        let key = tokio::select! {
            key = queue.recv() => match key {
                Some(key) => key,
                None => return,
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        if let Err(error) = handle(&ctx, &key).await {
            warn!(kind = key.0, namespace = %key.1, name = %key.2, %error, "record without a zone: retrying in 30 s");
            let sender = ctx.orphans.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let _ = sender.send(key);
            });
        }
    }
}

async fn handle(ctx: &Context, (kind, namespace, name): &RecordKey) -> Result<(), super::Error> {
    let Some(record) = ctx.records.find(kind, namespace, name) else {
        return Ok(());
    };
    let zone = ctx
        .zones
        .get(&ObjectRef::<DNSZone>::new(&record.object.zone_ref).within(namespace));
    if zone.is_some_and(|z| z.metadata.deletion_timestamp.is_none()) {
        return Ok(());
    }
    if record.object.deleting {
        if record.has_finalizer() {
            debug!(kind, %namespace, %name, "releasing a record without a zone");
            patch::remove_finalizer(
                &ctx.client,
                &record.resource,
                namespace,
                name,
                &record.finalizers,
            )
            .await?;
        }
        return Ok(());
    }
    let now = ctx.timestamp();
    let next = zone_not_found(
        record.status.as_ref(),
        &record.object.zone_ref,
        namespace,
        record.generation,
        &now,
    );
    let unchanged = record.status.as_ref().is_some_and(|s| {
        s.zone == next.zone
            && s.observed_generation == next.observed_generation
            && s.conditions
                .iter()
                .map(|c| (&c.type_, &c.status, &c.reason, &c.message))
                .eq(next
                    .conditions
                    .iter()
                    .map(|c| (&c.type_, &c.status, &c.reason, &c.message)))
    });
    if unchanged {
        return Ok(());
    }
    let mut value =
        serde_json::to_value(&next).map_err(|e| super::Error::Delivery(format!("status: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.entry("zone").or_insert(serde_json::Value::Null);
    }
    patch::patch_status(&ctx.client, &record.resource, namespace, name, value).await
}
