//! Patch bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
//! strategic merge patch read as a merge patch, and server-side apply.

use serde_json::Value;

use crate::status::ApiError;

/// The patch strategies, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    pub(crate) fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let mime = content_type
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or_default();
        match mime {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
            ))),
        }
    }
}

/// Applies a merge patch in place (`null` removes a key; lists are replaced).
pub(crate) fn merge(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

/// Applies a strategic merge patch as a merge patch. Lists are replaced
/// whole, not merged by key, and `$patch`-style directives are refused
/// rather than misread.
pub(crate) fn strategic(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    if let Some(directive) = find_directive(patch) {
        return Err(ApiError::bad_request(format!(
            "ddns-kube-fake reads strategic merge patches as merge patches and does not implement the {directive:?} directive"
        )));
    }
    merge(doc, patch);
    Ok(())
}

fn find_directive(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.starts_with('$') {
                Some(k.clone())
            } else {
                find_directive(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(find_directive),
        _ => None,
    }
}

/// Applies a JSON patch to a copy of `doc`, all or nothing.
///
/// As in the API server (which uses evanphx/json-patch), a `test` of a
/// missing path against `null` passes: kube's `finalizer()` relies on this
/// with `test /metadata/finalizers == null` on an object without finalizers.
pub(crate) fn json(doc: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
    let mut out = doc.clone();
    for op in &ops.0 {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && out.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(&mut out, std::slice::from_ref(op))
            .map_err(|e| ApiError::patch_rejected(&e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json")),
            Ok(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/json-patch+json; charset=utf-8")),
            Ok(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/json")).map_err(|e| e.code),
            Err(415)
        );
    }

    #[test]
    fn json_patch_test_null_on_missing_path_passes() {
        let doc = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
        ]);
        let out = json(&doc, &patch).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["x"]));
    }

    #[test]
    fn json_patch_failed_test_is_422_and_changes_nothing() {
        let doc = json!({"metadata": {"finalizers": ["other"]}});
        let patch = json!([
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
        ]);
        let err = json(&doc, &patch).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(err.reason, "Invalid");
        assert!(err.to_status().to_string().contains("/metadata/finalizers"));
    }

    #[test]
    fn strategic_directives_are_refused() {
        let mut doc = json!({"spec": {}});
        let err = strategic(&mut doc, &json!({"spec": {"$patch": "replace"}})).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("$patch"));
    }
}
