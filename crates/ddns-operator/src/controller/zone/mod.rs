//! The zone reconcile: assemble, deliver, report.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ddns_core::zone::Assembly;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use tracing::warn;

mod cleanup;
mod events;
mod file;
mod moved;
mod status;
mod update;

use cleanup::{cleanup, deleting_for};
use events::publish;
use file::deliver_file;
pub(crate) use status::zone_not_found;
use status::{write_record_statuses, write_zone_status};
use update::deliver_updates;

use super::context::Context;
use super::error::Error;
use super::patch;
use super::selector;
use super::stores::TrackedRecord;
use super::{FINALIZER, backoff};
use crate::crd::status::{Condition, DEGRADED, READY, set_condition};
use crate::crd::{DNSZone, DNSZoneStatus, Delivery, InstanceResult, Role};
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

impl Outcome {
    /// Not delivered, for `reason` (both conditions'): nothing managed, no
    /// serial, no instance results, no retry before the requeue; callers
    /// set what they keep.
    fn not_delivered(reason: &str, message: &str) -> Self {
        Self {
            conditions: vec![
                Condition::new(READY, false, reason, message),
                Condition::new(DEGRADED, true, reason, message),
            ],
            instances: Vec::new(),
            managed: BTreeSet::new(),
            serial: None,
            delivered: false,
            failure: None,
        }
    }
}

impl Outcome {
    /// The same, as a failure the backoff retries.
    fn retried(mut self, message: String) -> Self {
        self.failure = Some(message);
        self
    }
}

/// How zones of one name rank for it: the oldest first, then by namespace
/// and name.
fn seniority(zone: &DNSZone) -> (Option<k8s_openapi::jiff::Timestamp>, Option<String>, String) {
    (
        zone.metadata.creation_timestamp.as_ref().map(|t| t.0),
        zone.namespace(),
        zone.name_any(),
    )
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
    let unmarked: Vec<&TrackedRecord> = records
        .iter()
        .filter(|r| r.is_member(&name) && !r.object.deleting && !r.has_finalizer())
        .collect();
    patch::each(unmarked, |record| {
        patch::add_finalizer(
            &ctx.client,
            &record.resource,
            &namespace,
            &record.object.name,
            &record.finalizers,
        )
    })
    .await?;

    let members: Vec<_> = records
        .iter()
        .filter(|r| r.is_member(&name))
        .map(|r| r.object.clone())
        .collect();
    let assembly = assemble_zone(&spec, &members);
    // What an earlier zone name or delivery manages is not this delivery's.
    let selected: BTreeSet<String> = update::selected_instances(ctx, zone)
        .iter()
        .filter(|i| i.spec.role == Role::Primary)
        .map(|i| i.name_any())
        .collect();
    let base = moved::rebase(&previous, &spec.name, zone.spec.delivery, &selected, &now);
    let outcome = if assembly.problems.is_empty() {
        deliver(zone, ctx, &assembly, &base).await?
    } else {
        let message = assembly.problems.join("; ");
        Outcome {
            instances: base.instances.clone(),
            managed: base.managed.iter().cloned().collect(),
            serial: base.serial,
            ..Outcome::not_delivered("ZoneProblems", &message)
        }
    };

    // Records being deleted, or moved to another zone, are out of DNS once
    // the delivery worked: their finalizers can go.
    if outcome.delivered {
        let released: Vec<&TrackedRecord> = records
            .iter()
            .filter(|r| r.object.deleting && r.has_finalizer())
            .filter(|r| r.is_member(&name) || !ctx_zone_exists(ctx, &namespace, &r.object.zone_ref))
            .collect();
        patch::each(released, |record| {
            patch::remove_finalizer(
                &ctx.client,
                &record.resource,
                &namespace,
                &record.object.name,
                &record.finalizers,
            )
        })
        .await?;
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
    let (leftovers, leftover_trouble) = moved::remove_leftovers(ctx, zone, base.leftovers).await;
    if !leftover_trouble.is_empty() {
        set_condition(
            &mut status.conditions,
            Condition::new(
                DEGRADED,
                true,
                "EarlierDeliveryRemains",
                leftover_trouble.join("; "),
            ),
            &now,
        );
    }
    status.leftovers = leftovers;
    status.delivered = base.delivered;
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
        None if !leftover_trouble.is_empty() => Err(Error::Delivery(leftover_trouble.join("; "))),
        None => Ok(Action::requeue(ctx.config.requeue)),
    }
}

fn ctx_zone_exists(ctx: &Context, namespace: &str, name: &str) -> bool {
    ctx.zones
        .get(&ObjectRef::<DNSZone>::new(name).within(namespace))
        .is_some_and(|z| z.metadata.deletion_timestamp.is_none())
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
