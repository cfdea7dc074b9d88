//! Replays fuzz/corpus/operator_manifests as ordinary tests: every input
//! that mattered to the fuzzer keeps running in CI through
//! `ddns-operator render -` (in process), each keeps the fuzz target's
//! properties (`ddns_operator::fuzzing::check`), and each named seed keeps
//! its outcome. With `DDNS_WRITE_SEEDS=1` it first writes the seeds built
//! here: the example manifests of docs/examples/operator, and manifests
//! shaped after what people get wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ddns_operator::fuzzing::{RenderOutcome, check};
use ddns_testkit::replay_corpus as replay;

const INSTANCE: &str = include_str!("../../../docs/examples/operator/bind9instance.yaml");
const RECORDS: &str = include_str!("../../../docs/examples/operator/records.yaml");
const ZONE_UPDATE: &str = include_str!("../../../docs/examples/operator/zone-update.yaml");
const ZONE_FILE: &str = include_str!("../../../docs/examples/operator/zone-zonefile.yaml");

const ZONE: &str = "apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata:
  name: example
spec:
  zoneName: example.com
  soa:
    primaryNs: ns1.example.net
    adminEmail: first.last@example.com
  nameServers: [ns1.example.net]
";

fn record(kind: &str, name: &str, owner: &str, fields: &str) -> String {
    format!(
        "apiVersion: ddns.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  zoneRef: example\n  name: \"{owner}\"\n{fields}\n"
    )
}

