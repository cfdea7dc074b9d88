//! DNS record rules: parsing request bodies, validation, conflicts, and the
//! create / update / delete operations shared by the single-record endpoints
//! and the batch endpoint.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use crate::envelope::ApiError;
use crate::model::{DnsRecord, Plan, is_proxiable};
use crate::state::{StoredRecord, ZoneEntry, new_id, now_rfc3339};

/// The record types the API documents (accepted in the `type` filter).
pub(crate) const DOCUMENTED_TYPES: [&str; 20] = [
    "A",
    "AAAA",
    "CAA",
    "CERT",
    "CNAME",
    "DNSKEY",
    "DS",
    "HTTPS",
    "LOC",
    "MX",
    "NAPTR",
    "NS",
    "OPENPGPKEY",
    "PTR",
    "SMIMEA",
    "SRV",
    "SSHFP",
    "SVCB",
    "TLSA",
    "TXT",
];

/// The types the stand-in can create through the API.
const WRITABLE_TYPES: [&str; 4] = ["A", "AAAA", "CNAME", "TXT"];

/// The fields of a record body, each present or not.
#[derive(Debug, Default, Clone)]
pub(crate) struct RecordInput {
    record_type: Option<String>,
    name: Option<String>,
    content: Option<String>,
    ttl: Option<u32>,
    proxied: Option<bool>,
    /// `Some(None)` is an explicit `null`.
    comment: Option<Option<String>>,
    tags: Option<Vec<String>>,
}

/// How an input is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// POST: type, name and content required; the rest defaults.
    Create,
    /// PATCH: only the given fields change.
    Patch,
    /// PUT: like create, over an existing record.
    Put,
}

/// Parses a record body. With `with_id`, the object must also carry the
/// record's `id` (batch patches and puts), which is returned.
pub(crate) fn parse_input(
    body: &Value,
    with_id: bool,
) -> Result<(Option<String>, RecordInput), ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::invalid_body("expected a JSON object", ""));
    };
    let mut input = RecordInput::default();
    let mut id = None;
    for (key, value) in object {
        let pointer = format!("/{key}");
        match key.as_str() {
            "id" if with_id => id = Some(string_field(value, key, &pointer)?),
            "type" => input.record_type = Some(string_field(value, key, &pointer)?),
            "name" => input.name = Some(string_field(value, key, &pointer)?),
            "content" => input.content = Some(string_field(value, key, &pointer)?),
            "ttl" => {
                let ttl = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::invalid_body("`ttl` must be a non-negative integer", &pointer)
                    })?;
                input.ttl = Some(ttl);
            }
            "proxied" => {
                let proxied = value.as_bool().ok_or_else(|| {
                    ApiError::invalid_body("`proxied` must be a boolean", &pointer)
                })?;
                input.proxied = Some(proxied);
            }
            "comment" => {
                input.comment = Some(match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    _ => {
                        return Err(ApiError::invalid_body(
                            "`comment` must be a string or null",
                            &pointer,
                        ));
                    }
                });
            }
            "tags" => {
                let tags = match value {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items
                        .iter()
                        .map(|t| t.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            ApiError::invalid_body("`tags` must be an array of strings", &pointer)
                        })?,
                    _ => {
                        return Err(ApiError::invalid_body(
                            "`tags` must be an array of strings",
                            &pointer,
                        ));
                    }
                };
                input.tags = Some(tags);
            }
            other => {
                return Err(ApiError::invalid_body(
                    format!("unknown field `{other}`"),
                    &pointer,
                ));
            }
        }
    }
    if with_id && id.is_none() {
        return Err(ApiError::invalid_body("missing field `id`", "/id"));
    }
    Ok((id, input))
}

fn string_field(value: &Value, key: &str, pointer: &str) -> Result<String, ApiError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid_body(format!("`{key}` must be a string"), pointer))
}

/// The full, lower-case name for a name given to the API in `zone`: `@` is
/// the apex, a name not ending in the zone's name is taken as relative to it.
pub(crate) fn full_name(zone_name: &str, given: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::bad_request(9000, "DNS name is invalid.").pointer("/name");
    let name = given
        .strip_suffix('.')
        .unwrap_or(given)
        .to_ascii_lowercase();
    let full = if name == "@" || name == zone_name {
        zone_name.to_owned()
    } else if name.ends_with(&format!(".{zone_name}")) {
        name
    } else {
        format!("{name}.{zone_name}")
    };
    if given.is_empty() || full.len() > 253 {
        return Err(invalid());
    }
    for (index, label) in full.split('.').enumerate() {
        let valid_label = (1..=63).contains(&label.len())
            && (label == "*" && index == 0
                || label.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                }));
        if !valid_label {
            return Err(invalid());
        }
    }
    Ok(full)
}

