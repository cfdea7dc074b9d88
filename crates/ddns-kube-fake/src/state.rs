//! The object store: objects, the global resourceVersion, the change history
//! that watches replay, reads, and the test hooks' direct writes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::apply::Ownership;
use crate::log::RequestLog;
use crate::object::{normalize, now, uid};
use crate::resource::{Registry, ResourceKind};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::write::DEFAULT_MANAGER;
use crate::{Error, Result};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// The object was created.
    Added,
    /// The object was changed (including being marked for deletion).
    Modified,
    /// The object was removed.
    Deleted,
}

impl ChangeType {
    fn watch_type(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One stored change: each one bumped the global resourceVersion.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Change {
    /// The resourceVersion the change was stored at.
    pub resource_version: u64,
    /// What happened.
    pub change_type: ChangeType,
    /// `v1` or `group/version`.
    pub api_version: String,
    /// The plural resource name.
    pub resource: String,
    /// The namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The object name.
    pub name: String,
    /// The object after the change (for `Deleted`, its last state).
    pub object: Value,
    previous: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    api_version: String,
    plural: String,
    namespace: String,
    name: String,
}

impl ObjectKey {
    pub(crate) fn new(kind: &ResourceKind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            api_version: kind.api_version().to_owned(),
            plural: kind.plural().to_owned(),
            namespace: namespace.unwrap_or_default().to_owned(),
            name: name.to_owned(),
        }
    }

    fn namespace(&self) -> Option<String> {
        (!self.namespace.is_empty()).then(|| self.namespace.clone())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) object: Value,
    pub(crate) ownership: Ownership,
}

/// Which objects a list or watch sees.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) api_version: String,
    pub(crate) plural: String,
    pub(crate) namespace: Option<String>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Filter {
    fn covers(&self, api_version: &str, plural: &str, namespace: &str) -> bool {
        self.api_version == api_version
            && self.plural == plural
            && self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }

    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

/// The whole server state, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) registry: Registry,
    pub(crate) log: RequestLog,
    pub(crate) objects: BTreeMap<ObjectKey, Stored>,
    history: Vec<Change>,
    rv: u64,
    compacted: u64,
    /// Objects created so far: numbers uids and generated names.
    pub(crate) created: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            registry: Registry::with_builtins(),
            log: RequestLog::default(),
            objects: BTreeMap::new(),
            history: Vec::new(),
            rv: 0,
            compacted: 0,
            created: 0,
        }
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    pub(crate) fn oldest_valid(&self) -> u64 {
        self.compacted
    }

    pub(crate) fn history(&self) -> &[Change] {
        &self.history
    }

    /// Expires every resourceVersion handed out so far: the counter moves on
    /// and watches from an older version get `410 Expired`.
    pub(crate) fn compact(&mut self) {
        self.rv += 1;
        self.compacted = self.rv;
    }

    pub(crate) fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub(crate) fn record(
        &mut self,
        change_type: ChangeType,
        key: &ObjectKey,
        object: Value,
        previous: Option<Value>,
    ) {
        self.history.push(Change {
            resource_version: self.rv,
            change_type,
            api_version: key.api_version.clone(),
            resource: key.plural.clone(),
            namespace: key.namespace(),
            name: key.name.clone(),
            object,
            previous,
        });
    }

