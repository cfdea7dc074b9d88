//! Canary secrets in every secret variable, every mode run at trace level:
//! `check`, `once`, the daemon, `status` and `healthcheck`. The canaries
//! must appear nowhere: not in any output, not in the state file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use ddns_cloudflare_standin::{StandIn, TokenSpec};
use ddns_testkit::{Daemon, FileEcho, HttpEcho};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "canary-token-5e1f9a0b7c3d2468ace0";
const URL_CANARY: &str = "canary-url-path-77f3c1";
const RECOVERY_CANARY: &str = "canary-recovery-9b2d4e";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_clean(what: &str, text: &str) {
    for canary in [TOKEN, URL_CANARY, RECOVERY_CANARY] {
        assert!(
            !text.contains(canary),
            "{what} shows the secret {canary}:\n{text}"
        );
    }
}

#[test]
fn no_mode_shows_a_secret_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "81.2.69.160\n").unwrap();
    let (Some(echo), Some(pings)) = (
        FileEcho::start(dir.path()),
        HttpEcho::on("127.0.0.1".parse().unwrap()).start("no_mode_shows_a_secret"),
    ) else {
        ddns_testkit::skip_or_fail("no_mode_shows_a_secret", "python3 is not installed");
        return;
    };
    let cf = StandIn::start_in_thread();
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    cf.add_record(&zone, "A", "home.example.com", "192.0.2.1");
    let state = dir.path().join("state.json");
    let metrics = format!("127.0.0.1:{}", free_port());
    let dead = format!("127.0.0.1:{}", free_port());
    let source_urls = format!(
        "{}?key={URL_CANARY},{}?key={URL_CANARY}-2",
        echo.url("/ip"),
        echo.url("/ip")
    );
    let healthcheck_url = pings.url(&format!("/ping/{URL_CANARY}"));
    let recovery_url = pings.url(&format!("/plug/{RECOVERY_CANARY}"));
    let api_url = cf.url();
    let vars: Vec<(&str, &str)> = vec![
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_PROVIDER_API_TOKEN", TOKEN),
        ("DDNS_CLOUDFLARE_API_URL", &api_url),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &source_urls),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_READY_CONFIRMATIONS", "1"),
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state.to_str().unwrap()),
        ("DDNS_METRICS_ADDR", &metrics),
        ("DDNS_HEALTHCHECK_URL", &healthcheck_url),
        ("DDNS_PROBE_WAN", &dead),
        ("DDNS_RECOVERY_URL", &recovery_url),
        ("DDNS_LOG_LEVEL", "trace"),
    ];
    let run = |mode: &str| -> Output {
        Command::new(BIN)
            .arg(mode)
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };

    let check = run("check");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(text(&check).contains("DDNS_PROVIDER_API_TOKEN=<redacted>"));
    assert_clean("check", &text(&check));

    let once = run("once");
    assert_eq!(once.status.code(), Some(0), "{}", text(&once));
    assert!(text(&once).contains("TRACE"), "trace logging was on");
    assert_clean("once", &text(&once));

    let mut command = Command::new(BIN);
    command.env_clear().envs(vars.iter().copied());
    let daemon = Daemon::spawn(command);
    daemon.wait_for("to=ready", WAIT);
    let healthy = run("healthcheck");
    assert_eq!(healthy.status.code(), Some(0), "{}", text(&healthy));
    assert_clean("healthcheck", &text(&healthy));
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_clean("the daemon", &format!("{}{}", out.stdout, out.stderr));

    let status = run("status");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(text(&status).contains("81.2.69.160"), "{}", text(&status));
    assert_clean("status", &text(&status));

    for path in [state.clone(), dir.path().join("state.json.bak")] {
        if let Ok(saved) = std::fs::read_to_string(&path) {
            assert_clean(&path.display().to_string(), &saved);
        }
    }
    // The secrets did travel where they belong.
    assert!(
        cf.requests()
            .iter()
            .all(|r| r.bearer_token() == Some(TOKEN))
    );
    assert!(
        pings
            .hits()
            .iter()
            .any(|h| h.path == format!("/ping/{URL_CANARY}")),
        "the health-check URL was used"
    );
}
