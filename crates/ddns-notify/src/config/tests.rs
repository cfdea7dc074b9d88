#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use super::*;

const CANARY: &str = "canary-7d41e";

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn config(pairs: &[(&str, &str)]) -> Result<Option<NotifyConfig>, ConfigError> {
    NotifyConfig::from_env(&env(pairs))
}

fn error(pairs: &[(&str, &str)]) -> ConfigError {
    config(pairs).expect_err("refused")
}

fn settings(config: &NotifyConfig) -> Vec<(String, String)> {
    config
        .settings()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect()
}

#[test]
fn nothing_configured_is_none() {
    assert!(config(&[]).unwrap().is_none());
    assert!(config(&[("DDNS_ALLOW_HTTP", "true")]).unwrap().is_none());
}

#[test]
fn settings_show_origins_and_formats_only() {
    let hc = format!("https://hc-ping.com/{CANARY}");
    let kuma = format!("https://kuma.example:3001/api/push/{CANARY}?status=up&msg=OK&ping=");
    let hooks = format!(
        "ntfys://user:{CANARY}@ntfy.example/ddns, https://push.example/message?token={CANARY}, https://discord.com/api/webhooks/1/{CANARY}"
    );
    let config = config(&[
        ("DDNS_HEALTHCHECK_URL", &hc),
        ("DDNS_UPTIME_KUMA_URL", &kuma),
        ("DDNS_NOTIFY_WEBHOOK_URL", &hooks),
        ("DDNS_HEALTHCHECK_PERIOD_SECS", "120"),
    ])
    .unwrap()
    .unwrap();
    let shown = settings(&config);
    assert_eq!(
        shown,
        vec![
            ("DDNS_HEALTHCHECK_URL".into(), "https://hc-ping.com".into()),
            (
                "DDNS_UPTIME_KUMA_URL".into(),
                "https://kuma.example:3001".into()
            ),
            ("DDNS_HEALTHCHECK_PERIOD_SECS".into(), "120".into()),
            (
                "DDNS_NOTIFY_WEBHOOK_URL".into(),
                "https://ntfy.example (ntfy), https://push.example (gotify), https://discord.com (discord)"
                    .into()
            ),
            ("DDNS_NOTIFY_FORMAT".into(), "auto".into()),
            ("DDNS_NOTIFY_TIMEOUT_SECS".into(), "10".into()),
        ]
    );
    let debug = format!("{config:?}");
    assert!(!debug.contains(CANARY), "{debug}");
    assert!(debug.contains("https://hc-ping.com"), "{debug}");
}

#[test]
fn urls_can_come_from_files() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "https://hc-ping.com/{CANARY}").unwrap();
    let config = config(&[("DDNS_HEALTHCHECK_URL_FILE", file.path().to_str().unwrap())])
        .unwrap()
        .unwrap();
    assert_eq!(
        config.pings[0].endpoint.url().as_str(),
        format!("https://hc-ping.com/{CANARY}")
    );
}

#[test]
fn bad_urls_are_refused_without_showing_them() {
    let plain = format!("http://hc.lan/{CANARY}");
    let err = error(&[("DDNS_HEALTHCHECK_URL", &plain)]);
    assert!(
        err.to_string()
            .starts_with("DDNS_HEALTHCHECK_URL: http://hc.lan is not encrypted"),
        "{err}"
    );
    assert!(
        config(&[
            ("DDNS_HEALTHCHECK_URL", &plain),
            ("DDNS_ALLOW_HTTP", "true")
        ])
        .unwrap()
        .is_some()
    );

    let list = format!("https://a.example/{CANARY},ftp://b.example/{CANARY}");
    let err = error(&[("DDNS_NOTIFY_WEBHOOK_URL", &list)]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_WEBHOOK_URL: item 2: the scheme 'ftp' is not supported; use https"
    );
    let twice = format!("https://a.example/{CANARY}, https://a.example/{CANARY}");
    let err = error(&[("DDNS_NOTIFY_WEBHOOK_URL", &twice)]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_WEBHOOK_URL: item 2: the URL for https://a.example is listed twice"
    );
    let err = error(&[("DDNS_NOTIFY_WEBHOOK_URL", "https://a.example/x,")]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_WEBHOOK_URL: item 2: the URL is empty"
    );
    for err in [
        error(&[("DDNS_HEALTHCHECK_URL", &plain)]),
        error(&[("DDNS_NOTIFY_WEBHOOK_URL", &list)]),
        error(&[("DDNS_NOTIFY_WEBHOOK_URL", &twice)]),
    ] {
        assert!(!err.to_string().contains(CANARY), "{err}");
    }
}

#[test]
fn numbers_and_choices_are_checked() {
    let hc = ("DDNS_HEALTHCHECK_URL", "https://hc-ping.com/x");
    let err = error(&[hc, ("DDNS_HEALTHCHECK_PERIOD_SECS", "5")]);
    assert_eq!(
        err.to_string(),
        "DDNS_HEALTHCHECK_PERIOD_SECS: 5 is out of range (expected 10..=86400)"
    );
    let err = error(&[hc, ("DDNS_NOTIFY_TIMEOUT_SECS", "0")]);
    assert_eq!(err.variable(), "DDNS_NOTIFY_TIMEOUT_SECS");
    let err = error(&[
        ("DDNS_NOTIFY_WEBHOOK_URL", "https://a.example/x"),
        ("DDNS_NOTIFY_FORMAT", "teams"),
    ]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_FORMAT: 'teams' is not one of: auto, json, ntfy, gotify, discord, slack"
    );
    let forced = config(&[
        (
            "DDNS_NOTIFY_WEBHOOK_URL",
            "https://hooks.slack.com/services/x",
        ),
        ("DDNS_NOTIFY_FORMAT", "JSON"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(forced.webhooks[0].format, Format::Json);
}

#[test]
fn settings_without_their_url_are_mistakes() {
    let err = error(&[("DDNS_NOTIFY_FORMAT", "slack")]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_FORMAT: is set, but none of DDNS_HEALTHCHECK_URL, DDNS_UPTIME_KUMA_URL or DDNS_NOTIFY_WEBHOOK_URL is; set one or unset DDNS_NOTIFY_FORMAT"
    );
    let err = error(&[
        ("DDNS_NOTIFY_WEBHOOK_URL", "https://a.example/x"),
        ("DDNS_HEALTHCHECK_PERIOD_SECS", "60"),
    ]);
    assert_eq!(err.variable(), "DDNS_HEALTHCHECK_PERIOD_SECS");
    let err = error(&[
        ("DDNS_HEALTHCHECK_URL", "https://hc-ping.com/x"),
        ("DDNS_NOTIFY_FORMAT", "slack"),
    ]);
    assert_eq!(
        err.to_string(),
        "DDNS_NOTIFY_FORMAT: is set, but DDNS_NOTIFY_WEBHOOK_URL is not"
    );
}
