//! What to send so that one name and type holds exactly one address: a
//! pure function of what the zone holds and what the user configured.

use serde_json::{Map, Value, json};

use crate::envelope::DnsRecord;

/// Record settings the user configured. `None` keeps whatever a record has
/// (and uses the API's default for a new one, except the TTL: automatic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) proxied: Option<bool>,
    pub(crate) ttl: Option<u32>,
    pub(crate) comment: Option<String>,
}

/// The TTL of a new record when `DDNS_TTL` is unset: automatic.
pub(crate) const AUTOMATIC_TTL: u32 = 1;

/// One API operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Create the record with this body.
    Post(Value),
    /// Change these fields of record `id` (at least `content`, or a
    /// configured setting that differs).
    Patch { id: String, fields: Value },
    /// Remove a duplicate.
    Delete { id: String, content: String },
}

impl Op {
    /// The batch entry for this operation.
    pub(crate) fn batch_entry(&self) -> Value {
        match self {
            Op::Post(body) => body.clone(),
            Op::Patch { id, fields } => {
                let mut entry = fields.clone();
                if let Value::Object(map) = &mut entry {
                    map.insert("id".into(), Value::String(id.clone()));
                }
                entry
            }
            Op::Delete { id, .. } => json!({ "id": id }),
        }
    }
}

