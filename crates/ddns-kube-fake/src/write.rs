//! Writes: create, replace, patch, apply and delete, with the server's
//! rules for status, generation, finalizers and no-op writes.

use serde_json::{Value, json};

use crate::apply::{self, Ownership};
use crate::object::{
    bump_generation, check_identity, check_namespace, check_precondition, check_type_meta,
    finalizers, metadata_mut, normalize, now, set_field, spec_view, suffix, uid,
};
use crate::patch::{self, PatchType};
use crate::resource::ResourceKind;
use crate::state::{ChangeType, Filter, ObjectKey, State, Stored};
use crate::status::ApiError;

/// The field manager of writes that name none.
pub(crate) const DEFAULT_MANAGER: &str = "unknown";

enum Write<'a> {
    Update(&'a str),
    Apply(Ownership),
}

impl State {
    /// `POST`: creates an object.
    pub(crate) fn create(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let mut object = body;
        check_type_meta(&mut object, kind)?;
        let meta = metadata_mut(&mut object)?;
        check_namespace(meta, kind, namespace)?;
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        for key in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(key);
        }
        let name = match meta.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    let name = format!("{prefix}{}", suffix(self.created));
                    meta.insert("name".into(), name.clone().into());
                    name
                }
                _ => {
                    return Err(ApiError::invalid(
                        &kind.group_resource(),
                        "",
                        "metadata.name",
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                    ));
                }
            },
        };
        if kind.has_status_subresource()
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        let mut ownership = Ownership::default();
        if kind.accepts_server_side_apply() {
            ownership.record_update(None, &object, manager);
        }
        self.store_new(kind, namespace, &name, object, ownership)
    }

    fn store_new(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
        ownership: Ownership,
    ) -> Result<Value, ApiError> {
        let key = ObjectKey::new(kind, namespace, name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&kind.group_resource(), name));
        }
        normalize(&mut object, kind);
        self.created += 1;
        let rv = self.next_rv();
        let meta = metadata_mut(&mut object)?;
        meta.insert("uid".into(), uid(self.created).into());
        meta.insert("creationTimestamp".into(), now());
        meta.insert("generation".into(), 1.into());
        meta.insert("resourceVersion".into(), rv.to_string().into());
        self.objects.insert(
            key.clone(),
            Stored {
                object: object.clone(),
                ownership,
            },
        );
        self.record(ChangeType::Added, &key, object.clone(), None);
        Ok(object)
    }

    /// `PUT`: replaces an object (or only its status, for `/status`).
    pub(crate) fn replace(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        status_only: bool,
        mut body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let current = self.stored(kind, namespace, name)?.object.clone();
        check_type_meta(&mut body, kind)?;
        let meta = metadata_mut(&mut body)?;
        check_namespace(meta, kind, namespace)?;
        match meta.get("name").and_then(Value::as_str) {
            Some(n) if n == name => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    other.unwrap_or_default()
                )));
            }
        }
        check_precondition(kind, name, &current, &body)?;
        self.commit(
            kind,
            namespace,
            name,
            body,
            status_only,
            Write::Update(manager),
        )
    }

    /// `PATCH`: patches an object (or only its status, for `/status`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn patch(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        status_only: bool,
        patch_type: PatchType,
        body: &Value,
        manager: Option<&str>,
        force: bool,
    ) -> Result<Value, ApiError> {
        if patch_type == PatchType::Apply {
            return self.apply(kind, namespace, name, status_only, body, manager, force);
        }
        let manager = manager.unwrap_or(DEFAULT_MANAGER);
        let current = self.stored(kind, namespace, name)?.object.clone();
        let patched = if patch_type == PatchType::Json {
            patch::json(&current, body)?
        } else {
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let mut doc = current.clone();
            if patch_type == PatchType::Strategic {
                patch::strategic(&mut doc, body)?;
            } else {
                patch::merge(&mut doc, body);
            }
            doc
        };
        check_identity(kind, namespace, name, &current, &patched)?;
        check_precondition(kind, name, &current, &patched)?;
        self.commit(
            kind,
            namespace,
            name,
            patched,
            status_only,
            Write::Update(manager),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        status_only: bool,
        body: &Value,
        manager: Option<&str>,
        force: bool,
    ) -> Result<Value, ApiError> {
        if !kind.accepts_server_side_apply() {
            let gr = kind.group_resource();
            return Err(ApiError::unsupported_media_type(format!(
                "ddns-kube-fake does not implement server-side apply (application/apply-patch+yaml) for {}{}{}; use a merge or JSON patch, or register the kind with ResourceKind::with_server_side_apply()",
                gr.plural,
                if gr.group.is_empty() { "" } else { "." },
                gr.group
            )));
        }
        let Some(manager) = manager.filter(|m| !m.is_empty()) else {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        };
        let mut config = body.clone();
        check_type_meta(&mut config, kind)?;
        let key = ObjectKey::new(kind, namespace, name);
        match self.objects.get(&key) {
            Some(stored) => {
                let current = stored.object.clone();
                let mut ownership = stored.ownership.clone();
                let patched = ownership.apply(
                    Some(&current),
                    apply::empty(),
                    &config,
                    manager,
                    force,
                    kind.api_version(),
                )?;
                check_identity(kind, namespace, name, &current, &patched)?;
                self.commit(
                    kind,
                    namespace,
                    name,
                    patched,
                    status_only,
                    Write::Apply(ownership),
                )
            }
            None => {
                let mut skeleton = json!({
                    "apiVersion": kind.api_version(),
                    "kind": kind.kind(),
                    "metadata": { "name": name },
                });
                if let (Some(ns), Some(meta)) = (
                    namespace,
                    skeleton.get_mut("metadata").and_then(Value::as_object_mut),
                ) {
                    meta.insert("namespace".into(), ns.into());
                }
                let mut ownership = Ownership::default();
                let object =
                    ownership.apply(None, skeleton, &config, manager, force, kind.api_version())?;
                self.store_new(kind, namespace, name, object, ownership)
            }
        }
    }

    /// Stores an updated object with the server's rules for system fields,
    /// status, generation, finalizers and no-op writes.
    fn commit(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        candidate: Value,
        status_only: bool,
        write: Write<'_>,
    ) -> Result<Value, ApiError> {
        let key = ObjectKey::new(kind, namespace, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&kind.group_resource(), name))?;
        let old = stored.object.clone();
        let mut ownership = stored.ownership.clone();
        let mut new = if status_only {
            let mut new = old.clone();
            set_field(&mut new, "status", candidate.get("status").cloned());
            new
        } else {
            let mut new = candidate;
            if kind.has_status_subresource() {
                set_field(&mut new, "status", old.get("status").cloned());
            }
            new
        };
        set_field(&mut new, "apiVersion", old.get("apiVersion").cloned());
        set_field(&mut new, "kind", old.get("kind").cloned());
        {
            let old_meta = old
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let meta = metadata_mut(&mut new)?;
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "resourceVersion",
            ] {
                match old_meta.get(field) {
                    Some(v) => meta.insert(field.into(), v.clone()),
                    None => meta.remove(field),
                };
            }
        }
        normalize(&mut new, kind);
        let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
        if deleting {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    &kind.group_resource(),
                    name,
                    "metadata.finalizers",
                    "FieldValueForbidden",
                    &format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                ));
            }
        }
        if spec_view(&old, kind) != spec_view(&new, kind) {
            bump_generation(&mut new)?;
        }
        if new == old {
            return Ok(old);
        }
        match write {
            Write::Update(manager) => {
                if kind.accepts_server_side_apply() {
                    ownership.record_update(Some(&old), &new, manager);
                }
            }
            Write::Apply(applied) => ownership = applied,
        }
        let rv = self.next_rv();
        metadata_mut(&mut new)?.insert("resourceVersion".into(), rv.to_string().into());
        if deleting && finalizers(&new).is_empty() {
            self.objects.remove(&key);
            self.record(ChangeType::Deleted, &key, new.clone(), Some(old));
            return Ok(new);
        }
        self.objects.insert(
            key.clone(),
            Stored {
                object: new.clone(),
                ownership,
            },
        );
        self.record(ChangeType::Modified, &key, new.clone(), Some(old));
        Ok(new)
    }

    /// `DELETE` of one object: immediate without finalizers, else marked
    /// with `deletionTimestamp` until the finalizers are gone.
    pub(crate) fn delete(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        options: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let key = ObjectKey::new(kind, namespace, name);
        let old = self.stored(kind, namespace, name)?.object.clone();
        if let Some(pre) = options.and_then(|o| o.get("preconditions")) {
            for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
                if let Some(want) = pre.get(field).and_then(Value::as_str) {
                    let have = old
                        .pointer(&format!("/metadata/{field}"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if want != have {
                        return Err(ApiError::conflict(
                            &kind.group_resource(),
                            name,
                            &format!(
                                "Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                            ),
                        ));
                    }
                }
            }
        }
        if !finalizers(&old).is_empty() {
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut new = old.clone();
            let rv = self.next_rv();
            bump_generation(&mut new)?;
            let meta = metadata_mut(&mut new)?;
            meta.insert("deletionTimestamp".into(), now());
            meta.insert("deletionGracePeriodSeconds".into(), 0.into());
            meta.insert("resourceVersion".into(), rv.to_string().into());
            if let Some(stored) = self.objects.get_mut(&key) {
                stored.object = new.clone();
            }
            self.record(ChangeType::Modified, &key, new.clone(), Some(old));
            return Ok(new);
        }
        let rv = self.next_rv();
        let mut last = old.clone();
        metadata_mut(&mut last)?.insert("resourceVersion".into(), rv.to_string().into());
        self.objects.remove(&key);
        self.record(ChangeType::Deleted, &key, last, Some(old.clone()));
        let gr = kind.group_resource();
        Ok(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": gr.group,
                "kind": gr.plural,
                "uid": old.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            },
        }))
    }

    /// `DELETE` of a collection: deletes what the filter selects and
    /// returns the list of objects as they were before.
    pub(crate) fn delete_collection(
        &mut self,
        kind: &ResourceKind,
        filter: &Filter,
        options: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let items = self.select(filter);
        for item in &items {
            let ns = item.pointer("/metadata/namespace").and_then(Value::as_str);
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.delete(kind, ns, name, options)?;
        }
        Ok(self.list_body(kind, items))
    }
}
