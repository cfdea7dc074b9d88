//! `metadata` checked as the API server checks it for a namespaced custom
//! resource: known fields only, a valid name and namespace, string labels
//! and annotations.

use serde_json::Value;

use super::DEFAULT_NAMESPACE;
use super::schema::{self, Violation};

/// The metadata fields the API server knows.
const METADATA_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// Checks `metadata` as the API server does for a namespaced object;
/// returns the name and namespace when they are valid.
pub(super) fn check_metadata(
    metadata: Option<&Value>,
    violations: &mut Vec<Violation>,
) -> (Option<String>, Option<String>) {
    let mut violation = |field: &str, reason: String| {
        violations.push(Violation {
            field: field.to_string(),
            reason,
        });
    };
    let metadata = match metadata {
        Some(Value::Object(metadata)) => metadata,
        None | Some(Value::Null) => {
            violation("metadata.name", "Required value".into());
            return (None, None);
        }
        Some(other) => {
            let what = schema::type_name(other);
            violation("metadata", format!("must be a mapping, not {what}"));
            return (None, None);
        }
    };
    for key in metadata.keys() {
        if !METADATA_FIELDS.contains(&key.as_str()) {
            violation(&format!("metadata.{key}"), "unknown field".into());
        }
    }
    let name = match metadata.get("name") {
        None | Some(Value::Null) => {
            let hint = if metadata.contains_key("generateName") {
                " (generateName is not enough here: records refer to zones by name)"
            } else {
                ""
            };
            violation("metadata.name", format!("Required value{hint}"));
            None
        }
        Some(Value::String(name)) => match dns_subdomain(name) {
            Ok(()) => Some(name.clone()),
            Err(reason) => {
                violation(
                    "metadata.name",
                    format!("Invalid value: \"{}\": {reason}", schema::shorten(name)),
                );
                None
            }
        },
        Some(other) => {
            let what = schema::type_name(other);
            violation("metadata.name", format!("must be a string, not {what}"));
            None
        }
    };
    let namespace = match metadata.get("namespace") {
        None | Some(Value::Null) => Some(DEFAULT_NAMESPACE.to_string()),
        Some(Value::String(namespace)) => match dns_label(namespace) {
            Ok(()) => Some(namespace.clone()),
            Err(reason) => {
                violation(
                    "metadata.namespace",
                    format!(
                        "Invalid value: \"{}\": {reason}",
                        schema::shorten(namespace)
                    ),
                );
                None
            }
        },
        Some(other) => {
            let what = schema::type_name(other);
            violation(
                "metadata.namespace",
                format!("must be a string, not {what}"),
            );
            None
        }
    };
    for map in ["labels", "annotations"] {
        match metadata.get(map) {
            None | Some(Value::Null) => {}
            Some(Value::Object(entries)) => {
                for (key, value) in entries {
                    if !value.is_string() {
                        let what = schema::type_name(value);
                        violation(
                            &format!("metadata.{map}.{key}"),
                            format!("must be a string, not {what} (quote it)"),
                        );
                    }
                }
            }
            Some(other) => {
                let what = schema::type_name(other);
                violation(
                    &format!("metadata.{map}"),
                    format!("must be a mapping, not {what}"),
                );
            }
        }
    }
    (name, namespace)
}

/// RFC 1123 label: what namespaces are.
fn dns_label(name: &str) -> Result<(), String> {
    const RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
    if name.is_empty() || name.len() > 63 {
        return Err(format!("must be 1 to 63 characters long; {RULE}"));
    }
    if !label_ok(name) {
        return Err(RULE.to_string());
    }
    Ok(())
}

/// RFC 1123 subdomain: what names of custom resources are.
fn dns_subdomain(name: &str) -> Result<(), String> {
    const RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    if name.is_empty() || name.len() > 253 {
        return Err(format!("must be 1 to 253 characters long; {RULE}"));
    }
    if !name.split('.').all(label_ok) {
        return Err(RULE.to_string());
    }
    Ok(())
}

fn label_ok(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}
