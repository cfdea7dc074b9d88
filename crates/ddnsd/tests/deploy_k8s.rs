//! The Kubernetes manifests of `deploy/k8s`: every object passes the
//! Kubernetes API schemas (`kubernetes-validate --strict`, offline, for the
//! oldest and the newest version checked), the kustomization lists every
//! manifest but the example Secret and renders to valid objects, the
//! Deployment keeps the properties docs/DEPLOYMENT.md promises, and the
//! ConfigMap with the Deployment's environment is a configuration this
//! `ddnsd` accepts.
//!
//! Tools, each found through an environment variable, then beside the
//! validator (the virtual environment scripts/test.sh makes in
//! `target/venv-k8s`), then on PATH:
//! - `DDNS_K8S_VALIDATE`: the `kubernetes-validate` executable (PyPI);
//! - `DDNS_K8S_PYTHON`: a Python with PyYAML (a dependency of the validator),
//!   which reads the YAML for the checks written here;
//! - `DDNS_KUBECTL`: `kubectl`, used only for `kubectl kustomize` (no cluster).
//!
//! A missing tool skips its test, or fails it under
//! `DDNS_REQUIRE_SYSTEM_TESTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
/// The oldest Kubernetes release still commonly run, and the newest the
/// pinned validator bundles.
const K8S_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// Not an API object: checked by `kustomization_lists_every_manifest`.
const KUSTOMIZATION: &str = "kustomization.yaml";
/// Deliberately left out of the kustomization (its comment says why).
const EXAMPLE_SECRET: &str = "secret.example.yaml";
/// A token of the right shape; what the example Secret holds is refused.
const REAL_LOOKING_TOKEN: &str = "k8sTestToken-4f3e2d1c0b9a8877";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn k8s_dir() -> PathBuf {
    repo_root().join("deploy/k8s")
}

/// Every `*.yaml` file name in deploy/k8s, sorted.
fn manifest_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(k8s_dir())
        .expect("deploy/k8s exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .collect();
    names.sort();
    names
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// `$VARIABLE` if set, else `name` in the validator's directory (the venv),
/// else `target/venv-k8s/bin/name`, else `name` on PATH; `None` when that
/// does not run.
fn find_tool(variable: &str, name: &str, probe_args: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        return runs(&path, probe_args).then_some(path);
    }
    let mut candidates = Vec::new();
    if let Some(validator) = std::env::var_os("DDNS_K8S_VALIDATE")
        && let Some(dir) = Path::new(&validator).parent()
    {
        candidates.push(dir.join(name));
    }
    candidates.push(repo_root().join("target/venv-k8s/bin").join(name));
    candidates.push(PathBuf::from(name));
    candidates.into_iter().find(|path| runs(path, probe_args))
}

fn validator(test: &str) -> Option<PathBuf> {
    let found = find_tool("DDNS_K8S_VALIDATE", "kubernetes-validate", &["--version"]);
    if found.is_none() {
        ddns_testkit::skip_or_fail(
            test,
            "kubernetes-validate is not installed (scripts/test.sh puts it in target/venv-k8s; \
             or set DDNS_K8S_VALIDATE)",
        );
    }
    found
}

/// A Python that can `import yaml`.
fn python(test: &str) -> Option<PathBuf> {
    let found = find_tool("DDNS_K8S_PYTHON", "python3", &["-c", "import yaml"]);
    if found.is_none() {
        ddns_testkit::skip_or_fail(
            test,
            "no python3 with PyYAML (kubernetes-validate's virtual environment has one; \
             or set DDNS_K8S_PYTHON)",
        );
    }
    found
}

/// The documents of a YAML file (or stream), as JSON values.
fn yaml_documents(python: &Path, path: &Path) -> Vec<Value> {
    const SCRIPT: &str = "import json, sys, yaml\n\
        with open(sys.argv[1]) as f:\n    \
            docs = [d for d in yaml.safe_load_all(f) if d is not None]\n\
        json.dump(docs, sys.stdout)\n";
    let out = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("python printed JSON") {
        Value::Array(docs) => docs,
        other => panic!("expected a list of documents, got {other}"),
    }
}

