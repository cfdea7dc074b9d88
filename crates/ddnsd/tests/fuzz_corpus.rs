//! Replays fuzz/corpus/env_config as ordinary tests: every input that
//! mattered to the fuzzer keeps running in CI, each must keep the fuzz
//! target's properties (no panic; every error names a `DDNS_` variable in
//! a short message that shows no secret), and each named seed must keep
//! its outcome. With `DDNS_WRITE_SEEDS=1` it first writes the seeds built
//! here. The input format is in fuzz/common/env_input.rs, shared with the
//! fuzz target.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use ddns_core::config::Env;

#[path = "../../../fuzz/common/env_input.rs"]
mod env_input;

use ddns_testkit::replay_corpus as replay;

const TOKEN: &str = "cfFuzzToken0123456789abcdefghijKLMNOP";
const TSIG_SECRET: &str = "ZnV6ei1rZXktZnV6ei1rZXktZnV6ei1rZXk=";

fn lines(lines: &[&str]) -> Vec<u8> {
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let base = "DDNS_RECORDS=home.example.com";
    let cloudflare = [
        base,
        "DDNS_PROVIDER_TYPE=cloudflare",
        &format!("DDNS_PROVIDER_API_TOKEN={TOKEN}"),
    ]
    .map(String::from);
    let cf = |extra: &[&str]| {
        let mut all: Vec<&str> = cloudflare.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        lines(&all)
    };
    let mut non_utf8 = b"DDNS_PROVIDER_TYPE=dry-run\nDDNS_RECORDS=home.".to_vec();
    non_utf8.extend_from_slice(&[0xff, 0xfe]);
    non_utf8.extend_from_slice(b".example.com\n");
    let mut huge_comment = cf(&[]);
    huge_comment.extend_from_slice(b"DDNS_CLOUDFLARE_COMMENT=");
    huge_comment.extend(std::iter::repeat_n(b'x', 3000));
    vec![
        ("seed-dry-run", lines(&[base, "DDNS_PROVIDER_TYPE=dry-run"])),
        (
            "seed-cloudflare-every-setting",
            cf(&[
                "DDNS_IP_FAMILIES=ipv4,ipv6",
                "DDNS_CLOUDFLARE_ZONE_ID=0123456789abcdef0123456789ABCDEF",
                "DDNS_CLOUDFLARE_ACCOUNT_ID=fedcba9876543210fedcba9876543210",
                "DDNS_CLOUDFLARE_PROXIED=true",
                "DDNS_TTL=1",
                "DDNS_CLOUDFLARE_COMMENT=managed by ddns",
                "DDNS_CLOUDFLARE_TIMEOUT_SECS=30",
                "DDNS_CLOUDFLARE_API_URL=https://api.cloudflare.com/client/v4",
            ]),
        ),
        (
            "seed-cloudflare-token-from-file",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=cloudflare",
                &format!("DDNS_PROVIDER_API_TOKEN_FILE=2{TOKEN}"),
            ]),
        ),
        (
            "seed-cloudflare-token-file-missing",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=cloudflare",
                "DDNS_PROVIDER_API_TOKEN_FILE=0token",
            ]),
        ),
        (
            "seed-cloudflare-token-file-directory",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=cloudflare",
                "DDNS_PROVIDER_API_TOKEN_FILE=1",
            ]),
        ),
        (
            "seed-cloudflare-token-file-empty",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=cloudflare",
                "DDNS_PROVIDER_API_TOKEN_FILE=3",
            ]),
        ),
        (
            "seed-cloudflare-zone-id-is-a-name",
            cf(&["DDNS_CLOUDFLARE_ZONE_ID=example.com"]),
        ),
        ("seed-cloudflare-comment-3000-bytes", huge_comment),
        (
            "seed-cloudflare-ttl-overflows",
            cf(&["DDNS_TTL=999999999999999999999999999999"]),
        ),
        (
            "seed-rfc2136-inline-key",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=rfc2136",
                "DDNS_RFC2136_SERVER=[2001:db8::53]:5353",
                "DDNS_RFC2136_ZONE=example.com",
                "DDNS_RFC2136_TSIG_KEY_NAME=ddns-key",
                "DDNS_RFC2136_TSIG_ALGORITHM=hmac-sha512",
                &format!("DDNS_RFC2136_TSIG_SECRET={TSIG_SECRET}"),
                "DDNS_RFC2136_TRANSPORT=tcp",
                "DDNS_RFC2136_PREREQUISITE=expected",
                "DDNS_RFC2136_TIMEOUT_SECS=9",
            ]),
        ),
        (
            "seed-rfc2136-key-file",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=rfc2136",
                "DDNS_RFC2136_SERVER=192.0.2.53",
                &format!(
                    "DDNS_RFC2136_TSIG_KEY_FILE=2key \"ddns-key\" {{ algorithm hmac-sha256; secret \"{TSIG_SECRET}\"; }};"
                ),
            ]),
        ),
        (
            "seed-rfc2136-key-file-garbage",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=rfc2136",
                "DDNS_RFC2136_SERVER=192.0.2.53",
                "DDNS_RFC2136_TSIG_KEY_FILE=2key { {{ ;;; \"",
            ]),
        ),
        (
            "seed-http-source-both-families",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_IP_FAMILIES=ipv6,ipv4",
                "DDNS_IP_SOURCE_TYPE=http",
                "DDNS_IP_SOURCE_URLS=https://ipv4.example.net/,https://ipv6.example.net/,https://both.example.net/",
                "DDNS_IP_SOURCE_QUORUM=1",
                "DDNS_IP_SOURCE_POLL_INTERVAL_SECS=600",
                "DDNS_IP_SOURCE_TIMEOUT_SECS=3",
                "DDNS_IP_SOURCE_TRIGGER=none",
                "DDNS_IP_ALLOW_NONGLOBAL=false",
            ]),
        ),
        (
            "seed-dns-source-for-ipv4-netlink-for-ipv6",
            lines(&[
                "DDNS_RECORDS=home.example.com,nas.example.com=::1:2:3:4",
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_IP_FAMILIES=ipv4,ipv6",
                "DDNS_IPV4_SOURCE_TYPE=dns",
                "DDNS_IPV6_SOURCE_TYPE=netlink",
                "DDNS_IP_SOURCE_INTERFACE=eth0,wlan0",
                "DDNS_IPV6_PREFIX_LEN=56",
            ]),
        ),
        (
            "seed-file-store-and-doh-verifier",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_STATE_STORE_TYPE=file",
                "DDNS_STATE_STORE_PATH=/var/lib/ddns/state.json",
                "DDNS_VERIFY=doh",
                "DDNS_VERIFY_DOH_URL=https://dns.example/dns-query",
                "DDNS_MIN_UPDATE_INTERVAL_SECS=0",
                "DDNS_RECHECK_INTERVAL_SECS=0",
                "DDNS_READY_CONFIRMATIONS=3",
                "DDNS_LOG_LEVEL=debug",
                "DDNS_LOG_FORMAT=json",
            ]),
        ),
        (
            "seed-dns-verifier-with-doh-settings",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_VERIFY=dns",
                "DDNS_VERIFY_DNS_SERVER=192.0.2.53,[2001:db8::53]:53",
                "DDNS_VERIFY_DOH_URL=https://dns.example/dns-query",
            ]),
        ),
        (
            "seed-observers",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_METRICS_ADDR=127.0.0.1:9108",
                "DDNS_HEALTHCHECK_URL=https://hc-ping.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                "DDNS_HEALTHCHECK_PERIOD_SECS=60",
                "DDNS_NOTIFY_WEBHOOK_URL=https://hooks.example.net/ddns",
                "DDNS_NOTIFY_FORMAT=json",
                "DDNS_NOTIFY_TIMEOUT_SECS=5",
                "DDNS_PROBE_WAN=192.0.2.1:443",
                "DDNS_PROBE_GATEWAY=true",
                "DDNS_PROBE_TIMEOUT_SECS=3",
                "DDNS_PROBE_INTERVAL_SECS=10",
                "DDNS_RECOVERY_URL=https://router.example.net/reboot",
                "DDNS_RECOVERY_METHOD=get",
                "DDNS_RECOVERY_MAX_ATTEMPTS=2",
            ]),
        ),
        (
            "seed-observer-tunables-alone",
            lines(&[
                base,
                "DDNS_PROVIDER_TYPE=dry-run",
                "DDNS_NOTIFY_TIMEOUT_SECS=5",
                "DDNS_PROBE_TIMEOUT_SECS=5",
                "DDNS_METRICS_ADDR=localhost",
            ]),
        ),
        ("seed-records-not-utf8", non_utf8),
        (
            "seed-provider-empty",
            lines(&[base, "DDNS_PROVIDER_TYPE=", "DDNS_LOG_LEVEL=  "]),
        ),
        (
            "seed-misspelt-records",
            lines(&["DDNS_RECORD=home.example.com", "DDNS_PROVIDER_TYPE=dry-run"]),
        ),
    ]
}

