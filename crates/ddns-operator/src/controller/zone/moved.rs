//! A zone whose `zoneName` or `delivery` changed: what its earlier
//! delivery put on the servers is removed, and retried until it is gone or
//! the cleanup timeout passes.

use std::collections::BTreeSet;
use std::time::Duration;

use ddns_core::zone::ZoneName;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::cleanup::remove_delivered;
use super::events::publish;
use crate::controller::context::Context;
use crate::crd::{DNSZone, DNSZoneStatus, DeliveredTo, Delivery, Leftover};

/// Whether `zone_name` delivered by `by` is zone `name` delivered by
/// `delivery` (names compared as zone names: case and a final dot aside).
fn same(zone_name: &str, by: Delivery, name: &ZoneName, delivery: Delivery) -> bool {
    by == delivery && ZoneName::parse(zone_name).is_ok_and(|n| n == *name)
}

/// The status to deliver from: `previous`, with what an earlier zone name
/// or delivery manages moved to `leftovers`, and in update delivery what
/// primaries no longer selected hold (`selected`: the names of the
/// primaries selected now; none selected moves nothing, so that a
/// selector matching nothing by mistake does not empty the servers).
///
/// A leftover of the current name and delivery (changed back before it
/// was removed, or a primary selected again) is the zone's own again: its
/// RRsets rejoin `managed`, so the next delivery removes those no longer
/// wanted, and its file is simply written anew.
pub(super) fn rebase(
    previous: &DNSZoneStatus,
    name: &ZoneName,
    delivery: Delivery,
    selected: &BTreeSet<String>,
    now: &str,
) -> DNSZoneStatus {
    let mut base = previous.clone();
    match &previous.delivered {
        Some(before) if !same(&before.zone_name, before.delivery, name, delivery) => {
            base.leftovers.push(Leftover {
                zone_name: before.zone_name.clone(),
                delivery: before.delivery,
                managed: std::mem::take(&mut base.managed),
                instances: Vec::new(),
                since: now.to_string(),
            });
            base.serial = None;
            base.instances.clear();
        }
        _ if delivery == Delivery::Update && !selected.is_empty() => {
            let covered: BTreeSet<&String> = base
                .leftovers
                .iter()
                .filter(|l| same(&l.zone_name, l.delivery, name, delivery))
                .flat_map(|l| &l.instances)
                .collect();
            let left: Vec<String> = base
                .instances
                .iter()
                .filter(|r| r.result == "Delivered" && !selected.contains(&r.name))
                .map(|r| r.name.clone())
                .filter(|n| !covered.contains(n))
                .collect();
            base.instances.retain(|r| selected.contains(&r.name));
            if !left.is_empty() && !base.managed.is_empty() {
                base.leftovers.push(Leftover {
                    zone_name: name.to_string(),
                    delivery,
                    managed: base.managed.clone(),
                    instances: left,
                    since: now.to_string(),
                });
            }
        }
        _ => {}
    }
    let mut own_again = Vec::new();
    base.leftovers.retain_mut(|l| {
        if !same(&l.zone_name, l.delivery, name, delivery) {
            return true;
        }
        if l.instances.is_empty() {
            own_again.push(std::mem::take(&mut l.managed));
            return false;
        }
        l.instances.retain(|i| !selected.contains(i));
        if l.instances.is_empty() {
            own_again.push(std::mem::take(&mut l.managed));
            return false;
        }
        true
    });
    let mut managed: BTreeSet<String> = base.managed.into_iter().collect();
    managed.extend(own_again.into_iter().flatten());
    base.managed = managed.into_iter().collect();
    base.delivered = Some(DeliveredTo {
        zone_name: name.to_string(),
        delivery,
    });
    base
}

