//! A deleted zone: its records or its file leave the servers.

use std::collections::BTreeSet;
use std::time::Duration;

use ddns_core::zone::ZoneName;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::events::publish;
use super::file::{zonefile_owner, zonefile_zones};
use super::status::write_zone_status;
use super::update::{selected_instances, target};
use crate::controller::context::Context;
use crate::controller::deliver::DeliveryFailure;
use crate::controller::error::Error;
use crate::controller::patch;
use crate::controller::stores::TrackedRecord;
use crate::crd::status::{Condition, DEGRADED, READY, set_condition};
use crate::crd::{DNSZone, Delivery, Role};
use crate::delivery::ManagedRrset;

pub(super) async fn cleanup(zone: &DNSZone, ctx: &Context) -> Result<Action, Error> {
    if !ctx.wait_ready().await {
        return Err(Error::Delivery("the watch caches stopped".into()));
    }
    let namespace = zone.namespace().unwrap_or_default();
    let name = zone.name_any();
    let status = zone.status.clone().unwrap_or_default();
    let (zone_name, delivery) = status.delivered.as_ref().map_or_else(
        || (zone.spec.zone_name.clone(), zone.spec.delivery),
        |d| (d.zone_name.clone(), d.delivery),
    );
    let managed: BTreeSet<String> = status.managed.iter().cloned().collect();
    let mut failures = Vec::new();
    if let Err(message) = remove_delivered(ctx, zone, &zone_name, delivery, &managed, &[]).await {
        failures.push(message);
    }
    for leftover in &status.leftovers {
        let managed = leftover.managed.iter().cloned().collect();
        if let Err(message) = remove_delivered(
            ctx,
            zone,
            &leftover.zone_name,
            leftover.delivery,
            &managed,
            &leftover.instances,
        )
        .await
        {
            failures.push(format!("{} (earlier name): {message}", leftover.zone_name));
        }
    }
    let result = if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    };
    match result {
        Ok(()) => {
            info!(zone = %name, namespace = %namespace, "zone removed");
            ctx.hand_over(zone, &zone_name);
            ctx.metrics.zone_records(&format!("{namespace}/{name}"), 0);
            release_records(ctx, &namespace, &name).await?;
            Ok(Action::await_change())
        }
        Err(message) => {
            let waited = deleting_for(zone, ctx);
            if waited >= ctx.config.cleanup_timeout {
                let note = format!(
                    "gave up removing the zone's records after {}s: {message}; remove them by hand if the server still has them",
                    waited.as_secs()
                );
                warn!(zone = %name, namespace = %namespace, error = %message, "cleanup abandoned");
                publish(ctx, zone, EventType::Warning, "CleanupAbandoned", &note).await;
                ctx.hand_over(zone, &zone_name);
                release_records(ctx, &namespace, &name).await?;
                return Ok(Action::await_change());
            }
            let mut next = status.clone();
            let now = ctx.timestamp();
            let text = format!("deleting: {message}");
            set_condition(
                &mut next.conditions,
                Condition::new(READY, false, "CleanupFailed", &text),
                &now,
            );
            set_condition(
                &mut next.conditions,
                Condition::new(DEGRADED, true, "CleanupFailed", &text),
                &now,
            );
            write_zone_status(ctx, zone, &status, next).await?;
            publish(ctx, zone, EventType::Warning, "CleanupFailed", &message).await;
            Err(Error::Cleanup(message))
        }
    }
}

