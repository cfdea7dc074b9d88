//! `host:port` server addresses as users write them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The DNS port, used when an address has none.
pub(crate) const DNS_PORT: u16 = 53;

/// Where a server is: an address, or a name resolved when the verifier is
/// built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

/// One server as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerAddress {
    pub(crate) host: Host,
    pub(crate) port: u16,
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(ip) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

impl ServerAddress {
    /// Parses `host:port`, `host`, `[v6]:port` or `[v6]` (port 53 when
    /// omitted). The message says what is wrong without the variable name.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
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
                .map_err(|_| format!("'{}' is not an IPv6 address", shorten(inside, 64)))?;
            (Host::Ip(ip), port)
        } else if value.matches(':').count() > 1 {
            return Err(format!(
                "'{}' looks like an IPv6 address; write it in brackets, as [2001:db8::53]:53",
                shorten(value, 64)
            ));
        } else {
            let (host, port) = match value.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (value, None),
            };
            let host = match host.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) if is_host_name(host) => Host::Name(host.to_ascii_lowercase()),
                Err(_) => {
                    return Err(format!(
                        "'{}' is neither an IP address nor a host name",
                        shorten(host, 64)
                    ));
                }
            };
            (host, port)
        };
        let port = match port {
            None => DNS_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("'{}' is not a port (1..=65535)", shorten(p, 16)))?,
        };
        Ok(Self { host, port })
    }

    /// Parses a comma-separated list; the message names the item at fault.
    pub(crate) fn parse_list(items: &[String]) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let server =
                Self::parse(item).map_err(|reason| format!("item {}: {reason}", index + 1))?;
            if out.contains(&server) {
                return Err(format!("{server} is listed twice"));
            }
            out.push(server);
        }
        Ok(out)
    }

    /// The socket address; a name is resolved (its first address is used).
    pub(crate) async fn resolve(&self) -> Result<SocketAddr, String> {
        match &self.host {
            Host::Ip(ip) => Ok(SocketAddr::new(*ip, self.port)),
            Host::Name(name) => tokio::net::lookup_host((name.as_str(), self.port))
                .await
                .map_err(|e| format!("cannot resolve the server name {name}: {e}"))?
                .next()
                .ok_or_else(|| format!("the server name {name} has no address")),
        }
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn shorten(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(host: &str, port: u16) -> ServerAddress {
        ServerAddress {
            host: Host::Ip(host.parse().unwrap()),
            port,
        }
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(ServerAddress::parse("192.0.2.53"), Ok(ip("192.0.2.53", 53)));
        assert_eq!(
            ServerAddress::parse(" 192.0.2.53:5353 "),
            Ok(ip("192.0.2.53", 5353))
        );
        assert_eq!(
            ServerAddress::parse("[2001:db8::53]:54"),
            Ok(ip("2001:db8::53", 54))
        );
        assert_eq!(
            ServerAddress::parse("[2001:db8::53]"),
            Ok(ip("2001:db8::53", 53))
        );
        assert_eq!(
            ServerAddress::parse("NS1.Example.com:53"),
            Ok(ServerAddress {
                host: Host::Name("ns1.example.com".into()),
                port: 53
            })
        );
    }

    #[test]
    fn rejected_forms_say_why() {
        let cases = [
            (
                "2001:db8::53",
                "looks like an IPv6 address; write it in brackets",
            ),
            ("192.0.2.53:0", "'0' is not a port (1..=65535)"),
            ("192.0.2.53:dns", "'dns' is not a port"),
            (
                "bad_host:53",
                "'bad_host' is neither an IP address nor a host name",
            ),
            ("[::1", "missing its ']'"),
            ("[::1]53", "expected ':port' after ']'"),
            ("[example.com]", "'example.com' is not an IPv6 address"),
        ];
        for (input, expected) in cases {
            let err = ServerAddress::parse(input).expect_err(input);
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["192.0.2.53:53", "[2001:db8::53]:5353", "ns1.example.com:53"] {
            let parsed = ServerAddress::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(ServerAddress::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn lists_name_the_bad_item_and_refuse_duplicates() {
        let items = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ServerAddress::parse_list(&items(&["192.0.2.1", "[2001:db8::1]:5300"])),
            Ok(vec![ip("192.0.2.1", 53), ip("2001:db8::1", 5300)])
        );
        assert_eq!(
            ServerAddress::parse_list(&items(&["192.0.2.1", "x_y"])),
            Err("item 2: 'x_y' is neither an IP address nor a host name".into())
        );
        assert_eq!(
            ServerAddress::parse_list(&items(&["192.0.2.1", "192.0.2.1:53"])),
            Err("192.0.2.1:53 is listed twice".into())
        );
    }

    #[tokio::test]
    async fn addresses_resolve_without_lookup() {
        assert_eq!(
            ip("2001:db8::1", 5300).resolve().await,
            Ok("[2001:db8::1]:5300".parse().unwrap())
        );
    }
}
