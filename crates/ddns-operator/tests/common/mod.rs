//! Helpers shared by the black-box tests of `ddns-operator`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

pub mod dns;
pub mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_ddns-operator");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn examples_dir() -> PathBuf {
    repo_root().join("docs/examples/operator")
}

pub fn deploy_dir() -> PathBuf {
    repo_root().join("deploy/operator")
}

/// The `*.yaml` files of `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// The exit code, standard output and standard error of a run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs the binary with `args` and `stdin`.
pub fn operator(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ddns-operator runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// `$VARIABLE` if set, else `name` beside `DDNS_K8S_VALIDATE` (the virtual
/// environment scripts/test.sh makes), else `target/venv-k8s/bin/name`,
/// else `name` on PATH; `None` when that does not run with `probe_args`.
pub fn find_tool(variable: &str, name: &str, probe_args: &[&str]) -> Option<PathBuf> {
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

/// A Python with PyYAML and jsonschema, or a skip (a failure under
/// `DDNS_REQUIRE_SYSTEM_TESTS=1`).
pub fn python(test: &str) -> Option<PathBuf> {
    let found = find_tool(
        "DDNS_K8S_PYTHON",
        "python3",
        &["-c", "import jsonschema, yaml"],
    );
    if found.is_none() {
        ddns_testkit::skip_or_fail(
            test,
            "no python3 with PyYAML and jsonschema (scripts/test.sh installs them in \
             target/venv-k8s; or set DDNS_K8S_PYTHON)",
        );
    }
    found
}

/// `kubernetes-validate`, or a skip.
pub fn kubernetes_validate(test: &str) -> Option<PathBuf> {
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

/// The documents of a YAML file as JSON values (read with the YAML
/// library the operator uses).
pub fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}
