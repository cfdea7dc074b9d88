//! A small model of server-side apply, enough for clients such as
//! kube-lease-manager that take a lock by applying fields another manager
//! must not silently overwrite.
//!
//! Fields are the leaves of the object (scalars, lists as a whole, empty
//! maps) outside `apiVersion`, `kind` and `metadata`, plus
//! `metadata.labels` and `metadata.annotations`. Each field manager owns the
//! fields it last applied and the fields it last changed with another write.
//! An apply that would change a field owned by another manager fails with a
//! `409 Conflict` unless forced; fields a manager stops applying are removed
//! unless someone else owns them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::status::ApiError;

type FieldPath = Vec<String>;

/// Who owns which fields of one object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ownership {
    managers: BTreeMap<String, Owned>,
}

#[derive(Debug, Clone, Default)]
struct Owned {
    applied: BTreeSet<FieldPath>,
    updated: BTreeSet<FieldPath>,
}

impl Owned {
    fn owns(&self, path: &FieldPath) -> bool {
        self.applied.contains(path) || self.updated.contains(path)
    }

    fn forget(&mut self, path: &FieldPath) {
        self.applied.remove(path);
        self.updated.remove(path);
    }
}

impl Ownership {
    /// Records a write that is not an apply: `manager` takes the fields it
    /// changed, and fields that disappeared belong to no one.
    pub(crate) fn record_update(&mut self, old: Option<&Value>, new: &Value, manager: &str) {
        let old_leaves = old.map(leaves).unwrap_or_default();
        let new_leaves = leaves(new);
        for (path, value) in &new_leaves {
            if old_leaves.get(path) != Some(value) {
                for owned in self.managers.values_mut() {
                    owned.forget(path);
                }
                self.managers
                    .entry(manager.to_owned())
                    .or_default()
                    .updated
                    .insert(path.clone());
            }
        }
        for path in old_leaves.keys() {
            if !new_leaves.contains_key(path) {
                self.forget_everywhere(path);
            }
        }
        self.managers
            .retain(|_, o| !o.applied.is_empty() || !o.updated.is_empty());
    }

    fn forget_everywhere(&mut self, path: &FieldPath) {
        for owned in self.managers.values_mut() {
            owned.forget(path);
        }
    }

    /// Applies `config` for `manager` to `current` (absent: a new object
    /// built from `skeleton`), returning the new object or the conflicts.
    pub(crate) fn apply(
        &mut self,
        current: Option<&Value>,
        skeleton: Value,
        config: &Value,
        manager: &str,
        force: bool,
        api_version: &str,
    ) -> Result<Value, ApiError> {
        let config_leaves = leaves(config);
        let current_leaves = current.map(leaves).unwrap_or_default();
        let mut conflicts = Vec::new();
        let mut contested = Vec::new();
        for (path, value) in &config_leaves {
            if current_leaves.get(path).is_some_and(|v| v != value) {
                for (other, owned) in &self.managers {
                    if other != manager && owned.owns(path) {
                        conflicts.push((other.clone(), dotted(path)));
                        contested.push(path.clone());
                    }
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(ApiError::apply_conflicts(&conflicts, api_version));
        }
        let mut object = current.cloned().unwrap_or(skeleton);
        let previously_applied = self
            .managers
            .get(manager)
            .map(|o| o.applied.clone())
            .unwrap_or_default();
        for path in previously_applied {
            if config_leaves.contains_key(&path) {
                continue;
            }
            let owned_elsewhere = self.managers.iter().any(|(m, o)| {
                (m != manager && o.owns(&path)) || (m == manager && o.updated.contains(&path))
            });
            if !owned_elsewhere {
                remove_path(&mut object, &path);
                self.forget_everywhere(&path);
            }
        }
        for path in &contested {
            for (other, owned) in self.managers.iter_mut() {
                if other != manager {
                    owned.forget(path);
                }
            }
        }
        crate::patch::merge(&mut object, &strip_type_meta(config));
        let entry = self.managers.entry(manager.to_owned()).or_default();
        entry.applied = config_leaves.into_keys().collect();
        for path in &entry.applied {
            entry.updated.remove(path);
        }
        self.managers
            .retain(|_, o| !o.applied.is_empty() || !o.updated.is_empty());
        Ok(object)
    }
}

/// The apply configuration without the fields the server owns.
fn strip_type_meta(config: &Value) -> Value {
    let mut out = config.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| k == "labels" || k == "annotations");
        }
    }
    out
}

