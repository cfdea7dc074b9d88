//! Which `Bind9Instance`s a zone selects: Kubernetes label-selector
//! semantics (`matchLabels` and `matchExpressions`, all must hold).

use std::collections::BTreeMap;

use crate::crd::{InstanceSelector, SelectorOperator};

/// Whether `labels` satisfy `selector`. An empty selector selects all.
pub fn matches(selector: &InstanceSelector, labels: &BTreeMap<String, String>) -> bool {
    let labelled = selector
        .match_labels
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value));
    labelled
        && selector.match_expressions.iter().all(|requirement| {
            let value = labels.get(&requirement.key);
            match requirement.operator {
                SelectorOperator::In => value.is_some_and(|v| requirement.values.contains(v)),
                SelectorOperator::NotIn => value.is_none_or(|v| !requirement.values.contains(v)),
                SelectorOperator::Exists => value.is_some(),
                SelectorOperator::DoesNotExist => value.is_none(),
            }
        })
}

/// Checks the selector's shape: `In`/`NotIn` need values, `Exists` and
/// `DoesNotExist` take none (as the API server's own validation says).
pub fn validate(selector: &InstanceSelector) -> Result<(), String> {
    for (index, requirement) in selector.match_expressions.iter().enumerate() {
        let needs_values = matches!(
            requirement.operator,
            SelectorOperator::In | SelectorOperator::NotIn
        );
        if needs_values && requirement.values.is_empty() {
            return Err(format!(
                "spec.instanceSelector.matchExpressions[{index}]: {:?} needs at least one value",
                requirement.operator
            ));
        }
        if !needs_values && !requirement.values.is_empty() {
            return Err(format!(
                "spec.instanceSelector.matchExpressions[{index}]: {:?} takes no values",
                requirement.operator
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::SelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: SelectorOperator, values: &[&str]) -> SelectorRequirement {
        SelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn every_operator() {
        let primary = labels(&[("role", "primary"), ("env", "prod")]);
        let bare = labels(&[]);
        let select = |exprs: Vec<SelectorRequirement>| InstanceSelector {
            match_labels: BTreeMap::new(),
            match_expressions: exprs,
        };
        assert!(matches(&InstanceSelector::default(), &bare));
        let by_label = InstanceSelector {
            match_labels: labels(&[("role", "primary")]),
            match_expressions: vec![],
        };
        assert!(matches(&by_label, &primary));
        assert!(!matches(&by_label, &bare));

        let in_ = select(vec![requirement(
            "env",
            SelectorOperator::In,
            &["prod", "stage"],
        )]);
        assert!(matches(&in_, &primary));
        assert!(!matches(&in_, &bare));
        let not_in = select(vec![requirement("env", SelectorOperator::NotIn, &["prod"])]);
        assert!(!matches(&not_in, &primary));
        assert!(
            matches(&not_in, &bare),
            "NotIn holds when the label is absent"
        );
        let exists = select(vec![requirement("env", SelectorOperator::Exists, &[])]);
        assert!(matches(&exists, &primary) && !matches(&exists, &bare));
        let absent = select(vec![requirement(
            "env",
            SelectorOperator::DoesNotExist,
            &[],
        )]);
        assert!(!matches(&absent, &primary) && matches(&absent, &bare));

        let both = InstanceSelector {
            match_labels: labels(&[("role", "primary")]),
            match_expressions: vec![requirement("env", SelectorOperator::In, &["stage"])],
        };
        assert!(!matches(&both, &primary), "every requirement must hold");
    }

    #[test]
    fn shape_errors_name_the_field() {
        let bad = InstanceSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![
                requirement("a", SelectorOperator::Exists, &[]),
                requirement("b", SelectorOperator::In, &[]),
            ],
        };
        assert_eq!(
            validate(&bad),
            Err("spec.instanceSelector.matchExpressions[1]: In needs at least one value".into())
        );
        let extra = InstanceSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![requirement("a", SelectorOperator::DoesNotExist, &["x"])],
        };
        assert_eq!(
            validate(&extra),
            Err("spec.instanceSelector.matchExpressions[0]: DoesNotExist takes no values".into())
        );
    }
}