/// The single object of a manifest.
fn object(python: &Path, name: &str) -> Value {
    let mut docs = yaml_documents(python, &k8s_dir().join(name));
    assert_eq!(docs.len(), 1, "{name} holds one object");
    docs.remove(0)
}

/// Runs the validator on `path` for every checked version; every one of
/// its `expected` documents must pass, with no warning (an unknown kind is
/// only a warning to the validator, and exits 0).
fn assert_validates(validator: &Path, path: &Path, expected: usize) {
    for version in K8S_VERSIONS {
        let out = Command::new(validator)
            .args(["--strict", "--kubernetes-version", version])
            .arg(path)
            .output()
            .expect("kubernetes-validate runs");
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

#[test]
fn manifests_pass_the_kubernetes_schemas() {
    let test = "manifests_pass_the_kubernetes_schemas";
    let (Some(validator), Some(python)) = (validator(test), python(test)) else {
        return;
    };
    let manifests: Vec<String> = manifest_names()
        .into_iter()
        .filter(|name| name != KUSTOMIZATION)
        .collect();
    assert!(manifests.len() >= 6, "{manifests:?}");
    for name in &manifests {
        let path = k8s_dir().join(name);
        let documents = yaml_documents(&python, &path).len();
        assert!(documents >= 1, "{name} holds no object");
        assert_validates(&validator, &path, documents);
    }
}

/// The file names listed under `resources:`, read line by line (the file
/// is ours and keeps this simple form).
fn kustomization_resources(text: &str) -> Vec<String> {
    let mut resources = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line.trim_end() == "resources:";
            continue;
        }
        if inside {
            let item = line.trim().strip_prefix("- ").unwrap_or_else(|| {
                panic!("unexpected line under resources: {line:?}");
            });
            resources.push(item.trim().to_string());
        }
    }
    resources
}

#[test]
fn kustomization_lists_every_manifest() {
    let text = std::fs::read_to_string(k8s_dir().join(KUSTOMIZATION)).unwrap();
    assert!(
        text.lines().any(|line| line == "kind: Kustomization"),
        "{text}"
    );
    assert!(text.lines().any(|line| line == "namespace: ddns"), "{text}");
    let listed = kustomization_resources(&text);
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "listed twice: {listed:?}");
    for name in &listed {
        assert!(
            k8s_dir().join(name).is_file(),
            "{KUSTOMIZATION} lists {name}, which does not exist"
        );
    }
    let expected: BTreeSet<String> = manifest_names()
        .into_iter()
        .filter(|name| name != KUSTOMIZATION && name != EXAMPLE_SECRET)
        .collect();
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(
        listed, expected,
        "{KUSTOMIZATION} must list every manifest except {EXAMPLE_SECRET}"
    );
}

#[test]
fn kustomize_renders_valid_objects() {
    let test = "kustomize_renders_valid_objects";
    let (Some(validator), Some(python)) = (validator(test), python(test)) else {
        return;
    };
    // kubectl is optional: Debian has no package of it, and the test
    // command installs only the schema validator. Where kubectl exists (a
    // developer's machine), the rendered output is checked too.
    let Some(kubectl) = find_tool("DDNS_KUBECTL", "kubectl", &["version", "--client"]) else {
        eprintln!("SKIPPED {test}: kubectl is not installed (set DDNS_KUBECTL to run it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(k8s_dir())
        // No kubeconfig or cache of the user's is read or written.
        .env("HOME", dir.path())
        .env("KUBECONFIG", dir.path().join("none"))
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/k8s failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, &out.stdout).unwrap();
    let objects = yaml_documents(&python, &rendered);
    let listed =
        kustomization_resources(&std::fs::read_to_string(k8s_dir().join(KUSTOMIZATION)).unwrap());
    assert_eq!(
        objects.len(),
        listed.len(),
        "one object per listed manifest"
    );
    assert_validates(&validator, &rendered, objects.len());

    let mut kinds = BTreeSet::new();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap().to_string();
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/part-of"], "ddns", "{kind}");
        if kind != "Namespace" {
            assert_eq!(object["metadata"]["namespace"], "ddns", "{kind}");
        }
        if kind == "Deployment" {
            // The common labels reach the pods but not the selector, which
            // cannot change on an existing Deployment.
            let pod_labels = &object["spec"]["template"]["metadata"]["labels"];
            assert_eq!(pod_labels["app.kubernetes.io/part-of"], "ddns");
            let selector = object["spec"]["selector"]["matchLabels"]
                .as_object()
                .unwrap();
            assert!(
                !selector.contains_key("app.kubernetes.io/part-of"),
                "{selector:?}"
            );
        }
        kinds.insert(kind);
    }
    let expected: BTreeSet<String> = [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "PersistentVolumeClaim",
        "ServiceAccount",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(kinds, expected, "no Secret: the real one is made by hand");
}

fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list holding {name}: {list}"))
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a str {
    named(&container["env"], name)["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no plain value"))
}

