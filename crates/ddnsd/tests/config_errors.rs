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

/// Configurations that pass `check` and, between them, make ddnsd read
/// every variable it knows: each plug-in is chosen by one of them.
fn profiles(state: &str) -> Vec<Vec<(&'static str, String)>> {
    let common = |extra: &[(&'static str, &str)]| {
        let mut vars = vec![
            ("DDNS_RECORDS", "home.example.com".to_string()),
            ("DDNS_IP_FAMILIES", "ipv4,ipv6".to_string()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
        vars
    };
    vec![
        common(&[
            ("DDNS_PROVIDER_TYPE", "cloudflare"),
            (
                "DDNS_PROVIDER_API_TOKEN",
                "cfTokenForTests0123456789abcdefXYZ",
            ),
            ("DDNS_IP_SOURCE_TYPE", "http"),
            (
                "DDNS_IP_SOURCE_URLS",
                "https://one.example.net/,https://two.example.net/",
            ),
            ("DDNS_STATE_STORE_TYPE", "file"),
            ("DDNS_STATE_STORE_PATH", state),
            ("DDNS_VERIFY", "doh"),
            ("DDNS_VERIFY_DOH_URL", "https://dns.example.net/dns-query"),
            ("DDNS_METRICS_ADDR", "127.0.0.1:9108"),
            (
                "DDNS_HEALTHCHECK_URL",
                "https://hc-ping.example.net/ping/abc",
            ),
            (
                "DDNS_UPTIME_KUMA_URL",
                "https://kuma.example.net/api/push/abc",
            ),
            ("DDNS_NOTIFY_WEBHOOK_URL", "https://hooks.example.net/ddns"),
            ("DDNS_PROBE_WAN", "192.0.2.1:443"),
            ("DDNS_RECOVERY_URL", "https://router.example.net/reboot"),
        ]),
        common(&[
            ("DDNS_PROVIDER_TYPE", "rfc2136"),
            ("DDNS_RFC2136_SERVER", "192.0.2.53"),
            ("DDNS_RFC2136_TSIG_KEY_NAME", "ddns-key"),
            (
                "DDNS_RFC2136_TSIG_SECRET",
                "ZnV6ei1rZXktZnV6ei1rZXktZnV6ei1rZXk=",
            ),
            ("DDNS_IP_SOURCE_TYPE", "netlink"),
            ("DDNS_VERIFY", "dns"),
        ]),
        common(&[("DDNS_PROVIDER_TYPE", "dry-run")]),
    ]
}

/// Every variable a profile makes ddnsd read: the core's, the chosen
/// plug-ins' and the observers'.
fn read_by(profile: &[(&str, String)]) -> Vec<&'static str> {
    let registry = ddnsd::registry();
    let get = |name: &str, default: &str| {
        profile
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(default.to_string(), |(_, v)| v.clone())
    };
    let mut read = ddns_core::config::CORE_VARIABLES.to_vec();
    read.extend(
        registry
            .provider("", &get("DDNS_PROVIDER_TYPE", ""))
            .unwrap()
            .variables(),
    );
    read.extend(
        registry
            .source("", &get("DDNS_IP_SOURCE_TYPE", "netlink"))
            .unwrap()
            .variables(),
    );
    read.extend(
        registry
            .store("", &get("DDNS_STATE_STORE_TYPE", "memory"))
            .unwrap()
            .variables(),
    );
    if let Some((_, verify)) = profile.iter().find(|(k, _)| *k == "DDNS_VERIFY") {
        read.extend(registry.verifier("", verify).unwrap().variables());
    }
    read.extend(ddns_metrics::VARIABLES);
    read.extend(ddns_notify::VARIABLES);
    read.extend(ddns_probe::VARIABLES);
    read
}

/// Variables that cannot be set beside `variable`: its other form
/// (`NAME` or `NAME_FILE`), and the inline key beside a key file.
fn conflicts(variable: &str) -> Vec<String> {
    let mut out = vec![variable.to_string()];
    match variable.strip_suffix("_FILE") {
        Some(stem) => out.push(stem.to_string()),
        None => out.push(format!("{variable}_FILE")),
    }
    if variable == "DDNS_RFC2136_TSIG_KEY_FILE" {
        out.extend(
            [
                "DDNS_RFC2136_TSIG_KEY_NAME",
                "DDNS_RFC2136_TSIG_SECRET",
                "DDNS_RFC2136_TSIG_ALGORITHM",
            ]
            .map(String::from),
        );
    }
    out
}

/// A value of the wrong kind for `variable`: "maybe" is not a number, a
/// boolean, a URL, an address or a name with a dot; the rest accept it.
fn wrong_value(variable: &str) -> &'static str {
    match variable {
        "DDNS_STATE_STORE_PATH" => "/var/lib/ddns/",
        "DDNS_CLOUDFLARE_COMMENT" => "tab\there",
        "DDNS_IP_SOURCE_INTERFACE" => "eth0/1",
        // Host names are accepted here.
        "DDNS_RFC2136_SERVER" | "DDNS_PROBE_WAN" | "DDNS_VERIFY_DNS_SERVER" => "192.0.2.53:99999",
        "DDNS_RFC2136_TSIG_KEY_NAME" => "bad..name",
        "DDNS_RFC2136_ZONE" => "bad..zone",
        "DDNS_RFC2136_TSIG_SECRET" => "not base64!",
        _ => "maybe",
    }
}

/// One bad value of one variable, over a profile.
struct Case {
    variable: &'static str,
    label: &'static str,
    vars: Vec<(&'static str, OsString)>,
}

/// Runs `ddnsd check` for every case on a few threads; returns what went
/// wrong with each case that did.
fn check_cases(cases: &[Case]) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(Case {
                        variable,
                        label,
                        vars,
                    }) = cases.get(i)
                    else {
                        break;
                    };
                    let (code, _, stderr) = run(vars, &["check"]);
                    let shown: String = stderr.chars().take(300).collect();
                    let problem = if stderr.contains("panicked") {
                        Some(format!("panicked: {shown}"))
                    } else if code != 1 {
                        Some(format!("exit {code}: {shown}"))
                    } else if !stderr.contains(&format!("Configuration error: {variable}:")) {
                        Some(format!("another variable named: {shown}"))
                    } else if stderr.len() >= 2_000 {
                        Some(format!("{} bytes on stderr: {shown}", stderr.len()))
                    } else {
                        None
                    };
                    if let Some(problem) = problem {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{variable} {label}: {problem}"));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

#[test]
fn empty_huge_non_utf8_and_wrong_values_are_rejected_for_every_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state.json").to_string_lossy().into_owned();
    let profiles = profiles(&state);
    for profile in &profiles {
        let vars: Vec<(&str, OsString)> = profile
            .iter()
            .map(|(k, v)| (*k, OsString::from(v)))
            .collect();
        let (code, _, stderr) = run(&vars, &["check"]);
        assert_eq!(code, 0, "the profile must pass: {profile:?}\n{stderr}");
    }

    let mut variables = ddnsd::registry().known_variables();
    variables.extend(ddns_metrics::VARIABLES);
    variables.extend(ddns_notify::VARIABLES);
    variables.extend(ddns_probe::VARIABLES);
    variables.sort_unstable();
    variables.dedup();
    // Read by the test suites only.
    variables.retain(|v| *v != "DDNS_REQUIRE_SYSTEM_TESTS");
    assert!(variables.len() >= 60, "{variables:?}");

    let huge_file = dir.path().join("huge");
    std::fs::write(&huge_file, "9".repeat(1_000_000)).expect("write");
    let huge = "9".repeat(100_000);
    let mut cases = Vec::new();
    let mut unread = Vec::new();
    for variable in variables {
        let Some(profile) = profiles.iter().find(|p| read_by(p).contains(&variable)) else {
            unread.push(variable);
            continue;
        };
        let skip = conflicts(variable);
        let base: Vec<(&'static str, OsString)> = profile
            .iter()
            .filter(|(k, _)| !skip.iter().any(|s| s == k))
            .map(|(k, v)| (*k, OsString::from(v)))
            .collect();
        let mut values = vec![
            ("empty", OsString::new()),
            ("huge", OsString::from(&huge)),
            ("non-UTF-8", OsString::from_vec(vec![b'a', 0xff, 0xfe])),
            ("wrong", OsString::from(wrong_value(variable))),
        ];
        if variable.ends_with("_FILE") {
            values.extend([
                ("missing file", OsString::from("/nonexistent/ddns/file")),
                ("directory", dir.path().as_os_str().to_owned()),
                ("1 MB file", huge_file.as_os_str().to_owned()),
            ]);
        }
        for (label, value) in values {
            let mut vars = base.clone();
            vars.push((variable, value));
            cases.push(Case {
                variable,
                label,
                vars,
            });
        }
    }
    assert!(unread.is_empty(), "no profile reads {unread:?}");
    assert!(cases.len() >= 250, "{} cases", cases.len());
    let failures = check_cases(&cases);
    assert!(
        failures.is_empty(),
        "{} cases went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
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
