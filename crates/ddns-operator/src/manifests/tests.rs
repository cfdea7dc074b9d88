use super::*;

const ZONE: &str = "\
apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata:
  name: example
spec:
  zoneName: example.com
  soa:
    primaryNs: ns1.example.net
    adminEmail: hostmaster@example.com
  nameServers: [ns1.example.net]
";

fn record(kind: &str, name: &str, owner: &str, value: &str) -> String {
    format!(
        "apiVersion: ddns.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  zoneRef: example\n  name: \"{owner}\"\n{value}\n"
    )
}

fn read_one(text: &str) -> Result<Manifests, Vec<String>> {
    read(&[Source::new("test.yaml", text)])
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

fn errors(text: &str) -> Vec<String> {
    match read_one(text) {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(errors) => errors,
    }
}

fn zone_errors(text: &str) -> Vec<String> {
    let manifests = read_one(text).unwrap_or_else(|e| panic!("{e:?}"));
    match zones(&manifests) {
        Ok(previews) => panic!("assembled {} zones", previews.len()),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn objects_of_other_groups_are_counted_and_left_alone() {
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{anything: goes}}\n---\n{ZONE}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec: {{whatever: 1}}\n"
    );
    let manifests = read_one(&text).unwrap();
    assert_eq!(manifests.ignored, 2);
    assert_eq!(manifests.objects.len(), 1);
    let zone = &manifests.objects[0];
    assert_eq!(zone.id(), "DNSZone/example");
    assert_eq!(zone.namespace, DEFAULT_NAMESPACE);
    assert_eq!(
        zone.origin,
        Origin {
            source: "test.yaml".into(),
            line: 6,
            document: 2,
            item: None
        }
    );
}

#[test]
fn unknown_fields_are_errors_as_with_strict_field_validation() {
    let text = ZONE.replace("  zoneName:", "  zonename: x\n  zoneName:")
        + "status:\n  serial: 5\n  surprise: true\n";
    let text = text.replace("  name: example\n", "  name: example\n  nmespace: dns\n");
    assert_eq!(
        errors(&text),
        vec![
            "test.yaml:1: document 1: DNSZone/example: metadata.nmespace: unknown field",
            "test.yaml:1: document 1: DNSZone/example: spec.zonename: unknown field; did you mean zoneName?",
            "test.yaml:1: document 1: DNSZone/example: status.surprise: unknown field; known fields here: conditions, conflicts, delivered, instances, leftovers, managed, observedGeneration, recordCount, serial",
        ]
    );
    let text = format!("{ZONE}extra: 1\n");
    assert_eq!(
        errors(&text),
        vec![
            "test.yaml:1: document 1: DNSZone/example: extra: unknown field; known fields here: spec, status"
        ]
    );
}

#[test]
fn schema_violations_name_the_field_in_the_api_servers_words() {
    let bad = ZONE
        .replace("zoneName: example.com", "zoneName: \"-bad-.com\"")
        .replace(
            "nameServers: [ns1.example.net]",
            "nameServers: []\n  ttl: -1\n  delivery: ftp",
        );
    assert_eq!(
        errors(&bad),
        vec![
            "test.yaml:1: document 1: DNSZone/example: spec.delivery: Unsupported value: \"ftp\": supported values: \"update\", \"zonefile\"",
            "test.yaml:1: document 1: DNSZone/example: spec.nameServers: Invalid value: 0 items: must have at least 1 item",
            "test.yaml:1: document 1: DNSZone/example: spec.ttl: Invalid value: -1: must be greater than or equal to 0",
            &format!(
                "test.yaml:1: document 1: DNSZone/example: spec.zoneName: Invalid value: \"-bad-.com\": should match '{}'",
                crate::crd::HOST_PATTERN
            ),
        ]
    );
    let missing = "apiVersion: ddns.dev/v1alpha1\nkind: MXRecord\nmetadata: {name: mx}\nspec: {zoneRef: example, name: '@', preference: 70000}\n";
    assert_eq!(
        errors(missing),
        vec![
            "test.yaml:1: document 1: MXRecord/mx: spec.preference: Invalid value: 70000: must be less than or equal to 65535",
            "test.yaml:1: document 1: MXRecord/mx: spec.exchange: Required value",
        ]
    );
    let types = record(
        "ARecord",
        "a",
        "www",
        "  ttl: \"60\"\n  addresses: [192.0.2.1, 2001:db8::1, 7]",
    );
    assert_eq!(
        errors(&types),
        vec![
            "test.yaml:1: document 1: ARecord/a: spec.addresses[1]: Invalid value: \"2001:db8::1\": must be an IPv4 address, such as 192.0.2.1",
            "test.yaml:1: document 1: ARecord/a: spec.addresses[2]: Invalid value: 7: must be of type string",
            "test.yaml:1: document 1: ARecord/a: spec.ttl: Invalid value: \"60\": must be of type integer",
        ]
    );
    // A null optional field is allowed (nullable), a null required one is not.
    let nulls = record("ARecord", "a", "www", "  ttl: null\n  addresses: null");
    assert_eq!(
        errors(&nulls),
        vec![
            "test.yaml:1: document 1: ARecord/a: spec.addresses: Invalid value: null: must be of type array"
        ]
    );
    let long = record(
        "TXTRecord",
        "t",
        "@",
        &format!("  values: [\"{}\"]", "x".repeat(16_385)),
    );
    let message = &errors(&long)[0];
    assert!(
        message.ends_with("must be at most 16384 characters long (it has 16385)"),
        "{message}"
    );
    assert!(message.contains("\"xxxxx"), "{message}");
    assert!(message.len() < 300, "the value is shortened: {message}");
}

#[test]
fn metadata_is_checked_as_the_api_server_does() {
    let cases = [
        ("metadata: {}", "metadata.name: Required value"),
        (
            "metadata: {generateName: www-}",
            "metadata.name: Required value (generateName is not enough here: records refer to zones by name)",
        ),
        (
            "metadata: {name: Www}",
            "metadata.name: Invalid value: \"Www\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
        (
            "metadata: {name: www, namespace: dns.prod}",
            "metadata.namespace: Invalid value: \"dns.prod\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        (
            "metadata: {name: www, labels: {tier: 1}}",
            "metadata.labels.tier: must be a string, not a number (quote it)",
        ),
        ("metadata: [www]", "metadata: must be a mapping, not a list"),
    ];
    for (metadata, expected) in cases {
        let text = format!(
            "apiVersion: ddns.dev/v1alpha1\nkind: ARecord\n{metadata}\nspec: {{zoneRef: example, name: www, addresses: [192.0.2.1]}}\n"
        );
        let found = errors(&text);
        assert_eq!(found.len(), 1, "{metadata}: {found:?}");
        assert!(found[0].ends_with(expected), "{metadata}: {}", found[0]);
    }
}

#[test]
fn documents_that_are_not_objects_and_unknown_kinds_are_errors() {
    let text = "- a list\n---\nkind: ARecord\nmetadata: {name: x}\n---\napiVersion: ddns.dev/v1alpha1\nkind: PTRRecord\nmetadata: {name: p}\n---\napiVersion: ddns.dev/v1\nkind: ARecord\nmetadata: {name: a}\n";
    let found = errors(text);
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(
        found[0],
        "test.yaml:1: document 1: not a Kubernetes object (a mapping with apiVersion and kind), but a list"
    );
    assert_eq!(
        found[1],
        "test.yaml:3: document 2: ARecord/x: apiVersion: Required value: every Kubernetes object names its apiVersion and kind"
    );
    assert!(
        found[2].starts_with("test.yaml:6: document 3: PTRRecord/p: kind: Unsupported value: \"PTRRecord\": ddns.dev/v1alpha1 has the kinds Bind9Instance, DNSZone, ARecord,"),
        "{}",
        found[2]
    );
    assert_eq!(
        found[3],
        "test.yaml:10: document 4: ARecord/a: apiVersion: Unsupported value: \"ddns.dev/v1\": this operator serves ddns.dev/v1alpha1"
    );
}

#[test]
fn yaml_errors_name_the_source_and_line() {
    let found = errors(&format!("{ZONE}---\nkind: [unclosed\n"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("test.yaml:12: not valid YAML: "),
        "{}",
        found[0]
    );
    let duplicate = errors("apiVersion: v1\napiVersion: v2\n");
    assert!(
        duplicate[0].starts_with("test.yaml:2: not valid YAML: duplicate mapping key: apiVersion"),
        "{}",
        duplicate[0]
    );
}

/// Regression (the `operator_manifests` fuzz target's slow unit, kept as
/// the corpus seed `seed-alias-expansion-bomb`): nine lines of anchors, each
/// aliasing the one before nine times, are refused once 100,000 events
/// were copied for anchors, not after the parser's default of 1,000,000.
#[test]
fn an_alias_bomb_is_refused_early() {
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (previous, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .into_iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let aliases = vec![format!("*{previous}"); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("not valid YAML: budget breached")
            && found[0].contains("recorded_anchor_events: 100001"),
        "{}",
        found[0]
    );
}

#[test]
fn lists_are_unpacked_and_json_is_read() {
    let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "ddns.dev/v1alpha1", "kind": "DNSZone", "metadata": {"name": "example", "namespace": "dns"},
         "spec": {"zoneName": "example.com", "soa": {"primaryNs": "ns1.example.net", "adminEmail": "h@example.com"}, "nameServers": ["ns1.example.net"]}},
        {"apiVersion": "ddns.dev/v1alpha1", "kind": "ARecord", "metadata": {"name": "www", "namespace": "dns"},
         "spec": {"zoneRef": "example", "name": "www", "addresses": ["192.0.2.1"], "port": 1}}
    ]}"#;
    assert_eq!(
        errors(text),
        vec![
            "test.yaml:1: document 1, item 2: ARecord/www: spec.port: unknown field; known fields here: addresses, name, ttl, zoneRef"
        ]
    );
    let manifests = read_one(&text.replace(", \"port\": 1", "")).unwrap();
    assert_eq!(manifests.objects.len(), 2);
    assert_eq!(manifests.objects[1].namespace, "dns");
    assert_eq!(manifests.objects[1].origin.item, Some(2));
}

#[test]
fn zones_gather_their_records_by_namespace_and_zone_ref() {
    let text = [
        ZONE.to_string(),
        ZONE.replace("name: example\n", "name: example\n  namespace: other\n")
            .replace("example.com", "other.example"),
        record("ARecord", "www", "www", "  addresses: [192.0.2.1]"),
        record("ARecord", "www", "www", "  addresses: [192.0.2.2]")
            .replace("name: www\nspec", "name: www\n  namespace: other\nspec"),
    ]
    .join("---\n");
    let previews = zones(&read_one(&text).unwrap()).unwrap();
    assert_eq!(previews.len(), 2);
    assert_eq!(
        (previews[0].namespace.as_str(), previews[0].name().as_str()),
        ("default", "example.com")
    );
    assert_eq!(previews[1].namespace, "other");
    assert_eq!(previews[1].file_name(), "other.example.zone");
    assert!(
        previews[0]
            .render(1)
            .contains("www\t3600\tIN\tA\t192.0.2.1\n")
    );
    assert!(
        previews[1]
            .render(1)
            .contains("www\t3600\tIN\tA\t192.0.2.2\n")
    );
    // The same zone name in two namespaces would write one file.
    let same = text.replace("other.example", "example.com");
    let previews = zones(&read_one(&same).unwrap()).unwrap();
    let errors: Vec<String> = distinct_files(&previews)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec![
            "test.yaml:12: document 2: DNSZone/example: zone example.com of namespace other would overwrite example.com.zone, the file of DNSZone/example in namespace default"
        ]
    );
}