/// Tries to remove each leftover: returns those that remain, and a message
/// for each. One that keeps failing past the cleanup timeout is given up
/// with a `CleanupAbandoned` Event.
pub(super) async fn remove_leftovers(
    ctx: &Context,
    zone: &DNSZone,
    leftovers: Vec<Leftover>,
) -> (Vec<Leftover>, Vec<String>) {
    let mut remaining = Vec::new();
    let mut messages = Vec::new();
    for leftover in leftovers {
        let managed: BTreeSet<String> = leftover.managed.iter().cloned().collect();
        let removed = remove_delivered(
            ctx,
            zone,
            &leftover.zone_name,
            leftover.delivery,
            &managed,
            &leftover.instances,
        )
        .await;
        match removed {
            Ok(()) => {
                ctx.hand_over(zone, &leftover.zone_name);
                info!(zone = %zone.name_any(), namespace = zone.namespace().unwrap_or_default(), earlier = %leftover.zone_name, "earlier delivery removed");
                let note = format!(
                    "removed what the zone's earlier delivery {} left on the servers",
                    describe(&leftover)
                );
                publish(
                    ctx,
                    zone,
                    EventType::Normal,
                    "EarlierDeliveryRemoved",
                    &note,
                )
                .await;
            }
            Err(message) => {
                let waited = age(ctx, &leftover.since);
                if waited >= ctx.config.cleanup_timeout {
                    let note = format!(
                        "gave up removing what the zone's earlier delivery {} left after {}s: {message}; remove it by hand if the server still has it",
                        describe(&leftover),
                        waited.as_secs()
                    );
                    warn!(zone = %zone.name_any(), namespace = zone.namespace().unwrap_or_default(), earlier = %leftover.zone_name, error = %message, "cleanup abandoned");
                    publish(ctx, zone, EventType::Warning, "CleanupAbandoned", &note).await;
                    ctx.hand_over(zone, &leftover.zone_name);
                } else {
                    messages.push(format!(
                        "what the earlier delivery {} left is not removed yet: {message}",
                        describe(&leftover)
                    ));
                    remaining.push(leftover);
                }
            }
        }
    }
    (remaining, messages)
}

/// The earlier delivery, as the messages name it: `as example.com
/// (update)`, or `to Bind9Instance(s) b of example.com`.
fn describe(leftover: &Leftover) -> String {
    if leftover.instances.is_empty() {
        format!(
            "as {} ({})",
            leftover.zone_name,
            delivery_name(leftover.delivery)
        )
    } else {
        format!(
            "to Bind9Instance(s) {} of {}",
            leftover.instances.join(", "),
            leftover.zone_name
        )
    }
}

fn delivery_name(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Update => "update",
        Delivery::Zonefile => "zonefile",
    }
}

