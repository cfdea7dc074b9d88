//! UPnP-IGD `GetExternalIPAddress`, over SSDP discovery or a given control
//! URL, through the `igd-next` crate.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::detect::Detector;
use ddns_core::{IpFamily, SourceError};
use igd_next::aio::Gateway as IgdGateway;
use igd_next::aio::tokio::Tokio;
use igd_next::{GatewayIpVersion, SearchOptions};
use tokio::sync::Mutex;
use tracing::{debug, info, instrument};

use crate::error::{Error, Result};

/// The service a control URL is assumed to offer when none is named.
pub const DEFAULT_SERVICE: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

const SERVICE_PREFIX: &str = "urn:schemas-upnp-org:service:";

/// How long SSDP discovery waits for a gateway by default.
pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(3);

/// A UPnP control URL: `http://IP[:PORT]/PATH`, optionally followed by
/// `#SERVICE` (`WANPPPConnection:1`, or the full URN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlUrl {
    address: SocketAddr,
    path: String,
    service: String,
}

impl ControlUrl {
    /// Checks and splits a control URL; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (url, service) = match text.split_once('#') {
            Some((url, service)) => (url, parse_service(service)?),
            None => (text, DEFAULT_SERVICE.to_string()),
        };
        let scheme_len = "http://".len();
        let rest = match url.get(..scheme_len) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[scheme_len..],
            _ if url.to_ascii_lowercase().starts_with("https://") => {
                return Err(format!(
                    "`{url}`: UPnP control URLs are plain http:// on the local network, not https://"
                ));
            }
            _ => return Err(format!("`{url}` is not an http:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!(
                "`{url}`: a control URL takes no user name or password"
            ));
        }
        if path.len() <= 1 {
            return Err(format!(
                "`{url}` has no control path; give the whole URL, e.g. http://192.168.1.1:5000/ctl/IPConn"
            ));
        }
        let address = parse_authority(authority)
            .ok_or_else(|| format!("`{url}`: the host must be an IP address with an optional port, e.g. 192.168.1.1:5000 or [fd00::1]:5000, not `{authority}`"))?;
        if address.port() == 0 {
            return Err(format!("`{url}`: port 0 is not a port"));
        }
        Ok(Self {
            address,
            path: path.to_string(),
            service,
        })
    }

    /// The gateway's HTTP address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The path of the control URL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The service type the SOAP call names.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for ControlUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.address, self.path)?;
        if self.service != DEFAULT_SERVICE {
            write!(f, "#{}", self.service)?;
        }
        Ok(())
    }
}

fn parse_authority(authority: &str) -> Option<SocketAddr> {
    if let Ok(address) = authority.parse::<SocketAddr>() {
        return Some(address);
    }
    let host = authority
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(authority);
    let ip: IpAddr = host.parse().ok()?;
    if ip.is_ipv6() && !authority.starts_with('[') {
        return None;
    }
    Some(SocketAddr::new(ip, 80))
}

fn parse_service(service: &str) -> Result<String, String> {
    let short = service.strip_prefix(SERVICE_PREFIX).unwrap_or(service);
    let valid = short.split_once(':').is_some_and(|(name, version)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric())
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(format!("{SERVICE_PREFIX}{short}"))
    } else {
        Err(format!(
            "`#{service}` is not a UPnP service type; write e.g. #WANPPPConnection:1 or #urn:schemas-upnp-org:service:WANIPConnection:2"
        ))
    }
}

#[derive(Debug, Clone)]
enum Target {
    Discover { timeout: Duration },
    Control(ControlUrl),
}

/// Asks a UPnP Internet Gateway Device for its external IPv4 address
/// (`GetExternalIPAddress`).
///
/// Without a control URL the gateway is found by SSDP discovery
/// (M-SEARCH to 239.255.255.250:1900 for WANIPConnection and
/// WANPPPConnection services; the device and service URLs must point to
/// the address that answered). The gateway found is remembered, and
/// searched again after a failed call.
pub struct UpnpDetector {
    target: Target,
    name: String,
    gateway: Mutex<Option<IgdGateway<Tokio>>>,
}

impl fmt::Debug for UpnpDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpnpDetector")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl UpnpDetector {
    /// A detector that finds the gateway by SSDP discovery.
    pub fn discover() -> Self {
        Self::discover_within(DEFAULT_SEARCH_TIMEOUT)
    }

    /// Discovery that waits at most `timeout` for a gateway to answer.
    pub fn discover_within(timeout: Duration) -> Self {
        Self {
            target: Target::Discover { timeout },
            name: "upnp:discover".to_string(),
            gateway: Mutex::new(None),
        }
    }

    /// A detector that calls this control URL.
    pub fn with_control_url(url: ControlUrl) -> Self {
        let name = format!("upnp:{url}");
        Self {
            target: Target::Control(url),
            name,
            gateway: Mutex::new(None),
        }
    }

    /// The external IPv4 address the gateway reports.
    #[instrument(skip_all, fields(source = %self.name))]
    pub async fn external_address(&self) -> Result<Ipv4Addr> {
        let mut cached = self.gateway.lock().await;
        let gateway = match cached.take() {
            Some(gateway) => gateway,
            None => self.find().await?,
        };
        let control_url = match gateway.control_url.starts_with('/') {
            true => format!("http://{}{}", gateway.addr, gateway.control_url),
            false => gateway.control_url.clone(),
        };
        let address =
            gateway
                .get_external_ip()
                .await
                .map_err(|source| Error::UpnpRequestFailed {
                    control_url: control_url.clone(),
                    source,
                })?;
        // Kept only after a successful call: a failure searches again.
        *cached = Some(gateway);
        debug!(control_url = %control_url, address = %address, "gateway reported its external address");
        match address {
            IpAddr::V4(v4) if v4.is_unspecified() => Err(Error::NoExternalAddress { address }),
            IpAddr::V4(v4) => Ok(v4),
            IpAddr::V6(_) => Err(Error::WrongFamily {
                asked: IpFamily::V4,
                address,
            }),
        }
    }

    async fn find(&self) -> Result<IgdGateway<Tokio>> {
        match &self.target {
            Target::Control(url) => Ok(IgdGateway {
                addr: url.address,
                root_url: "/".to_string(),
                control_url: url.path.clone(),
                control_schema_url: String::new(),
                control_schema: HashMap::new(),
                service_type: url.service.clone(),
                provider: Tokio,
            }),
            Target::Discover { timeout } => {
                let mut options = SearchOptions::default();
                options.timeout = Some(*timeout);
                options.single_search_timeout = Some(*timeout);
                options.gateway_ip_version = GatewayIpVersion::V4;
                let gateway = igd_next::aio::tokio::search_gateway(options)
                    .await
                    .map_err(|source| Error::UpnpDiscoveryFailed { source })?;
                info!(gateway = %gateway.addr, control_url = %gateway.control_url, service = %gateway.service_type, "UPnP gateway discovered");
                Ok(gateway)
            }
        }
    }
}

#[async_trait]
impl Detector for UpnpDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        family == IpFamily::V4
    }

    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError> {
        if family != IpFamily::V4 {
            return Err(Error::UnsupportedFamily {
                protocol: "UPnP-IGD",
                family,
            }
            .into());
        }
        Ok(IpAddr::V4(self.external_address().await?))
    }
}

#[cfg(test)]
mod tests;