#[test]
fn without_creation_times_the_earlier_document_wins() {
    let first = record("ARecord", "zz-first", "www", "  addresses: [192.0.2.1]");
    let second = record("ARecord", "aa-second", "www", "  addresses: [192.0.2.2]");
    let text = [ZONE.to_string(), first.clone(), second.clone()].join("---\n");
    assert_eq!(
        zone_errors(&text),
        vec![
            "test.yaml:21: document 3: conflict in zone example.com (namespace default): ARecord/aa-second: www.example.com A is already claimed by ARecord/zz-first"
        ]
    );
    // A creation time (an object read back from a cluster) comes first.
    let created = second.replace(
        "  name: aa-second\n",
        "  name: aa-second\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\n",
    );
    let text = [ZONE.to_string(), first, created].join("---\n");
    assert_eq!(
        zone_errors(&text),
        vec![
            "test.yaml:12: document 2: conflict in zone example.com (namespace default): ARecord/zz-first: www.example.com A is already claimed by ARecord/aa-second"
        ]
    );
}

#[test]
fn zone_problems_are_each_reported() {
    let text = [
        ZONE.to_string(),
        ZONE.replace("name: example\n", "name: again\n"),
        ZONE.replace("name: example\n", "name: broken\n")
            .replace("zoneName: example.com", "zoneName: broken.example")
            .replace("hostmaster@example.com", "a..b@example.com"),
        record("ARecord", "www", "www", "  addresses: [192.0.2.1]"),
        record("ARecord", "www", "www", "  addresses: [192.0.2.2]"),
        record("CNAMERecord", "lost", "x", "  target: www.example.com")
            .replace("zoneRef: example", "zoneRef: exmple"),
        record("CNAMERecord", "in-broken", "x", "  target: www.example.com")
            .replace("zoneRef: example", "zoneRef: broken"),
    ]
    .join("---\n");
    assert_eq!(
        zone_errors(&text),
        vec![
            "test.yaml:43: document 5: ARecord/www: metadata.name: Duplicate value: namespace default already has ARecord/www (at test.yaml:34: document 4)",
            "test.yaml:12: document 2: DNSZone/again: spec.zoneName: Duplicate value: example.com is already the zone of DNSZone/example in namespace default (at test.yaml:1: document 1)",
            "test.yaml:23: document 3: DNSZone/broken: spec.soa.adminEmail: the local part of 'a..b@example.com' has a misplaced '.'",
            "test.yaml:52: document 6: CNAMERecord/lost: spec.zoneRef: Not found: no DNSZone named 'exmple' in namespace default (it has again, broken, example)",
        ]
    );
}

#[test]
fn no_zone_is_an_error() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n";
    assert_eq!(
        zone_errors(text),
        vec!["no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render"]
    );
}
