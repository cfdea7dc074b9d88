//! Checks an object against its CRD's structural schema, the way the API
//! server validates a custom resource before storing it: types, required
//! fields, unknown fields (strict field validation), enums, ranges,
//! lengths, item counts, patterns and the `ipv4` / `ipv6` formats.
//!
//! Messages follow the API server's wording (`Required value`,
//! `Unsupported value`, `Invalid value`) so that they read the same as
//! what `kubectl apply` would answer.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use regex::Regex;
use serde_json::Value;

/// One field that breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The field's path: `spec.soa.refresh`, `spec.addresses[1]`.
    pub(crate) field: String,
    /// What is wrong, in the API server's words.
    pub(crate) reason: String,
}

/// Checks values; keeps the compiled patterns.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    patterns: BTreeMap<String, Option<Regex>>,
}

impl Checker {
    /// Checks `value` at `path` against `schema`, adding what is wrong to
    /// `out`.
    pub(crate) fn check(
        &mut self,
        value: &Value,
        schema: &JSONSchemaProps,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let mut report = |reason: String| {
            out.push(Violation {
                field: path.to_string(),
                reason,
            });
        };
        if value.is_null() {
            if schema.nullable != Some(true)
                && let Some(expected) = &schema.type_
            {
                report(format!("Invalid value: null: must be of type {expected}"));
            }
            return;
        }
        if schema.x_kubernetes_int_or_string == Some(true) {
            if !(value.is_string() || is_integer(value)) {
                report(invalid(value, "must be an integer or a string"));
            }
            return;
        }
        if let Some(expected) = schema.type_.as_deref()
            && !has_type(value, expected)
        {
            return report(invalid(value, &format!("must be of type {expected}")));
        }
        if let Some(allowed) = &schema.enum_
            && !allowed.iter().any(|a| a.0 == *value)
        {
            let list: Vec<String> = allowed.iter().map(|a| a.0.to_string()).collect();
            return report(format!(
                "Unsupported value: {}: supported values: {}",
                shorten(&value.to_string()),
                list.join(", ")
            ));
        }
        match value {
            Value::Object(object) => self.object(object, schema, path, out),
            Value::Array(items) => self.array(items, schema, path, out),
            Value::String(text) => {
                if let Some(reason) = self.string(text, schema) {
                    out.push(Violation {
                        field: path.to_string(),
                        reason: invalid(value, &reason),
                    });
                }
            }
            Value::Number(_) => {
                if let Some(reason) = number(value, schema) {
                    out.push(Violation {
                        field: path.to_string(),
                        reason: invalid(value, &reason),
                    });
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn object(
        &mut self,
        object: &serde_json::Map<String, Value>,
        schema: &JSONSchemaProps,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true);
        for (key, value) in object {
            let field = join(path, key);
            if let Some(child) = schema.properties.as_ref().and_then(|p| p.get(key)) {
                self.check(value, child, &field, out);
                continue;
            }
            match &schema.additional_properties {
                Some(JSONSchemaPropsOrBool::Schema(child)) => self.check(value, child, &field, out),
                Some(JSONSchemaPropsOrBool::Bool(true)) => {}
                _ if preserve => {}
                _ => out.push(Violation {
                    reason: unknown_field(key, schema),
                    field,
                }),
            }
        }
        for required in schema.required.iter().flatten() {
            if !object.contains_key(required) {
                out.push(Violation {
                    field: join(path, required),
                    reason: "Required value".into(),
                });
            }
        }
    }

    fn array(
        &mut self,
        items: &[Value],
        schema: &JSONSchemaProps,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let count = items.len() as i64;
        if let Some(min) = schema.min_items
            && count < min
        {
            out.push(Violation {
                field: path.to_string(),
                reason: format!(
                    "Invalid value: {count} items: must have at least {min} item{}",
                    plural(min)
                ),
            });
        }
        if let Some(max) = schema.max_items
            && count > max
        {
            out.push(Violation {
                field: path.to_string(),
                reason: format!(
                    "Too many: {count}: must have at most {max} item{}",
                    plural(max)
                ),
            });
        }
        match &schema.items {
            Some(JSONSchemaPropsOrArray::Schema(child)) => {
                for (index, item) in items.iter().enumerate() {
                    self.check(item, child, &format!("{path}[{index}]"), out);
                }
            }
            Some(JSONSchemaPropsOrArray::Schemas(children)) => {
                for (index, (item, child)) in items.iter().zip(children).enumerate() {
                    self.check(item, child, &format!("{path}[{index}]"), out);
                }
            }
            None => {}
        }
    }

    fn string(&mut self, text: &str, schema: &JSONSchemaProps) -> Option<String> {
        let length = text.chars().count() as i64;
        if let Some(min) = schema.min_length
            && length < min
        {
            return Some(format!(
                "must be at least {min} character{} long",
                plural(min)
            ));
        }
        if let Some(max) = schema.max_length
            && length > max
        {
            return Some(format!(
                "must be at most {max} character{} long (it has {length})",
                plural(max)
            ));
        }
        if let Some(pattern) = &schema.pattern
            && let Some(regex) = self.regex(pattern)
            && !regex.is_match(text)
        {
            return Some(format!("should match '{pattern}'"));
        }
        match schema.format.as_deref() {
            Some("ipv4") if text.parse::<Ipv4Addr>().is_err() => {
                Some("must be an IPv4 address, such as 192.0.2.1".into())
            }
            Some("ipv6") if text.parse::<Ipv6Addr>().is_err() => {
                Some("must be an IPv6 address, such as 2001:db8::1".into())
            }
            _ => None,
        }
    }

    fn regex(&mut self, pattern: &str) -> Option<&Regex> {
        self.patterns
            .entry(pattern.to_string())
            // A pattern this engine cannot compile is not checked here; the
            // API server still checks it.
            .or_insert_with(|| Regex::new(pattern).ok())
            .as_ref()
    }
}

fn number(value: &Value, schema: &JSONSchemaProps) -> Option<String> {
    let n = value.as_f64()?;
    if let Some(min) = schema.minimum {
        let exclusive = schema.exclusive_minimum == Some(true);
        if n < min || (exclusive && n <= min) {
            let than = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            return Some(format!("must be {than} {}", bound(min)));
        }
    }
    if let Some(max) = schema.maximum {
        let exclusive = schema.exclusive_maximum == Some(true);
        if n > max || (exclusive && n >= max) {
            let than = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            return Some(format!("must be {than} {}", bound(max)));
        }
    }
    None
}

fn bound(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64()
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn invalid(value: &Value, reason: &str) -> String {
    format!("Invalid value: {}: {reason}", shorten(&value.to_string()))
}

fn unknown_field(key: &str, schema: &JSONSchemaProps) -> String {
    let known: Vec<&String> = schema.properties.iter().flat_map(|p| p.keys()).collect();
    let close = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .or_else(|| {
            // Typos of longer names only: short ones are all close.
            (key.len() > 3)
                .then(|| known.iter().find(|k| edit_distance(k, key) <= 2))
                .flatten()
        });
    match close {
        Some(close) => format!("unknown field; did you mean {close}?"),
        None if known.is_empty() => "unknown field".to_string(),
        None => {
            let list: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
            format!("unknown field; known fields here: {}", list.join(", "))
        }
    }
}

/// Levenshtein distance, ignoring case (for "did you mean").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// A value's text, cut to 80 characters for messages.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// "a string", "a list", … for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