#[test]
fn the_deployment_keeps_its_promises() {
    let test = "the_deployment_keeps_its_promises";
    let Some(python) = python(test) else {
        return;
    };
    let deployment = object(&python, "deployment.yaml");
    let config = object(&python, "configmap.yaml");
    let pvc = object(&python, "pvc.yaml");
    let secret = object(&python, EXAMPLE_SECRET);
    let account = object(&python, "serviceaccount.yaml");
    assert_eq!(deployment["kind"], "Deployment");

    // One updater, never two at once.
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteOnce"])
    );

    // The node's network namespace, for the netlink source.
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["enableServiceLinks"], false);

    // No API token, non-root, seccomp.
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(account["automountServiceAccountToken"], false);
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert_eq!(pod_security["runAsUser"], 65532);
    assert_eq!(pod_security["runAsGroup"], 65532);
    assert_eq!(pod_security["fsGroup"], 65532);
    assert_eq!(pod_security["seccompProfile"]["type"], "RuntimeDefault");

    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(container["image"], "ghcr.io/example/ddns:0.1.0");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(security["capabilities"].get("add").is_none(), "{security}");
    assert_ne!(security["privileged"], true);
    for (kind, cpu, memory) in [("requests", "10m", "16Mi"), ("limits", "100m", "64Mi")] {
        assert_eq!(container["resources"][kind]["cpu"], cpu, "{kind}");
        assert_eq!(container["resources"][kind]["memory"], memory, "{kind}");
    }

    // Probes on the metrics endpoint, at the pod's (the node's) address.
    let port = named(&container["ports"], "metrics");
    assert_eq!(port["containerPort"], 9851);
    assert_eq!(env_value(container, "DDNS_METRICS_ADDR"), "$(POD_IP):9851");
    let env = container["env"].as_array().unwrap();
    let position = |name: &str| env.iter().position(|v| v["name"] == name).unwrap();
    assert!(
        position("POD_IP") < position("DDNS_METRICS_ADDR"),
        "$(POD_IP) expands only to a variable defined before it"
    );
    assert_eq!(
        named(&container["env"], "POD_IP")["valueFrom"]["fieldRef"]["fieldPath"],
        "status.podIP"
    );
    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == port["name"] || get["port"] == port["containerPort"],
            "{probe} probes port {}, not the metrics port",
            get["port"]
        );
        assert!(
            get.get("host").is_none(),
            "{probe}: the kubelet's default host is the pod IP"
        );
    }

    // Settings from the ConfigMap; the metrics address only from env, where
    // it overrides anything envFrom gives.
    assert_eq!(
        container["envFrom"][0]["configMapRef"]["name"],
        config["metadata"]["name"]
    );
    let data = config["data"].as_object().unwrap();
    assert!(!data.contains_key("DDNS_METRICS_ADDR"), "{data:?}");
    assert!(
        data.keys()
            .all(|key| !key.starts_with("DDNS_PROVIDER_API_TOKEN")),
        "the token belongs in the Secret"
    );
    assert_eq!(data["DDNS_STATE_STORE_TYPE"], "file");

    // ddnsd's shutdown deadline ends before the kubelet's.
    let shutdown: u64 = data
        .get("DDNS_SHUTDOWN_TIMEOUT_SECS")
        .map_or(30, |v| v.as_str().unwrap().trim().parse().unwrap());
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        grace > shutdown,
        "grace {grace} s <= shutdown timeout {shutdown} s"
    );

    // The state file on the claim, the token from the Secret as a file.
    let mount_of = |volume: &str| {
        named(&container["volumeMounts"], volume)["mountPath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let volumes = &pod["volumes"];
    let state = named(volumes, "state");
    assert_eq!(
        state["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    let state_path = data["DDNS_STATE_STORE_PATH"].as_str().unwrap();
    assert!(
        state_path.starts_with(&format!("{}/", mount_of("state"))),
        "{state_path} is not on the state volume"
    );
    let token = named(volumes, "provider-token");
    assert_eq!(token["secret"]["secretName"], secret["metadata"]["name"]);
    assert_eq!(token["secret"]["defaultMode"], 0o440);
    let item = &token["secret"]["items"][0];
    assert!(
        secret["stringData"]
            .get(item["key"].as_str().unwrap())
            .is_some(),
        "the Secret has no key {}",
        item["key"]
    );
    assert_eq!(
        env_value(container, "DDNS_PROVIDER_API_TOKEN_FILE"),
        format!(
            "{}/{}",
            mount_of("provider-token"),
            item["path"].as_str().unwrap()
        )
    );
    assert_eq!(
        named(&container["volumeMounts"], "provider-token")["readOnly"],
        true
    );
}

/// Lays out `value` as the kubelet mounts a Secret's key: `dir/key` is a
/// link to `..data/key`, `..data` a link to a timestamped directory.
fn kubelet_secret_file(dir: &Path, key: &str, value: &str) -> PathBuf {
    let real = dir.join("..2026_01_01_00_00_00.000000001");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::write(real.join(key), format!("{value}\n")).unwrap();
    std::os::unix::fs::symlink(real.file_name().unwrap(), dir.join("..data")).unwrap();
    std::os::unix::fs::symlink(format!("..data/{key}"), dir.join(key)).unwrap();
    dir.join(key)
}

/// The container's environment as the kubelet makes it: the ConfigMap's
/// data, then `env` (which wins), `$(NAME)` expanded from what is defined
/// before, `POD_IP` given, the token file's path replaced by `token_file`.
fn container_environment(python: &Path, pod_ip: &str, token_file: &Path) -> Vec<(String, String)> {
    let deployment = object(python, "deployment.yaml");
    let config = object(python, "configmap.yaml");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut vars: Vec<(String, String)> = config["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = if name == "POD_IP" {
            pod_ip.to_string()
        } else if name == "DDNS_PROVIDER_API_TOKEN_FILE" {
            token_file.display().to_string()
        } else {
            let mut value = var["value"].as_str().unwrap().to_string();
            for (defined, known) in &vars {
                value = value.replace(&format!("$({defined})"), known);
            }
            value
        };
        vars.retain(|(k, _)| *k != name);
        vars.push((name, value));
    }
    vars
}

fn ddnsd_check(vars: &[(String, String)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("check")
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("ddnsd runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ddnsd_accepts_the_configmap_and_refuses_the_example_token() {
    let test = "ddnsd_accepts_the_configmap_and_refuses_the_example_token";
    let Some(python) = python(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let token = kubelet_secret_file(&real, "api-token", REAL_LOOKING_TOKEN);
    let vars = container_environment(&python, "10.0.0.5", &token);

    let (code, stdout, stderr) = ddnsd_check(&vars);
    assert_eq!(
        code, 0,
        "ddnsd check refused the manifests' settings:\n{stdout}{stderr}"
    );
    assert!(
        !stderr.contains("unknown variable") && !stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(
        stdout.contains("DDNS_METRICS_ADDR=10.0.0.5:9851"),
        "{stdout}"
    );
    assert!(stdout.contains("DDNS_STATE_STORE_TYPE=file"), "{stdout}");
    assert!(!stdout.contains(REAL_LOOKING_TOKEN), "{stdout}");

    // Applied unchanged, the example Secret stops ddnsd at start.
    let secret = object(&python, EXAMPLE_SECRET);
    let example = secret["stringData"]["api-token"].as_str().unwrap();
    let example_dir = dir.path().join("example");
    std::fs::create_dir(&example_dir).unwrap();
    let example_token = kubelet_secret_file(&example_dir, "api-token", example);
    let vars = container_environment(&python, "10.0.0.5", &example_token);
    let (code, stdout, stderr) = ddnsd_check(&vars);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("DDNS_PROVIDER_API_TOKEN: looks like a placeholder"),
        "{stderr}"
    );
}