fn is_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The canonical content for a record type, or the API's error.
fn checked_content(record_type: &str, content: Option<&str>) -> Result<String, ApiError> {
    let content = content.unwrap_or("");
    match record_type {
        "A" => content
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| {
                ApiError::bad_request(9005, "Content for A record must be a valid IPv4 address.")
                    .pointer("/content")
            }),
        "AAAA" => content
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| {
                ApiError::bad_request(
                    9006,
                    "Content for AAAA record must be a valid IPv6 address.",
                )
                .pointer("/content")
            }),
        "CNAME" if is_hostname(content) => {
            Ok(content.strip_suffix('.').unwrap_or(content).to_owned())
        }
        "CNAME" => Err(
            ApiError::bad_request(9007, "Content for CNAME record is invalid.").pointer("/content"),
        ),
        _ if content.is_empty() => Err(ApiError::bad_request(
            9008,
            "Content for the record is required.",
        )
        .pointer("/content")),
        _ if content.chars().count() > 2048 => Err(ApiError::bad_request(
            9008,
            "Content for the record is too long (at most 2048 characters).",
        )
        .pointer("/content")),
        _ => Ok(content.to_owned()),
    }
}

fn check_type(record_type: Option<&str>) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::bad_request(9003, message).pointer("/type");
    match record_type {
        None => Err(invalid("DNS record type is required.".to_owned())),
        Some(t) if WRITABLE_TYPES.contains(&t) => Ok(t.to_owned()),
        Some(t) if DOCUMENTED_TYPES.contains(&t) => Err(invalid(format!(
            "Record type `{t}` is valid but not supported by the stand-in (it writes A, AAAA, CNAME and TXT)."
        ))),
        Some(t) => Err(invalid(format!("Invalid DNS record type `{t}`."))),
    }
}

fn check_ttl(ttl: u32) -> Result<(), ApiError> {
    if ttl == 1 || (30..=86_400).contains(&ttl) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            9021,
            "TTL must be between 30 and 86400 seconds, or 1 for Automatic.",
        )
        .pointer("/ttl"))
    }
}

fn check_comment(comment: Option<&str>, plan: Plan) -> Result<(), ApiError> {
    let Some(comment) = comment else {
        return Ok(());
    };
    let length = comment.chars().count();
    let max = plan.max_comment_chars();
    if length > max {
        return Err(ApiError::bad_request(
            9101,
            format!(
                "Comment is too long: {length} characters, the maximum for this zone's plan is {max}."
            ),
        )
        .pointer("/comment"));
    }
    if comment.contains(['\n', '\r']) {
        return Err(ApiError::bad_request(
            9102,
            "Comment must not contain newline or carriage return characters.",
        )
        .pointer("/comment"));
    }
    Ok(())
}

fn check_tags(tags: &[String], plan: Plan) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Ok(());
    }
    if !plan.allows_tags() {
        return Err(ApiError::bad_request(
            9103,
            "DNS record tags are not available on this zone's plan.",
        )
        .pointer("/tags"));
    }
    for tag in tags {
        let tag_name = tag.split_once(':').map_or(tag.as_str(), |(n, _)| n);
        let valid = !tag_name.is_empty()
            && tag_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !tag.contains(['\n', '\r']);
        if !valid {
            return Err(ApiError::bad_request(
                9104,
                format!("Tag `{tag}` is invalid: a tag is `name` or `name:value`, and its name may contain only letters, digits, `-` and `_`."),
            )
            .pointer("/tags"));
        }
    }
    Ok(())
}

