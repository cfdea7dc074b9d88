//! The zone reconcile: assemble, deliver, report.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ddns_core::zone::{Assembly, Date, ZoneName};
use ddns_dns::{TsigAlgorithm, TsigKey};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use super::context::Context;
use super::deliver::{DeliveryFailure, UpdateTarget};
use super::error::Error;
use super::patch;
use super::selector;
use super::stores::TrackedRecord;
use super::{FINALIZER, backoff};
use crate::crd::status::{Condition, DEGRADED, READY, set_condition};
use crate::crd::{
    Bind9Instance, DNSZone, DNSZoneStatus, Delivery, InstanceResult, RecordStatus, Role,
};
use crate::delivery::ManagedRrset;
use crate::model::{assemble_zone, zone_spec};

/// The zone controller's reconcile.
pub(crate) async fn reconcile(zone: Arc<DNSZone>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let namespace = zone.namespace().unwrap_or_default();
    let api: Api<DNSZone> = Api::namespaced(ctx.client.clone(), &namespace);
    let reference = ObjectRef::from_obj(zone.as_ref());
    let result = finalizer(&api, FINALIZER, zone, |event| async {
        match event {
            Event::Apply(zone) => apply(&zone, &ctx).await,
            Event::Cleanup(zone) => cleanup(&zone, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.reconciled(
        "DNSZone",
        result.as_ref().map(|_| ()).map_err(Error::reason),
        started.elapsed(),
    );
    if result.is_ok() {
        ctx.succeeded(&reference);
    }
    result
}

/// The zone controller's error policy: exponential backoff from 30 s.
pub(crate) fn error_policy(zone: Arc<DNSZone>, error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.failed(&ObjectRef::from_obj(zone.as_ref()));
    let mut delay = backoff(failures);
    // A deletion that keeps failing is given up at the cleanup timeout:
    // come back no later than that.
    if zone.metadata.deletion_timestamp.is_some() {
        let left = ctx
            .config
            .cleanup_timeout
            .saturating_sub(deleting_for(&zone, &ctx));
        delay = delay.min(left + Duration::from_secs(1));
    }
    warn!(zone = %zone.name_any(), namespace = zone.namespace().unwrap_or_default(), %error, failures, retry_in = ?delay, "zone reconcile failed");
    Action::requeue(delay)
}

/// The state a reconcile works out before it writes statuses.
struct Outcome {
    conditions: Vec<Condition>,
    instances: Vec<InstanceResult>,
    managed: BTreeSet<String>,
    serial: Option<u32>,
    delivered: bool,
    failure: Option<String>,
}

async fn apply(zone: &DNSZone, ctx: &Context) -> Result<Action, Error> {
    if !ctx.wait_ready().await {
        return Err(Error::Delivery("the watch caches stopped".into()));
    }
    let namespace = zone.namespace().unwrap_or_default();
    let name = zone.name_any();
    let now = ctx.timestamp();
    let previous = zone.status.clone().unwrap_or_default();
    let records = ctx.records.for_zone(&namespace, &name);

    let spec = match zone_spec(&zone.spec)
        .and_then(|spec| selector::validate(&zone.spec.instance_selector).map(|()| spec))
    {
        Ok(spec) => spec,
        Err(message) => {
            let mut status = previous.clone();
            set_condition(
                &mut status.conditions,
                Condition::new(READY, false, "InvalidSpec", &message),
                &now,
            );
            set_condition(
                &mut status.conditions,
                Condition::new(DEGRADED, true, "InvalidSpec", &message),
                &now,
            );
            status.observed_generation = zone.metadata.generation;
            write_zone_status(ctx, zone, &previous, status).await?;
            publish(ctx, zone, EventType::Warning, "InvalidSpec", &message).await;
            return Ok(Action::requeue(ctx.config.requeue));
        }
    };

    // Finalizers go on before anything of a record reaches a server.
    for record in records
        .iter()
        .filter(|r| r.is_member(&name) && !r.object.deleting)
    {
        if !record.has_finalizer() {
            patch::add_finalizer(
                &ctx.client,
                &record.resource,
                &namespace,
                &record.object.name,
                &record.finalizers,
            )
            .await?;
        }
    }

    let members: Vec<_> = records
        .iter()
        .filter(|r| r.is_member(&name))
        .map(|r| r.object.clone())
        .collect();
    let assembly = assemble_zone(&spec, &members);
    let outcome = if assembly.problems.is_empty() {
        deliver(zone, ctx, &assembly, &previous).await?
    } else {
        let message = assembly.problems.join("; ");
        Outcome {
            conditions: vec![
                Condition::new(READY, false, "ZoneProblems", &message),
                Condition::new(DEGRADED, true, "ZoneProblems", &message),
            ],
            instances: previous.instances.clone(),
            managed: previous.managed.iter().cloned().collect(),
            serial: previous.serial,
            delivered: false,
            failure: None,
        }
    };

    // Records being deleted, or moved to another zone, are out of DNS once
    // the delivery worked: their finalizers can go.
    if outcome.delivered {
        for record in records
            .iter()
            .filter(|r| r.object.deleting && r.has_finalizer())
        {
            if record.is_member(&name) || !ctx_zone_exists(ctx, &namespace, &record.object.zone_ref)
            {
                patch::remove_finalizer(
                    &ctx.client,
                    &record.resource,
                    &namespace,
                    &record.object.name,
                    &record.finalizers,
                )
                .await?;
            }
        }
    }

    let conflict_count = assembly.conflicts.len();
    write_record_statuses(ctx, zone, &records, &assembly, outcome.delivered, &now).await?;

    let mut status = previous.clone();
    for condition in &outcome.conditions {
        let mut condition = condition.clone();
        if condition.type_ == READY && condition.is_true() && conflict_count > 0 {
            condition.message = format!(
                "{}; {conflict_count} record(s) in conflict, see status.conflicts",
                condition.message
            );
        }
        set_condition(&mut status.conditions, condition, &now);
    }
    // Conflicts are the zone's only trouble once it is delivered; before
    // that, Degraded keeps the reason it is not (NoPrimary, ZoneProblems).
    if outcome.delivered && conflict_count > 0 {
        set_condition(
            &mut status.conditions,
            Condition::new(
                DEGRADED,
                true,
                "RecordConflicts",
                format!("{conflict_count} record(s) set aside"),
            ),
            &now,
        );
    }
    status.observed_generation = zone.metadata.generation;
    status.record_count = Some(u32::try_from(assembly.record_count()).unwrap_or(u32::MAX));
    status.serial = outcome.serial;
    status.managed = outcome.managed.into_iter().collect();
    status.instances = outcome.instances;
    status.conflicts = assembly.conflicts.iter().map(ToString::to_string).collect();
    write_zone_status(ctx, zone, &previous, status).await?;
    ctx.metrics.zone_records(
        &format!("{namespace}/{name}"),
        u64::try_from(assembly.record_count()).unwrap_or(u64::MAX),
    );

    match outcome.failure {
        Some(message) => Err(Error::Delivery(message)),
        None => Ok(Action::requeue(ctx.config.requeue)),
    }
}

fn ctx_zone_exists(ctx: &Context, namespace: &str, name: &str) -> bool {
    ctx.zones
        .get(&ObjectRef::<DNSZone>::new(name).within(namespace))
        .is_some_and(|z| z.metadata.deletion_timestamp.is_none())
}

/// The primaries and secondaries a zone selects, in name order.
fn selected_instances(ctx: &Context, zone: &DNSZone) -> Vec<Arc<Bind9Instance>> {
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
async fn target(ctx: &Context, instance: &Bind9Instance) -> Result<UpdateTarget, DeliveryFailure> {
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

async fn resolve(address: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((address, port))
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} has no address"))
}

async fn deliver(
    zone: &DNSZone,
    ctx: &Context,
    assembly: &Assembly,
    previous: &DNSZoneStatus,
) -> Result<Outcome, Error> {
    let managed_before: BTreeSet<String> = previous.managed.iter().cloned().collect();
    match zone.spec.delivery {
        Delivery::Update => Ok(deliver_updates(zone, ctx, assembly, &managed_before).await),
        Delivery::Zonefile => Ok(deliver_file(zone, ctx, assembly, previous).await),
    }
}

async fn deliver_updates(
    zone: &DNSZone,
    ctx: &Context,
    assembly: &Assembly,
    managed_before: &BTreeSet<String>,
) -> Outcome {
    let instances = selected_instances(ctx, zone);
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
            conditions: vec![
                Condition::new(READY, false, "NoPrimary", &message),
                Condition::new(DEGRADED, true, "NoPrimary", &message),
            ],
            instances: results,
            managed: managed_before.clone(),
            serial: None,
            delivered: false,
            failure: None,
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
fn zonefile_owner(ctx: &Context, name: &ZoneName) -> Option<Arc<DNSZone>> {
    ctx.zones
        .state()
        .into_iter()
        .filter(|z| {
            z.spec.delivery == Delivery::Zonefile && z.metadata.deletion_timestamp.is_none()
        })
        .filter(|z| ZoneName::parse(&z.spec.zone_name).is_ok_and(|n| n == *name))
        .min_by_key(|z| {
            (
                z.metadata.creation_timestamp.as_ref().map(|t| t.0),
                z.namespace(),
                z.name_any(),
            )
        })
}

async fn deliver_file(
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
            conditions: vec![
                Condition::new(READY, false, "AlreadyClaimed", &message),
                Condition::new(DEGRADED, true, "AlreadyClaimed", &message),
            ],
            instances: Vec::new(),
            managed: BTreeSet::new(),
            serial: previous.serial,
            delivered: false,
            failure: None,
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
                conditions: vec![
                    Condition::new(READY, false, "DeliveryFailed", &failure.message),
                    Condition::new(DEGRADED, true, "DeliveryFailed", &failure.message),
                ],
                instances: Vec::new(),
                managed: BTreeSet::new(),
                serial: previous.serial,
                delivered: false,
                failure: Some(failure.message),
            }
        }
    }
}

async fn cleanup(zone: &DNSZone, ctx: &Context) -> Result<Action, Error> {
    if !ctx.wait_ready().await {
        return Err(Error::Delivery("the watch caches stopped".into()));
    }
    let namespace = zone.namespace().unwrap_or_default();
    let name = zone.name_any();
    let status = zone.status.clone().unwrap_or_default();
    let result: Result<(), String> = match zone.spec.delivery {
        Delivery::Update => {
            let managed: BTreeSet<String> = status.managed.iter().cloned().collect();
            let mut failures = Vec::new();
            let primaries: Vec<_> = selected_instances(ctx, zone)
                .into_iter()
                .filter(|i| i.spec.role == Role::Primary)
                .collect();
            // Nowhere to remove them from (the Bind9Instance went first):
            // say so, and give up at the cleanup timeout like any failure.
            let removable = ZoneName::parse(&zone.spec.zone_name).map_or(0, |zone_name| {
                managed
                    .iter()
                    .filter_map(|entry| entry.parse::<ManagedRrset>().ok())
                    .filter(|rrset| !rrset.is_apex_ns(&zone_name))
                    .count()
            });
            if primaries.is_empty() && removable > 0 {
                failures.push(format!(
                    "no primary Bind9Instance matches spec.instanceSelector any more, so the {removable} RRset(s) in status.managed cannot be removed from a server"
                ));
            }
            if !managed.is_empty() {
                for instance in &primaries {
                    let outcome = match target(ctx, instance).await {
                        Ok(target) => match ZoneName::parse(&zone.spec.zone_name) {
                            Ok(zone_name) => {
                                ctx.deliverer.remove(&target, &zone_name, &managed).await
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
        Delivery::Zonefile => match ZoneName::parse(&zone.spec.zone_name) {
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
    };
    match result {
        Ok(()) => {
            info!(zone = %name, namespace = %namespace, "zone removed");
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

/// How long the zone has been marked for deletion.
fn deleting_for(zone: &DNSZone, ctx: &Context) -> Duration {
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
async fn release_records(ctx: &Context, namespace: &str, zone: &str) -> Result<(), Error> {
    for record in ctx.records.for_zone(namespace, zone) {
        if record.object.deleting && record.has_finalizer() {
            patch::remove_finalizer(
                &ctx.client,
                &record.resource,
                namespace,
                &record.object.name,
                &record.finalizers,
            )
            .await?;
        } else {
            let _ = ctx.orphans.send((
                record.object.kind,
                namespace.to_string(),
                record.object.name.clone(),
            ));
        }
    }
    Ok(())
}

async fn write_zone_status(
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
        for key in ["managed", "instances", "conflicts"] {
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

/// The status each member record should have after this round, written
/// where it differs from what the record shows.
async fn write_record_statuses(
    ctx: &Context,
    zone: &DNSZone,
    records: &[TrackedRecord],
    assembly: &Assembly,
    delivered: bool,
    now: &str,
) -> Result<(), Error> {
    let namespace = zone.namespace().unwrap_or_default();
    let zone_name = zone.name_any();
    let conflicts: BTreeMap<&str, _> = assembly
        .conflicts
        .iter()
        .map(|c| (c.source.as_str(), c))
        .collect();
    let applied = assembly.applied_sources();
    for record in records.iter().filter(|r| r.is_member(&zone_name)) {
        if record.object.deleting {
            // Released by `apply` once the zone is delivered without it;
            // until then it waits, and says why.
            if !delivered && record.has_finalizer() {
                let message = format!(
                    "being deleted: its records stay on the server until zone {} is delivered again; see DNSZone {zone_name}",
                    assembly.zone.name
                );
                write_record_condition(ctx, record, &namespace, "ZoneNotDelivered", &message, now)
                    .await?;
            }
            continue;
        }
        let source = record.object.source();
        let previous = record.status.clone().unwrap_or_default();
        let mut next = previous.clone();
        next.observed_generation = record.generation;
        let fqdn = ddns_core::zone::Owner::parse(&record.object.owner, &assembly.zone.name)
            .ok()
            .map(|o| format!("{}.", o.in_zone(&assembly.zone.name)));
        next.fqdn = fqdn;
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
                publish_record(ctx, record, EventType::Warning, reason, &conflict.message).await;
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
                next.zone = Some(zone_name.clone());
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
        if next != previous {
            let value =
                serde_json::to_value(&next).map_err(|e| Error::Delivery(format!("status: {e}")))?;
            patch::patch_status(
                &ctx.client,
                &record.resource,
                &namespace,
                &record.object.name,
                value,
            )
            .await?;
        }
    }
    Ok(())
}

/// Sets a record's Ready condition to False with `reason` and `message`,
/// when it does not say so already.
async fn write_record_condition(
    ctx: &Context,
    record: &TrackedRecord,
    namespace: &str,
    reason: &str,
    message: &str,
    now: &str,
) -> Result<(), Error> {
    let previous = record.status.clone().unwrap_or_default();
    let mut next = previous.clone();
    set_condition(
        &mut next.conditions,
        Condition::new(READY, false, reason, message),
        now,
    );
    if next == previous {
        return Ok(());
    }
    let value = serde_json::to_value(&next).map_err(|e| Error::Delivery(format!("status: {e}")))?;
    patch::patch_status(
        &ctx.client,
        &record.resource,
        namespace,
        &record.object.name,
        value,
    )
    .await
}

async fn publish(ctx: &Context, zone: &DNSZone, type_: EventType, reason: &str, note: &str) {
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

async fn publish_record(
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
fn truncate(note: &str) -> String {
    if note.len() <= 1000 {
        return note.to_string();
    }
    let mut cut = 1000;
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &note[..cut])
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