    pub(crate) fn stored(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<&Stored, ApiError> {
        self.objects
            .get(&ObjectKey::new(kind, namespace, name))
            .ok_or_else(|| ApiError::not_found(&kind.group_resource(), name))
    }

    pub(crate) fn get(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.stored(kind, namespace, name).map(|s| s.object.clone())
    }

    /// Objects the filter selects, in key order (namespace, then name).
    pub(crate) fn select(&self, filter: &Filter) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, s)| {
                filter.covers(&k.api_version, &k.plural, &k.namespace) && filter.selects(&s.object)
            })
            .map(|(_, s)| s.object.clone())
            .collect()
    }

    pub(crate) fn list_body(&self, kind: &ResourceKind, items: Vec<Value>) -> Value {
        json!({
            "kind": format!("{}List", kind.kind()),
            "apiVersion": kind.api_version(),
            "metadata": { "resourceVersion": self.rv.to_string() },
            "items": items,
        })
    }

    /// Watch events after `cursor` that the filter sees, and the new cursor.
    ///
    /// An object that starts or stops matching the selectors is reported as
    /// `ADDED` or `DELETED`, as the API server's watch cache does.
    pub(crate) fn events_since(&self, filter: &Filter, cursor: u64) -> (Vec<Value>, u64) {
        let start = self
            .history
            .partition_point(|c| c.resource_version <= cursor);
        let mut events = Vec::new();
        for change in self.history.get(start..).unwrap_or_default() {
            let namespace = change.namespace.as_deref().unwrap_or_default();
            if !filter.covers(&change.api_version, &change.resource, namespace) {
                continue;
            }
            let now = filter.selects(&change.object);
            let before = change.previous.as_ref().is_some_and(|p| filter.selects(p));
            let event_type = match (change.change_type, before, now) {
                (ChangeType::Added, _, true) | (ChangeType::Modified, false, true) => {
                    ChangeType::Added
                }
                (ChangeType::Modified, true, true) => ChangeType::Modified,
                (ChangeType::Modified, true, false) | (ChangeType::Deleted, _, true) => {
                    ChangeType::Deleted
                }
                _ => continue,
            };
            events.push(watch_event(event_type, &change.object));
        }
        (events, self.rv)
    }

    /// The `insert` test hook: stores an object as given (status and
    /// deletionTimestamp included), filling in what the server would set.
    pub(crate) fn insert(&mut self, mut object: Value) -> Result<Value> {
        let api_version = type_field(&object, "apiVersion")?;
        let kind_name = type_field(&object, "kind")?;
        let kind = self
            .registry
            .by_kind(&api_version, &kind_name)
            .cloned()
            .ok_or_else(|| Error::UnknownKind {
                api_version: api_version.clone(),
                kind: kind_name.clone(),
            })?;
        let meta = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::InvalidObject {
                reason: "metadata is missing".into(),
            })?;
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::InvalidObject {
                reason: "metadata.name is missing".into(),
            })?;
        let namespace = if kind.is_namespaced() {
            let ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned();
            meta.insert("namespace".into(), ns.clone().into());
            Some(ns)
        } else {
            meta.remove("namespace");
            None
        };
        let key = ObjectKey::new(&kind, namespace.as_deref(), &name);
        let previous = self.objects.get(&key).map(|s| s.object.clone());
        normalize(&mut object, &kind);
        if previous.is_none() {
            self.created += 1;
        }
        let rv = self.next_rv();
        let created = self.created;
        let meta = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::InvalidObject {
                reason: "metadata is missing".into(),
            })?;
        let old_meta = previous.as_ref().and_then(|p| p.get("metadata"));
        for (field, fallback) in [
            ("uid", Value::from(uid(created))),
            ("creationTimestamp", now()),
            ("generation", 1.into()),
        ] {
            if !meta.contains_key(field) {
                let value = old_meta
                    .and_then(|m| m.get(field))
                    .cloned()
                    .unwrap_or(fallback);
                meta.insert(field.into(), value);
            }
        }
        meta.insert("resourceVersion".into(), rv.to_string().into());
        let mut ownership = Ownership::default();
        if kind.accepts_server_side_apply() {
            ownership.record_update(previous.as_ref(), &object, DEFAULT_MANAGER);
        }
        self.objects.insert(
            key.clone(),
            Stored {
                object: object.clone(),
                ownership,
            },
        );
        let change_type = if previous.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(change_type, &key, object.clone(), previous);
        Ok(object)
    }

    /// The `remove` test hook: deletes an object outright, finalizers or not.
    pub(crate) fn remove(
        &mut self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = ObjectKey {
            api_version: api_version.to_owned(),
            plural: plural.to_owned(),
            namespace: namespace.unwrap_or_default().to_owned(),
            name: name.to_owned(),
        };
        let old = self.objects.remove(&key)?.object;
        let rv = self.next_rv();
        let mut last = old.clone();
        if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), rv.to_string().into());
        }
        self.record(ChangeType::Deleted, &key, last.clone(), Some(old));
        Some(last)
    }

    pub(crate) fn lookup(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = ObjectKey {
            api_version: api_version.to_owned(),
            plural: plural.to_owned(),
            namespace: namespace.unwrap_or_default().to_owned(),
            name: name.to_owned(),
        };
        self.objects.get(&key).map(|s| s.object.clone())
    }

    pub(crate) fn lookup_all(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| {
                k.api_version == api_version
                    && k.plural == plural
                    && namespace.is_none_or(|ns| ns == k.namespace)
            })
            .map(|(_, s)| s.object.clone())
            .collect()
    }
}

/// A watch event line's JSON.
pub(crate) fn watch_event(change_type: ChangeType, object: &Value) -> Value {
    json!({ "type": change_type.watch_type(), "object": object })
}

fn type_field(object: &Value, field: &str) -> Result<String> {
    object
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidObject {
            reason: format!("{field} is missing"),
        })
}
