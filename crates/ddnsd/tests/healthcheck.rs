//! `ddnsd healthcheck` against a running and a stopped daemon: through
//! `/healthz` when metrics are on, through the state file's lock and age
//! when they are off, and the configuration error when neither is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use ddns_testkit::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(20);

/// A daemon that needs nothing from this machine: dry-run, and an
/// interface that does not exist, so no address and no write.
fn daemon(vars: &[(&str, &str)]) -> Daemon {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_IP_SOURCE_INTERFACE", "ddnst-absent0"),
        ])
        .envs(vars.iter().copied());
    Daemon::spawn(command)
}

struct Checked {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn healthcheck(vars: &[(&str, &str)]) -> Checked {
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    Checked {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn healthz_of_a_running_daemon_is_healthy_and_a_stopped_one_is_not() {
    let addr = format!("127.0.0.1:{}", free_port());
    let vars = [("DDNS_METRICS_ADDR", addr.as_str())];
    let running = daemon(&vars);
    running.wait_for("metrics endpoint listening", WAIT);

    let check = healthcheck(&vars);
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    assert_eq!(
        check.stdout,
        format!("healthy: http://{addr}/healthz answered 200 ok\n")
    );
    assert!(
        running.logs().contains("starting") && !running.logs().contains("healthcheck"),
        "the check leaves no trace in the daemon's logs"
    );

    running.signal("TERM");
    assert_eq!(running.finish().code, Some(0));
    let check = healthcheck(&vars);
    assert_eq!(check.code, Some(2), "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.starts_with(&format!(
            "unhealthy: http://{addr}/healthz: cannot connect: Connection refused"
        )),
        "{}",
        check.stdout
    );
}

#[test]
fn a_listener_that_is_not_healthy_fails_the_check() {
    // Anything but 200 is unhealthy: a server that answers 503.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let n = stream.read(&mut request).unwrap();
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 8\r\nconnection: close\r\n\r\nstopping")
            .unwrap();
        String::from_utf8_lossy(&request[..n]).to_string()
    });
    let check = healthcheck(&[("DDNS_METRICS_ADDR", addr.as_str())]);
    let request = server.join().unwrap();
    assert_eq!(check.code, Some(2), "{}{}", check.stdout, check.stderr);
    assert_eq!(
        check.stdout,
        format!("unhealthy: http://{addr}/healthz answered 503 stopping\n")
    );
    assert!(
        request.starts_with("GET /healthz HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&format!("host: {addr}\r\n")), "{request}");
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_metrics_the_state_file_lock_and_age_decide() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_text = state.to_str().unwrap();
    let store = [
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", state_text),
    ];
    let running = daemon(&store);
    running.wait_for("engine ready", WAIT);
    // The first pass writes the state file.
    wait_for_file(&state);

    let as_daemon = [store[0], store[1], ("DDNS_PROVIDER_TYPE", "dry-run")];
    let check = healthcheck(&as_daemon);
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.starts_with(&format!(
            "healthy: ddnsd (pid {}) holds {state_text}.lock; state written ",
            running.pid()
        )),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.ends_with(
            "(its age is not judged: the dry-run provider cannot read its records, so nothing re-checks them)\n"
        ),
        "{}",
        check.stdout
    );

    // With a provider that re-checks every 60 s, a file last written two
    // hours ago means the engine stopped: 2 × 60 s + 15 min at most.
    let rechecking = [
        store[0],
        store[1],
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_RECHECK_INTERVAL_SECS", "60"),
    ];
    let check = healthcheck(&rechecking);
    assert_eq!(
        check.code,
        Some(0),
        "fresh: {}{}",
        check.stdout,
        check.stderr
    );
    let file = std::fs::File::options().write(true).open(&state).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    drop(file);
    let check = healthcheck(&rechecking);
    assert_eq!(check.code, Some(2), "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("but the state file was last written 2h")
            && check
                .stdout
                .ends_with("ago (limit 17m): re-checks should write it; the engine seems stuck\n"),
        "{}",
        check.stdout
    );

    running.signal("TERM");
    assert_eq!(running.finish().code, Some(0));
    let check = healthcheck(&as_daemon);
    assert_eq!(check.code, Some(2), "{}{}", check.stdout, check.stderr);
    assert_eq!(
        check.stdout,
        format!(
            "unhealthy: no process holds {state_text}.lock: ddnsd is not running with DDNS_STATE_STORE_PATH={state_text}\n"
        )
    );
}

#[test]
fn with_nothing_to_check_it_says_what_to_set() {
    let check = healthcheck(&[("DDNS_RECORDS", "home.example.com")]);
    assert_eq!(check.code, Some(1));
    assert_eq!(check.stdout, "");
    assert_eq!(
        check.stderr,
        "Configuration error: DDNS_METRICS_ADDR: healthcheck needs the metrics endpoint \
         (DDNS_METRICS_ADDR, e.g. 127.0.0.1:9851) or the file state store \
         (DDNS_STATE_STORE_TYPE=file and DDNS_STATE_STORE_PATH), set as for the daemon\n"
    );
    let check = healthcheck(&[("DDNS_METRICS_ADDR", "")]);
    assert_eq!(check.code, Some(1));
    assert!(
        check
            .stderr
            .starts_with("Configuration error: DDNS_METRICS_ADDR: is set but empty"),
        "{}",
        check.stderr
    );
}
