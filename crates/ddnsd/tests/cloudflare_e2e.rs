//! The daemon with the Cloudflare provider against the API stand-in, its
//! public address learned from echo services on loopback (the `http`
//! source): records follow the address, a rejected token stops the daemon
//! with exit code 1, an ambiguous answer at start does not, and the token
//! appears nowhere, not even in trace logs or the state file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ddns_cloudflare_standin::{Fault, FaultKind, RecordSpec, StandIn, TokenSpec};
use ddns_testkit::{Daemon, FileEcho};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "e2e-canary-token-7f3a9c1b5d2e8f40";

/// Two echo services answering what `dir/ip` holds.
fn echoes(test: &str, dir: &Path, address: &str) -> Option<(FileEcho, FileEcho)> {
    std::fs::write(dir.join("ip"), format!("{address}\n")).unwrap();
    match (FileEcho::start(dir), FileEcho::start(dir)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            ddns_testkit::skip_or_fail(test, "python3 is not installed");
            None
        }
    }
}

fn command(cf: &StandIn, echoes: &(FileEcho, FileEcho), extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_PROVIDER_API_TOKEN", TOKEN),
        ("DDNS_CLOUDFLARE_API_URL", &cf.url()),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        (
            "DDNS_IP_SOURCE_URLS",
            &format!("{},{}", echoes.0.url("/ip"), echoes.1.url("/ip")),
        ),
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "1"),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
    ]);
    command.envs(extra.iter().copied());
    command
}

/// Waits until the stand-in's record holds `content`.
fn wait_content(cf: &StandIn, id: &str, content: &str, daemon: &Daemon) {
    let deadline = Instant::now() + WAIT;
    while cf.record(id).map(|r| r.content) != Some(content.to_string()) {
        assert!(
            Instant::now() < deadline,
            "the record never held {content}; logs:\n{}",
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn records_follow_the_public_address_and_the_token_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let Some(echoes) = echoes("records_follow", dir.path(), "81.2.69.160") else {
        return;
    };
    let cf = StandIn::start_in_thread();
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    let id = cf.add_record_with(
        &zone,
        RecordSpec::new("A", "home.example.com", "192.0.2.1")
            .ttl(300)
            .comment("set by hand"),
    );
    let state = dir.path().join("state.json");
    let daemon = Daemon::spawn(command(
        &cf,
        &echoes,
        &[
            ("DDNS_LOG_LEVEL", "trace"),
            ("DDNS_STATE_STORE_TYPE", "file"),
            ("DDNS_STATE_STORE_PATH", state.to_str().unwrap()),
        ],
    ));
    wait_content(&cf, &id, "81.2.69.160", &daemon);
    std::fs::write(dir.path().join("ip"), "81.2.69.161\n").unwrap();
    wait_content(&cf, &id, "81.2.69.161", &daemon);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // Changed in place: same ID, TTL and comment kept.
    let record = cf.record(&id).unwrap();
    assert_eq!(record.ttl, 300);
    assert_eq!(record.comment.as_deref(), Some("set by hand"));
    assert_eq!(cf.records(&zone).len(), 1);
    let requests = cf.requests();
    assert_eq!(requests[0].path, "/user/tokens/verify");
    for request in &requests {
        assert_eq!(request.bearer_token(), Some(TOKEN));
    }
    let writes: Vec<_> = requests.iter().filter(|r| r.is_write()).collect();
    assert_eq!(writes.len(), 2, "one PATCH per address");
    for (write, content) in writes.iter().zip(["81.2.69.160", "81.2.69.161"]) {
        assert_eq!(write.method, "PATCH");
        assert_eq!(write.path, format!("/zones/{zone}/dns_records/{id}"));
        assert_eq!(write.body, Some(serde_json::json!({ "content": content })));
    }

    // The token is nowhere: trace logs, error output, state file.
    let logs = format!("{}{}", out.stdout, out.stderr);
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("81.2.69.161"), "{saved}");
    assert!(
        !saved.contains(TOKEN),
        "the token leaked into the state file"
    );
}

#[test]
fn a_rejected_token_at_start_exits_1_and_names_the_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let Some(echoes) = echoes("a_rejected_token", dir.path(), "81.2.69.160") else {
        return;
    };
    let cf = StandIn::start_in_thread();
    cf.add_zone("example.com");
    let daemon = Daemon::spawn(command(&cf, &echoes, &[("DDNS_LOG_LEVEL", "trace")]));
    let out = daemon.finish();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("code 1000: Invalid API Token"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Zone:Read and DNS:Edit"),
        "the message says which permissions are needed: {}",
        out.stderr
    );
    assert!(!format!("{}{}", out.stdout, out.stderr).contains(TOKEN));
    assert!(
        !cf.requests().iter().any(|r| r.is_write()),
        "nothing written with a rejected token"
    );
}

#[test]
fn an_html_challenge_at_start_is_retried_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let Some(echoes) = echoes("an_html_challenge", dir.path(), "81.2.69.160") else {
        return;
    };
    let cf = StandIn::start_in_thread();
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    cf.inject(Fault::new(FaultKind::HtmlChallenge { status: 403 }).path_contains("/tokens/verify"));
    let daemon = Daemon::spawn(command(&cf, &echoes, &[]));
    daemon.wait_for("cannot check the credentials now", WAIT);
    let deadline = Instant::now() + WAIT;
    while cf.records(&zone).is_empty() {
        assert!(Instant::now() < deadline, "{}", daemon.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cf.records(&zone)[0].content, "81.2.69.160");
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("an HTML page instead of JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_shows_the_settings_and_names_a_bad_variable() {
    let base = [
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_PROVIDER_API_TOKEN", TOKEN),
    ];
    let run = |extra: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .arg("check")
            .env_clear()
            .envs(base)
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, stderr) = run(&[("DDNS_CLOUDFLARE_PROXIED", "true")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("DDNS_PROVIDER_API_TOKEN=<redacted>"),
        "{stdout}"
    );
    assert!(stdout.contains("DDNS_CLOUDFLARE_PROXIED=true"), "{stdout}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    for (variable, value, message) in [
        (
            "DDNS_CLOUDFLARE_ZONE_ID",
            "example.com",
            "Configuration error: DDNS_CLOUDFLARE_ZONE_ID: 'example.com' is not a Cloudflare ID",
        ),
        (
            "DDNS_CLOUDFLARE_API_URL",
            "http://api.example.net/client/v4",
            "Configuration error: DDNS_CLOUDFLARE_API_URL: http://api.example.net is not encrypted",
        ),
        (
            "DDNS_TTL",
            "5",
            "Configuration error: DDNS_TTL: 5 is too short for Cloudflare",
        ),
    ] {
        let (code, _, stderr) = run(&[(variable, value)]);
        assert_eq!(code, Some(1), "{variable}: {stderr}");
        assert!(stderr.contains(message), "{variable}: {stderr}");
    }
    let (code, _, stderr) = Command::new(BIN)
        .arg("check")
        .env_clear()
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ])
        .output()
        .map(|o| {
            (
                o.status.code(),
                (),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        })
        .unwrap();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Configuration error: DDNS_PROVIDER_API_TOKEN: is required"),
        "{stderr}"
    );
}