fn documents(parts: &[&str]) -> Vec<u8> {
    parts.join("---\n").into_bytes()
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let every_kind = documents(&[
        ZONE,
        &record("ARecord", "a", "@", "  addresses: [192.0.2.1, 192.0.2.2]"),
        &record("AAAARecord", "aaaa", "*", "  addresses: [\"2001:db8::1\"]"),
        &record("CNAMERecord", "cname", "www", "  target: web.example.net."),
        &record(
            "TXTRecord",
            "txt",
            "_dmarc",
            &format!(
                "  values: [\"v=DMARC1; p=none\", \"quote \\\" and semicolon ;\", \"{}\"]",
                "x".repeat(600)
            ),
        ),
        &record(
            "MXRecord",
            "mx",
            "@",
            "  preference: 10\n  exchange: mail.example.net.",
        ),
        &record("NSRecord", "ns", "lab", "  nameserver: ns1.example.net."),
        &record(
            "SRVRecord",
            "srv",
            "_sip._tcp",
            "  priority: 0\n  weight: 5\n  port: 5060\n  target: sip.example.net.",
        ),
        &record(
            "CAARecord",
            "caa",
            "@",
            "  flags: 128\n  tag: issue\n  value: \"letsencrypt.org; validationmethods=dns-01\"",
        ),
    ]);
    let json_list = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"apiVersion": "ddns.dev/v1alpha1", "kind": "DNSZone",
             "metadata": {"name": "example", "namespace": "dns"},
             "spec": {"zoneName": "example.com", "ttl": 60,
                      "soa": {"primaryNs": "ns1.example.com", "adminEmail": "hostmaster@example.com"},
                      "nameServers": ["ns1.example.com"]}},
            {"apiVersion": "ddns.dev/v1alpha1", "kind": "ARecord",
             "metadata": {"name": "ns1", "namespace": "dns"},
             "spec": {"zoneRef": "example", "name": "ns1", "addresses": ["192.0.2.53"]}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}}
        ]
    })
    .to_string()
    .into_bytes();
    let conflicts = documents(&[
        ZONE,
        &record("CNAMERecord", "alias", "www", "  target: web.example.net."),
        &record("ARecord", "www", "www", "  addresses: [192.0.2.1]"),
        &record("ARecord", "www-again", "www", "  addresses: [192.0.2.2]"),
        &record(
            "ARecord",
            "outside",
            "host.example.org.",
            "  addresses: [192.0.2.3]",
        ),
        &record("ARecord", "www", "dup", "  addresses: [192.0.2.4]"),
    ]);
    let schema_violations = documents(&[
        "apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata:
  name: Bad_Name
  namespace: -dns
spec:
  zoneName: 42
  ttl: -1
  soa:
    primaryNs: ns1.example.net
    refresh: 99999999999
  nameServers: ns1.example.net
  delivery: carrier-pigeon
  unknownField: true
",
        &record(
            "ARecord",
            "bad",
            "www",
            "  addresses: [192.0.2.300, \"::1\", 17]\n  ttl: 1.5",
        ),
        &record(
            "SRVRecord",
            "srv",
            "_x._tcp",
            "  port: 70000\n  target: \"\"",
        ),
        "apiVersion: ddns.dev/v1beta9\nkind: DNSZone\nmetadata: {name: z}\n",
        "apiVersion: ddns.dev/v1alpha1\nkind: PTRRecord\nmetadata: {name: p}\n",
        "kind: DNSZone\nmetadata: {name: no-api-version}\n",
        "- just\n- a\n- list\n",
    ]);
    // Anchors hold within one document: a List whose second item reuses
    // the first one's spec through a merge key.
    let anchors = format!(
        "{ZONE}---\n{}",
        "apiVersion: v1
kind: List
items:
- apiVersion: ddns.dev/v1alpha1
  kind: ARecord
  metadata: {name: a}
  spec: &spec
    zoneRef: example
    name: host
    ttl: 300
    addresses: [192.0.2.10]
- apiVersion: ddns.dev/v1alpha1
  kind: AAAARecord
  metadata: {name: aaaa}
  spec:
    <<: *spec
    addresses: [\"2001:db8::10\"]
"
    )
    .into_bytes();
    let laughs = {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            text.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        text.into_bytes()
    };
    let yaml_habits = documents(&[
        "apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata: {name: habits, namespace: \"0777\"}
spec:
  zoneName: yes.example
  ttl: 0x10
  soa: {primaryNs: on.example, adminEmail: \"no@example.com\"}
  nameServers: [~]
",
        "apiVersion: ddns.dev/v1alpha1\nkind: ARecord\nmetadata: {name: t}\nspec: {zoneRef: habits, name: yes, addresses: [192.0.2.1]}\n",
    ]);
    let nested = format!("{}{}", "[".repeat(2000), "]".repeat(2000)).into_bytes();
    let many_documents = {
        let mut parts = vec![ZONE.to_string()];
        for i in 0..300 {
            parts.push(record(
                "ARecord",
                &format!("h{i}"),
                &format!("h{i}"),
                &format!("  addresses: [192.0.2.{}]", i % 256),
            ));
        }
        parts.join("---\n").into_bytes()
    };
    vec![
        (
            "seed-docs-examples-all",
            documents(&[INSTANCE, ZONE_UPDATE, RECORDS, ZONE_FILE]),
        ),
        ("seed-docs-zone-zonefile", ZONE_FILE.as_bytes().to_vec()),
        (
            "seed-docs-records-without-zone",
            RECORDS.as_bytes().to_vec(),
        ),
        ("seed-docs-bind9instance-only", INSTANCE.as_bytes().to_vec()),
        ("seed-every-record-kind", every_kind),
        ("seed-json-list", json_list),
        ("seed-conflicts-and-duplicates", conflicts),
        ("seed-schema-violations", schema_violations),
        ("seed-anchors-and-merge-key", anchors),
        ("seed-alias-expansion-bomb", laughs),
        ("seed-yaml-1-1-habits", yaml_habits),
        ("seed-nested-2000", nested),
        ("seed-301-documents", many_documents),
        (
            "seed-not-yaml",
            b"apiVersion: ddns.dev/v1alpha1\nkind: DNSZone\n\tmetadata: {name: [}\n".to_vec(),
        ),
        (
            "seed-not-utf8",
            b"kind: DNSZone\nmetadata: {name: \xc3\x28}\n".to_vec(),
        ),
        ("seed-empty", Vec::new()),
        ("seed-only-separators", b"---\n---\n...\n---\n".to_vec()),
    ]
}

/// The exit code, then the number of zones written or the first and last
/// lines of the messages.
fn outcome(rendered: &RenderOutcome) -> String {
    if rendered.code == 0 {
        let zones = rendered.stdout.matches("\n$ORIGIN ").count();
        return format!("exit 0: {zones} zone(s)");
    }
    let lines: Vec<&str> = rendered.stderr.lines().collect();
    let first: String = lines.first().unwrap_or(&"").chars().take(300).collect();
    format!(
        "exit {}: {} | {}",
        rendered.code,
        first,
        lines.last().unwrap_or(&"")
    )
}

#[test]
fn operator_manifests_corpus_keeps_its_properties_and_seeds_their_outcome() {
    let seeds = seeds();
    let files = replay("operator_manifests", &seeds);
    assert!(files.len() >= seeds.len(), "{} inputs", files.len());
    let mut outcomes = Vec::new();
    for (name, bytes) in &files {
        match check(bytes) {
            Ok(rendered) => outcomes.push((name.clone(), outcome(&rendered))),
            Err(violation) => panic!("{name}: {violation}"),
        }
    }
    // Each seed's outcome (the first message cut to 300 characters).
    let expected: &[(&str, &str)] = &[
        ("seed-docs-examples-all", "exit 0: 2 zone(s)"),
        ("seed-docs-zone-zonefile", "exit 0: 1 zone(s)"),
        (
            "seed-docs-records-without-zone",
            "exit 1: no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render | ddns-operator render: 12 problems; nothing was rendered",
        ),
        (
            "seed-docs-bind9instance-only",
            "exit 1: no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render | ddns-operator render: 1 problem; nothing was rendered",
        ),
        ("seed-every-record-kind", "exit 0: 1 zone(s)"),
        ("seed-json-list", "exit 0: 1 zone(s)"),
        (
            "seed-conflicts-and-duplicates",
            "exit 1: <stdin>:48: document 6: ARecord/www: metadata.name: Duplicate value: namespace default already has ARecord/www (at <stdin>:21: document 3) | ddns-operator render: 4 problems; nothing was rendered",
        ),
        (
            "seed-schema-violations",
            "exit 1: <stdin>:1: document 1: DNSZone/Bad_Name: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character | ddns-operator render: 21 problems; nothing was rendered",
        ),
        ("seed-anchors-and-merge-key", "exit 0: 1 zone(s)"),
        (
            "seed-alias-expansion-bomb",
            "exit 1: <stdin>:6: not valid YAML: budget breached: RecordedAnchorEvents { recorded_anchor_events: 100001 } at line 1, column 56 (defined at line 5, column 7) (used at line 6, column 8) | ddns-operator render: 1 problem; nothing was rendered",
        ),
        (
            "seed-yaml-1-1-habits",
            "exit 1: <stdin>:1: document 1: DNSZone/habits: spec.nameServers[0]: Invalid value: null: must be of type string | ddns-operator render: 2 problems; nothing was rendered",
        ),
        (
            "seed-nested-2000",
            "exit 1: <stdin>:1: not valid YAML: recursion limit exceeded at line 1, column 256 | ddns-operator render: 1 problem; nothing was rendered",
        ),
        ("seed-301-documents", "exit 0: 1 zone(s)"),
        (
            "seed-not-yaml",
            "exit 1: <stdin>:2: not valid YAML: while scanning a plain scalar, found a tab at line 2, column 7 | ddns-operator render: 1 problem; nothing was rendered",
        ),
        (
            "seed-not-utf8",
            "exit 1: ddns-operator render: <stdin>: not UTF-8 text (invalid byte at offset 31) | ddns-operator render: <stdin>: not UTF-8 text (invalid byte at offset 31)",
        ),
        (
            "seed-empty",
            "exit 1: no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render | ddns-operator render: 1 problem; nothing was rendered",
        ),
        (
            "seed-only-separators",
            "exit 1: no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render | ddns-operator render: 1 problem; nothing was rendered",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, _) in &seeds {
        let (_, actual) = outcomes.iter().find(|(file, _)| file == name).unwrap();
        let wanted = expected
            .iter()
            .find(|(seed, _)| seed == name)
            .map(|(_, o)| *o);
        if wanted != Some(actual.as_str()) {
            wrong.push(format!("(\"{name}\", {actual:?}),"));
        }
    }
    assert!(
        wrong.is_empty(),
        "seeds with another outcome:\n{}",
        wrong.join("\n")
    );
    assert_eq!(expected.len(), seeds.len(), "every seed has an expectation");
}
