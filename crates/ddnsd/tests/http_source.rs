//! The daemon with the `http` source: two echo services on loopback (plain
//! static-file servers, so nothing here parses HTTP by hand) must agree
//! before anything is written, and a change is followed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ddns_testkit::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);

/// `python3 -m http.server` serving `dir` on a free loopback port.
struct Echo {
    child: Child,
    port: u16,
}

impl Echo {
    fn start(dir: &Path) -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the echo server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ip", self.port)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_agreeing_services_are_published_and_a_change_is_followed() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(a.path().join("ip"), "81.2.69.160\n").unwrap();
    std::fs::write(b.path().join("ip"), "81.2.69.9\n").unwrap();
    let (Some(first), Some(second)) = (Echo::start(a.path()), Echo::start(b.path())) else {
        ddns_testkit::skip_or_fail("two_agreeing_services", "python3 is not installed");
        return;
    };
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        (
            "DDNS_IP_SOURCE_URLS",
            &format!("{},{}", first.url(), second.url()),
        ),
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "1"),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
    ]);
    let daemon = Daemon::spawn(command);
    // They disagree: nothing may be published.
    daemon.wait_for(
        "no trusted address; nothing is published until enough sources agree",
        WAIT,
    );
    assert!(
        !daemon.logs().contains("dry run: would set"),
        "{}",
        daemon.logs()
    );
    std::fs::write(b.path().join("ip"), "81.2.69.160\n").unwrap();
    daemon.wait_for("dry run: would set the record to this address record=home.example.com record_type=\"A\" address=81.2.69.160", WAIT);
    std::fs::write(a.path().join("ip"), "81.2.69.161\n").unwrap();
    std::fs::write(b.path().join("ip"), "81.2.69.161\n").unwrap();
    daemon.wait_for("address=81.2.69.161", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("sources disagree: http://127.0.0.1:"),
        "the split names each answer: {}",
        out.stderr
    );
}

#[test]
fn a_private_answer_is_refused_without_the_nonglobal_switch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ip"), "192.168.1.20").unwrap();
    let Some(echo) = Echo::start(dir.path()) else {
        ddns_testkit::skip_or_fail("a_private_answer_is_refused", "python3 is not installed");
        return;
    };
    let mut command = Command::new(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.com"),
        ("DDNS_PROVIDER_TYPE", "dry-run"),
        ("DDNS_IP_SOURCE_TYPE", "http"),
        ("DDNS_IP_SOURCE_URLS", &echo.url()),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
    ]);
    let daemon = Daemon::spawn(command);
    daemon.wait_for("a private address that cannot be public", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0));
    assert!(!out.stderr.contains("dry run: would set"), "{}", out.stderr);
}
