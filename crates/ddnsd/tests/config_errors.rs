//! The built binary with bad environments: exit code 1 and a message that
//! names the variable, never a panic, never a secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const CANARY: &str = "Zk3r9qP2mXa7LwT-canary-1f7e";

fn run(vars: &[(&str, OsString)], args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.env_clear().args(args);
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().expect("run ddnsd");
    (
        output.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn base() -> Vec<(&'static str, OsString)> {
    vec![
        ("DDNS_RECORDS", "home.example.com".into()),
        ("DDNS_PROVIDER_TYPE", "dry-run".into()),
    ]
}

fn with(extra: &[(&'static str, &str)]) -> Vec<(&'static str, OsString)> {
    let mut vars = base();
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k, (*v).into()));
    }
    vars
}

fn assert_config_error(vars: &[(&str, OsString)], expected: &str) {
    for command in [&["check"][..], &[][..]] {
        let (code, _, stderr) = run(vars, command);
        assert_eq!(code, 1, "{command:?} {vars:?}: {stderr}");
        assert!(
            stderr.contains(&format!("Configuration error: {expected}")),
            "{command:?}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains(CANARY), "a secret leaked: {stderr}");
    }
}

#[test]
fn missing_required_variables_are_named() {
    assert_config_error(&[], "DDNS_RECORDS: is required");
    assert_config_error(
        &[("DDNS_RECORDS", "home.example.com".into())],
        "DDNS_PROVIDER_TYPE: is required: the DNS provider, one of: cloudflare, dry-run, rfc2136",
    );
}

#[test]
fn every_bad_value_names_its_variable_and_why() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("DDNS_RECORDS", "home")],
            "DDNS_RECORDS: 'home' is not fully qualified",
        ),
        (
            &[("DDNS_RECORDS", "a.example.com,A.example.com.")],
            "DDNS_RECORDS: 'A.example.com.' is listed twice",
        ),
        (
            &[("DDNS_RECORDS", "bad_name.example.com")],
            "DDNS_RECORDS: 'bad_name.example.com' contains '_'",
        ),
        (
            &[("DDNS_RECORDS", "a.example.com,,b.example.com")],
            "DDNS_RECORDS: item 2 of the comma-separated list is empty",
        ),
        (
            &[("DDNS_PROVIDER_TYPE", "route53")],
            "DDNS_PROVIDER_TYPE: unknown provider 'route53'; this build knows: cloudflare, dry-run, rfc2136",
        ),
        (
            &[("DDNS_IP_SOURCE_TYPE", "carrier-pigeon")],
            "DDNS_IP_SOURCE_TYPE: unknown address source 'carrier-pigeon'",
        ),
        (
            &[("DDNS_IPV6_SOURCE_TYPE", "x"), ("DDNS_IP_FAMILIES", "ipv6")],
            "DDNS_IPV6_SOURCE_TYPE: unknown address source 'x'",
        ),
        (
            &[("DDNS_IP_FAMILIES", "ipv5")],
            "DDNS_IP_FAMILIES: 'ipv5' is not an address family",
        ),
        (
            &[("DDNS_IP_FAMILIES", "ipv4,ipv4")],
            "DDNS_IP_FAMILIES: ipv4 is listed twice",
        ),
        (
            &[("DDNS_MIN_UPDATE_INTERVAL_SECS", "86401")],
            "DDNS_MIN_UPDATE_INTERVAL_SECS: 86401 is out of range (expected 0..=86400)",
        ),
        (
            &[("DDNS_MIN_UPDATE_INTERVAL_SECS", "-1")],
            "DDNS_MIN_UPDATE_INTERVAL_SECS: '-1' is not a whole number",
        ),
        (
            &[("DDNS_EVENT_CHANNEL_CAPACITY", "0")],
            "DDNS_EVENT_CHANNEL_CAPACITY: 0 is out of range (expected 1..=1000000)",
        ),
        (
            &[("DDNS_RECHECK_INTERVAL_SECS", "1e3")],
            "DDNS_RECHECK_INTERVAL_SECS: '1e3' is not a whole number",
        ),
        (
            &[("DDNS_SHUTDOWN_TIMEOUT_SECS", "0")],
            "DDNS_SHUTDOWN_TIMEOUT_SECS: 0 is out of range",
        ),
        (
            &[("DDNS_ONCE_TIMEOUT_SECS", "99999")],
            "DDNS_ONCE_TIMEOUT_SECS: 99999 is out of range",
        ),
        (
            &[("DDNS_TTL", "0")],
            "DDNS_TTL: 0 is out of range (expected 1..=86400)",
        ),
        (
            &[("DDNS_STATE_STORE_TYPE", "file")],
            "DDNS_STATE_STORE_PATH: is required",
        ),
        (
            &[("DDNS_STATE_STORE_TYPE", "redis")],
            "DDNS_STATE_STORE_TYPE: unknown state store 'redis'",
        ),
        (
            &[("DDNS_LOG_LEVEL", "verbose")],
            "DDNS_LOG_LEVEL: 'verbose' is not one of: trace, debug, info, warn, error",
        ),
        (
            &[("DDNS_LOG_FORMAT", "xml")],
            "DDNS_LOG_FORMAT: 'xml' is not one of: text, json",
        ),
        (
            &[("DDNS_ALLOW_HTTP", "perhaps")],
            "DDNS_ALLOW_HTTP: 'perhaps' is not a boolean",
        ),
        (
            &[
                ("DDNS_RECORDS", "a.example.com=zz"),
                ("DDNS_IP_FAMILIES", "ipv6"),
            ],
            "DDNS_RECORDS: 'zz' is not an IPv6 interface identifier such as ::1:2:3:4",
        ),
        (
            &[("DDNS_RECORDS", "a.example.com=::1")],
            "DDNS_RECORDS: an IPv6 interface identifier is given, but DDNS_IP_FAMILIES does not include ipv6",
        ),
        (
            &[
                ("DDNS_IPV6_HOST_ID", "2001:db8::1"),
                ("DDNS_IP_FAMILIES", "ipv6"),
            ],
            "DDNS_IPV6_HOST_ID: the interface identifier 2001:db8::1 sets bits inside the /64 prefix",
        ),
        (
            &[("DDNS_IPV6_PREFIX_LEN", "200")],
            "DDNS_IPV6_PREFIX_LEN: 200 is out of range (expected 1..=127)",
        ),
        (
            &[("DDNS_IP_SOURCE_INTERFACE", "eth0/1")],
            "DDNS_IP_SOURCE_INTERFACE:",
        ),
        (
            &[("DDNS_PROVIDER_API_TOKEN", "your_token_here_please")],
            "DDNS_PROVIDER_API_TOKEN: looks like a placeholder",
        ),
        (
            &[("DDNS_PROVIDER_API_TOKEN", "short")],
            "DDNS_PROVIDER_API_TOKEN: is 5 characters long",
        ),
    ];
    for (extra, expected) in cases {
        assert_config_error(&with(extra), expected);
    }
}

