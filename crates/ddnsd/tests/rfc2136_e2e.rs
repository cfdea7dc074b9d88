//! End to end: the daemon with the netlink source on a veth interface and
//! the RFC 2136 provider, BIND9 in the same network namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ddns_testkit::{Bind, BindOptions, Daemon, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);

fn start(test: &str) -> Option<(Netns, Bind)> {
    let ns = Netns::create(test)?;
    let bind = Bind::start(test, BindOptions::new().netns(Some(ns.name().to_string())))?;
    Some((ns, bind))
}

fn daemon(ns: &Netns, bind: &Bind, interval: &str) -> Daemon {
    let key = bind.key("ddns-key");
    let mut command = ns.command(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.test"),
        ("DDNS_PROVIDER_TYPE", "rfc2136"),
        ("DDNS_IP_SOURCE_INTERFACE", "v0"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", interval),
        ("DDNS_RFC2136_SERVER", &bind.addr().to_string()),
        ("DDNS_RFC2136_TSIG_KEY_NAME", key.name()),
        ("DDNS_RFC2136_TSIG_SECRET", key.secret()),
    ]);
    let daemon = Daemon::spawn(command);
    daemon.wait_for("engine ready", WAIT);
    daemon
}

fn wait_for_answer(bind: &Bind, expected: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = bind.query("home.example.test", "A");
        if answer == [expected] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "BIND still answers {answer:?}, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs many `ip` commands in one process, for quick successions of changes.
fn ip_batch(ns: &Netns, commands: &str) {
    let mut child = Command::new("ip")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn an_address_added_in_the_namespace_is_answered_by_bind() {
    let Some((ns, bind)) = start("an_address_added_in_the_namespace_is_answered_by_bind") else {
        return;
    };
    let daemon = daemon(&ns, &bind, "0");
    ns.ip(&["addr", "add", "192.0.2.10/32", "dev", "v0"]);
    wait_for_answer(&bind, "192.0.2.10");
    assert_eq!(bind.update_count(), 1);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("record updated record=home.example.test A address=192.0.2.10"),
        "{}",
        out.stderr
    );
}

#[test]
fn three_hundred_quick_changes_end_on_the_last_address() {
    let Some((ns, bind)) = start("three_hundred_quick_changes_end_on_the_last_address") else {
        return;
    };
    let daemon = daemon(&ns, &bind, "0");
    let address = |n: u32| format!("198.51.{}.{}", 100 + (n - 1) / 250, (n - 1) % 250 + 1);
    let mut commands = format!("addr add {}/32 dev v0\n", address(1));
    for n in 2..=300u32 {
        commands.push_str(&format!("addr add {}/32 dev v0\n", address(n)));
        commands.push_str(&format!("addr del {}/32 dev v0\n", address(n - 1)));
    }
    ip_batch(&ns, &commands);
    let last = address(300);
    wait_for_answer(&bind, &last);
    // Settled: no write is still pending.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bind.query("home.example.test", "A"), [last.as_str()]);
    assert!(
        bind.update_count() <= 300,
        "at most one UPDATE per change: {}",
        bind.update_count()
    );
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));
}

#[test]
fn a_change_inside_the_minimum_interval_lands_when_it_ends() {
    let Some((ns, bind)) = start("a_change_inside_the_minimum_interval_lands_when_it_ends") else {
        return;
    };
    let daemon = daemon(&ns, &bind, "3");
    ns.ip(&["addr", "add", "192.0.2.20/32", "dev", "v0"]);
    wait_for_answer(&bind, "192.0.2.20");
    ip_batch(
        &ns,
        "addr add 192.0.2.21/32 dev v0\naddr del 192.0.2.20/32 dev v0\n",
    );
    daemon.wait_for("update held back by the minimum update interval", WAIT);
    assert_eq!(
        bind.query("home.example.test", "A"),
        ["192.0.2.20"],
        "not yet"
    );
    wait_for_answer(&bind, "192.0.2.21");
    assert_eq!(bind.update_count(), 2);
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));
}