/// `.spec.holderIdentity`, as in the server's conflict messages.
fn dotted(path: &FieldPath) -> String {
    path.iter().map(|p| format!(".{p}")).collect()
}

/// The managed leaves of an object and their values.
fn leaves(object: &Value) -> BTreeMap<FieldPath, Value> {
    let mut out = BTreeMap::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for sub in ["labels", "annotations"] {
                    if let Some(v) = value.get(sub) {
                        collect(v, &mut vec!["metadata".into(), sub.into()], &mut out);
                    }
                }
            }
            _ => collect(value, &mut vec![key.clone()], &mut out),
        }
    }
    out
}

fn collect(value: &Value, path: &mut FieldPath, out: &mut BTreeMap<FieldPath, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                collect(child, path, out);
                path.pop();
            }
        }
        Value::Null => {}
        other => {
            out.insert(path.clone(), other.clone());
        }
    }
}

fn remove_path(object: &mut Value, path: &FieldPath) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = object;
    for key in parents {
        match cursor.get_mut(key) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Some(map) = cursor.as_object_mut() {
        map.remove(last);
    }
}

/// An empty map, for skeleton objects.
pub(crate) fn empty() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lease(holder: Option<&str>) -> Value {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
               "spec": {"holderIdentity": holder}})
    }

    #[test]
    fn apply_over_another_managers_field_conflicts() {
        let mut own = Ownership::default();
        let a = own
            .apply(
                None,
                lease(None),
                &lease(Some("a")),
                "mgr-a",
                false,
                "coordination.k8s.io/v1",
            )
            .unwrap();
        assert_eq!(a["spec"]["holderIdentity"], "a");
        let err = own
            .apply(
                Some(&a),
                empty(),
                &lease(Some("b")),
                "mgr-b",
                false,
                "coordination.k8s.io/v1",
            )
            .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.reason, "Conflict");
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"mgr-a\" using coordination.k8s.io/v1: .spec.holderIdentity"
        );
        // Same value: shared, no conflict.
        own.apply(
            Some(&a),
            empty(),
            &lease(Some("a")),
            "mgr-b",
            false,
            "coordination.k8s.io/v1",
        )
        .unwrap();
        // Forced: taken over.
        let b = own
            .apply(
                Some(&a),
                empty(),
                &lease(Some("b")),
                "mgr-b",
                true,
                "coordination.k8s.io/v1",
            )
            .unwrap();
        assert_eq!(b["spec"]["holderIdentity"], "b");
    }

    #[test]
    fn removed_fields_belong_to_no_one() {
        let mut own = Ownership::default();
        let a = own
            .apply(None, lease(None), &lease(Some("a")), "mgr-a", false, "v")
            .unwrap();
        let mut released = a.clone();
        released["spec"] = json!({});
        own.record_update(Some(&a), &released, "mgr-a");
        let b = own
            .apply(
                Some(&released),
                empty(),
                &lease(Some("b")),
                "mgr-b",
                false,
                "v",
            )
            .unwrap();
        assert_eq!(b["spec"]["holderIdentity"], "b");
    }

    #[test]
    fn fields_no_longer_applied_are_removed() {
        let mut own = Ownership::default();
        let first = json!({"spec": {"a": 1, "b": 2}});
        let obj = own.apply(None, empty(), &first, "m", false, "v").unwrap();
        let obj = own
            .apply(
                Some(&obj),
                empty(),
                &json!({"spec": {"a": 1}}),
                "m",
                false,
                "v",
            )
            .unwrap();
        assert_eq!(obj, json!({"spec": {"a": 1}}));
    }
}
