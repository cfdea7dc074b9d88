//! The manifests shipped with the operator: the examples in
//! docs/examples/operator and the install files in deploy/operator.
//!
//! - Every file is YAML; every ddns.dev object in them is read by the
//!   operator's own reader (its typed structs, strict fields) and passes
//!   the generated CRD schemas as checked by an independent validator,
//!   scripts/validate-crs.py (jsonschema), which also refuses bad values.
//! - The install files pass the Kubernetes API schemas
//!   (`kubernetes-validate --strict`), the kustomization lists them all,
//!   the RBAC grants what the operator needs and no more, and the
//!   Deployment keeps its promises (docs/OPERATOR.md).
//!
//! Python, jsonschema and kubernetes-validate come from the virtual
//! environment scripts/test.sh makes in target/venv-k8s; without it these
//! tests skip (or fail under `DDNS_REQUIRE_SYSTEM_TESTS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{deploy_dir, examples_dir, repo_root, yaml_documents, yaml_files};
use ddns_operator::manifests::{self, Resource, Source};
use serde_json::{Value, json};

/// The oldest Kubernetes release still commonly run, and the newest the
/// pinned validator bundles.
const K8S_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn source(path: &Path) -> Source {
    Source::new(
        path.display().to_string(),
        std::fs::read_to_string(path).unwrap(),
    )
}

fn all_files() -> Vec<PathBuf> {
    let mut files = yaml_files(&examples_dir());
    files.extend(yaml_files(&deploy_dir()));
    files
}

