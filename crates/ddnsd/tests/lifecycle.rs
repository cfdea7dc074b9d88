//! The built daemon end to end: signals, reacting to addresses in a
//! network namespace, the state file, `once`, and secrets at trace level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ddns_testkit::{Daemon, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const CANARY: &str = "Zk3r9qP2mXa7LwT-canary-77ab";
const WAIT: Duration = Duration::from_secs(20);

fn daemon_in(ns: &Netns, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = ns.command(BIN);
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command.envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_IP_SOURCE_INTERFACE", "v0"),
    ]);
    command.envs(vars.iter().copied());
    command
}

#[test]
fn sigterm_and_sigint_end_the_daemon_cleanly() {
    for signal in ["TERM", "INT"] {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("DDNS_RECORDS", "home.example.com")
            .env("DDNS_PROVIDER_TYPE", "dry-run");
        let daemon = Daemon::spawn(command);
        daemon.wait_for("engine ready", WAIT);
        daemon.signal(signal);
        let out = daemon.finish();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("signal=\"SIG{signal}\"")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("shutdown signal received"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.trim_end().ends_with("stopped"), "{}", out.stderr);
    }
}

#[test]
fn sighup_is_ignored_with_a_hint_and_the_daemon_keeps_running() {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("DDNS_RECORDS", "home.example.com")
        .env("DDNS_PROVIDER_TYPE", "dry-run");
    let daemon = Daemon::spawn(command);
    daemon.wait_for("engine ready", WAIT);
    daemon.signal("HUP");
    daemon.wait_for(
        "SIGHUP ignored: the configuration is read from the environment at start; restart the daemon to apply a change",
        WAIT,
    );
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(
        out.code,
        Some(0),
        "still running until SIGTERM: {}",
        out.stderr
    );
    assert!(out.stderr.contains("signal=\"SIGTERM\""), "{}", out.stderr);
}

#[test]
fn an_address_added_in_a_namespace_reaches_the_provider() {
    let Some(ns) = Netns::create("an_address_added_in_a_namespace_reaches_the_provider") else {
        return;
    };
    let daemon = Daemon::spawn(daemon_in(
        &ns,
        &[],
        &[
            ("DDNS_IP_FAMILIES", "ipv4,ipv6"),
            ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ],
    ));
    daemon.wait_for("netlink address watch started", WAIT);
    for line in [
        "starting",
        "configuration loaded records=2 provider=dry-run state_store=memory",
        "address source chosen source=netlink families=ipv4,ipv6",
        "managing record record=home.example.com A provider=dry-run",
        "managing record record=home.example.com AAAA provider=dry-run",
        "engine ready",
    ] {
        assert!(
            daemon.logs().contains(line),
            "missing {line:?}:\n{}",
            daemon.logs()
        );
    }
    ns.ip(&["addr", "add", "192.0.2.10/32", "dev", "v0"]);
    daemon.wait_for("dry run: would set the record to this address record=home.example.com record_type=\"A\" address=192.0.2.10", WAIT);
    ns.ip(&["addr", "add", "2001:db8::10/64", "dev", "v0", "nodad"]);
    daemon.wait_for("record_type=\"AAAA\" address=2001:db8::10", WAIT);
    ns.ip(&["addr", "add", "192.0.2.11/32", "dev", "v0"]);
    ns.ip(&["addr", "del", "192.0.2.10/32", "dev", "v0"]);
    daemon.wait_for(
        "record updated record=home.example.com A address=192.0.2.11 previous=192.0.2.10",
        WAIT,
    );
    ns.ip(&["addr", "del", "192.0.2.11/32", "dev", "v0"]);
    daemon.wait_for(
        "address lost; records keep their current value family=ipv4",
        WAIT,
    );
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("dry run: would set").count(),
        3,
        "{}",
        out.stderr
    );
}