/// Inputs that broke a property, kept to guard the fix; none has a fixed
/// outcome (the fix may change the wording).
fn regressions() -> Vec<(&'static str, Vec<u8>)> {
    let base = "DDNS_RECORDS=home.example.com\n";
    let long = "a".repeat(2000);
    let input = |lines: String| format!("{base}{lines}\n").into_bytes();
    vec![
        (
            "regression-probe-wan-url-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=dry-run\nDDNS_PROBE_WAN=https://{long}"
            )),
        ),
        (
            "regression-rfc2136-transport-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=rfc2136\nDDNS_RFC2136_SERVER=192.0.2.53\nDDNS_RFC2136_TRANSPORT={long}"
            )),
        ),
        (
            "regression-rfc2136-key-name-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=rfc2136\nDDNS_RFC2136_SERVER=192.0.2.53\nDDNS_RFC2136_TSIG_KEY_NAME={long}\nDDNS_RFC2136_TSIG_SECRET={TSIG_SECRET}"
            )),
        ),
        (
            "regression-state-store-path-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=dry-run\nDDNS_STATE_STORE_TYPE=file\nDDNS_STATE_STORE_PATH=/{long}/"
            )),
        ),
        (
            "regression-token-file-path-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=cloudflare\nDDNS_PROVIDER_API_TOKEN_FILE=0{long}"
            )),
        ),
        (
            "regression-ip-source-ca-file-path-echoed-whole",
            input(format!(
                "DDNS_PROVIDER_TYPE=dry-run\nDDNS_IP_SOURCE_TYPE=http\nDDNS_IP_SOURCE_CA_FILE=0{long}"
            )),
        ),
    ]
}

