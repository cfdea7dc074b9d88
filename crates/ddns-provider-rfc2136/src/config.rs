//! `DDNS_RFC2136_*`: validated without I/O (except reading a key file),
//! then built (resolving the server name).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env};
use ddns_core::{DnsProvider, ProviderFactory, ProviderPlan, Setting};
use ddns_dns::hickory_proto::rr::Name;
use ddns_dns::{Client, Transport, TsigAlgorithm, TsigKey};

use crate::NAME;
use crate::provider::Rfc2136Provider;

const SERVER: &str = "DDNS_RFC2136_SERVER";
const ZONE: &str = "DDNS_RFC2136_ZONE";
const KEY_NAME: &str = "DDNS_RFC2136_TSIG_KEY_NAME";
const ALGORITHM: &str = "DDNS_RFC2136_TSIG_ALGORITHM";
const SECRET: &str = "DDNS_RFC2136_TSIG_SECRET";
const KEY_FILE: &str = "DDNS_RFC2136_TSIG_KEY_FILE";
const TRANSPORT: &str = "DDNS_RFC2136_TRANSPORT";
const TIMEOUT: &str = "DDNS_RFC2136_TIMEOUT_SECS";
const PREREQUISITE: &str = "DDNS_RFC2136_PREREQUISITE";
const TTL: &str = "DDNS_TTL";

/// Makes RFC 2136 providers from `DDNS_RFC2136_*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rfc2136Factory;

/// Where the server is: an address, or a name to resolve at start.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

struct Plan {
    host: Host,
    port: u16,
    zone: Option<Name>,
    key: Option<TsigKey>,
    transport: Transport,
    timeout: Duration,
    prerequisites: bool,
    ttl: u32,
}

/// Parses `host:port`, `host`, `[v6]:port`, `[v6]` (port 53 when omitted).
fn parse_server(value: &str) -> Result<(Host, u16), String> {
    let value = value.trim();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address in brackets is missing its ']'")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':port' after ']'")?),
        };
        let ip: IpAddr = inside
            .parse()
            .map_err(|_| format!("'{inside}' is not an IPv6 address"))?;
        (Host::Ip(ip), port)
    } else if value.matches(':').count() > 1 {
        return Err(format!(
            "'{value}' looks like an IPv6 address; write it in brackets, as [2001:db8::53]:53"
        ));
    } else {
        let (host, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => {
                let valid = !host.is_empty()
                    && host.len() <= 253
                    && host.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !valid {
                    return Err(format!(
                        "'{}' is neither an IP address nor a host name",
                        host.chars().take(64).collect::<String>()
                    ));
                }
                Host::Name(host.to_ascii_lowercase())
            }
        };
        (host, port)
    };
    let port = match port {
        None => 53,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            format!(
                "'{}' is not a port (1..=65535)",
                p.chars().take(16).collect::<String>()
            )
        })?,
    };
    Ok((host, port))
}

fn parse_zone(value: &str) -> Result<Name, String> {
    let trimmed = value.trim().trim_end_matches('.');
    let parsed: ddns_core::DomainName = trimmed
        .parse()
        .map_err(|e: String| e.replace("record name", "zone"))?;
    Name::from_ascii(format!("{parsed}."))
        .map_err(|e| format!("'{trimmed}' is not a valid zone: {e}"))
}

