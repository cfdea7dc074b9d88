//! Label and field selectors, as the API server reads them from
//! `labelSelector` and `fieldSelector`.

use std::collections::BTreeSet;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed `labelSelector`; all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<LabelRequirement>);

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_label_requirement(part)?);
        }
        Ok(Self(requirements))
    }

    /// Whether an object's `metadata.labels` satisfy the selector.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            LabelRequirement::Equals(k, v) => label(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            LabelRequirement::In(k, set) => label(k).is_some_and(|l| set.contains(l)),
            LabelRequirement::NotIn(k, set) => !label(k).is_some_and(|l| set.contains(l)),
            LabelRequirement::Exists(k) => label(k).is_some(),
            LabelRequirement::DoesNotExist(k) => label(k).is_none(),
            LabelRequirement::GreaterThan(k, n) => label(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            LabelRequirement::LessThan(k, n) => label(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_label_requirement(part: &str) -> Result<LabelRequirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        check_key(key, part)?;
        return Ok(LabelRequirement::DoesNotExist(key.to_owned()));
    }
    let key_end = part
        .find(|c: char| c.is_whitespace() || "=!<>(".contains(c))
        .unwrap_or(part.len());
    let key = &part[..key_end];
    check_key(key, part)?;
    let rest = part[key_end..].trim_start();
    let key = key.to_owned();
    if rest.is_empty() {
        return Ok(LabelRequirement::Exists(key));
    }
    if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
        return Ok(LabelRequirement::Equals(key, v.trim().to_owned()));
    }
    if let Some(v) = rest.strip_prefix("!=") {
        return Ok(LabelRequirement::NotEquals(key, v.trim().to_owned()));
    }
    if let Some(v) = rest.strip_prefix('>') {
        let n = v.trim().parse().map_err(|_| format!("unable to parse requirement: {part}: for 'gt' operator, the value must be an integer"))?;
        return Ok(LabelRequirement::GreaterThan(key, n));
    }
    if let Some(v) = rest.strip_prefix('<') {
        let n = v.trim().parse().map_err(|_| format!("unable to parse requirement: {part}: for 'lt' operator, the value must be an integer"))?;
        return Ok(LabelRequirement::LessThan(key, n));
    }
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(LabelRequirement::NotIn(key, parse_set(set, part)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(LabelRequirement::In(key, parse_set(set, part)?));
    }
    Err(format!("unable to parse requirement: {part}"))
}

fn check_key(key: &str, part: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(format!("unable to parse requirement: {part}: missing key"));
    }
    Ok(())
}

fn parse_set(text: &str, part: &str) -> Result<BTreeSet<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: {part}: expected a set in parentheses")
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

/// A parsed `fieldSelector`: `path=value`, `path==value` or `path!=value`
/// requirements on dotted paths such as `metadata.name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let path = field.trim().split('.').map(str::to_owned).collect();
            requirements.push((path, equal, value.trim().to_owned()));
        }
        Ok(Self(requirements))
    }

    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let found = path
                .iter()
                .try_fold(object, |v, key| v.get(key))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (found == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({ "metadata": { "name": "a", "namespace": "ns", "labels": labels }, "type": "Warning" })
    }

    fn matches(selector: &str, labels: Value) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(&obj(labels))
    }

    #[test]
    fn equality() {
        assert!(matches("role=primary", json!({"role": "primary"})));
        assert!(matches("role==primary", json!({"role": "primary"})));
        assert!(!matches("role=primary", json!({"role": "secondary"})));
        assert!(!matches("role=primary", json!({})));
        assert!(matches("role!=primary", json!({})));
        assert!(matches("role!=primary", json!({"role": "secondary"})));
        assert!(!matches("role!=primary", json!({"role": "primary"})));
    }

    #[test]
    fn sets_and_existence() {
        assert!(matches("env in (prod, staging)", json!({"env": "prod"})));
        assert!(!matches("env in (prod,staging)", json!({"env": "dev"})));
        assert!(!matches("env in (prod)", json!({})));
        assert!(matches("env notin (prod)", json!({})));
        assert!(!matches("env notin (prod,dev)", json!({"env": "dev"})));
        assert!(matches("env", json!({"env": ""})));
        assert!(!matches("env", json!({})));
        assert!(matches("!env", json!({})));
        assert!(!matches("! env", json!({"env": "x"})));
        assert!(matches("tier>2", json!({"tier": "3"})));
        assert!(!matches("tier<2", json!({"tier": "3"})));
    }

    #[test]
    fn conjunction_with_commas_inside_sets() {
        let sel = "env in (prod,staging),role=primary,!legacy";
        assert!(matches(sel, json!({"env": "staging", "role": "primary"})));
        assert!(!matches(
            sel,
            json!({"env": "staging", "role": "primary", "legacy": "1"})
        ));
        assert!(!matches(sel, json!({"env": "dev", "role": "primary"})));
    }

    #[test]
    fn bad_selectors_are_refused() {
        assert!(LabelSelector::parse("env in prod").is_err());
        assert!(LabelSelector::parse("=x").is_err());
        assert!(LabelSelector::parse("a ~ b").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
    }

    #[test]
    fn fields() {
        let o = obj(json!({}));
        let f = |s: &str| FieldSelector::parse(s).unwrap().matches(&o);
        assert!(f("metadata.name=a"));
        assert!(f("metadata.name==a,metadata.namespace=ns"));
        assert!(!f("metadata.name!=a"));
        assert!(f("metadata.namespace!=other"));
        assert!(f("type=Warning"));
        assert!(!f("type=Normal"));
    }
}
