//! Zone-file delivery: one file per zone name, and the include file.

use std::collections::BTreeSet;
use std::sync::Arc;

use ddns_core::zone::{Assembly, Date, ZoneName};
use kube::ResourceExt;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use tracing::{info, warn};

use super::events::publish;
use super::{Outcome, seniority};
use crate::controller::context::Context;
use crate::controller::deliver::DeliveryFailure;
use crate::crd::status::{Condition, DEGRADED, READY};
use crate::crd::{DNSZone, DNSZoneStatus, Delivery};

/// Every zone-file zone the operator serves now, for the include file.
pub(crate) fn zonefile_zones(ctx: &Context) -> Vec<ZoneName> {
    let mut names: Vec<ZoneName> = ctx
        .zones
        .state()
        .iter()
        .filter(|z| {
            z.spec.delivery == Delivery::Zonefile && z.metadata.deletion_timestamp.is_none()
        })
        .filter_map(|z| ZoneName::parse(&z.spec.zone_name).ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The `DNSZone` that delivers the zone file of `name`: of the zonefile
/// zones not being deleted, the oldest (then by namespace and name). The
/// operator writes one file per zone name; two `DNSZone`s sharing it would
/// overwrite each other's file, and deleting either would remove the file
/// the other serves.
pub(super) fn zonefile_owner(ctx: &Context, name: &ZoneName) -> Option<Arc<DNSZone>> {
    ctx.zones
        .state()
        .into_iter()
        .filter(|z| {
            z.spec.delivery == Delivery::Zonefile && z.metadata.deletion_timestamp.is_none()
        })
        .filter(|z| ZoneName::parse(&z.spec.zone_name).is_ok_and(|n| n == *name))
        .min_by_key(|z| seniority(z))
}

pub(super) async fn deliver_file(
    zone: &DNSZone,
    ctx: &Context,
    assembly: &Assembly,
    previous: &DNSZoneStatus,
) -> Outcome {
    if let Some(owner) = zonefile_owner(ctx, &assembly.zone.name)
        && ObjectRef::from_obj(owner.as_ref()) != ObjectRef::from_obj(zone)
    {
        let message = format!(
            "zone {} is already delivered as a file by DNSZone {}/{}; this one waits until that one is deleted",
            assembly.zone.name,
            owner.namespace().unwrap_or_default(),
            owner.name_any()
        );
        return Outcome {
            serial: previous.serial,
            ..Outcome::not_delivered("AlreadyClaimed", &message)
        };
    }
    let today = Date::of((ctx.now)());
    let result = async {
        let file = ctx
            .deliverer
            .write_zone(assembly, previous.serial, today)
            .await?;
        let mut zones = zonefile_zones(ctx);
        if !zones.contains(&assembly.zone.name) {
            zones.push(assembly.zone.name.clone());
            zones.sort();
        }
        ctx.deliverer.publish_zone_list(&zones).await?;
        Ok::<_, DeliveryFailure>(file)
    }
    .await;
    match result {
        Ok(file) => {
            if file.written {
                ctx.metrics.changed(1);
                let note = format!("zone file written with serial {}", file.serial);
                info!(zone = %assembly.zone.name, serial = file.serial, "zone file written");
                publish(ctx, zone, EventType::Normal, "Delivered", &note).await;
            }
            let message = format!("zone file in place with serial {}", file.serial);
            Outcome {
                conditions: vec![
                    Condition::new(READY, true, "Delivered", &message),
                    Condition::new(DEGRADED, false, "Delivered", ""),
                ],
                instances: Vec::new(),
                managed: BTreeSet::new(),
                serial: Some(file.serial),
                delivered: true,
                failure: None,
            }
        }
        Err(failure) => {
            warn!(zone = %assembly.zone.name, error = %failure.message, "zone file delivery failed");
            publish(
                ctx,
                zone,
                EventType::Warning,
                "DeliveryFailed",
                &failure.message,
            )
            .await;
            Outcome {
                serial: previous.serial,
                ..Outcome::not_delivered("DeliveryFailed", &failure.message)
            }
            .retried(failure.message)
        }
    }
}
