//! Rules the API server applies to each object it stores: type and
//! identity checks, optimistic concurrency, system metadata, generation and
//! normalisation.

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};

use crate::resource::ResourceKind;
use crate::status::ApiError;

/// Fills in `apiVersion` and `kind`, or refuses ones that do not match.
pub(crate) fn check_type_meta(object: &mut Value, kind: &ResourceKind) -> Result<(), ApiError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body of the request was not a JSON object"))?;
    for (field, want) in [("apiVersion", kind.api_version()), ("kind", kind.kind())] {
        match map.get(field).and_then(Value::as_str) {
            None | Some("") => {
                map.insert(field.into(), want.into());
            }
            Some(got) if got == want => {}
            Some(got) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} in the data ({got}) does not match the expected {field} ({want})"
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body of the request was not a JSON object"))?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be a JSON object"))
}

pub(crate) fn check_namespace(
    meta: &mut Map<String, Value>,
    kind: &ResourceKind,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    match namespace {
        Some(ns) if kind.is_namespaced() => {
            match meta.get("namespace").and_then(Value::as_str) {
                None | Some("") => {}
                Some(got) if got == ns => {}
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
            meta.insert("namespace".into(), ns.into());
        }
        _ => {
            meta.remove("namespace");
        }
    }
    Ok(())
}

/// Refuses a patch that renames, moves or retypes the object.
pub(crate) fn check_identity(
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
    current: &Value,
    patched: &Value,
) -> Result<(), ApiError> {
    if patched.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            patched
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )));
    }
    if kind.is_namespaced()
        && patched
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            != namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    for field in ["/apiVersion", "/kind"] {
        if patched.pointer(field) != current.pointer(field) {
            return Err(ApiError::bad_request(format!(
                "{} cannot be changed by a patch",
                field.trim_start_matches('/')
            )));
        }
    }
    Ok(())
}

/// Optimistic concurrency: a `resourceVersion` in the new object must be
/// the stored one.
pub(crate) fn check_precondition(
    kind: &ResourceKind,
    name: &str,
    current: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    let wanted = new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    let stored = current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    match wanted {
        Some(rv) if !rv.is_empty() && Some(rv) != stored => {
            Err(ApiError::stale(&kind.group_resource(), name))
        }
        _ => Ok(()),
    }
}

pub(crate) fn set_field(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = object.as_object_mut() {
        match value {
            Some(v) => map.insert(field.into(), v),
            None => map.remove(field),
        };
    }
}

pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The part of an object whose changes bump `metadata.generation`:
/// everything but metadata, and but status when it is a subresource.
pub(crate) fn spec_view(object: &Value, kind: &ResourceKind) -> Value {
    let mut view = object.clone();
    if let Some(map) = view.as_object_mut() {
        map.remove("metadata");
        if kind.has_status_subresource() {
            map.remove("status");
        }
    }
    view
}

pub(crate) fn bump_generation(object: &mut Value) -> Result<(), ApiError> {
    let meta = metadata_mut(object)?;
    let generation = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
    meta.insert("generation".into(), (generation + 1).into());
    Ok(())
}

/// What the server does to every stored object: empty metadata lists and
/// maps are dropped (Go's `omitempty`), and a Secret's `stringData` is
/// folded into `data`.
pub(crate) fn normalize(object: &mut Value, kind: &ResourceKind) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
    }
    if kind.api_version() == "v1"
        && kind.kind() == "Secret"
        && let Some(map) = object.as_object_mut()
        && let Some(Value::Object(string_data)) = map.remove("stringData")
    {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if data.is_null() {
            *data = Value::Object(Map::new());
        }
        if let Some(data) = data.as_object_mut() {
            for (key, value) in string_data {
                if let Some(text) = value.as_str()
                    && let Ok(encoded) = serde_json::to_value(ByteString(text.as_bytes().to_vec()))
                {
                    data.insert(key, encoded);
                }
            }
        }
    }
}

pub(crate) fn now() -> Value {
    serde_json::to_value(Time(Timestamp::now())).unwrap_or(Value::Null)
}

/// A UUID-shaped uid, unique in this fake and stable across runs.
pub(crate) fn uid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The five characters `generateName` appends, from the server's alphabet.
pub(crate) fn suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = n.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..5)
        .map(|_| {
            let c = ALPHABET.get((x % 27) as usize).copied().unwrap_or(b'x');
            x /= 27;
            char::from(c)
        })
        .collect()
}