/// The operations that leave exactly one record of `name` and
/// `record_type`, holding `content` (and the configured settings).
/// An empty list: nothing to write.
///
/// The record kept is one that already holds `content` if there is one,
/// else the first listed; it is changed in place (PATCH), so it keeps its
/// ID and every setting the user did not configure.
pub(crate) fn plan(
    existing: &[DnsRecord],
    name: &str,
    record_type: &str,
    content: &str,
    settings: &Settings,
) -> Vec<Op> {
    let Some(keep) = existing
        .iter()
        .position(|r| r.content == content)
        .or(if existing.is_empty() { None } else { Some(0) })
    else {
        let mut body = Map::new();
        body.insert("type".into(), json!(record_type));
        body.insert("name".into(), json!(name));
        body.insert("content".into(), json!(content));
        body.insert("ttl".into(), json!(settings.ttl.unwrap_or(AUTOMATIC_TTL)));
        body.insert("proxied".into(), json!(settings.proxied.unwrap_or(false)));
        if let Some(comment) = &settings.comment {
            body.insert("comment".into(), json!(comment));
        }
        return vec![Op::Post(Value::Object(body))];
    };
    let kept = &existing[keep];
    let mut ops = Vec::new();
    for (index, other) in existing.iter().enumerate() {
        if index != keep {
            ops.push(Op::Delete {
                id: other.id.clone(),
                content: other.content.clone(),
            });
        }
    }
    let mut fields = Map::new();
    if kept.content != content {
        fields.insert("content".into(), json!(content));
    }
    // A proxied record's TTL is always automatic: asking for another one
    // would be ignored, and would look like a difference forever.
    let proxied_after = settings.proxied.unwrap_or(kept.proxied);
    if let Some(ttl) = settings.ttl.filter(|t| *t != kept.ttl && !proxied_after) {
        fields.insert("ttl".into(), json!(ttl));
    }
    if let Some(proxied) = settings.proxied.filter(|p| *p != kept.proxied) {
        fields.insert("proxied".into(), json!(proxied));
    }
    if let Some(comment) = settings
        .comment
        .as_ref()
        .filter(|c| kept.comment.as_ref() != Some(*c))
    {
        fields.insert("comment".into(), json!(comment));
    }
    if !fields.is_empty() {
        ops.push(Op::Patch {
            id: kept.id.clone(),
            fields: Value::Object(fields),
        });
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, content: &str) -> DnsRecord {
        DnsRecord {
            id: id.into(),
            name: "vpn.example.com".into(),
            record_type: "A".into(),
            content: content.into(),
            ttl: 300,
            proxied: true,
            comment: Some("by hand".into()),
        }
    }

    fn run(existing: &[DnsRecord], settings: &Settings) -> Vec<Op> {
        plan(existing, "vpn.example.com", "A", "198.51.100.7", settings)
    }

    #[test]
    fn a_missing_record_is_created_with_automatic_ttl() {
        assert_eq!(
            run(&[], &Settings::default()),
            vec![Op::Post(json!({
                "type": "A", "name": "vpn.example.com", "content": "198.51.100.7",
                "ttl": 1, "proxied": false
            }))]
        );
        let configured = Settings {
            proxied: Some(true),
            ttl: Some(120),
            comment: Some("ddns".into()),
        };
        assert_eq!(
            run(&[], &configured),
            vec![Op::Post(json!({
                "type": "A", "name": "vpn.example.com", "content": "198.51.100.7",
                "ttl": 120, "proxied": true, "comment": "ddns"
            }))]
        );
    }

    #[test]
    fn an_existing_record_changes_only_its_content() {
        assert_eq!(
            run(&[record("r1", "192.0.2.1")], &Settings::default()),
            vec![Op::Patch {
                id: "r1".into(),
                fields: json!({ "content": "198.51.100.7" })
            }]
        );
    }

    #[test]
    fn nothing_is_sent_when_the_record_holds_the_address() {
        assert!(run(&[record("r1", "198.51.100.7")], &Settings::default()).is_empty());
        let same = Settings {
            proxied: Some(true),
            ttl: Some(300),
            comment: Some("by hand".into()),
        };
        assert!(run(&[record("r1", "198.51.100.7")], &same).is_empty());
    }

    #[test]
    fn configured_settings_are_applied_when_they_differ() {
        let settings = Settings {
            proxied: Some(false),
            ttl: Some(300),
            comment: None,
        };
        assert_eq!(
            run(&[record("r1", "198.51.100.7")], &settings),
            vec![Op::Patch {
                id: "r1".into(),
                fields: json!({ "proxied": false })
            }]
        );
    }

    #[test]
    fn a_proxied_record_is_not_given_a_ttl() {
        let settings = Settings {
            proxied: None,
            ttl: Some(120),
            comment: None,
        };
        let proxied = DnsRecord {
            ttl: 1,
            ..record("r1", "198.51.100.7")
        };
        assert!(run(std::slice::from_ref(&proxied), &settings).is_empty());
        let unproxy = Settings {
            proxied: Some(false),
            ..settings
        };
        assert_eq!(
            run(&[proxied], &unproxy),
            vec![Op::Patch {
                id: "r1".into(),
                fields: json!({ "ttl": 120, "proxied": false })
            }]
        );
    }

    #[test]
    fn duplicates_are_removed_and_the_matching_one_kept() {
        let existing = [
            record("r1", "192.0.2.1"),
            record("r2", "198.51.100.7"),
            record("r3", "192.0.2.3"),
        ];
        assert_eq!(
            run(&existing, &Settings::default()),
            vec![
                Op::Delete {
                    id: "r1".into(),
                    content: "192.0.2.1".into()
                },
                Op::Delete {
                    id: "r3".into(),
                    content: "192.0.2.3".into()
                },
            ]
        );
        let stale = [record("r1", "192.0.2.1"), record("r2", "192.0.2.2")];
        let ops = run(&stale, &Settings::default());
        assert_eq!(
            ops,
            vec![
                Op::Delete {
                    id: "r2".into(),
                    content: "192.0.2.2".into()
                },
                Op::Patch {
                    id: "r1".into(),
                    fields: json!({ "content": "198.51.100.7" })
                },
            ]
        );
        assert_eq!(
            ops[1].batch_entry(),
            json!({ "id": "r1", "content": "198.51.100.7" })
        );
        assert_eq!(ops[0].batch_entry(), json!({ "id": "r2" }));
    }
}
