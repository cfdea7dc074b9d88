//! deploy/operator/crds.yaml is exactly what `ddns-operator crd` prints, and
//! the CRDs are ones an API server takes as they are: structural, served
//! and stored in one version, with descriptions and integer formats it
//! knows. `DDNS_WRITE_CRDS=1` rewrites the file instead of failing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{deploy_dir, operator, yaml_documents};
use serde_json::Value;

const REFRESH: &str = "DDNS_WRITE_CRDS=1 cargo test -p ddns-operator --test crds_current";

#[test]
fn deploy_crds_are_what_the_binary_prints() {
    let run = operator(&["crd"], "");
    assert_eq!(run.code, 0, "ddns-operator crd failed: {}", run.stderr);
    assert_eq!(run.stderr, "");
    let path = deploy_dir().join("crds.yaml");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == run.stdout {
        return;
    }
    if std::env::var("DDNS_WRITE_CRDS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &run.stdout).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let first_difference = current
        .lines()
        .zip(run.stdout.lines())
        .position(|(a, b)| a != b)
        .map_or_else(
            || current.lines().count().min(run.stdout.lines().count()) + 1,
            |i| i + 1,
        );
    let line = |text: &str| {
        text.lines()
            .nth(first_difference - 1)
            .unwrap_or("(end of file)")
            .to_string()
    };
    panic!(
        "deploy/operator/crds.yaml is out of date: it differs from `ddns-operator crd` from line \
         {first_difference}:\n  file:   {}\n  binary: {}\nRefresh it with:\n  {REFRESH}",
        line(&current),
        line(&run.stdout),
    );
}

fn crds() -> Vec<Value> {
    yaml_documents(&deploy_dir().join("crds.yaml"))
}

/// Every schema node, with its path.
fn walk<'a>(path: String, schema: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    out.push((path.clone(), schema));
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            walk(format!("{path}.{name}"), child, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            walk(format!("{path}[{key}]"), &schema[key], out);
        }
    }
}

#[test]
fn the_crds_are_what_an_api_server_accepts_without_warnings() {
    let crds = crds();
    let kinds: Vec<&str> = crds
        .iter()
        .map(|crd| crd["spec"]["names"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Bind9Instance",
            "DNSZone",
            "ARecord",
            "AAAARecord",
            "CNAMERecord",
            "TXTRecord",
            "MXRecord",
            "NSRecord",
            "SRVRecord",
            "CAARecord"
        ]
    );
    for crd in &crds {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        let spec = &crd["spec"];
        assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1", "{kind}");
        assert_eq!(spec["group"], "ddns.dev", "{kind}");
        assert_eq!(spec["scope"], "Namespaced", "{kind}");
        assert!(
            spec["names"]["categories"]
                .as_array()
                .unwrap()
                .contains(&Value::from("ddns")),
            "{kind}: kubectl get ddns lists it"
        );
        let versions = spec["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{kind}");
        let version = &versions[0];
        assert_eq!(version["name"], "v1alpha1");
        assert_eq!(
            (version["served"].as_bool(), version["storage"].as_bool()),
            (Some(true), Some(true))
        );
        let columns = version["additionalPrinterColumns"].as_array().unwrap();
        assert!(columns.len() >= 3, "{kind}: {columns:?}");
        assert_eq!(
            version["subresources"]["status"].is_object(),
            kind != "Bind9Instance",
            "{kind}: zones and records have a status subresource"
        );
        let root = &version["schema"]["openAPIV3Schema"];
        let description = root["description"].as_str().unwrap();
        assert!(
            !description.contains("Auto-generated") && description.len() > 40,
            "{kind}: {description}"
        );
        assert_eq!(root["required"], serde_json::json!(["spec"]), "{kind}");
        let mut nodes = Vec::new();
        walk(String::new(), root, &mut nodes);
        for (path, node) in nodes {
            // Structural: every node has a type (x-kubernetes-int-or-string
            // and preserve-unknown-fields are not used).
            assert!(node["type"].is_string(), "{kind}{path} has no type: {node}");
            assert!(
                node.get("$ref").is_none()
                    && node.get("anyOf").is_none()
                    && node.get("oneOf").is_none(),
                "{kind}{path}: {node}"
            );
            if node["type"] == "integer" {
                let format = node["format"].as_str().unwrap_or("");
                assert!(
                    format == "int32" || format == "int64",
                    "{kind}{path}: format {format:?} draws 'unrecognized format' warnings"
                );
                let (min, max) = (node["minimum"].as_f64(), node["maximum"].as_f64());
                if format == "int32" && !path.ends_with("observedGeneration") {
                    assert!(
                        min.is_some() && max.is_some_and(|m| m <= f64::from(i32::MAX)),
                        "{kind}{path}: {node}"
                    );
                }
            }
            // Fields say what they are (the items of a list are described
            // by the list).
            if path.starts_with(".spec") && !path.ends_with(']') {
                assert!(
                    node["description"].is_string(),
                    "{kind}{path} has no description"
                );
            }
        }
    }
}
