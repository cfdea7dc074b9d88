//! The observers through the daemon: a provider outage makes it Degraded
//! (`/readyz` 503, the health-check `/fail` ping, the failure counted in
//! `/metrics`), and its end makes it Ready again (`/readyz` 200, a success
//! ping). The provider is the Cloudflare stand-in, the address comes from
//! an echo service, the pings go to a recording HTTP server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use ddns_cloudflare_standin::{Fault, FaultKind, StandIn, TokenSpec};
use ddns_testkit::{Daemon, FileEcho, HttpEcho};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "observe-e2e-token-0f1e2d3c4b5a6978";

/// `(status, body)` of a GET, through curl.
fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn wait_until(what: &str, daemon: &Daemon, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} never happened; logs:\n{}",
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_provider_outage_is_seen_in_readyz_pings_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "81.2.69.160\n").unwrap();
    if Command::new("curl").arg("--version").output().is_err() {
        ddns_testkit::skip_or_fail("a_provider_outage", "curl is not installed");
        return;
    }
    let (Some(echo), Some(pings)) = (
        FileEcho::start(dir.path()),
        HttpEcho::on("127.0.0.1".parse().unwrap()).start("a_provider_outage"),
    ) else {
        ddns_testkit::skip_or_fail("a_provider_outage", "python3 is not installed");
        return;
    };
    let cf = StandIn::start_in_thread();
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    let id = cf.add_record(&zone, "A", "home.example.com", "192.0.2.1");
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_PROVIDER_API_TOKEN", TOKEN),
        ("DDNS_CLOUDFLARE_API_URL", &cf.url()),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &echo.url("/ip")),
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "1"),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_READY_CONFIRMATIONS", "1"),
        ("DDNS_METRICS_ADDR", &metrics),
        ("DDNS_HEALTHCHECK_URL", &pings.url("/ping/check-uuid")),
    ]);
    let daemon = Daemon::spawn(command);
    let readyz = format!("http://{metrics}/readyz");
    let paths = || -> Vec<String> { pings.hits().into_iter().map(|h| h.path).collect() };

    // Ready: the record holds the address, /readyz 200, /start then a success ping.
    wait_until("Ready", &daemon, || get(&readyz).0 == 200);
    assert_eq!(cf.record(&id).unwrap().content, "81.2.69.160");
    wait_until("the success ping", &daemon, || {
        paths().iter().any(|p| p == "/ping/check-uuid")
    });
    assert_eq!(paths()[0], "/ping/check-uuid/start", "{:?}", paths());

    // The provider fails: Degraded, /readyz 503 with the reason, /fail.
    cf.inject(
        Fault::new(FaultKind::Status {
            status: 500,
            code: 10001,
            message: "Internal error".into(),
        })
        .method("PATCH")
        .always(),
    );
    std::fs::write(dir.path().join("ip"), "81.2.69.161\n").unwrap();
    wait_until("/readyz 503", &daemon, || get(&readyz).0 == 503);
    let (_, body) = get(&readyz);
    assert!(
        body.starts_with(
            "degraded: provider failing: Cloudflare: writing home.example.com A: HTTP 500"
        ),
        "{body}"
    );
    wait_until("the /fail ping", &daemon, || {
        paths().iter().any(|p| p == "/ping/check-uuid/fail")
    });
    let (code, text) = get(&format!("http://{metrics}/metrics"));
    assert_eq!(code, 200);
    assert!(
        text.contains("ddns_readiness_state{state=\"degraded\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains(
            "ddns_record_updates_total{record=\"home.example.com\",type=\"A\",result=\"failed\"} 0"
        ),
        "{text}"
    );

    // The provider is back: the retry writes, Ready again, a success ping after /fail.
    cf.clear_faults();
    wait_until("the new address written", &daemon, || {
        cf.record(&id).unwrap().content == "81.2.69.161"
    });
    wait_until("/readyz 200 again", &daemon, || get(&readyz).0 == 200);
    wait_until("a success ping after /fail", &daemon, || {
        let p = paths();
        let fail = p.iter().position(|x| x == "/ping/check-uuid/fail");
        fail.is_some_and(|f| p[f + 1..].iter().any(|x| x == "/ping/check-uuid"))
    });
    assert!(
        daemon.logs().contains("from=degraded to=recovering")
            && daemon.logs().contains("from=recovering to=ready"),
        "back to Ready through Recovering: {}",
        daemon.logs()
    );
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains(TOKEN) && !out.stderr.contains("check-uuid"));
}