/// Applies an input to a base record (or none, for a new one) and validates
/// the result. Conflicts with other records are checked separately.
fn build(
    zone: &ZoneEntry,
    base: Option<&DnsRecord>,
    input: &RecordInput,
    mode: Mode,
) -> Result<DnsRecord, ApiError> {
    let patch_base = if mode == Mode::Patch { base } else { None };
    let record_type = check_type(
        input
            .record_type
            .as_deref()
            .or(patch_base.map(|b| b.record_type.as_str())),
    )?;
    let name = match (&input.name, patch_base) {
        (Some(given), _) => full_name(&zone.name, given)?,
        (None, Some(b)) => b.name.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(9000, "DNS name is invalid.").pointer("/name"));
        }
    };
    let content = checked_content(
        &record_type,
        input
            .content
            .as_deref()
            .or(patch_base.map(|b| b.content.as_str())),
    )?;
    let mut ttl = input.ttl.or(patch_base.map(|b| b.ttl)).unwrap_or(1);
    check_ttl(ttl)?;
    let proxiable = is_proxiable(&record_type);
    let proxied = match input.proxied {
        Some(p) => p,
        // A record that changes to a type that cannot be proxied loses its
        // proxy status rather than failing.
        None => patch_base.is_some_and(|b| b.proxied) && proxiable,
    };
    if proxied && !proxiable {
        return Err(
            ApiError::bad_request(9004, "This record type cannot be proxied.").pointer("/proxied"),
        );
    }
    if proxied {
        // Proxied records always have an automatic TTL.
        ttl = 1;
    }
    let comment = match &input.comment {
        Some(c) => c.clone(),
        None => patch_base.and_then(|b| b.comment.clone()),
    };
    check_comment(comment.as_deref(), zone.plan)?;
    let tags = match &input.tags {
        Some(t) => t.clone(),
        None => patch_base.map(|b| b.tags.clone()).unwrap_or_default(),
    };
    check_tags(&tags, zone.plan)?;
    let now = now_rfc3339();
    Ok(DnsRecord {
        id: base.map(|b| b.id.clone()).unwrap_or_else(new_id),
        zone_id: zone.id.clone(),
        zone_name: zone.name.clone(),
        name,
        record_type,
        content,
        proxiable,
        proxied,
        ttl,
        comment,
        tags,
        created_on: base
            .map(|b| b.created_on.clone())
            .unwrap_or_else(|| now.clone()),
        modified_on: now,
    })
}

/// The API's refusal of a record that clashes with another of the zone.
fn check_conflicts(records: &[StoredRecord], candidate: &DnsRecord) -> Result<(), ApiError> {
    let others = records.iter().map(|s| &s.record).filter(|r| {
        r.zone_id == candidate.zone_id && r.id != candidate.id && r.name == candidate.name
    });
    for other in others {
        if other.record_type == candidate.record_type && other.content == candidate.content {
            return Err(ApiError::bad_request(
                81058,
                "An identical record already exists.",
            ));
        }
        // A CNAME shares its name with no other record.
        if candidate.record_type == "CNAME" || other.record_type == "CNAME" {
            let address_types = ["A", "AAAA", "CNAME"];
            return Err(
                if address_types.contains(&candidate.record_type.as_str())
                    && address_types.contains(&other.record_type.as_str())
                {
                    ApiError::bad_request(
                        81053,
                        "An A, AAAA, or CNAME record with that host already exists.",
                    )
                } else {
                    ApiError::bad_request(81054, "A CNAME record with that host already exists.")
                },
            );
        }
    }
    Ok(())
}

/// Creates a record in `records`.
pub(crate) fn create(
    records: &mut Vec<StoredRecord>,
    next_seq: &mut u64,
    zone: &ZoneEntry,
    input: &RecordInput,
) -> Result<DnsRecord, ApiError> {
    let record = build(zone, None, input, Mode::Create)?;
    check_conflicts(records, &record)?;
    records.push(StoredRecord {
        seq: *next_seq,
        record: record.clone(),
    });
    *next_seq += 1;
    Ok(record)
}

/// Patches or overwrites the record `id` of `zone` in `records`.
pub(crate) fn update(
    records: &mut [StoredRecord],
    zone: &ZoneEntry,
    id: &str,
    input: &RecordInput,
    mode: Mode,
) -> Result<DnsRecord, ApiError> {
    let index = records
        .iter()
        .position(|s| s.record.id == id && s.record.zone_id == zone.id)
        .ok_or_else(ApiError::record_not_found)?;
    let record = build(zone, Some(&records[index].record), input, mode)?;
    check_conflicts(records, &record)?;
    records[index].record = record.clone();
    Ok(record)
}

