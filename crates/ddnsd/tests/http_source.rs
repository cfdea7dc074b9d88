//! The daemon with the `http` source: two echo services on loopback (plain
//! static-file servers, so nothing here parses HTTP by hand) must agree
//! before anything is written, and a change is followed; over IPv6 the
//! echo sees the stable address, not a temporary one (two network
//! namespaces); the netlink trigger watches `DDNS_IP_SOURCE_INTERFACE`
//! only; a private https echo is trusted through `DDNS_IP_SOURCE_CA_FILE`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::{Duration, Instant};

use ddns_testkit::{Daemon, FileEcho as Echo, HttpEcho, Netns, TestCa};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);

/// Two echo services on loopback, each answering the address in its
/// directory's `ip` file.
struct EchoPair {
    dirs: [tempfile::TempDir; 2],
    echoes: [Echo; 2],
}

impl EchoPair {
    fn start(test: &str, first: &str, second: &str) -> Option<Self> {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        std::fs::write(dirs[0].path().join("ip"), format!("{first}\n")).unwrap();
        std::fs::write(dirs[1].path().join("ip"), format!("{second}\n")).unwrap();
        let (Some(a), Some(b)) = (Echo::start(dirs[0].path()), Echo::start(dirs[1].path())) else {
            ddns_testkit::skip_or_fail(test, "python3 is not installed");
            return None;
        };
        Some(Self {
            dirs,
            echoes: [a, b],
        })
    }

    /// ddnsd with the dry-run provider asking both every second, then
    /// `extra`.
    fn ddnsd(&self, extra: &[(&str, &str)]) -> Command {
        let urls = format!(
            "{},{}",
            self.echoes[0].url("/ip"),
            self.echoes[1].url("/ip")
        );
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .envs([
                ("DDNS_RECORDS", "home.example.com"),
                ("DDNS_PROVIDER_TYPE", "dry-run"),
                ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
                ("DDNS_IP_SOURCE_TYPE", "http"),
                ("DDNS_IP_SOURCE_URLS", &urls),
                ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "1"),
                ("DDNS_IP_SOURCE_TRIGGER", "none"),
            ])
            .envs(extra.iter().copied());
        command
    }
}

#[test]
fn two_agreeing_services_are_published_and_a_change_is_followed() {
    let Some(pair) = EchoPair::start("two_agreeing_services", "81.2.69.160", "81.2.69.9") else {
        return;
    };
    let daemon = Daemon::spawn(pair.ddnsd(&[]));
    let (a, b) = (&pair.dirs[0], &pair.dirs[1]);
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

/// Regression: when the echo services disagreed for a while and then
/// agreed again on the address already published, nothing told the engine
/// the failure was over, and the daemon stayed degraded until the next
/// address change or the hourly re-check.
#[test]
fn readiness_comes_back_when_the_services_agree_again() {
    let Some(pair) = EchoPair::start("readiness_comes_back", "81.2.69.160", "81.2.69.160") else {
        return;
    };
    let daemon = Daemon::spawn(pair.ddnsd(&[("DDNS_READY_CONFIRMATIONS", "1")]));
    let b = &pair.dirs[1];
    daemon.wait_for("to=ready", WAIT);
    std::fs::write(b.path().join("ip"), "81.2.69.9\n").unwrap();
    daemon.wait_for("from=ready to=degraded", WAIT);
    std::fs::write(b.path().join("ip"), "81.2.69.160\n").unwrap();
    daemon.wait_for("public address trusted again", WAIT);
    daemon.wait_for("address source works again; confirming every record", WAIT);
    daemon.wait_for("from=recovering to=ready", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("would set the record").count(),
        1,
        "the same address is not written again: {}",
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
        ("DDNS_IP_SOURCE_URLS", &echo.url("/ip")),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
    ]);
    let daemon = Daemon::spawn(command);
    daemon.wait_for("a private address that cannot be public", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0));
    assert!(!out.stderr.contains("dry run: would set"), "{}", out.stderr);
}

