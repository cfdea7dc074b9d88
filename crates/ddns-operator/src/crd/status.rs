//! Status shared by zones and records: conditions in the Kubernetes style.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `Ready` condition's type.
pub const READY: &str = "Ready";
/// The `Degraded` condition's type.
pub const DEGRADED: &str = "Degraded";

/// One condition, as `kubectl wait --for=condition=Ready` reads it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason.
    pub reason: String,
    /// A sentence for people.
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The generation the condition describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// A condition with `status` `True` or `False`.
    pub fn new(type_: &str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_: type_.to_string(),
            status: if status { "True" } else { "False" }.to_string(),
            reason: reason.to_string(),
            message: message.into(),
            last_transition_time: None,
            observed_generation: None,
        }
    }

    /// Whether the status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// Sets `next` in `conditions`, keeping the previous transition time when
/// the status did not change, else stamping `now`.
pub fn set_condition(conditions: &mut Vec<Condition>, mut next: Condition, now: &str) {
    match conditions.iter_mut().find(|c| c.type_ == next.type_) {
        Some(current) => {
            next.last_transition_time = if current.status == next.status {
                current.last_transition_time.clone()
            } else {
                Some(now.to_string())
            };
            *current = next;
        }
        None => {
            next.last_transition_time = Some(now.to_string());
            conditions.push(next);
        }
    }
}

/// The condition of `type_`, if set.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            Condition::new(READY, false, "Pending", "a"),
            "t1",
        );
        set_condition(
            &mut conditions,
            Condition::new(READY, false, "Failed", "b"),
            "t2",
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(conditions[0].reason, "Failed");
        set_condition(
            &mut conditions,
            Condition::new(READY, true, "Applied", "c"),
            "t3",
        );
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t3"));
        assert!(find(&conditions, READY).is_some_and(Condition::is_true));
        assert!(find(&conditions, DEGRADED).is_none());
    }
}