fn read_key(env: &Env) -> Result<Option<TsigKey>, ConfigError> {
    let key_file = env.get(KEY_FILE)?;
    let name = env.get(KEY_NAME)?;
    let algorithm = env.get(ALGORITHM)?;
    let secret = env.secret(SECRET)?;
    // A 512-bit key is 88 base64 characters; 1024 leaves room for any
    // real key and refuses a runaway value.
    if let Some(secret) = secret.as_ref().filter(|s| s.len() > 1024) {
        return Err(ConfigError::new(
            SECRET,
            format!(
                "is {} characters long; a TSIG secret is at most 1024 (a 512-bit key is 88)",
                secret.len()
            ),
        ));
    }
    if let Some(path) = key_file {
        if name.is_some() || algorithm.is_some() || secret.is_some() {
            return Err(ConfigError::new(
                KEY_FILE,
                format!(
                    "give the key either as a file or as {KEY_NAME}, {ALGORITHM} and {SECRET}, not both"
                ),
            ));
        }
        let path = PathBuf::from(path);
        let text = ddns_core::config::read_small_file(KEY_FILE, &path, 64 * 1024)?;
        let key = TsigKey::from_key_file(&text).map_err(|reason| {
            ConfigError::new(KEY_FILE, format!("{}: {reason}", path.display()))
        })?;
        return Ok(Some(key));
    }
    match (name, secret) {
        (None, None) => match algorithm {
            Some(_) => Err(ConfigError::new(
                ALGORITHM,
                format!("is set but no key is: give {KEY_NAME} and {SECRET}, or {KEY_FILE}"),
            )),
            None => Ok(None),
        },
        (Some(_), None) => Err(ConfigError::new(
            SECRET,
            format!("is required when {KEY_NAME} is set"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            KEY_NAME,
            format!("is required when {SECRET} is set"),
        )),
        (Some(name), Some(secret)) => {
            let algorithm: TsigAlgorithm = match algorithm {
                Some(text) => text
                    .parse()
                    .map_err(|reason: String| ConfigError::new(ALGORITHM, reason))?,
                None => TsigAlgorithm::HmacSha256,
            };
            let key = TsigKey::new(&name, algorithm, &secret).map_err(|reason| {
                let variable = if reason.contains("key name") {
                    KEY_NAME
                } else {
                    SECRET
                };
                ConfigError::new(variable, reason)
            })?;
            Ok(Some(key))
        }
    }
}

impl ProviderFactory for Rfc2136Factory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn variables(&self) -> &'static [&'static str] {
        &[
            SERVER,
            ZONE,
            KEY_NAME,
            ALGORITHM,
            SECRET,
            "DDNS_RFC2136_TSIG_SECRET_FILE",
            KEY_FILE,
            TRANSPORT,
            TIMEOUT,
            PREREQUISITE,
            TTL,
        ]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn ProviderPlan>, ConfigError> {
        let server = env.required(
            SERVER,
            "the DNS server that takes the updates, as host:port (port 53 when omitted)",
        )?;
        let (host, port) =
            parse_server(&server).map_err(|reason| ConfigError::new(SERVER, reason))?;
        let zone = env
            .get(ZONE)?
            .map(|z| parse_zone(&z).map_err(|reason| ConfigError::new(ZONE, reason)))
            .transpose()?;
        let key = read_key(env)?;
        let transport = env.parse_or(TRANSPORT, Transport::Udp)?;
        let timeout = Duration::from_secs(env.number(TIMEOUT, 5u64, 1..=60)?);
        let prerequisites = env.choice(PREREQUISITE, "none", &["none", "expected"])? == "expected";
        let ttl = env.number(TTL, 60u32, 1..=604_800)?;
        Ok(Box::new(Plan {
            host,
            port,
            zone,
            key,
            transport,
            timeout,
            prerequisites,
            ttl,
        }))
    }
}

