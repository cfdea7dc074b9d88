//! Readiness and uptime through the daemon: the transitions in the logs,
//! `ddnsd status` reading the state file, and uptime carried over a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ddns_testkit::{Daemon, FileEcho};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);

fn daemon_command(echo: &FileEcho, state: &Path, confirmations: &str) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &echo.url("/ip")),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state.to_str().unwrap()),
        ("DDNS_READY_CONFIRMATIONS", confirmations),
    ]);
    command
}

fn status(state: &Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("status")
        .env_clear()
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_STATE_STORE_TYPE", "file"),
            ("DDNS_STATE_STORE_PATH", state.to_str().unwrap()),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn ready_after_two_confirmations_then_status_and_uptime_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "81.2.69.160\n").unwrap();
    let Some(echo) = FileEcho::start(dir.path()) else {
        ddns_testkit::skip_or_fail("ready_after_two_confirmations", "python3 is not installed");
        return;
    };
    let state = dir.path().join("state.json");
    let (code, text) = status(&state);
    assert_eq!(code, Some(2), "no state file yet: {text}");

    let daemon = Daemon::spawn(daemon_command(&echo, &state, "2"));
    daemon.wait_for("from=starting to=probing", WAIT);
    assert!(
        !daemon.logs().contains("to=ready"),
        "one confirmation is not enough: {}",
        daemon.logs()
    );
    // The second confirming pass comes by itself, 10 s after the first.
    daemon.wait_for(
        "from=probing to=ready reason=every record confirmed in 2 consecutive pass(es)",
        WAIT,
    );
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let (code, first) = status(&state);
    assert_eq!(code, Some(0), "{first}");
    assert!(first.contains("readiness: ready since "), "{first}");
    assert!(first.contains("home.example.com A  81.2.69.160"), "{first}");
    let passes = |text: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with("availability:"))
            .unwrap_or_else(|| panic!("no availability line: {text}"));
        let (_, rest) = line.split_once("; ").unwrap();
        rest.split(' ').nth(2).unwrap().parse().unwrap()
    };
    let before = passes(&first);
    assert!(before >= 2, "{first}");

    let daemon = Daemon::spawn(daemon_command(&echo, &state, "1"));
    daemon.wait_for("to=ready", WAIT);
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));
    let (_, second) = status(&state);
    assert!(
        passes(&second) > before,
        "the counts go on from the first run:\n{first}\n{second}"
    );
}

#[test]
fn status_needs_the_file_store() {
    let out = Command::new(BIN)
        .arg("status")
        .env_clear()
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Configuration error: DDNS_STATE_STORE_TYPE: status reads the state file"),
        "{stderr}"
    );
}
