#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn config(pairs: &[(&str, &str)]) -> ProbeConfig {
    ProbeConfig::from_env(&env(pairs))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a probe is configured")
}

fn error(pairs: &[(&str, &str)]) -> String {
    ProbeConfig::from_env(&env(pairs))
        .err()
        .unwrap_or_else(|| panic!("{pairs:?} must be refused"))
        .to_string()
}

fn shown(config: &ProbeConfig) -> Vec<String> {
    config
        .settings()
        .into_iter()
        .map(|s| format!("{}={}", s.name, s.value))
        .collect()
}

#[test]
fn nothing_configured_is_none() {
    assert!(ProbeConfig::from_env(&env(&[])).unwrap().is_none());
    assert!(
        ProbeConfig::from_env(&env(&[("DDNS_PROBE_GATEWAY", "false")]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn defaults_with_the_wan_probe() {
    let config = config(&[("DDNS_PROBE_WAN", "1.1.1.1:443")]);
    assert_eq!(
        shown(&config),
        [
            "DDNS_PROBE_WAN=1.1.1.1:443",
            "DDNS_PROBE_GATEWAY=false",
            "DDNS_PROBE_TIMEOUT_SECS=5",
            "DDNS_PROBE_INTERVAL_SECS=30",
            "DDNS_PROBE_EVERY_SECS=0 (only while degraded)",
            "DDNS_RECOVERY_URL=off",
        ]
    );
    assert_eq!(config.schedule.every, None);
    assert!(config.recovery.is_none());
}

#[test]
fn everything_set() {
    let config = config(&[
        ("DDNS_PROBE_WAN", "one.one.one.one"),
        ("DDNS_PROBE_GATEWAY", "true"),
        ("DDNS_PROBE_TIMEOUT_SECS", "3"),
        ("DDNS_PROBE_INTERVAL_SECS", "20"),
        ("DDNS_PROBE_EVERY_SECS", "3600"),
        (
            "DDNS_RECOVERY_URL",
            "https://plug.example/relay/0?turn=off&key=s3cr3t",
        ),
        ("DDNS_RECOVERY_METHOD", "get"),
        ("DDNS_RECOVERY_AFTER_SECS", "300"),
        ("DDNS_RECOVERY_COOLDOWN_SECS", "900"),
        ("DDNS_RECOVERY_MAX_ATTEMPTS", "5"),
    ]);
    let lines = shown(&config);
    assert_eq!(
        lines,
        [
            "DDNS_PROBE_WAN=one.one.one.one:443",
            "DDNS_PROBE_GATEWAY=true",
            "DDNS_PROBE_TIMEOUT_SECS=3",
            "DDNS_PROBE_INTERVAL_SECS=20",
            "DDNS_PROBE_EVERY_SECS=3600",
            "DDNS_RECOVERY_URL=https://plug.example/<redacted>",
            "DDNS_RECOVERY_METHOD=GET",
            "DDNS_RECOVERY_AFTER_SECS=300",
            "DDNS_RECOVERY_COOLDOWN_SECS=900",
            "DDNS_RECOVERY_MAX_ATTEMPTS=5",
        ]
    );
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("s3cr3t") && !debug.contains("relay"),
        "{debug}"
    );
    let recovery = config.recovery.as_ref().unwrap();
    assert_eq!(recovery.method, Method::Get);
    assert_eq!(
        recovery.rules,
        RecoveryRules {
            after: secs(300),
            cooldown: secs(900),
            max_attempts: 5
        }
    );
}

#[test]
fn the_recovery_url_may_come_from_a_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "http://127.0.0.1:8080/relay/0?token=f1le-secret").unwrap();
    let path = file.path().to_string_lossy().to_string();
    let config = config(&[
        ("DDNS_PROBE_GATEWAY", "true"),
        ("DDNS_RECOVERY_URL_FILE", &path),
    ]);
    let recovery = config.recovery.as_ref().unwrap();
    assert_eq!(recovery.url.query(), Some("token=f1le-secret"));
    assert_eq!(recovery.method, Method::Post, "POST by default");
    assert!(
        shown(&config).contains(&"DDNS_RECOVERY_URL=http://127.0.0.1:8080/<redacted>".to_string())
    );
}

#[test]
fn recovery_without_a_probe_is_refused_naming_the_url() {
    let message = error(&[("DDNS_RECOVERY_URL", "https://plug.example/x")]);
    assert!(
        message.starts_with(
            "DDNS_RECOVERY_URL: needs a network probe to decide when the network is down: set DDNS_PROBE_WAN"
        ),
        "{message}"
    );
    assert!(message.contains("a provider outage alone never triggers"));
    let message = error(&[
        ("DDNS_PROBE_GATEWAY", "false"),
        ("DDNS_RECOVERY_URL", "https://plug.example/x"),
    ]);
    assert!(message.starts_with("DDNS_RECOVERY_URL: needs a network probe"));
}

#[test]
fn tunables_without_their_feature_are_refused() {
    assert_eq!(
        error(&[("DDNS_PROBE_INTERVAL_SECS", "60")]),
        "DDNS_PROBE_INTERVAL_SECS: has no effect without a network probe (DDNS_PROBE_WAN or DDNS_PROBE_GATEWAY=true); unset it"
    );
    assert_eq!(
        error(&[
            ("DDNS_PROBE_GATEWAY", "true"),
            ("DDNS_RECOVERY_MAX_ATTEMPTS", "2")
        ]),
        "DDNS_RECOVERY_MAX_ATTEMPTS: has no effect without DDNS_RECOVERY_URL; unset it"
    );
}

#[test]
fn values_are_checked_with_the_variable_named() {
    let wan = ("DDNS_PROBE_WAN", "1.1.1.1:443");
    for (pairs, expected) in [
        (
            vec![("DDNS_PROBE_WAN", "https://1.1.1.1/")],
            "DDNS_PROBE_WAN: 'https://1.1.1.1/' is a URL; give host:port",
        ),
        (
            vec![("DDNS_PROBE_GATEWAY", "perhaps")],
            "DDNS_PROBE_GATEWAY: 'perhaps' is not a boolean",
        ),
        (
            vec![wan, ("DDNS_PROBE_TIMEOUT_SECS", "0")],
            "DDNS_PROBE_TIMEOUT_SECS: 0 is out of range (expected 1..=60)",
        ),
        (
            vec![wan, ("DDNS_PROBE_INTERVAL_SECS", "1")],
            "DDNS_PROBE_INTERVAL_SECS: 1 is out of range (expected 5..=3600)",
        ),
        (
            vec![
                wan,
                ("DDNS_PROBE_TIMEOUT_SECS", "20"),
                ("DDNS_PROBE_INTERVAL_SECS", "10"),
            ],
            "DDNS_PROBE_INTERVAL_SECS: 10 is shorter than DDNS_PROBE_TIMEOUT_SECS (20)",
        ),
        (
            vec![wan, ("DDNS_PROBE_EVERY_SECS", "10")],
            "DDNS_PROBE_EVERY_SECS: 10 is shorter than DDNS_PROBE_INTERVAL_SECS (30)",
        ),
        (
            vec![wan, ("DDNS_RECOVERY_URL", "http://plug.lan/relay?key=abc")],
            "DDNS_RECOVERY_URL: http://plug.lan is not encrypted",
        ),
        (
            vec![
                wan,
                ("DDNS_RECOVERY_URL", "https://plug.example/x"),
                ("DDNS_RECOVERY_METHOD", "PUT"),
            ],
            "DDNS_RECOVERY_METHOD: 'PUT' is not one of: get, post",
        ),
        (
            vec![
                wan,
                ("DDNS_RECOVERY_URL", "https://plug.example/x"),
                ("DDNS_RECOVERY_AFTER_SECS", "9"),
            ],
            "DDNS_RECOVERY_AFTER_SECS: 9 is out of range (expected 10..=604800)",
        ),
        (
            vec![
                wan,
                ("DDNS_RECOVERY_URL", "https://plug.example/x"),
                ("DDNS_RECOVERY_COOLDOWN_SECS", "x"),
            ],
            "DDNS_RECOVERY_COOLDOWN_SECS: 'x' is not a whole number",
        ),
        (
            vec![
                wan,
                ("DDNS_RECOVERY_URL", "https://plug.example/x"),
                ("DDNS_RECOVERY_MAX_ATTEMPTS", "0"),
            ],
            "DDNS_RECOVERY_MAX_ATTEMPTS: 0 is out of range (expected 1..=100)",
        ),
    ] {
        let message = error(&pairs);
        assert!(message.starts_with(expected), "{pairs:?}: {message}");
        assert!(!message.contains("key=abc"), "{message}");
    }
}

#[test]
fn plain_http_is_allowed_with_allow_http_or_on_loopback() {
    let config = config(&[
        ("DDNS_PROBE_GATEWAY", "true"),
        ("DDNS_ALLOW_HTTP", "true"),
        ("DDNS_RECOVERY_URL", "http://plug.lan/relay/0?turn=off"),
    ]);
    assert_eq!(
        config.recovery.as_ref().unwrap().url.host_str(),
        Some("plug.lan")
    );
}

#[test]
fn every_variable_read_is_listed() {
    for variable in [
        PROBE_WAN,
        PROBE_GATEWAY,
        PROBE_TIMEOUT,
        PROBE_INTERVAL,
        PROBE_EVERY,
        RECOVERY_URL,
        RECOVERY_URL_FILE,
        RECOVERY_METHOD,
        RECOVERY_AFTER,
        RECOVERY_COOLDOWN,
        RECOVERY_MAX_ATTEMPTS,
    ] {
        assert!(VARIABLES.contains(&variable), "{variable}");
    }
}
