//! Which watch events are worth a zone reconcile.
//!
//! The caches see every change; this only decides what triggers the zone
//! controller. A status the controller wrote must not come back as a
//! trigger (that would read every RRset from every server again after each
//! delivery, and retry a failure at once instead of after the backoff), and
//! neither must the finalizers it puts on records before their first write
//! (that would run a second full reconcile after every start). A deletion
//! always triggers, whatever came before it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures_util::{Stream, StreamExt, future};
use kube::Resource;
use kube::runtime::watcher;

use super::FINALIZER;

/// What of an object is compared from one event to the next.
pub(crate) trait Trigger: Sized {
    /// The summary of `object`.
    fn of<K: Resource>(object: &K) -> Self;
    /// Whether going from `before` (none: first seen) to `self` is worth a
    /// reconcile.
    fn worth(&self, before: Option<&Self>) -> bool;
}

/// A zone: its spec (the generation), labels, annotations, finalizers and
/// deletion. Its finalizers count: kube's `finalizer()` adds the zone's
/// and waits for that change to come back before the first apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZoneTrigger(u64);

impl Trigger for ZoneTrigger {
    fn of<K: Resource>(object: &K) -> Self {
        let meta = object.meta();
        let mut hasher = DefaultHasher::new();
        meta.generation.hash(&mut hasher);
        meta.labels.hash(&mut hasher);
        meta.annotations.hash(&mut hasher);
        meta.finalizers.hash(&mut hasher);
        meta.deletion_timestamp.is_some().hash(&mut hasher);
        Self(hasher.finish())
    }

    fn worth(&self, before: Option<&Self>) -> bool {
        before != Some(self)
    }
}

/// A record: its spec (the generation), labels, deletion, and whether it
/// carries the operator's finalizer. Gaining that finalizer is the
/// controller's own doing and triggers nothing; losing it (someone took it
/// off) triggers the reconcile that puts it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordTrigger {
    spec: u64,
    deleting: bool,
    finalizer: bool,
}

impl Trigger for RecordTrigger {
    fn of<K: Resource>(object: &K) -> Self {
        let meta = object.meta();
        let mut hasher = DefaultHasher::new();
        meta.generation.hash(&mut hasher);
        meta.labels.hash(&mut hasher);
        Self {
            spec: hasher.finish(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizer: meta
                .finalizers
                .as_ref()
                .is_some_and(|f| f.iter().any(|f| f == FINALIZER)),
        }
    }

    fn worth(&self, before: Option<&Self>) -> bool {
        match before {
            None => true,
            Some(before) => {
                before.spec != self.spec
                    || before.deleting != self.deleting
                    || (before.finalizer && !self.finalizer)
            }
        }
    }
}

/// An object's identity across events (a re-created object is another).
type Key = (Option<String>, Option<String>, Option<String>);

fn key<K: Resource>(object: &K) -> Key {
    let meta = object.meta();
    (meta.namespace.clone(), meta.name.clone(), meta.uid.clone())
}

/// The trigger decisions for one watch stream.
#[derive(Debug)]
pub(crate) struct Triggers<T> {
    seen: HashMap<Key, T>,
}

impl<T> Default for Triggers<T> {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
        }
    }
}

impl<T: Trigger> Triggers<T> {
    /// The object `event` should trigger a reconcile for, if any.
    pub(crate) fn decide<K: Resource>(&mut self, event: watcher::Event<K>) -> Option<K> {
        match event {
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                let next = T::of(&object);
                let worth = match self.seen.entry(key(&object)) {
                    Entry::Occupied(mut entry) => {
                        let worth = next.worth(Some(entry.get()));
                        entry.insert(next);
                        worth
                    }
                    Entry::Vacant(entry) => {
                        let worth = next.worth(None);
                        entry.insert(next);
                        worth
                    }
                };
                worth.then_some(object)
            }
            watcher::Event::Delete(object) => {
                self.seen.remove(&key(&object));
                Some(object)
            }
            watcher::Event::Init | watcher::Event::InitDone => None,
        }
    }
}

/// `events` reduced to the objects worth a reconcile, judged by `T`.
pub(crate) fn filter<K, T, S>(events: S) -> impl Stream<Item = Result<K, watcher::Error>>
where
    K: Resource,
    T: Trigger,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut triggers = Triggers::<T>::default();
    events.filter_map(move |event| {
        future::ready(match event {
            Ok(event) => triggers.decide(event).map(Ok),
            Err(error) => Some(Err(error)),
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::crd::ARecord;

    fn record(generation: i64, finalizers: &[&str], deleting: bool) -> ARecord {
        let mut record: ARecord = serde_json::from_value(serde_json::json!({
            "apiVersion": "ddns.dev/v1alpha1",
            "kind": "ARecord",
            "metadata": {"name": "www", "namespace": "dns", "uid": "u1"},
            "spec": {"zoneRef": "example", "name": "www", "addresses": ["192.0.2.1"]},
        }))
        .unwrap();
        record.metadata.generation = Some(generation);
        record.metadata.finalizers = Some(finalizers.iter().map(ToString::to_string).collect());
        if deleting {
            record.metadata.deletion_timestamp =
                Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        }
        record
    }

    fn passes(triggers: &mut Triggers<RecordTrigger>, event: watcher::Event<ARecord>) -> bool {
        triggers.decide(event).is_some()
    }

    #[test]
    fn a_record_gaining_the_finalizer_does_not_trigger_and_losing_it_does() {
        let mut t = Triggers::<RecordTrigger>::default();
        assert!(passes(
            &mut t,
            watcher::Event::InitApply(record(1, &[], false))
        ));
        assert!(!passes(
            &mut t,
            watcher::Event::Apply(record(1, &[FINALIZER], false))
        ));
        // A status write or another controller's finalizer: nothing.
        assert!(!passes(
            &mut t,
            watcher::Event::Apply(record(1, &[FINALIZER, "x/y"], false))
        ));
        // Someone took the operator's finalizer off.
        assert!(passes(
            &mut t,
            watcher::Event::Apply(record(1, &["x/y"], false))
        ));
        assert!(passes(
            &mut t,
            watcher::Event::Apply(record(2, &["x/y"], false))
        ));
        assert!(passes(
            &mut t,
            watcher::Event::Apply(record(2, &["x/y"], true))
        ));
    }

    #[test]
    fn a_deletion_triggers_even_when_nothing_else_changed() {
        let mut t = Triggers::<RecordTrigger>::default();
        assert!(passes(&mut t, watcher::Event::Apply(record(1, &[], false))));
        assert!(!passes(
            &mut t,
            watcher::Event::Apply(record(1, &[], false))
        ));
        assert!(passes(
            &mut t,
            watcher::Event::Delete(record(1, &[], false))
        ));
        // Seen again after the deletion: a new object.
        assert!(passes(&mut t, watcher::Event::Apply(record(1, &[], false))));
    }

    #[test]
    fn a_zone_gaining_its_finalizer_triggers() {
        let mut t = Triggers::<ZoneTrigger>::default();
        let first = record(1, &[], false);
        let with = record(1, &[FINALIZER], false);
        assert!(t.decide(watcher::Event::Apply(first.clone())).is_some());
        assert!(t.decide(watcher::Event::Apply(first)).is_none());
        assert!(t.decide(watcher::Event::Apply(with)).is_some());
        assert!(t.decide(watcher::Event::<ARecord>::Init).is_none());
        assert!(t.decide(watcher::Event::<ARecord>::InitDone).is_none());
    }
}