#[test]
fn empty_huge_and_non_utf8_values_are_rejected_for_every_variable() {
    let variables = [
        "DDNS_RECORDS",
        "DDNS_PROVIDER_TYPE",
        "DDNS_IP_SOURCE_TYPE",
        "DDNS_IP_FAMILIES",
        "DDNS_IP_SOURCE_INTERFACE",
        "DDNS_STATE_STORE_TYPE",
        "DDNS_MIN_UPDATE_INTERVAL_SECS",
        "DDNS_EVENT_CHANNEL_CAPACITY",
        "DDNS_RECHECK_INTERVAL_SECS",
        "DDNS_SHUTDOWN_TIMEOUT_SECS",
        "DDNS_TTL",
        "DDNS_LOG_LEVEL",
        "DDNS_LOG_FORMAT",
        "DDNS_ALLOW_HTTP",
    ];
    let huge = "9".repeat(100_000);
    for variable in variables {
        for (label, value) in [
            ("empty", OsString::from("")),
            ("huge", OsString::from(huge.clone())),
            ("non-UTF-8", OsString::from_vec(vec![b'a', 0xff, 0xfe])),
        ] {
            let mut vars = base();
            vars.retain(|(name, _)| *name != variable);
            vars.push((variable, value));
            let (code, _, stderr) = run(&vars, &["check"]);
            assert_eq!(code, 1, "{variable} {label}: {stderr}");
            assert!(
                stderr.contains(&format!("Configuration error: {variable}")),
                "{variable} {label}: {}",
                &stderr[..stderr.len().min(500)]
            );
            assert!(
                stderr.len() < 2_000,
                "{variable} {label}: the message must not echo a huge value"
            );
        }
    }
}