/// `ddnsd` with the dry-run provider and these variables, in `ns` when given.
fn ddnsd(ns: Option<&Netns>, vars: &[(&str, &str)]) -> Command {
    let mut command = match ns {
        Some(ns) => ns.command(BIN),
        None => Command::new(BIN),
    };
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
            ("DDNS_IP_SOURCE_TYPE", "http"),
        ])
        .envs(vars.iter().copied());
    command
}

/// Runs `ip ARGS…` in `ns` and returns its standard output.
fn ip_output(ns: &Netns, args: &[&str]) -> String {
    let output = Command::new("ip")
        .args(["-n", ns.name()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sysctl(ns: &Netns, setting: &str) {
    let output = ns.command("sysctl").args(["-w", setting]).output().unwrap();
    assert!(
        output.status.success(),
        "sysctl {setting}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The first address of `ip -6 addr show` output lines that hold `flag`.
fn ipv6_with_flag(text: &str, flag: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with("inet6 ") && line.contains(flag))
        .find_map(|line| {
            line.split_whitespace()
                .nth(1)?
                .split('/')
                .next()
                .map(String::from)
        })
}

const STABLE: &str = "2001:db8:1::1";
const SERVER: &str = "2001:db8:1::2";

/// Two namespaces joined by a veth pair `c0` (client) / `s0` (server).
/// The client has the stable address `2001:db8:1::1` with `mngtmpaddr`
/// and `use_tempaddr=2`, so the kernel adds a temporary address of the
/// prefix and prefers it as the source; duplicate address detection is
/// off, so every address is usable at once. Returns the temporary address.
fn privacy_addresses(client: &Netns, server: &Netns) -> String {
    client.ip(&[
        "link",
        "add",
        "c0",
        "type",
        "veth",
        "peer",
        "name",
        "s0",
        "netns",
        server.name(),
    ]);
    sysctl(client, "net.ipv6.conf.c0.use_tempaddr=2");
    sysctl(client, "net.ipv6.conf.c0.accept_dad=0");
    sysctl(server, "net.ipv6.conf.s0.accept_dad=0");
    client.ip(&["link", "set", "c0", "up"]);
    server.ip(&["link", "set", "s0", "up"]);
    client.ip(&[
        "addr",
        "add",
        &format!("{STABLE}/64"),
        "dev",
        "c0",
        "mngtmpaddr",
        "nodad",
    ]);
    server.ip(&["addr", "add", &format!("{SERVER}/64"), "dev", "s0", "nodad"]);
    let deadline = Instant::now() + WAIT;
    let temporary = loop {
        let shown = ip_output(client, &["-6", "addr", "show", "dev", "c0"]);
        if let Some(temporary) = ipv6_with_flag(&shown, "temporary") {
            break temporary;
        }
        assert!(
            Instant::now() < deadline,
            "no temporary address came: {shown}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Without binding, the kernel would ask from the temporary address:
    // otherwise this test would prove nothing.
    let route = ip_output(client, &["-6", "route", "get", SERVER]);
    assert!(
        route.contains(&format!("src {temporary} ")),
        "the kernel should prefer the temporary address {temporary}: {route}"
    );
    temporary
}

#[test]
fn the_ipv6_echo_sees_the_stable_address_not_the_temporary_one() {
    let test = "the_ipv6_echo_sees_the_stable_address_not_the_temporary_one";
    let (Some(client), Some(server)) = (Netns::create(test), Netns::create(test)) else {
        return;
    };
    let temporary = privacy_addresses(&client, &server);
    let Some(echo) = HttpEcho::on(SERVER.parse().unwrap())
        .netns(&server)
        .start(test)
    else {
        return;
    };
    // The second service answers the temporary address, as an echo asked
    // from it would: that answer must be refused, not published.
    let urls = format!(
        "{},{}",
        echo.url("/ip"),
        echo.url(&format!("/say/{temporary}"))
    );
    let daemon = Daemon::spawn(ddnsd(
        Some(&client),
        &[
            ("DDNS_IP_FAMILIES", "ipv6"),
            ("DDNS_IP_SOURCE_URLS", &urls),
            ("DDNS_IP_SOURCE_QUORUM", "1"),
            ("DDNS_IP_SOURCE_TRIGGER", "none"),
            ("DDNS_IP_ALLOW_NONGLOBAL", "true"),
            ("DDNS_ALLOW_HTTP", "true"),
        ],
    ));
    daemon.wait_for(&format!("record_type=\"AAAA\" address={STABLE}"), WAIT);
    daemon.wait_for("a temporary (privacy) address of this host", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let echoed: Vec<String> = echo
        .hits()
        .iter()
        .filter(|hit| hit.path == "/ip")
        .map(|hit| hit.client.to_string())
        .collect();
    assert!(!echoed.is_empty());
    assert!(
        echoed.iter().all(|client| client == STABLE),
        "every request left from the stable address, none from {temporary}: {echoed:?}"
    );
    assert!(
        out.stderr.contains(&format!("address={STABLE}"))
            && out
                .stderr
                .contains("IPv6 requests now leave from this stable address"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "answered {temporary}, a temporary (privacy) address of this host, which is never published"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(&format!("would set the record to this address record=home.example.com record_type=\"AAAA\" address={temporary}")),
        "{}",
        out.stderr
    );
}

/// A daemon in a namespace whose echo service on loopback counts the
/// detections, with the netlink trigger on `watched` (all interfaces when
/// `None`). A first change on `v0` is awaited, so that what follows starts
/// from a settled trigger; then `v1`, which is never watched here unless
/// all are, gains an address and a default route, and `v0` an address.
/// Returns the logs written after the first change.
fn change_v1_then_v0(test: &str, watched: Option<&str>) -> Option<String> {
    let ns = Netns::create(test)?;
    let echo = HttpEcho::on("127.0.0.1".parse().unwrap())
        .netns(&ns)
        .start(test)?;
    let url = echo.url("/say/81.2.69.160");
    let mut vars = vec![
        ("DDNS_IP_SOURCE_URLS", url.as_str()),
        ("DDNS_IP_SOURCE_TRIGGER", "netlink"),
        // Only the trigger can cause another detection within the test.
        ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "86400"),
        ("DDNS_LOG_LEVEL", "debug"),
    ];
    if let Some(interfaces) = watched {
        vars.push(("DDNS_IP_SOURCE_INTERFACE", interfaces));
    }
    let daemon = Daemon::spawn(ddnsd(Some(&ns), &vars));
    daemon.wait_for("netlink change trigger started", WAIT);
    daemon.wait_for("address=81.2.69.160", WAIT);

    // Settle: a watched change, and the detection it causes.
    ns.ip(&["addr", "add", "203.0.113.1/32", "dev", "v0"]);
    daemon.wait_until(
        WAIT,
        |logs| detected_after(logs, 0, "address=203.0.113.1"),
        "the detection after v0 gained 203.0.113.1",
    );
    let mark = daemon.logs().len();
    let settled = echo.hits().len();

    ns.ip(&["addr", "add", "198.51.100.7/24", "dev", "v1"]);
    ns.ip(&[
        "route",
        "add",
        "default",
        "via",
        "198.51.100.1",
        "dev",
        "v1",
    ]);
    ns.ip(&["addr", "add", "203.0.113.2/32", "dev", "v0"]);
    // The trigger reads its messages in order: once it logged v0's
    // address, it has read v1's changes too.
    daemon.wait_until(
        WAIT,
        |logs| detected_after(logs, mark, "address=203.0.113.2"),
        "the detection after v0 gained 203.0.113.2",
    );
    if watched.is_some() {
        assert_eq!(
            echo.hits().len(),
            settled + 1,
            "one detection for v0, none for v1: {}",
            daemon.logs()
        );
    }
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    Some(out.stderr[mark..].to_string())
}

/// Whether, after `from`, the trigger logged `reason` and then a detection
/// ran and its source answered.
fn detected_after(logs: &str, from: usize, reason: &str) -> bool {
    let Some(at) = logs[from..].find(reason).map(|at| from + at) else {
        return false;
    };
    logs[at..]
        .find("network changed; detecting again")
        .is_some_and(|detecting| logs[at + detecting..].contains("detector answered"))
}

#[test]
fn the_trigger_watches_only_the_source_interfaces() {
    let Some(logs) =
        change_v1_then_v0("the_trigger_watches_only_the_source_interfaces", Some("v0"))
    else {
        return;
    };
    assert!(
        logs.contains("global address added") && logs.contains("interface=v0"),
        "{logs}"
    );
    assert!(
        !logs.contains("interface=v1") && !logs.contains("198.51.100."),
        "nothing about the unwatched v1 may trigger: {logs}"
    );
    assert_eq!(
        logs.matches("network changed; detecting again").count(),
        1,
        "{logs}"
    );
}

#[test]
fn without_source_interfaces_every_interface_triggers() {
    // The control for the test above: the same changes on v1 do trigger
    // when no interface is named.
    let Some(logs) = change_v1_then_v0("without_source_interfaces_every_interface_triggers", None)
    else {
        return;
    };
    assert!(
        logs.lines()
            .any(|line| line.contains("global address added")
                && line.contains("interface=v1")
                && line.contains("address=198.51.100.7")),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|line| line.contains("default route added") && line.contains("via 198.51.100.1")),
        "{logs}"
    );
}

/// A test CA and an https echo on 127.0.0.1 with a certificate it signed.
fn https_echo(test: &str) -> Option<(TestCa, HttpEcho)> {
    let ca = TestCa::create(test)?;
    let certificate = ca.issue(&["127.0.0.1"]);
    let echo = HttpEcho::on("127.0.0.1".parse().unwrap())
        .tls(&certificate)
        .start(test)?;
    Some((ca, echo))
}

#[test]
fn a_private_https_echo_is_trusted_through_the_ca_file() {
    let test = "a_private_https_echo_is_trusted_through_the_ca_file";
    let Some((ca, echo)) = https_echo(test) else {
        return;
    };
    let url = echo.url("/ip");
    let ca_file = ca.ca_file().to_string_lossy().to_string();
    let base = [
        ("DDNS_IP_SOURCE_URLS", url.as_str()),
        ("DDNS_IP_SOURCE_TRIGGER", "none"),
        ("DDNS_IP_ALLOW_NONGLOBAL", "true"),
    ];

    let mut with_ca = base.to_vec();
    with_ca.push(("DDNS_IP_SOURCE_CA_FILE", &ca_file));
    let daemon = Daemon::spawn(ddnsd(None, &with_ca));
    daemon.wait_for("record_type=\"A\" address=127.0.0.1", WAIT);
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));

    let daemon = Daemon::spawn(ddnsd(None, &base));
    daemon.wait_for("no trusted address", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert!(
        out.stderr
            .contains("invalid peer certificate: UnknownIssuer")
            && out
                .stderr
                .contains("for a private CA, name its certificate in DDNS_IP_SOURCE_CA_FILE"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("dry run: would set"), "{}", out.stderr);

    let check = ddnsd(None, &with_ca).arg("check").output().unwrap();
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(
        shown.contains(&format!(
            "{ca_file} (1 certificate, with the system's roots)"
        )),
        "{shown}"
    );
}

#[test]
fn an_unusable_ca_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let text = dir.path().join("text.pem");
    std::fs::write(&text, "not a certificate\n").unwrap();
    for (path, reason) in [
        (&missing, "No such file or directory".to_string()),
        (
            &text,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string(),
        ),
    ] {
        let path = path.to_string_lossy().to_string();
        let output = ddnsd(
            None,
            &[
                ("DDNS_IP_SOURCE_URLS", "https://ip.example"),
                ("DDNS_IP_SOURCE_CA_FILE", &path),
            ],
        )
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("Configuration error: DDNS_IP_SOURCE_CA_FILE: "),
            "{stderr}"
        );
        assert!(
            stderr.contains(&path) && stderr.contains(&reason),
            "{stderr}"
        );
    }
}