fn outcome(
    results: &[(&'static str, Result<(), ddns_core::config::ConfigError>)],
    dir: &Path,
) -> String {
    results
        .iter()
        .map(|(part, result)| match result {
            Ok(()) => format!("{part}: ok"),
            Err(error) => format!("{part}: {error}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&dir.display().to_string(), "<dir>")
}

#[test]
fn env_config_corpus_keeps_its_properties_and_seeds_their_outcome() {
    let seeds = seeds();
    let mut all = seeds.clone();
    all.extend(regressions());
    let files = replay("env_config", &all);
    assert!(files.len() >= seeds.len(), "{} inputs", files.len());
    let known = env_input::known_variables();
    let dir = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    for (name, bytes) in &files {
        let pairs = env_input::pairs(bytes, &known, dir.path());
        let results = env_input::run(&Env::from_pairs(pairs.clone()));
        if let Err(violation) = env_input::check(&pairs, &known, &results) {
            panic!("{name}: {violation}");
        }
        outcomes.push((name.clone(), outcome(&results, dir.path())));
    }
    // The parts that fail, in order; every other part must be ok.
    let expected: &[(&str, &[&str])] = &[
        ("seed-dry-run", &[]),
        ("seed-cloudflare-every-setting", &[]),
        ("seed-cloudflare-token-from-file", &[]),
        (
            "seed-cloudflare-token-file-missing",
            &[
                "load: DDNS_PROVIDER_API_TOKEN_FILE: cannot read <dir>/missing/DDNS_PROVIDER_API_TOKEN_FILE/token: No such file or directory (os error 2)",
            ],
        ),
        (
            "seed-cloudflare-token-file-directory",
            &["load: DDNS_PROVIDER_API_TOKEN_FILE: <dir> is not a regular file"],
        ),
        (
            "seed-cloudflare-token-file-empty",
            &[
                "load: DDNS_PROVIDER_API_TOKEN_FILE: <dir>/DDNS_PROVIDER_API_TOKEN_FILE.empty is empty",
            ],
        ),
        (
            "seed-cloudflare-zone-id-is-a-name",
            &[
                "load: DDNS_CLOUDFLARE_ZONE_ID: 'example.com' is not a Cloudflare ID (32 hexadecimal digits); it looks like a domain name: copy the ID from the zone's Overview page in the dashboard",
            ],
        ),
        (
            "seed-cloudflare-comment-3000-bytes",
            &[
                "load: DDNS_CLOUDFLARE_COMMENT: is 3000 characters long; Cloudflare accepts at most 100 on the Free plan",
            ],
        ),
        (
            "seed-cloudflare-ttl-overflows",
            &[
                "load: DDNS_TTL: '999999999999999999999999999999' is not a whole number (expected 1..=86400)",
            ],
        ),
        ("seed-rfc2136-inline-key", &[]),
        ("seed-rfc2136-key-file", &[]),
        (
            "seed-rfc2136-key-file-garbage",
            &[
                "load: DDNS_RFC2136_TSIG_KEY_FILE: <dir>/DDNS_RFC2136_TSIG_KEY_FILE: a quoted string is not closed",
            ],
        ),
        ("seed-http-source-both-families", &[]),
        ("seed-dns-source-for-ipv4-netlink-for-ipv6", &[]),
        ("seed-file-store-and-doh-verifier", &[]),
        (
            "seed-dns-verifier-with-doh-settings",
            &["load: DDNS_VERIFY_DOH_URL: is not used with DDNS_VERIFY=dns; unset it"],
        ),
        ("seed-observers", &[]),
        (
            "seed-observer-tunables-alone",
            &[
                "metrics: DDNS_METRICS_ADDR: 'localhost' is not an IP address and port (expected e.g. 127.0.0.1:9851, [::1]:9851 or 0.0.0.0:9851; host names are not accepted)",
                "notify: DDNS_NOTIFY_TIMEOUT_SECS: is set, but none of DDNS_HEALTHCHECK_URL, DDNS_UPTIME_KUMA_URL or DDNS_NOTIFY_WEBHOOK_URL is; set one or unset DDNS_NOTIFY_TIMEOUT_SECS",
                "probe: DDNS_PROBE_TIMEOUT_SECS: has no effect without a network probe (DDNS_PROBE_WAN or DDNS_PROBE_GATEWAY=true); unset it",
            ],
        ),
        (
            "seed-records-not-utf8",
            &["load: DDNS_RECORDS: the value is not valid UTF-8"],
        ),
        (
            "seed-provider-empty",
            &[
                "log: DDNS_LOG_LEVEL: is set but empty; give a value or unset it to use the default",
                "load: DDNS_PROVIDER_TYPE: is set but empty; give a value or unset it to use the default",
            ],
        ),
        (
            "seed-misspelt-records",
            &[
                "load: DDNS_RECORDS: is required: the comma-separated names to keep up to date, such as home.example.com (or DDNS_RECORDS_FILE, a file of names)",
            ],
        ),
    ];
    assert_eq!(expected.len(), seeds.len(), "every seed has an expectation");
    let mut wrong = Vec::new();
    for (name, failures) in expected {
        let (_, actual) = outcomes.iter().find(|(file, _)| file == name).unwrap();
        let actual: Vec<&str> = actual.lines().filter(|l| !l.ends_with(": ok")).collect();
        if actual != *failures {
            wrong.push(format!("{name}: {actual:#?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "seeds with another outcome:\n{}",
        wrong.join("\n")
    );
}

/// Regression (found by `empty_huge_non_utf8_and_wrong_values_are_rejected_for_every_variable`
/// in config_errors.rs, kept as the `regression-*` seeds): a message shows
/// at most part of a value, so that a huge value cannot flood the log.
#[test]
fn env_config_messages_stay_short_whatever_the_values() {
    let files = replay("env_config", &regressions());
    let known = env_input::known_variables();
    let dir = tempfile::tempdir().unwrap();
    let mut long = Vec::new();
    for (name, bytes) in &files {
        let pairs = env_input::pairs(bytes, &known, dir.path());
        let results = env_input::run(&Env::from_pairs(pairs));
        if let Err(violation) = env_input::check_length(&results) {
            long.push(format!("{name}: {violation}"));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}
