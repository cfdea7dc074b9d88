use super::*;

/// A self-signed CA certificate (P-256), only ever parsed here.
const TEST_CA: &str = include_str!("../../tests/data/test-ca.pem");

const TOKEN: &str = "s3cret-t0ken-in-path";

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn dns(pairs: &[(&str, &str)]) -> Result<Box<dyn VerifierPlan>, ConfigError> {
    DnsVerifierFactory.configure(&env(pairs))
}

fn doh(pairs: &[(&str, &str)]) -> Result<Box<dyn VerifierPlan>, ConfigError> {
    DohVerifierFactory.configure(&env(pairs))
}

fn error(result: Result<Box<dyn VerifierPlan>, ConfigError>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

fn settings(plan: &dyn VerifierPlan) -> Vec<String> {
    plan.settings()
        .iter()
        .map(|s| format!("{}={}", s.name, s.value))
        .collect()
}

fn ca_file(dir: &Path, text: &str) -> String {
    let path = dir.join("ca.pem");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn names_and_variables() {
    assert_eq!(DnsVerifierFactory.name(), "dns");
    assert_eq!(DohVerifierFactory.name(), "doh");
    assert_eq!(DnsVerifierFactory.variables(), ["DDNS_VERIFY_DNS_SERVER"]);
    assert_eq!(
        DohVerifierFactory.variables(),
        [
            "DDNS_VERIFY_DOH_URL",
            "DDNS_VERIFY_DOH_URL_FILE",
            "DDNS_VERIFY_CA_FILE",
            "DDNS_ALLOW_HTTP"
        ]
    );
}

#[test]
fn dns_servers_default_to_the_zones_own() {
    let plan = dns(&[]).unwrap();
    assert_eq!(
        settings(plan.as_ref()),
        [
            "DDNS_VERIFY_DNS_SERVER=(the zone's authoritative servers, found through the resolvers of /etc/resolv.conf)"
        ]
    );
    let plan = dns(&[(
        "DDNS_VERIFY_DNS_SERVER",
        "192.0.2.53, [2001:db8::53]:5353,ns1.example.com",
    )])
    .unwrap();
    assert_eq!(
        settings(plan.as_ref()),
        ["DDNS_VERIFY_DNS_SERVER=192.0.2.53:53, [2001:db8::53]:5353, ns1.example.com:53"]
    );
}

#[test]
fn every_dns_error_names_its_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("DDNS_VERIFY_DNS_SERVER", "192.0.2.1,,192.0.2.2")],
            "DDNS_VERIFY_DNS_SERVER: item 2 of the comma-separated list is empty",
        ),
        (
            &[("DDNS_VERIFY_DNS_SERVER", "192.0.2.1, 2001:db8::1")],
            "DDNS_VERIFY_DNS_SERVER: item 2: '2001:db8::1' looks like an IPv6 address; write it in brackets",
        ),
        (
            &[("DDNS_VERIFY_DNS_SERVER", "192.0.2.1:0")],
            "DDNS_VERIFY_DNS_SERVER: item 1: '0' is not a port (1..=65535)",
        ),
        (
            &[("DDNS_VERIFY_DNS_SERVER", "192.0.2.1, 192.0.2.1:53")],
            "DDNS_VERIFY_DNS_SERVER: 192.0.2.1:53 is listed twice",
        ),
        (
            &[("DDNS_VERIFY_DNS_SERVER", " ")],
            "DDNS_VERIFY_DNS_SERVER: is set but empty",
        ),
        (
            &[("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query")],
            "DDNS_VERIFY_DOH_URL: is not used with DDNS_VERIFY=dns; unset it",
        ),
        (
            &[("DDNS_VERIFY_CA_FILE", "/etc/ssl/ca.pem")],
            "DDNS_VERIFY_CA_FILE: is not used with DDNS_VERIFY=dns; unset it",
        ),
    ];
    for (pairs, expected) in cases {
        let message = error(dns(pairs));
        assert!(
            message.starts_with(expected),
            "{pairs:?}\n  got: {message}\n  expected: {expected}"
        );
    }
}

#[test]
fn every_doh_error_names_its_variable_and_never_shows_the_url_path() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[],
            "DDNS_VERIFY_DOH_URL: is required with DDNS_VERIFY=doh: the DNS-over-HTTPS endpoint",
        ),
        (
            &[(
                "DDNS_VERIFY_DOH_URL",
                "http://dns.lan/s3cret-t0ken-in-path/dns-query",
            )],
            "DDNS_VERIFY_DOH_URL: http://dns.lan is not encrypted; use https, or set DDNS_ALLOW_HTTP=true",
        ),
        (
            &[(
                "DDNS_VERIFY_DOH_URL",
                "ftp://dns.example/s3cret-t0ken-in-path",
            )],
            "DDNS_VERIFY_DOH_URL: the scheme 'ftp' is not supported; use https",
        ),
        (
            &[("DDNS_VERIFY_DOH_URL", "s3cret-t0ken-in-path")],
            "DDNS_VERIFY_DOH_URL: is not a valid URL",
        ),
        (
            &[
                ("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query"),
                ("DDNS_ALLOW_HTTP", "maybe"),
            ],
            "DDNS_ALLOW_HTTP: 'maybe' is not a boolean",
        ),
        (
            &[
                ("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query"),
                ("DDNS_VERIFY_DOH_URL_FILE", "/run/secrets/doh"),
            ],
            "DDNS_VERIFY_DOH_URL: both DDNS_VERIFY_DOH_URL and DDNS_VERIFY_DOH_URL_FILE are set",
        ),
        (
            &[
                ("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query"),
                ("DDNS_VERIFY_CA_FILE", "/nonexistent/ca.pem"),
            ],
            "DDNS_VERIFY_CA_FILE: cannot read /nonexistent/ca.pem: ",
        ),
        (
            &[
                ("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query"),
                ("DDNS_VERIFY_CA_FILE", "/"),
            ],
            "DDNS_VERIFY_CA_FILE: / is not a regular file",
        ),
        (
            &[
                ("DDNS_VERIFY_DOH_URL", "https://dns.example/dns-query"),
                ("DDNS_VERIFY_DNS_SERVER", "192.0.2.53"),
            ],
            "DDNS_VERIFY_DNS_SERVER: is not used with DDNS_VERIFY=doh; unset it",
        ),
    ];
    for (pairs, expected) in cases {
        let message = error(doh(pairs));
        assert!(
            message.starts_with(expected),
            "{pairs:?}\n  got: {message}\n  expected: {expected}"
        );
        assert!(!message.contains(TOKEN), "the URL leaked: {message}");
    }
}