#[test]
fn every_file_is_yaml_and_every_ddns_object_is_read_strictly() {
    let files = all_files();
    assert!(files.len() >= 9, "{files:?}");
    for path in &files {
        assert!(
            !yaml_documents(path).is_empty(),
            "{} is empty",
            path.display()
        );
        if let Err(errors) = manifests::read(&[source(path)]) {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{}:\n{}", path.display(), errors.join("\n"));
        }
    }
    let examples: Vec<Source> = yaml_files(&examples_dir())
        .iter()
        .map(|p| source(p))
        .collect();
    let read = manifests::read(&examples).unwrap();
    assert_eq!(read.ignored, 1, "the TSIG Secret");
    let kinds: BTreeSet<&str> = read.objects.iter().map(|o| o.kind).collect();
    let all: BTreeSet<String> = manifests::kinds().into_iter().collect();
    assert_eq!(
        kinds.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
        all,
        "the examples show every kind"
    );
    let deliveries: BTreeSet<String> = read
        .objects
        .iter()
        .filter_map(|o| match &o.resource {
            Resource::Zone(zone) => Some(format!("{:?}", zone.spec.delivery)),
            _ => None,
        })
        .collect();
    assert_eq!(
        deliveries,
        ["Update", "Zonefile"].map(String::from).into(),
        "both delivery modes"
    );
    // The zones assemble without conflict.
    let zones = manifests::zones(&read).unwrap();
    assert_eq!(zones.len(), 2);
    // The instance's Secret is in the examples, with the key it names.
    let instance = read
        .objects
        .iter()
        .find_map(|o| match &o.resource {
            Resource::Instance(i) => Some(i.clone()),
            _ => None,
        })
        .unwrap();
    let secret = yaml_documents(&examples_dir().join("bind9instance.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "Secret")
        .unwrap();
    assert_eq!(
        secret["metadata"]["name"],
        instance.spec.tsig_key_secret_ref.name.as_str()
    );
    assert!(secret["stringData"][instance.spec.tsig_key_secret_ref.key.as_str()].is_string());
}

fn validate_crs(python: &Path, manifests: &[PathBuf]) -> (i32, String, String) {
    let out = Command::new(python)
        .arg(repo_root().join("scripts/validate-crs.py"))
        .arg(deploy_dir().join("crds.yaml"))
        .args(manifests)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_examples_pass_the_crd_schemas() {
    let Some(python) = common::python("the_examples_pass_the_crd_schemas") else {
        return;
    };
    let files = yaml_files(&examples_dir());
    let (code, stdout, stderr) = validate_crs(&python, &files);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "validate-crs: 17 object(s) in {} file(s) pass the CRD schemas\n",
            files.len()
        )
    );
}

#[test]
fn the_crd_schemas_refuse_bad_values() {
    let test = "the_crd_schemas_refuse_bad_values";
    let Some(python) = common::python(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let bad = "\
apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata: {name: bad, namespace: dns}
spec:
  zoneName: bad_zone.example
  zonename: typo.example
  soa: {primaryNs: ns1.example.net, adminEmail: hostmaster@example.com, refresh: 0}
  nameServers: [ns1.example.net]
  delivery: ftp
---
apiVersion: ddns.dev/v1alpha1
kind: SRVRecord
metadata: {name: sip, namespace: dns}
spec: {zoneRef: bad, name: _sip._tcp, priority: 0, weight: 0, port: 70000, target: sip.example.com}
---
apiVersion: ddns.dev/v1alpha1
kind: ARecord
metadata: {name: www, namespace: dns}
spec: {zoneRef: bad, name: www, addresses: [192.0.2.300]}
---
apiVersion: ddns.dev/v1alpha1
kind: CAARecord
metadata: {name: caa, namespace: dns}
spec: {zoneRef: bad, name: '@', flags: 256, tag: issue, value: ca.example}
---
apiVersion: ddns.dev/v1alpha1
kind: MXRecord
metadata: {name: mx, namespace: dns}
spec: {zoneRef: bad, name: '@', preference: 10}
";
    std::fs::write(&path, bad).unwrap();
    let (code, stdout, _) = validate_crs(&python, std::slice::from_ref(&path));
    assert_eq!(code, 1, "{stdout}");
    let at = |doc: usize, object: &str| format!("{}: document {doc}: {object}: ", path.display());
    let expected = [
        format!(
            "{}spec: Additional properties are not allowed ('zonename' was unexpected)",
            at(1, "DNSZone/bad")
        ),
        format!(
            "{}spec.delivery: 'ftp' is not one of ['update', 'zonefile']",
            at(1, "DNSZone/bad")
        ),
        format!(
            "{}spec.soa.refresh: 0 is less than the minimum of 1",
            at(1, "DNSZone/bad")
        ),
        format!(
            "{}spec.zoneName: 'bad_zone.example' does not match",
            at(1, "DNSZone/bad")
        ),
        format!(
            "{}spec.port: 70000 is greater than the maximum of 65535",
            at(2, "SRVRecord/sip")
        ),
        format!(
            "{}spec.addresses[0]: '192.0.2.300' is not a 'ipv4'",
            at(3, "ARecord/www")
        ),
        format!(
            "{}spec.flags: 256 is greater than the maximum of 255",
            at(4, "CAARecord/caa")
        ),
        format!(
            "{}spec: 'exchange' is a required property",
            at(5, "MXRecord/mx")
        ),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{stdout}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(expected.as_str()),
            "expected {expected}\n     got {line}"
        );
    }

    // The operator's own reader refuses the same fields.
    let errors = manifests::read(&[source(&path)]).unwrap_err();
    let fields: BTreeSet<String> = errors
        .iter()
        .map(|e| match e {
            manifests::ManifestError::Invalid { object, field, .. } => format!("{object} {field}"),
            other => panic!("{other}"),
        })
        .collect();
    let expected: BTreeSet<String> = [
        "DNSZone/bad spec.zonename",
        "DNSZone/bad spec.delivery",
        "DNSZone/bad spec.soa.refresh",
        "DNSZone/bad spec.zoneName",
        "SRVRecord/sip spec.port",
        "ARecord/www spec.addresses[0]",
        "CAARecord/caa spec.flags",
        "MXRecord/mx spec.exchange",
    ]
    .map(String::from)
    .into();
    assert_eq!(fields, expected);
}

fn assert_validates(validator: &Path, path: &Path, expected: usize) {
    for version in K8S_VERSIONS {
        let out = Command::new(validator)
            .args(["--strict", "--kubernetes-version", version])
            .arg(path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{} fails the Kubernetes {version} schemas:\n{text}",
            path.display()
        );
        let passed = text
            .lines()
            .filter(|line| line.contains(" passed for resource "))
            .count();
        assert!(
            passed == expected && !text.contains("WARN"),
            "{}: {passed} of {expected} object(s) passed the Kubernetes {version} schemas:\n{text}",
            path.display()
        );
    }
}

const KUSTOMIZATION: &str = "kustomization.yaml";

#[test]
fn install_files_pass_the_kubernetes_schemas() {
    let Some(validator) = common::kubernetes_validate("install_files_pass_the_kubernetes_schemas")
    else {
        return;
    };
    for path in yaml_files(&deploy_dir()) {
        if path.ends_with(KUSTOMIZATION) {
            continue;
        }
        let documents = yaml_documents(&path).len();
        assert_validates(&validator, &path, documents);
    }
}

#[test]
fn the_kustomization_lists_every_install_file() {
    let kustomization = yaml_documents(&deploy_dir().join(KUSTOMIZATION)).remove(0);
    assert_eq!(kustomization["kind"], "Kustomization");
    let listed: Vec<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let files: Vec<String> = yaml_files(&deploy_dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != KUSTOMIZATION)
        .collect();
    assert_eq!(
        listed.iter().cloned().collect::<BTreeSet<_>>(),
        files.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        listed.first().map(String::as_str),
        Some("namespace.yaml"),
        "the namespace first"
    );
    assert!(
        listed.iter().position(|f| f == "crds.yaml")
            < listed.iter().position(|f| f == "deployment.yaml"),
        "CRDs before the operator that watches them"
    );
}

fn find<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn rules(role: &Value) -> Vec<(String, String, Option<String>, BTreeSet<String>)> {
    let mut out = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        let verbs: BTreeSet<String> = rule["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert!(!verbs.contains("*"), "{rule}");
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                let names = rule["resourceNames"].as_array();
                let group = group.as_str().unwrap().to_string();
                let resource = resource.as_str().unwrap().to_string();
                assert!(group != "*" && resource != "*", "{rule}");
                match names {
                    None => out.push((group, resource, None, verbs.clone())),
                    Some(names) => {
                        for name in names {
                            out.push((
                                group.clone(),
                                resource.clone(),
                                Some(name.as_str().unwrap().to_string()),
                                verbs.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

fn verbs(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|v| v.to_string()).collect()
}

#[test]
fn rbac_grants_what_the_operator_needs_and_no_more() {
    let documents = yaml_documents(&deploy_dir().join("rbac.yaml"));
    let account = find(&documents, "ServiceAccount");
    assert_eq!(account["metadata"]["namespace"], "ddns-system");

    let mut expected = Vec::new();
    for crd in ddns_operator::crd::all() {
        let plural = crd.spec.names.plural.clone();
        if plural == "bind9instances" {
            expected.push((
                "ddns.dev".to_string(),
                plural,
                None,
                verbs(&["get", "list", "watch"]),
            ));
            continue;
        }
        expected.push((
            "ddns.dev".into(),
            plural.clone(),
            None,
            verbs(&["get", "list", "watch", "patch", "update"]),
        ));
        expected.push((
            "ddns.dev".into(),
            format!("{plural}/status"),
            None,
            verbs(&["get", "patch", "update"]),
        ));
    }
    expected.push(("".into(), "secrets".into(), None, verbs(&["get"])));
    expected.push((
        "events.k8s.io".into(),
        "events".into(),
        None,
        verbs(&["create", "patch"]),
    ));
    expected.push((
        "".into(),
        "events".into(),
        None,
        verbs(&["create", "patch"]),
    ));
    let mut granted = rules(find(&documents, "ClusterRole"));
    granted.sort();
    expected.sort();
    assert_eq!(granted, expected);

    // The Lease only in the operator's namespace, by name where it can be.
    let role = find(&documents, "Role");
    assert_eq!(role["metadata"]["namespace"], "ddns-system");
    let mut lease = rules(role);
    lease.sort();
    assert_eq!(
        lease,
        vec![
            (
                "coordination.k8s.io".into(),
                "leases".into(),
                None,
                verbs(&["create"])
            ),
            (
                "coordination.k8s.io".into(),
                "leases".into(),
                Some("ddns-operator".into()),
                verbs(&["get", "update"])
            ),
        ]
    );
    for (binding, role_kind) in [
        ("ClusterRoleBinding", "ClusterRole"),
        ("RoleBinding", "Role"),
    ] {
        let binding = find(&documents, binding);
        assert_eq!(binding["roleRef"]["kind"], role_kind);
        assert_eq!(
            binding["roleRef"]["name"],
            find(&documents, role_kind)["metadata"]["name"]
        );
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "ddns-system"}])
        );
    }
}

#[test]
fn the_deployment_keeps_its_promises() {
    let deployment = yaml_documents(&deploy_dir().join("deployment.yaml")).remove(0);
    let rbac = yaml_documents(&deploy_dir().join("rbac.yaml"));
    let namespace = yaml_documents(&deploy_dir().join("namespace.yaml")).remove(0);
    assert_eq!(
        deployment["metadata"]["namespace"],
        namespace["metadata"]["name"]
    );
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );

    // Two replicas, one leader.
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["serviceAccountName"],
        find(&rbac, "ServiceAccount")["metadata"]["name"]
    );
    let security = &pod["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(container["args"], json!(["run"]));
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                container["resources"][kind][resource].is_string(),
                "{kind}.{resource}"
            );
        }
    }

    // Probes on the metrics port, which DDNS_OPERATOR_METRICS_ADDR names.
    let port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .unwrap();
    assert_eq!(port["containerPort"], 9852);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    let env = container["env"].as_array().unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(value("DDNS_OPERATOR_METRICS_ADDR")["value"], "0.0.0.0:9852");
    assert_eq!(value("DDNS_OPERATOR_LEASE_NAME")["value"], "ddns-operator");
    assert_eq!(
        value("DDNS_OPERATOR_LEASE_NAMESPACE")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(
        value("DDNS_OPERATOR_IDENTITY")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    // The Lease the Role allows by name is the one the operator takes.
    let role = find(&rbac, "Role");
    assert!(
        role.to_string()
            .contains("\"resourceNames\":[\"ddns-operator\"]"),
        "{role}"
    );

    // Every variable set is one the operator reads.
    let known: BTreeSet<&str> = ddns_operator::config::VARIABLES
        .iter()
        .copied()
        .chain(["DDNS_LOG_FORMAT", "DDNS_LOG_LEVEL"])
        .collect();
    for var in env {
        let name = var["name"].as_str().unwrap();
        assert!(known.contains(name), "the operator does not read {name}");
    }
}

#[test]
fn configuration_docs_list_every_operator_variable() {
    let text = std::fs::read_to_string(repo_root().join("docs/CONFIGURATION.md")).unwrap();
    let start = text
        .find("## Operator (`ddns-operator`)")
        .expect("docs/CONFIGURATION.md has a section \"Operator (`ddns-operator`)\"");
    let section = &text[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for variable in ddns_operator::config::VARIABLES {
        assert!(
            section.contains(&format!("`{variable}`")),
            "docs/CONFIGURATION.md, operator section, does not describe {variable}"
        );
    }
}
