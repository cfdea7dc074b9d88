//! Schema polish for Kubernetes: integer formats the API server knows.
//!
//! schemars writes `format: uint8`, `uint16` or `uint32` for unsigned
//! fields. OpenAPI 3.0, which CRD schemas follow, has no such formats, and
//! API servers since 1.34 answer every CRD that uses them with an
//! "unrecognized format" warning. The transform here rewrites them to
//! `int32` or `int64` and writes the type's range as `minimum` and
//! `maximum` where the field does not set a narrower one, so the API server
//! still refuses any value the Rust type cannot hold.

use schemars::Schema;
use serde_json::{Map, Value};

/// Rewrites unsigned integer formats in `schema` and every schema inside
/// it (used as `#[schemars(transform = ...)]` on the specs and statuses).
pub(crate) fn kubernetes_integers(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut() {
        rewrite(object);
    }
}

const I32_MAX: u64 = i32::MAX as u64;

fn rewrite(object: &mut Map<String, Value>) {
    let unsigned_max = match object.get("format").and_then(Value::as_str) {
        Some("uint8") => Some(u64::from(u8::MAX)),
        Some("uint16") => Some(u64::from(u16::MAX)),
        Some("uint32" | "uint") => Some(u64::from(u32::MAX)),
        Some("uint64") => Some(i64::MAX as u64),
        _ => None,
    };
    if let Some(type_max) = unsigned_max {
        let max = match object.get("maximum").and_then(Value::as_f64) {
            // The field's own bound, when narrower than the type's.
            Some(set) if set >= 0.0 && set < type_max as f64 => set as u64,
            _ => type_max,
        };
        let format = if max <= I32_MAX { "int32" } else { "int64" };
        object.insert("format".into(), Value::from(format));
        object.insert("maximum".into(), Value::from(max));
        if object
            .get("minimum")
            .and_then(Value::as_f64)
            .is_none_or(|m| m < 0.0)
        {
            object.insert("minimum".into(), Value::from(0));
        }
    }
    for key in ["properties", "$defs", "definitions"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(visit);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = object.get_mut(key) {
            visit(child);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            children.iter_mut().for_each(visit);
        }
    }
}

fn visit(value: &mut Value) {
    match value {
        Value::Object(object) => rewrite(object),
        // `items` may be a list of schemas.
        Value::Array(items) => items.iter_mut().for_each(visit),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transformed(value: Value) -> Value {
        let mut schema = Schema::try_from(value).unwrap_or_default();
        kubernetes_integers(&mut schema);
        schema.as_value().clone()
    }

    #[test]
    fn unsigned_formats_become_int32_or_int64_with_their_range() {
        let out = transformed(json!({
            "type": "object",
            "properties": {
                "flags": {"type": "integer", "format": "uint8", "minimum": 0},
                "port": {"type": "integer", "format": "uint16", "minimum": 1, "maximum": 65535},
                "ttl": {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2147483647},
                "serial": {"type": "integer", "format": "uint32", "minimum": 0},
                "list": {"type": "array", "items": {"type": "integer", "format": "uint16"}},
                "generation": {"type": "integer", "format": "int64"},
            }
        }));
        let p = &out["properties"];
        assert_eq!(
            p["flags"],
            json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": 255})
        );
        assert_eq!(p["port"]["format"], "int32");
        assert_eq!(p["port"]["minimum"], 1);
        assert_eq!(p["port"]["maximum"], 65535);
        assert_eq!(p["ttl"]["format"], "int32");
        assert_eq!(p["ttl"]["maximum"], 2_147_483_647);
        assert_eq!(
            p["serial"],
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295_u64})
        );
        assert_eq!(p["list"]["items"]["format"], "int32");
        assert_eq!(p["list"]["items"]["maximum"], 65535);
        assert_eq!(
            p["generation"],
            json!({"type": "integer", "format": "int64"})
        );
    }

    #[test]
    fn no_crd_keeps_an_unsigned_format() {
        for crd in crate::crd::all() {
            let text = serde_json::to_string(&crd).unwrap_or_default();
            for format in ["uint8", "uint16", "uint32", "uint64", "\"uint\""] {
                assert!(
                    !text.contains(format),
                    "{}: {format} left in the schema",
                    crd.metadata.name.unwrap_or_default()
                );
            }
            assert!(!text.contains("Auto-generated"), "{text}");
        }
    }
}