fn state_file_mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_never_reach_logs_or_the_state_file_even_at_trace_level() {
    let Some(ns) = Netns::create("secrets_never_reach_logs_or_the_state_file_even_at_trace_level")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_text = state.to_string_lossy().to_string();
    ns.ip(&["addr", "add", "192.0.2.20/32", "dev", "v0"]);
    let vars = [
        ("DDNS_LOG_LEVEL", "trace"),
        ("DDNS_LOG_FORMAT", "json"),
        ("DDNS_PROVIDER_API_TOKEN", CANARY),
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state_text.as_str()),
    ];
    let daemon = Daemon::spawn(daemon_in(&ns, &[], &vars));
    daemon.wait_for("record updated", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for line in out.stderr.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            value.get("level").is_some() && value.get("message").is_some(),
            "{line}"
        );
    }
    assert!(
        out.stderr.contains("\"level\":\"TRACE\"") || out.stderr.contains("\"level\":\"DEBUG\""),
        "trace level is on"
    );
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("\"home.example.com/A\"") && saved.contains("192.0.2.20"),
        "{saved}"
    );
    for (what, text) in [
        ("logs", &out.stderr),
        ("stdout", &out.stdout),
        ("state file", &saved),
    ] {
        assert!(!text.contains(CANARY), "the secret appears in the {what}");
    }
    assert_eq!(state_file_mode(&state), 0o600);

    // `check` at trace level shows it redacted, and nowhere in clear.
    let out = Daemon::spawn(daemon_in(&ns, &["check"], &vars)).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("DDNS_PROVIDER_API_TOKEN=<redacted>"));
    assert!(!out.stdout.contains(CANARY) && !out.stderr.contains(CANARY));
}

#[test]
fn a_restart_with_nothing_changed_writes_nothing() {
    let Some(ns) = Netns::create("a_restart_with_nothing_changed_writes_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_text = state.to_string_lossy().to_string();
    let vars = [
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state_text.as_str()),
    ];
    ns.ip(&["addr", "add", "192.0.2.30/32", "dev", "v0"]);

    let first = Daemon::spawn(daemon_in(&ns, &[], &vars));
    first.wait_for("record updated", WAIT);
    first.signal("TERM");
    assert_eq!(first.finish().code, Some(0));

    let second = Daemon::spawn(daemon_in(&ns, &[], &vars));
    second.wait_for("address changed family=ipv4 address=192.0.2.30", WAIT);
    // Sentinel: a later change must be the first write of this run.
    ns.ip(&["addr", "add", "192.0.2.31/32", "dev", "v0"]);
    ns.ip(&["addr", "del", "192.0.2.30/32", "dev", "v0"]);
    second.wait_for("update held back by the minimum update interval", WAIT);
    second.signal("TERM");
    let out = second.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stderr.contains("dry run: would set"),
        "nothing is written:\n{}",
        out.stderr
    );
}

#[test]
fn once_converges_reports_and_exits() {
    let Some(ns) = Netns::create("once_converges_reports_and_exits") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_text = state.to_string_lossy().to_string();
    let vars = [
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state_text.as_str()),
    ];
    ns.ip(&["addr", "add", "192.0.2.40/32", "dev", "v0"]);

    let out = Daemon::spawn(daemon_in(&ns, &["once"], &vars)).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "home.example.com A: updated to 192.0.2.40\n");

    let out = Daemon::spawn(daemon_in(&ns, &["once"], &vars)).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "home.example.com A: unchanged, holds 192.0.2.40\n"
    );

    let with_v6 = [vars[0], vars[1], ("DDNS_IP_FAMILIES", "ipv4,ipv6")];
    let out = Daemon::spawn(daemon_in(&ns, &["once"], &with_v6)).finish();
    assert_eq!(
        out.code,
        Some(2),
        "a family without an address is not success: {}",
        out.stderr
    );
    assert_eq!(
        out.stdout,
        "home.example.com A: unchanged, holds 192.0.2.40\nhome.example.com AAAA: no address of this family was found; record left alone\n"
    );

    // A running daemon holds the state file: `once` refuses to race it.
    let daemon = Daemon::spawn(daemon_in(&ns, &[], &vars));
    daemon.wait_for("engine ready", WAIT);
    let out = Daemon::spawn(daemon_in(&ns, &["once"], &vars)).finish();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Configuration error: the state file {state_text} is locked by another ddnsd process"
        )),
        "{}",
        out.stderr
    );
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));
}