#[test]
fn secrets_from_files_and_conflicts() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{CANARY}\n")).expect("write");
    let file = file.to_string_lossy().to_string();

    let (code, stdout, stderr) = run(
        &with(&[("DDNS_PROVIDER_API_TOKEN_FILE", &file)]),
        &["check"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("DDNS_PROVIDER_API_TOKEN=<redacted>"),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));

    assert_config_error(
        &with(&[
            ("DDNS_PROVIDER_API_TOKEN_FILE", &file),
            ("DDNS_PROVIDER_API_TOKEN", CANARY),
        ]),
        "DDNS_PROVIDER_API_TOKEN: both DDNS_PROVIDER_API_TOKEN and DDNS_PROVIDER_API_TOKEN_FILE are set; set only one",
    );
    assert_config_error(
        &with(&[("DDNS_PROVIDER_API_TOKEN_FILE", "/nonexistent/token")]),
        "DDNS_PROVIDER_API_TOKEN_FILE: cannot read /nonexistent/token",
    );
}

#[test]
fn check_prints_the_effective_configuration() {
    let (code, stdout, stderr) = run(
        &with(&[
            ("DDNS_RECORDS", "a.example.com,b.example.com"),
            ("DDNS_IP_FAMILIES", "ipv4,ipv6"),
            ("DDNS_PROVIDER_API_TOKEN", CANARY),
            ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
        ]),
        &["check"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("configuration is valid\n"), "{stdout}");
    for line in [
        "DDNS_RECORDS=a.example.com,b.example.com",
        "DDNS_IP_FAMILIES=ipv4,ipv6",
        "DDNS_PROVIDER_TYPE=dry-run",
        "DDNS_PROVIDER_API_TOKEN=<redacted>",
        "DDNS_MIN_UPDATE_INTERVAL_SECS=0",
        "DDNS_STATE_STORE_TYPE=memory",
        "  a.example.com A\n  a.example.com AAAA\n  b.example.com A\n  b.example.com AAAA",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
}

#[test]
fn misspelt_variables_get_a_hint() {
    let (code, _, stderr) = run(
        &[
            ("DDNS_RECORD", "a.example.com".into()),
            ("DDNS_PROVIDER_TYPE", "dry-run".into()),
        ],
        &["check"],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("hint: DDNS_RECORD is not a known variable; did you mean DDNS_RECORDS?"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("DDNS_PROVIDER_TYPE is not a known"),
        "{stderr}"
    );
}

#[test]
fn version_help_and_bad_arguments() {
    let (code, stdout, _) = run(&[], &["--version"]);
    assert_eq!(
        (code, stdout.trim()),
        (0, concat!("ddnsd ", env!("CARGO_PKG_VERSION")))
    );
    let (code, stdout, _) = run(&[], &["help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit codes: 0 clean, 1 configuration error, 2 runtime error."));
    let (code, _, stderr) = run(&[], &["frobnicate"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("ddnsd: unknown command 'frobnicate'"),
        "{stderr}"
    );
}
