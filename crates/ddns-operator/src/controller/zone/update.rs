//! Update delivery: RFC 2136 changes to each selected primary.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use ddns_core::zone::{Assembly, ZoneName};
use ddns_dns::{TsigAlgorithm, TsigKey};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
use tracing::{debug, info, warn};

use super::events::publish;
use super::{Outcome, seniority};
use crate::controller::context::Context;
use crate::controller::deliver::{DeliveryFailure, UpdateTarget};
use crate::controller::selector;
use crate::crd::status::{Condition, DEGRADED, READY};
use crate::crd::{Bind9Instance, DNSZone, Delivery, InstanceResult, Role};

/// The servers a list of instances updates: the primaries' `address:port`.
fn primary_endpoints(instances: &[Arc<Bind9Instance>]) -> BTreeSet<(String, u16)> {
    instances
        .iter()
        .filter(|i| i.spec.role == Role::Primary)
        .map(|i| (i.spec.address.to_ascii_lowercase(), i.spec.port))
        .collect()
}

/// Why `zone` must not update zone `name` on its primaries: an older
/// update-mode `DNSZone` of the same name (then by namespace and name)
/// updates it on one of the same servers. Two of them would each set the
/// apex NS set and remove what the other added, round after round.
fn claimed_elsewhere(
    ctx: &Context,
    zone: &DNSZone,
    name: &ZoneName,
    instances: &[Arc<Bind9Instance>],
) -> Option<String> {
    let mine = primary_endpoints(instances);
    if mine.is_empty() {
        return None;
    }
    let my_rank = seniority(zone);
    ctx.zones
        .state()
        .into_iter()
        .filter(|z| {
            z.spec.delivery == Delivery::Update
                && z.metadata.deletion_timestamp.is_none()
                && seniority(z) < my_rank
                && ZoneName::parse(&z.spec.zone_name).is_ok_and(|n| n == *name)
        })
        .find_map(|other| {
            let theirs = primary_endpoints(&selected_instances(ctx, &other));
            let (address, port) = mine.intersection(&theirs).next()?;
            Some(format!(
                "zone {name} on {address}:{port} is already updated by DNSZone {}/{}; this one waits until that one is deleted or points elsewhere",
                other.namespace().unwrap_or_default(),
                other.name_any()
            ))
        })
}

/// The primaries and secondaries a zone selects, in name order.
pub(super) fn selected_instances(ctx: &Context, zone: &DNSZone) -> Vec<Arc<Bind9Instance>> {
    let namespace = zone.namespace().unwrap_or_default();
    let mut instances: Vec<Arc<Bind9Instance>> = ctx
        .instances
        .state()
        .into_iter()
        .filter(|i| i.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|i| selector::matches(&zone.spec.instance_selector, i.labels()))
        .collect();
    instances.sort_by_key(|i| i.name_any());
    instances
}

/// The address and key of a primary; the error is the status message.
pub(super) async fn target(
    ctx: &Context,
    instance: &Bind9Instance,
) -> Result<UpdateTarget, DeliveryFailure> {
    let name = instance.name_any();
    let namespace = instance.namespace().unwrap_or_default();
    let spec = &instance.spec;
    let fail = |message: String, transient: bool| DeliveryFailure { message, transient };
    let server = resolve(&spec.address, spec.port)
        .await
        .map_err(|reason| fail(format!("Bind9Instance {name}: {reason}"), true))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret_name = &spec.tsig_key_secret_ref.name;
    let data_key = &spec.tsig_key_secret_ref.key;
    let secret = secrets
        .get_opt(secret_name)
        .await
        .map_err(|e| {
            fail(
                format!("Bind9Instance {name}: reading Secret {secret_name}: {e}"),
                true,
            )
        })?
        .ok_or_else(|| {
            fail(
                format!("Bind9Instance {name}: Secret {secret_name} not found"),
                true,
            )
        })?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(data_key))
        .ok_or_else(|| {
            fail(
                format!("Bind9Instance {name}: Secret {secret_name} has no key {data_key}"),
                false,
            )
        })?;
    let text = std::str::from_utf8(&bytes.0)
        .map_err(|_| fail(format!("Bind9Instance {name}: Secret {secret_name} key {data_key} is not text (expected the base64 TSIG secret)"), false))?;
    let algorithm: TsigAlgorithm = spec
        .tsig_algorithm
        .as_str()
        .parse()
        .map_err(|e| fail(format!("Bind9Instance {name}: {e}"), false))?;
    let secret_value = ddns_core::Secret::new(text.trim());
    let key = TsigKey::new(&spec.tsig_key_name, algorithm, &secret_value).map_err(|e| {
        fail(
            format!("Bind9Instance {name}: TSIG key from Secret {secret_name} key {data_key}: {e}"),
            false,
        )
    })?;
    Ok(UpdateTarget {
        instance: name,
        server,
        key,
    })
}