#[async_trait]
impl ProviderPlan for Plan {
    fn settings(&self) -> Vec<Setting> {
        let host = match &self.host {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        let mut out = vec![
            Setting::new(SERVER, format!("{host}:{}", self.port)),
            Setting::new(
                ZONE,
                self.zone.as_ref().map_or_else(
                    || "(found from the server's SOA)".to_string(),
                    |z| z.to_string(),
                ),
            ),
        ];
        match &self.key {
            Some(key) => {
                out.push(Setting::new(KEY_NAME, key.name()));
                out.push(Setting::new(ALGORITHM, key.algorithm()));
                out.push(Setting::new(SECRET, ddns_core::REDACTED));
            }
            None => out.push(Setting::new(KEY_NAME, "(none: updates are unsigned)")),
        }
        out.push(Setting::new(
            TRANSPORT,
            match self.transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
            },
        ));
        out.push(Setting::new(TIMEOUT, self.timeout.as_secs()));
        out.push(Setting::new(
            PREREQUISITE,
            if self.prerequisites {
                "expected"
            } else {
                "none"
            },
        ));
        out.push(Setting::new(TTL, self.ttl));
        out
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn DnsProvider>> {
        let server = match &self.host {
            Host::Ip(ip) => SocketAddr::new(*ip, self.port),
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), self.port))
                .await
                .ok()
                .and_then(|mut addresses| addresses.next())
                .ok_or_else(|| ddns_core::Error::Startup {
                    component: format!("provider {NAME}"),
                    message: format!("cannot resolve the server name {name} ({SERVER})"),
                })?,
        };
        let client = Client::new(server, self.key, self.transport, self.timeout);
        Ok(Arc::new(Rfc2136Provider::new(
            client,
            self.zone,
            self.ttl,
            self.prerequisites,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_B64: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";

    fn configure(pairs: &[(&str, &str)]) -> Result<Box<dyn ProviderPlan>, ConfigError> {
        Rfc2136Factory.configure(&Env::from_pairs(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        configure(pairs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn server_forms() {
        assert_eq!(
            parse_server("192.0.2.53"),
            Ok((Host::Ip("192.0.2.53".parse().unwrap()), 53))
        );
        assert_eq!(
            parse_server("192.0.2.53:5353"),
            Ok((Host::Ip("192.0.2.53".parse().unwrap()), 5353))
        );
        assert_eq!(
            parse_server("[2001:db8::53]:54"),
            Ok((Host::Ip("2001:db8::53".parse().unwrap()), 54))
        );
        assert_eq!(
            parse_server("[2001:db8::53]"),
            Ok((Host::Ip("2001:db8::53".parse().unwrap()), 53))
        );
        assert_eq!(
            parse_server("NS1.example.com:53"),
            Ok((Host::Name("ns1.example.com".into()), 53))
        );
        assert!(
            parse_server("2001:db8::53")
                .unwrap_err()
                .contains("write it in brackets")
        );
        assert!(
            parse_server("192.0.2.53:0")
                .unwrap_err()
                .contains("is not a port")
        );
        assert!(
            parse_server("192.0.2.53:http")
                .unwrap_err()
                .contains("is not a port")
        );
        assert!(
            parse_server("bad_host:53")
                .unwrap_err()
                .contains("neither an IP address nor a host name")
        );
        assert!(
            parse_server("[::1")
                .unwrap_err()
                .contains("missing its ']'")
        );
    }

    #[test]
    fn every_error_names_its_variable() {
        let server = ("DDNS_RFC2136_SERVER", "127.0.0.1:53");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "DDNS_RFC2136_SERVER: is required"),
            (
                &[("DDNS_RFC2136_SERVER", "fe80::1")],
                "DDNS_RFC2136_SERVER: 'fe80::1' looks like an IPv6 address",
            ),
            (
                &[server, ("DDNS_RFC2136_ZONE", "a..b")],
                "DDNS_RFC2136_ZONE: 'a..b' has an empty label",
            ),
            (
                &[server, ("DDNS_RFC2136_TSIG_KEY_NAME", "k")],
                "DDNS_RFC2136_TSIG_SECRET: is required when DDNS_RFC2136_TSIG_KEY_NAME is set",
            ),
            (
                &[server, ("DDNS_RFC2136_TSIG_SECRET", SECRET_B64)],
                "DDNS_RFC2136_TSIG_KEY_NAME: is required when DDNS_RFC2136_TSIG_SECRET is set",
            ),
            (
                &[
                    server,
                    ("DDNS_RFC2136_TSIG_KEY_NAME", "k"),
                    ("DDNS_RFC2136_TSIG_SECRET", "%%%"),
                ],
                "DDNS_RFC2136_TSIG_SECRET: the secret is not valid base64",
            ),
            (
                &[
                    server,
                    ("DDNS_RFC2136_TSIG_KEY_NAME", "k"),
                    ("DDNS_RFC2136_TSIG_SECRET", SECRET_B64),
                    ("DDNS_RFC2136_TSIG_ALGORITHM", "hmac-sha1"),
                ],
                "DDNS_RFC2136_TSIG_ALGORITHM: hmac-sha1 is not supported by this build's TSIG library",
            ),
            (
                &[server, ("DDNS_RFC2136_TSIG_ALGORITHM", "hmac-sha512")],
                "DDNS_RFC2136_TSIG_ALGORITHM: is set but no key is",
            ),
            (
                &[
                    server,
                    ("DDNS_RFC2136_TSIG_KEY_FILE", "/nonexistent/k.key"),
                    ("DDNS_RFC2136_TSIG_KEY_NAME", "k"),
                ],
                "DDNS_RFC2136_TSIG_KEY_FILE: give the key either as a file or as",
            ),
            (
                &[server, ("DDNS_RFC2136_TSIG_KEY_FILE", "/nonexistent/k.key")],
                "DDNS_RFC2136_TSIG_KEY_FILE: cannot read /nonexistent/k.key",
            ),
            (
                &[server, ("DDNS_RFC2136_TRANSPORT", "quic")],
                "DDNS_RFC2136_TRANSPORT: 'quic' is not valid: 'quic' is not a transport (expected udp or tcp)",
            ),
            (
                &[server, ("DDNS_RFC2136_TIMEOUT_SECS", "0")],
                "DDNS_RFC2136_TIMEOUT_SECS: 0 is out of range (expected 1..=60)",
            ),
            (
                &[server, ("DDNS_RFC2136_PREREQUISITE", "always")],
                "DDNS_RFC2136_PREREQUISITE: 'always' is not one of: none, expected",
            ),
            (
                &[server, ("DDNS_TTL", "0")],
                "DDNS_TTL: 0 is out of range (expected 1..=604800)",
            ),
        ];
        for (pairs, expected) in cases {
            let message = error(pairs);
            assert!(
                message.starts_with(expected),
                "{pairs:?}\n  got: {message}\n  expected: {expected}"
            );
            assert!(!message.contains(SECRET_B64), "a secret leaked: {message}");
        }
    }

    #[test]
    fn key_file_is_read_and_secret_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ddns.key");
        std::fs::write(
            &path,
            format!(
                "key \"ddns-key\" {{\n\talgorithm hmac-sha384;\n\tsecret \"{SECRET_B64}\";\n}};\n"
            ),
        )
        .unwrap();
        let plan = configure(&[
            ("DDNS_RFC2136_SERVER", "127.0.0.1:5300"),
            ("DDNS_RFC2136_TSIG_KEY_FILE", path.to_str().unwrap()),
            ("DDNS_RFC2136_ZONE", "Example.Test."),
        ])
        .unwrap();
        let settings: Vec<String> = plan
            .settings()
            .iter()
            .map(|s| format!("{}={}", s.name, s.value))
            .collect();
        for line in [
            "DDNS_RFC2136_SERVER=127.0.0.1:5300",
            "DDNS_RFC2136_ZONE=example.test.",
            "DDNS_RFC2136_TSIG_KEY_NAME=ddns-key",
            "DDNS_RFC2136_TSIG_ALGORITHM=hmac-sha384",
            "DDNS_RFC2136_TSIG_SECRET=<redacted>",
            "DDNS_RFC2136_TRANSPORT=udp",
            "DDNS_TTL=60",
        ] {
            assert!(
                settings.iter().any(|s| s == line),
                "missing {line} in {settings:?}"
            );
        }
        assert!(!settings.iter().any(|s| s.contains(SECRET_B64)));
    }
}