#[test]
fn a_failing_wan_probe_degrades_with_a_network_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "81.2.69.160\n").unwrap();
    if Command::new("curl").arg("--version").output().is_err() {
        ddns_testkit::skip_or_fail("a_failing_wan_probe", "curl is not installed");
        return;
    }
    let Some(echo) = FileEcho::start(dir.path()) else {
        ddns_testkit::skip_or_fail("a_failing_wan_probe", "python3 is not installed");
        return;
    };
    let metrics = format!("127.0.0.1:{}", free_port());
    let dead = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &echo.url("/ip")),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_READY_CONFIRMATIONS", "1"),
        ("DDNS_METRICS_ADDR", &metrics),
        ("DDNS_PROBE_WAN", &dead),
        ("DDNS_PROBE_TIMEOUT_SECS", "1"),
        ("DDNS_PROBE_INTERVAL_SECS", "5"),
        ("DDNS_PROBE_EVERY_SECS", "5"),
    ]);
    let daemon = Daemon::spawn(command);
    let readyz = format!("http://{metrics}/readyz");
    daemon.wait_for("to=ready", WAIT);
    wait_until("/readyz 503 for the network", &daemon, || {
        get(&readyz).1.starts_with("degraded: network down: ")
    });
    let (code, body) = get(&readyz);
    assert_eq!(code, 503);
    assert!(body.contains(&dead), "the probe's target is named: {body}");
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn check_shows_the_observers_and_names_a_bad_variable() {
    let run = |extra: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .arg("check")
            .env_clear()
            .envs([
                ("DDNS_RECORDS", "home.example.com"),
                ("DDNS_PROVIDER_TYPE", "dry-run"),
            ])
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, _) = run(&[]);
    assert_eq!(code, Some(0));
    for line in [
        "DDNS_METRICS_ADDR=(off)",
        "notifications=(none configured)",
        "probes=(none configured)",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    let secret = "hc-secret-uuid-12345";
    let (code, stdout, stderr) = run(&[
        ("DDNS_METRICS_ADDR", "127.0.0.1:9851"),
        (
            "DDNS_HEALTHCHECK_URL",
            &format!("https://hc-ping.com/{secret}"),
        ),
        ("DDNS_PROBE_WAN", "1.1.1.1:443"),
        ("DDNS_PROBE_TIMEOUT_SECS", "3"),
        ("DDNS_NOTIFY_TIMEOUT_SECS", "5"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("DDNS_METRICS_ADDR=127.0.0.1:9851"),
        "{stdout}"
    );
    assert!(stdout.contains("https://hc-ping.com"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    assert!(
        !stderr.contains("not a known variable"),
        "every observer variable is known: {stderr}"
    );
    for (variable, value, message) in [
        (
            "DDNS_METRICS_ADDR",
            "localhost:9851",
            "Configuration error: DDNS_METRICS_ADDR: 'localhost:9851' is not an IP address and port",
        ),
        (
            "DDNS_HEALTHCHECK_URL",
            "http://hc.example.net/x",
            "Configuration error: DDNS_HEALTHCHECK_URL: http://hc.example.net is not encrypted",
        ),
        (
            "DDNS_RECOVERY_URL",
            "https://plug.example.net/cycle",
            "Configuration error: DDNS_RECOVERY_URL:",
        ),
    ] {
        let (code, _, stderr) = run(&[(variable, value)]);
        assert_eq!(code, Some(1), "{variable}: {stderr}");
        assert!(stderr.contains(message), "{variable}: {stderr}");
    }

    // A notification timeout the shutdown timeout would cut short is
    // valid, but said.
    let warning = "DDNS_NOTIFY_TIMEOUT_SECS is not below DDNS_SHUTDOWN_TIMEOUT_SECS: notifications still queued at shutdown may be cut off when the shutdown timeout ends the daemon notify_timeout_secs=20 shutdown_timeout_secs=15";
    let ping = format!("https://hc-ping.com/{secret}");
    let (code, _, stderr) = run(&[
        ("DDNS_HEALTHCHECK_URL", &ping),
        ("DDNS_NOTIFY_TIMEOUT_SECS", "20"),
        ("DDNS_SHUTDOWN_TIMEOUT_SECS", "15"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(warning), "{stderr}");
    let (code, _, stderr) = run(&[
        ("DDNS_HEALTHCHECK_URL", &ping),
        ("DDNS_NOTIFY_TIMEOUT_SECS", "10"),
        ("DDNS_SHUTDOWN_TIMEOUT_SECS", "15"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains("DDNS_NOTIFY_TIMEOUT_SECS is not below"),
        "{stderr}"
    );
}

#[test]
fn the_recovery_request_goes_once_per_cooldown_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "81.2.69.160\n").unwrap();
    let (Some(echo), Some(plug)) = (
        FileEcho::start(dir.path()),
        HttpEcho::on("127.0.0.1".parse().unwrap()).start("the_recovery_request"),
    ) else {
        ddns_testkit::skip_or_fail("the_recovery_request", "python3 is not installed");
        return;
    };
    let dead = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &echo.url("/ip")),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_READY_CONFIRMATIONS", "1"),
        ("DDNS_PROBE_WAN", &dead),
        ("DDNS_PROBE_TIMEOUT_SECS", "1"),
        ("DDNS_PROBE_INTERVAL_SECS", "5"),
        ("DDNS_PROBE_EVERY_SECS", "5"),
        ("DDNS_RECOVERY_URL", &plug.url("/power/cycle-secret")),
        ("DDNS_RECOVERY_METHOD", "GET"),
        ("DDNS_RECOVERY_AFTER_SECS", "10"),
        ("DDNS_RECOVERY_COOLDOWN_SECS", "10"),
        ("DDNS_RECOVERY_MAX_ATTEMPTS", "2"),
    ]);
    let daemon = Daemon::spawn(command);
    let calls = || plug.hits().len();
    wait_until("the first recovery request", &daemon, || calls() >= 1);
    let first = Instant::now();
    wait_until("the second recovery request", &daemon, || calls() >= 2);
    assert!(
        first.elapsed() >= Duration::from_secs(5),
        "the second request waited for the cooldown"
    );
    // The limit of two per outage: nothing more while the outage lasts.
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(calls(), 2, "{}", daemon.logs());
    assert!(plug.hits().iter().all(|h| h.path == "/power/cycle-secret"));
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stderr.contains("cycle-secret"),
        "the recovery URL's path is a secret"
    );
}