/// How long ago `since` (RFC 3339) was; an unreadable time counts as now.
fn age(ctx: &Context, since: &str) -> Duration {
    let Ok(since) = since.parse::<k8s_openapi::jiff::Timestamp>() else {
        return Duration::ZERO;
    };
    k8s_openapi::jiff::Timestamp::try_from((ctx.now)())
        .ok()
        .and_then(|now| Duration::try_from(now.duration_since(since)).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn status(zone_name: &str, delivery: Delivery, managed: &[&str]) -> DNSZoneStatus {
        DNSZoneStatus {
            managed: managed.iter().map(ToString::to_string).collect(),
            serial: Some(7),
            delivered: Some(DeliveredTo {
                zone_name: zone_name.into(),
                delivery,
            }),
            ..DNSZoneStatus::default()
        }
    }

    fn selected(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(ToString::to_string).collect()
    }

    fn delivered_to(names: &[&str]) -> Vec<crate::crd::InstanceResult> {
        names
            .iter()
            .map(|n| crate::crd::InstanceResult {
                name: n.to_string(),
                result: "Delivered".into(),
                message: String::new(),
            })
            .collect()
    }

    fn name(text: &str) -> ZoneName {
        ZoneName::parse(text).unwrap()
    }

    #[test]
    fn nothing_moves_while_name_and_delivery_stay() {
        let before = status("example.com", Delivery::Update, &["www.example.com. A"]);
        // The case of the name does not matter.
        let base = rebase(
            &before,
            &name("Example.COM"),
            Delivery::Update,
            &selected(&["a"]),
            "t",
        );
        assert_eq!(base.managed, before.managed);
        assert_eq!(base.serial, Some(7));
        assert!(base.leftovers.is_empty());
    }

    #[test]
    fn a_new_name_leaves_the_managed_rrsets_to_remove() {
        let before = status("example.com", Delivery::Update, &["www.example.com. A"]);
        let base = rebase(
            &before,
            &name("example.org"),
            Delivery::Update,
            &selected(&["a"]),
            "t0",
        );
        assert!(base.managed.is_empty());
        assert_eq!(base.serial, None);
        assert_eq!(
            base.leftovers,
            [Leftover {
                zone_name: "example.com".into(),
                delivery: Delivery::Update,
                managed: vec!["www.example.com. A".into()],
                instances: Vec::new(),
                since: "t0".into(),
            }]
        );
        assert_eq!(
            base.delivered,
            Some(DeliveredTo {
                zone_name: "example.org".into(),
                delivery: Delivery::Update
            })
        );
        // Changed back before the leftover was removed: the RRsets are the
        // zone's own again, nothing is left to remove.
        let mut now = base.clone();
        now.managed = vec!["www.example.org. A".into()];
        let back = rebase(
            &now,
            &name("example.com"),
            Delivery::Update,
            &selected(&["a"]),
            "t1",
        );
        assert_eq!(back.managed, ["www.example.com. A"]);
        assert_eq!(back.leftovers.len(), 1);
        assert_eq!(back.leftovers[0].zone_name, "example.org");
    }

    #[test]
    fn a_new_delivery_leaves_the_file_to_remove() {
        let before = status("example.com", Delivery::Zonefile, &[]);
        let base = rebase(
            &before,
            &name("example.com"),
            Delivery::Update,
            &selected(&["a"]),
            "t0",
        );
        assert_eq!(base.leftovers.len(), 1);
        assert_eq!(base.leftovers[0].delivery, Delivery::Zonefile);
        assert_eq!(base.serial, None);
    }

    #[test]
    fn a_status_from_before_this_field_is_taken_as_the_current_delivery() {
        let mut before = status("example.com", Delivery::Update, &["www.example.com. A"]);
        before.delivered = None;
        let base = rebase(
            &before,
            &name("example.org"),
            Delivery::Update,
            &selected(&["a"]),
            "t0",
        );
        assert!(base.leftovers.is_empty());
        assert_eq!(base.managed, before.managed);
    }

    #[test]
    fn a_primary_no_longer_selected_keeps_nothing_of_the_zone() {
        let mut before = status("example.com", Delivery::Update, &["www.example.com. A"]);
        before.instances = delivered_to(&["a", "b"]);
        let base = rebase(
            &before,
            &name("example.com"),
            Delivery::Update,
            &selected(&["a"]),
            "t0",
        );
        assert_eq!(base.managed, before.managed, "still the zone's on a");
        assert_eq!(
            base.leftovers,
            [Leftover {
                zone_name: "example.com".into(),
                delivery: Delivery::Update,
                managed: vec!["www.example.com. A".into()],
                instances: vec!["b".into()],
                since: "t0".into(),
            }]
        );
        // Seen again (a reconcile that failed before its status was
        // written): not listed twice.
        let again = rebase(
            &base,
            &name("example.com"),
            Delivery::Update,
            &selected(&["a"]),
            "t1",
        );
        assert_eq!(again.leftovers, base.leftovers);
        // b selected again before the removal: it is the zone's again.
        let back = rebase(
            &base,
            &name("example.com"),
            Delivery::Update,
            &selected(&["a", "b"]),
            "t2",
        );
        assert!(back.leftovers.is_empty());
        assert_eq!(back.managed, before.managed);
    }

    #[test]
    fn no_primary_selected_moves_nothing() {
        let mut before = status("example.com", Delivery::Update, &["www.example.com. A"]);
        before.instances = delivered_to(&["a"]);
        let base = rebase(
            &before,
            &name("example.com"),
            Delivery::Update,
            &selected(&[]),
            "t0",
        );
        assert!(base.leftovers.is_empty());
        assert_eq!(base.managed, before.managed);
        assert_eq!(base.instances, before.instances);
    }
}