pub(super) async fn resolve(address: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((address, port))
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} has no address"))
}

pub(super) async fn deliver_updates(
    zone: &DNSZone,
    ctx: &Context,
    assembly: &Assembly,
    managed_before: &BTreeSet<String>,
) -> Outcome {
    let instances = selected_instances(ctx, zone);
    if let Some(message) = claimed_elsewhere(ctx, zone, &assembly.zone.name, &instances) {
        // What this zone managed may be the other zone's now: it is
        // neither removed nor remembered (deleting this zone removes
        // nothing).
        return Outcome::not_delivered("AlreadyClaimed", &message);
    }
    let mut results = Vec::new();
    let mut failures = Vec::new();
    let mut managed_after: Option<BTreeSet<String>> = None;
    let mut primaries = 0;
    let mut changed = 0u32;
    for instance in &instances {
        let name = instance.name_any();
        if instance.spec.role == Role::Secondary {
            results.push(InstanceResult {
                name,
                result: "Skipped".into(),
                message: "secondary: receives the zone by transfer".into(),
            });
            continue;
        }
        primaries += 1;
        let outcome = match target(ctx, instance).await {
            Ok(target) => {
                ctx.deliverer
                    .update(&target, assembly, managed_before)
                    .await
            }
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok(result) => {
                changed += result.changes;
                if result.changes > 0 {
                    let note = format!("{} RRset(s) changed on {name}", result.changes);
                    info!(zone = %assembly.zone.name, instance = %name, changes = result.changes, "zone delivered");
                    publish(ctx, zone, EventType::Normal, "Delivered", &note).await;
                } else {
                    debug!(zone = %assembly.zone.name, instance = %name, "zone already in place");
                }
                results.push(InstanceResult {
                    name,
                    result: "Delivered".into(),
                    message: String::new(),
                });
                managed_after = Some(match managed_after {
                    None => result.managed,
                    Some(mut set) => {
                        set.extend(result.managed);
                        set
                    }
                });
            }
            Err(failure) => {
                warn!(zone = %assembly.zone.name, instance = %name, error = %failure.message, transient = failure.transient, "delivery failed");
                publish(
                    ctx,
                    zone,
                    EventType::Warning,
                    "DeliveryFailed",
                    &failure.message,
                )
                .await;
                results.push(InstanceResult {
                    name,
                    result: "Failed".into(),
                    message: failure.message.clone(),
                });
                failures.push(failure.message);
            }
        }
    }
    ctx.metrics.changed(u64::from(changed));
    if primaries == 0 {
        let message = if instances.is_empty() {
            "no Bind9Instance in the namespace matches spec.instanceSelector".to_string()
        } else {
            "the selected Bind9Instances are all secondaries; updates go to primaries".to_string()
        };
        return Outcome {
            instances: results,
            managed: managed_before.clone(),
            ..Outcome::not_delivered("NoPrimary", &message)
        };
    }
    // After a partial failure, keep remembering what was managed before as
    // well, so that the next round still removes what is no longer wanted.
    let mut managed = managed_after.unwrap_or_default();
    if !failures.is_empty() {
        // A failed delivery may have applied some of its messages: keep
        // everything that was or may now be on a server, so that the next
        // round still removes what is no longer wanted.
        managed.extend(managed_before.iter().cloned());
        managed.extend(
            crate::delivery::managed_set(assembly)
                .iter()
                .map(ToString::to_string),
        );
    }
    let ok = failures.is_empty();
    let message = if ok {
        format!("delivered to {primaries} primary server(s)")
    } else {
        failures.join("; ")
    };
    Outcome {
        conditions: vec![
            Condition::new(
                READY,
                ok,
                if ok { "Delivered" } else { "DeliveryFailed" },
                &message,
            ),
            Condition::new(
                DEGRADED,
                !ok,
                if ok { "Delivered" } else { "DeliveryFailed" },
                if ok { String::new() } else { message.clone() },
            ),
        ],
        instances: results,
        managed,
        serial: None,
        delivered: ok,
        failure: (!ok).then_some(message),
    }
}
