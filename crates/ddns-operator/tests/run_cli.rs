//! `ddns-operator run` before it reaches the cluster: bad settings exit 1
//! naming the variable, an unreachable API server exits 2 saying so, and a
//! reachable one (the fake, served over HTTP) runs until SIGTERM, then
//! exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ddns-operator");

fn run(env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(BIN)
        .arg("run")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run ddns-operator");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_settings_exit_1_and_name_the_variable() {
    for (name, value, reason) in [
        ("DDNS_OPERATOR_METRICS_ADDR", "9852", "is not address:port"),
        (
            "DDNS_OPERATOR_ZONE_DIR",
            "relative/dir",
            "must be an absolute path",
        ),
        (
            "DDNS_OPERATOR_REQUEUE_SECS",
            "5",
            "5 is out of range (expected 10..=86400)",
        ),
        (
            "DDNS_OPERATOR_LEADER_ELECTION",
            "sometimes",
            "is not a boolean",
        ),
        (
            "DDNS_OPERATOR_NAMESPACE",
            "Not_A_Namespace",
            "is not a namespace name",
        ),
        (
            "DDNS_LOG_LEVEL",
            "loud",
            "'loud' is not one of: trace, debug, info, warn, error",
        ),
    ] {
        let (code, stderr) = run(&[(name, value)]);
        assert_eq!(code, 1, "{name}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("configuration error: {name}: ")) && stderr.contains(reason),
            "{name}={value}: {stderr}"
        );
    }
}

#[test]
fn no_cluster_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    // A kubeconfig naming a server nothing listens on.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n",
    )
    .unwrap();
    let (code, stderr) = run(&[
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
        ("DDNS_OPERATOR_METRICS_ADDR", "off"),
        ("HOME", dir.path().to_str().unwrap()),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot reach the Kubernetes API"),
        "{stderr}"
    );
}
