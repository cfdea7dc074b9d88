//! `DDNS_PROBE_WAN`: where the WAN probe connects, `host:port`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use tokio_rustls::rustls::pki_types::ServerName;

/// The port used when `DDNS_PROBE_WAN` names none: HTTPS.
pub const DEFAULT_PORT: u16 = 443;

/// A TLS server the WAN probe connects to: an IP address (verified
/// against the certificate's IP addresses) or a host name (sent as SNI
/// and verified against the certificate's names), and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanTarget {
    /// An address or a DNS name, as rustls checks certificates against.
    server: ServerName<'static>,
    port: u16,
}

impl WanTarget {
    /// The host name, if the target is given by name.
    pub fn name(&self) -> Option<&str> {
        match &self.server {
            ServerName::DnsName(name) => Some(name.as_ref()),
            _ => None,
        }
    }

    /// The address, if the target is given by address.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.server {
            ServerName::IpAddress(ip) => Some((*ip).into()),
            _ => None,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where to connect: an address, or a name to resolve.
    pub(crate) fn endpoint(&self) -> Result<SocketAddr, &str> {
        match (self.ip(), self.name()) {
            (Some(ip), _) => Ok(SocketAddr::new(ip, self.port)),
            (None, name) => Err(name.unwrap_or_default()),
        }
    }

    /// What the certificate must name.
    pub(crate) fn server_name(&self) -> ServerName<'static> {
        self.server.clone()
    }
}

impl fmt::Display for WanTarget {
    /// `1.1.1.1:443`, `[2606:4700::1111]:443`, `one.one.one.one:443`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip(), self.name()) {
            (Some(ip), _) => write!(f, "{}", SocketAddr::new(ip, self.port)),
            (None, name) => write!(f, "{}:{}", name.unwrap_or_default(), self.port),
        }
    }
}

impl FromStr for WanTarget {
    type Err = String;

    /// `host:port` or `host` (port 443); an IPv6 address with a port in
    /// brackets (`[2606:4700::1111]:443`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "'{text}' is a URL; give host:port, such as 1.1.1.1:443 or one.one.one.one:443"
            ));
        }
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Self::from_ip(address.ip(), address.port());
        }
        if let Ok(ip) = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text)
            .parse::<IpAddr>()
        {
            return Self::from_ip(ip, DEFAULT_PORT);
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("'{port}' is not a port (1..=65535)"))?;
                (host, port)
            }
            None => (text, DEFAULT_PORT),
        };
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        // A name of digits and dots only is a mistyped address.
        let server = ServerName::try_from(name.clone())
            .ok()
            .filter(|_| name.contains(|c: char| c.is_ascii_alphabetic()))
            .filter(|server| matches!(server, ServerName::DnsName(_)))
            .ok_or_else(|| {
                format!(
                    "'{host}' is neither an IP address nor a host name; give host:port, such as 1.1.1.1:443"
                )
            })?;
        Ok(Self { server, port })
    }
}

impl WanTarget {
    fn from_ip(ip: IpAddr, port: u16) -> Result<Self, String> {
        if ip.is_unspecified() {
            return Err(format!("{ip} is not an address one can connect to"));
        }
        if port == 0 {
            return Err("port 0 is not a port (1..=65535)".to_string());
        }
        Ok(Self {
            server: ServerName::from(ip),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn addresses_and_names_with_or_without_a_port() {
        for (text, shown) in [
            ("1.1.1.1:443", "1.1.1.1:443"),
            ("1.1.1.1", "1.1.1.1:443"),
            ("[2606:4700::1111]:853", "[2606:4700::1111]:853"),
            ("2606:4700::1111", "[2606:4700::1111]:443"),
            ("[2606:4700::1111]", "[2606:4700::1111]:443"),
            ("one.one.one.one:443", "one.one.one.one:443"),
            (" One.One.One.One. ", "one.one.one.one:443"),
            ("localhost:8443", "localhost:8443"),
        ] {
            let target: WanTarget = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(target.to_string(), shown, "{text}");
        }
        let by_ip: WanTarget = "192.0.2.1:443".parse().unwrap();
        assert_eq!(by_ip.ip(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(by_ip.name(), None);
        assert!(matches!(by_ip.server_name(), ServerName::IpAddress(_)));
        let by_name: WanTarget = "example.com:8443".parse().unwrap();
        assert_eq!(
            (by_name.name(), by_name.port()),
            (Some("example.com"), 8443)
        );
        assert!(matches!(by_name.server_name(), ServerName::DnsName(_)));
    }

    #[test]
    fn urls_bad_ports_and_bad_names_are_refused() {
        for (text, message) in [
            (
                "https://one.one.one.one/",
                "'https://one.one.one.one/' is a URL; give host:port",
            ),
            ("1.1.1.1:0", "port 0 is not a port"),
            ("one.one.one.one:99999", "'99999' is not a port (1..=65535)"),
            ("one.one.one.one:", "'' is not a port"),
            (
                "bad_name!:443",
                "'bad_name!' is neither an IP address nor a host name",
            ),
            (
                "1.2.3:443",
                "'1.2.3' is neither an IP address nor a host name",
            ),
            (
                "0.0.0.0:443",
                "0.0.0.0 is not an address one can connect to",
            ),
        ] {
            let error = text.parse::<WanTarget>().expect_err(text);
            assert!(error.starts_with(message), "{text}: {error}");
        }
    }
}