#[test]
fn plain_http_is_for_loopback_or_when_allowed() {
    assert!(doh(&[("DDNS_VERIFY_DOH_URL", "http://127.0.0.1:8053/dns-query")]).is_ok());
    assert!(doh(&[("DDNS_VERIFY_DOH_URL", "http://[::1]/dns-query")]).is_ok());
    assert!(doh(&[("DDNS_VERIFY_DOH_URL", "http://localhost/dns-query")]).is_ok());
    assert!(doh(&[("DDNS_VERIFY_DOH_URL", "http://192.0.2.53/dns-query")]).is_err());
    assert!(
        doh(&[
            ("DDNS_VERIFY_DOH_URL", "http://192.0.2.53/dns-query"),
            ("DDNS_ALLOW_HTTP", "true"),
        ])
        .is_ok()
    );
}

#[test]
fn settings_show_only_the_origin_of_the_url() {
    let url = format!("https://user:pw@dns.example:8443/{TOKEN}/dns-query?key={TOKEN}");
    let plan = doh(&[("DDNS_VERIFY_DOH_URL", &url)]).unwrap();
    let shown = settings(plan.as_ref());
    assert_eq!(
        shown,
        [
            "DDNS_VERIFY_DOH_URL=https://dns.example:8443/<redacted>",
            "DDNS_VERIFY_CA_FILE=(the system's root certificates)"
        ]
    );
    assert!(!shown.iter().any(|s| s.contains(TOKEN) || s.contains("pw")));
}

#[test]
fn the_url_may_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doh-url");
    std::fs::write(&path, format!("https://dns.example/{TOKEN}\n")).unwrap();
    let plan = doh(&[("DDNS_VERIFY_DOH_URL_FILE", path.to_str().unwrap())]).unwrap();
    assert_eq!(
        settings(plan.as_ref())[0],
        "DDNS_VERIFY_DOH_URL=https://dns.example/<redacted>"
    );
}

#[test]
fn ca_files_are_read_and_checked_at_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let url = ("DDNS_VERIFY_DOH_URL", "https://127.0.0.1:8443/dns-query");

    let path = ca_file(dir.path(), &format!("{TEST_CA}\n{TEST_CA}"));
    let plan = doh(&[url, ("DDNS_VERIFY_CA_FILE", &path)]).unwrap();
    assert_eq!(
        settings(plan.as_ref())[1],
        format!("DDNS_VERIFY_CA_FILE={path} (2 certificates, with the system's roots)")
    );

    let path = ca_file(dir.path(), "not a certificate\n");
    assert_eq!(
        error(doh(&[url, ("DDNS_VERIFY_CA_FILE", &path)])),
        format!(
            "DDNS_VERIFY_CA_FILE: {path}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    );
}

#[tokio::test]
async fn doh_builds_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let path = ca_file(dir.path(), TEST_CA);
    let plan = doh(&[
        ("DDNS_VERIFY_DOH_URL", "https://127.0.0.1:8443/dns-query"),
        ("DDNS_VERIFY_CA_FILE", &path),
    ])
    .unwrap();
    let verifier = plan.build().await.unwrap();
    assert_eq!(verifier.name(), "doh");
}

#[tokio::test]
async fn dns_builds_from_addresses_or_says_why_it_cannot() {
    let plan = dns(&[("DDNS_VERIFY_DNS_SERVER", "127.0.0.1:5300")]).unwrap();
    assert_eq!(plan.build().await.unwrap().name(), "dns");

    let dir = tempfile::tempdir().unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(&resolv_conf, "search example.com\n").unwrap();
    let plan = Box::new(DnsPlan {
        servers: None,
        resolv_conf: resolv_conf.clone(),
    });
    let err = plan.build().await.err().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "cannot start verifier dns: cannot use the resolvers of {}: it names no nameserver; set DDNS_VERIFY_DNS_SERVER to the servers to ask",
            resolv_conf.display()
        )
    );

    std::fs::write(&resolv_conf, "nameserver 127.0.0.53\n").unwrap();
    let plan = Box::new(DnsPlan {
        servers: None,
        resolv_conf,
    });
    assert_eq!(plan.build().await.unwrap().name(), "dns");
}