/// Removes what a delivery of `zone` as `zone_name` by `delivery` put on
/// the servers: the `managed` RRsets from the selected primaries, or the
/// zone file and its include stanza (unless another `DNSZone` delivers
/// that file now). The error is the status message.
pub(super) async fn remove_delivered(
    ctx: &Context,
    zone: &DNSZone,
    zone_name: &str,
    delivery: Delivery,
    managed: &BTreeSet<String>,
    only: &[String],
) -> Result<(), String> {
    match delivery {
        Delivery::Update => {
            let mut failures = Vec::new();
            let primaries: Vec<_> = if only.is_empty() {
                selected_instances(ctx, zone)
                    .into_iter()
                    .filter(|i| i.spec.role == Role::Primary)
                    .collect()
            } else {
                let found = named_instances(ctx, zone, only);
                for name in only {
                    if !found.iter().any(|i| i.name_any() == *name) {
                        failures.push(format!(
                            "Bind9Instance {name} no longer exists, so the RRsets the zone left on it cannot be removed"
                        ));
                    }
                }
                found
            };
            // Nowhere to remove them from (the Bind9Instance went first):
            // say so, and give up at the cleanup timeout like any failure.
            let removable = ZoneName::parse(zone_name).map_or(0, |zone_name| {
                managed
                    .iter()
                    .filter_map(|entry| entry.parse::<ManagedRrset>().ok())
                    .filter(|rrset| !rrset.is_apex_ns(&zone_name))
                    .count()
            });
            if only.is_empty() && primaries.is_empty() && removable > 0 {
                failures.push(format!(
                    "no primary Bind9Instance matches spec.instanceSelector any more, so the {removable} RRset(s) in status.managed cannot be removed from a server"
                ));
            }
            if !managed.is_empty() {
                for instance in &primaries {
                    let outcome = match target(ctx, instance).await {
                        Ok(target) => match ZoneName::parse(zone_name) {
                            Ok(zone_name) => {
                                ctx.deliverer.remove(&target, &zone_name, managed).await
                            }
                            Err(message) => Err(DeliveryFailure {
                                message,
                                transient: false,
                            }),
                        },
                        Err(failure) => Err(failure),
                    };
                    if let Err(failure) = outcome {
                        failures.push(failure.message);
                    }
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        }
        Delivery::Zonefile => match ZoneName::parse(zone_name) {
            // Another DNSZone of that name delivers the file now.
            Ok(zone_name) if zonefile_owner(ctx, &zone_name).is_some() => Ok(()),
            Ok(zone_name) => {
                let zones: Vec<ZoneName> = zonefile_zones(ctx)
                    .into_iter()
                    .filter(|z| *z != zone_name)
                    .collect();
                let removed = async {
                    ctx.deliverer.publish_zone_list(&zones).await?;
                    ctx.deliverer.remove_zone(&zone_name).await
                }
                .await;
                removed.map_err(|f| f.message)
            }
            Err(_) => Ok(()),
        },
    }
}

/// The `Bind9Instance`s of the zone's namespace named in `names`.
fn named_instances(
    ctx: &Context,
    zone: &DNSZone,
    names: &[String],
) -> Vec<std::sync::Arc<crate::crd::Bind9Instance>> {
    let namespace = zone.namespace();
    ctx.instances
        .state()
        .into_iter()
        .filter(|i| i.namespace() == namespace && names.contains(&i.name_any()))
        .collect()
}

/// How long the zone has been marked for deletion.
pub(super) fn deleting_for(zone: &DNSZone, ctx: &Context) -> Duration {
    zone.metadata
        .deletion_timestamp
        .as_ref()
        .and_then(|t| {
            k8s_openapi::jiff::Timestamp::try_from((ctx.now)())
                .ok()
                .map(|now| now.duration_since(t.0))
        })
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default()
}

/// After a zone is gone: records being deleted lose their finalizer, the
/// others are looked at by the orphan worker (status ZoneNotFound).
pub(super) async fn release_records(
    ctx: &Context,
    namespace: &str,
    zone: &str,
) -> Result<(), Error> {
    let records = ctx.records.for_zone(namespace, zone);
    for record in records
        .iter()
        .filter(|r| !(r.object.deleting && r.has_finalizer()))
    {
        let _ = ctx.orphans.send((
            record.object.kind,
            namespace.to_string(),
            record.object.name.clone(),
        ));
    }
    let released: Vec<&TrackedRecord> = records
        .iter()
        .filter(|r| r.object.deleting && r.has_finalizer())
        .collect();
    patch::each(released, |record| {
        patch::remove_finalizer(
            &ctx.client,
            &record.resource,
            namespace,
            &record.object.name,
            &record.finalizers,
        )
    })
    .await
}