#[test]
fn a_wrong_key_at_start_exits_with_a_configuration_error() {
    let Some((ns, bind)) = start("a_wrong_key_at_start_exits_with_a_configuration_error") else {
        return;
    };
    let mut command = ns.command(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.test"),
        ("DDNS_PROVIDER_TYPE", "rfc2136"),
        ("DDNS_IP_SOURCE_INTERFACE", "v0"),
        ("DDNS_RFC2136_SERVER", &bind.addr().to_string()),
        ("DDNS_RFC2136_TSIG_KEY_NAME", "ddns-key"),
        (
            "DDNS_RFC2136_TSIG_SECRET",
            "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=",
        ),
    ]);
    let out = Daemon::spawn(command).finish();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Configuration error: provider rfc2136 rejected the credentials: the server rejected TSIG key ddns-key: BADSIG"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_clock_far_off_is_badtime_reported_with_the_offset() {
    let Some((ns, bind)) = start("a_clock_far_off_is_badtime_reported_with_the_offset") else {
        return;
    };
    let Some(faketime) = ["/usr/bin/faketime", "/bin/faketime"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        ddns_testkit::skip_or_fail(
            "a_clock_far_off_is_badtime_reported_with_the_offset",
            "faketime is not installed",
        );
        return;
    };
    ns.ip(&["addr", "add", "192.0.2.30/32", "dev", "v0"]);
    let key = bind.key("ddns-key");
    // Our clock runs an hour behind the server's.
    let mut command = ns.command(faketime);
    command.args(["-f", "-1h", BIN, "once"]).env_clear().envs([
        ("DDNS_RECORDS", "home.example.test"),
        ("DDNS_PROVIDER_TYPE", "rfc2136"),
        ("DDNS_IP_SOURCE_INTERFACE", "v0"),
        ("DDNS_ONCE_TIMEOUT_SECS", "3"),
        ("DDNS_RFC2136_SERVER", &bind.addr().to_string()),
        ("DDNS_RFC2136_TSIG_KEY_NAME", key.name()),
        ("DDNS_RFC2136_TSIG_SECRET", key.secret()),
    ]);
    let out = Daemon::spawn(command).finish();
    assert_eq!(
        out.code,
        Some(2),
        "a clock problem is transient, not a configuration error:\n{}",
        out.stderr
    );
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("home.example.test A: failed: still failing after")
            && line.contains("the server rejected TSIG key ddns-key: BADTIME; the server's clock differs from ours by"),
        "{}",
        out.stdout
    );
    let offset: i64 = line
        .split("differs from ours by ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3610).contains(&offset), "about one hour: {offset}");
    assert!(
        out.stderr
            .contains("this machine's clock is off clock_offset_secs=3"),
        "{}",
        out.stderr
    );
    assert!(bind.query("home.example.test", "A").is_empty());
}

#[test]
fn with_dns_verification_each_write_is_confirmed_by_bind() {
    let Some((ns, bind)) = start("with_dns_verification_each_write_is_confirmed_by_bind") else {
        return;
    };
    let key = bind.key("ddns-key");
    let mut command = ns.command(BIN);
    command.env_clear().envs([
        ("DDNS_RECORDS", "home.example.test"),
        ("DDNS_PROVIDER_TYPE", "rfc2136"),
        ("DDNS_IP_SOURCE_INTERFACE", "v0"),
        ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ("DDNS_RFC2136_SERVER", &bind.addr().to_string()),
        ("DDNS_RFC2136_TSIG_KEY_NAME", key.name()),
        ("DDNS_RFC2136_TSIG_SECRET", key.secret()),
        ("DDNS_VERIFY", "dns"),
        ("DDNS_VERIFY_DNS_SERVER", &bind.addr().to_string()),
    ]);
    let daemon = Daemon::spawn(command);
    daemon.wait_for(
        "published values are checked through DNS verifier=dns",
        WAIT,
    );
    ns.ip(&["addr", "add", "192.0.2.40/32", "dev", "v0"]);
    daemon.wait_for(
        "DNS serves the new value record=home.example.test A address=192.0.2.40 verifier=dns",
        WAIT,
    );
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stderr.contains("is not a known variable"),
        "{}",
        out.stderr
    );
}