/// Deletes the record `id` of the zone `zone_id`, returning it as it was.
pub(crate) fn delete(
    records: &mut Vec<StoredRecord>,
    zone_id: &str,
    id: &str,
) -> Result<DnsRecord, ApiError> {
    let index = records
        .iter()
        .position(|s| s.record.id == id && s.record.zone_id == zone_id)
        .ok_or_else(ApiError::record_not_found)?;
    Ok(records.remove(index).record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ZoneStatus;
    use serde_json::json;

    fn zone(plan: Plan) -> ZoneEntry {
        ZoneEntry {
            id: "z".repeat(32),
            name: "example.com".to_owned(),
            status: ZoneStatus::Active,
            account_id: String::new(),
            plan,
            created_on: String::new(),
        }
    }

    fn input(body: Value) -> RecordInput {
        parse_input(&body, false).unwrap().1
    }

    #[test]
    fn names_are_completed_and_lowercased() {
        assert_eq!(full_name("example.com", "@").unwrap(), "example.com");
        assert_eq!(
            full_name("example.com", "Home").unwrap(),
            "home.example.com"
        );
        assert_eq!(
            full_name("example.com", "home.example.com.").unwrap(),
            "home.example.com"
        );
        assert_eq!(
            full_name("example.com", "home.example.org").unwrap(),
            "home.example.org.example.com"
        );
        assert_eq!(full_name("example.com", "*.x").unwrap(), "*.x.example.com");
        assert_eq!(full_name("example.com", "a b").unwrap_err().code(), 9000);
        assert_eq!(full_name("example.com", "").unwrap_err().code(), 9000);
    }

    #[test]
    fn create_validates_each_field() {
        let z = zone(Plan::Free);
        let mut records = Vec::new();
        let mut seq = 0;
        let cases = [
            (json!({"type": "A", "name": "h", "content": "1.2.3"}), 9005),
            (
                json!({"type": "AAAA", "name": "h", "content": "1.2.3.4"}),
                9006,
            ),
            (
                json!({"type": "A", "name": "h", "content": "1.2.3.4", "ttl": 29}),
                9021,
            ),
            (
                json!({"type": "A", "name": "h", "content": "1.2.3.4", "ttl": 86401}),
                9021,
            ),
            (
                json!({"type": "TXT", "name": "h", "content": "x", "proxied": true}),
                9004,
            ),
            (
                json!({"type": "A", "name": "h", "content": "1.2.3.4", "comment": "c".repeat(101)}),
                9101,
            ),
            (
                json!({"type": "A", "name": "h", "content": "1.2.3.4", "tags": ["a:b"]}),
                9103,
            ),
            (
                json!({"type": "MX", "name": "h", "content": "mx.example.com"}),
                9003,
            ),
            (json!({"name": "h", "content": "1.2.3.4"}), 9003),
            (json!({"type": "A", "content": "1.2.3.4"}), 9000),
        ];
        for (body, code) in cases {
            let err = create(&mut records, &mut seq, &z, &input(body.clone())).unwrap_err();
            assert_eq!(err.code(), code, "{body}");
        }
        assert!(records.is_empty());
        let err = parse_input(&json!({"type": "A", "priority": 1}), false).unwrap_err();
        assert_eq!(err.code(), 9207);
    }

    #[test]
    fn proxied_forces_automatic_ttl_and_aaaa_is_canonical() {
        let z = zone(Plan::Pro);
        let mut records = Vec::new();
        let mut seq = 0;
        let r = create(
            &mut records,
            &mut seq,
            &z,
            &input(json!({"type": "AAAA", "name": "@", "content": "2001:DB8:0:0::1", "ttl": 300, "proxied": true, "tags": ["owner:ddns"]})),
        )
        .unwrap();
        assert_eq!(r.content, "2001:db8::1");
        assert_eq!(r.ttl, 1);
        assert_eq!(r.name, "example.com");
    }

    #[test]
    fn conflicts_are_refused() {
        let z = zone(Plan::Free);
        let mut records = Vec::new();
        let mut seq = 0;
        let a = input(json!({"type": "A", "name": "h", "content": "192.0.2.1"}));
        create(&mut records, &mut seq, &z, &a).unwrap();
        assert_eq!(
            create(&mut records, &mut seq, &z, &a).unwrap_err().code(),
            81058
        );
        let second = input(json!({"type": "A", "name": "h", "content": "192.0.2.2"}));
        create(&mut records, &mut seq, &z, &second).unwrap();
        let cname = input(json!({"type": "CNAME", "name": "h", "content": "x.example.net"}));
        assert_eq!(
            create(&mut records, &mut seq, &z, &cname)
                .unwrap_err()
                .code(),
            81053
        );
        let cname2 = input(json!({"type": "CNAME", "name": "c", "content": "x.example.net"}));
        create(&mut records, &mut seq, &z, &cname2).unwrap();
        let txt = input(json!({"type": "TXT", "name": "c", "content": "hello"}));
        assert_eq!(
            create(&mut records, &mut seq, &z, &txt).unwrap_err().code(),
            81054
        );
        // Updating a record to its own values is no conflict.
        let id = records[0].record.id.clone();
        update(&mut records, &z, &id, &a, Mode::Put).unwrap();
    }
}
