//! Asking a DNS server which address it sees us from: `myip.opendns.com`
//! A/AAAA at OpenDNS, `whoami.cloudflare` TXT in class CH at 1.1.1.1,
//! `o-o.myaddr.l.google.com` TXT at Google's name servers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::detect::Detector;
use ddns_core::{IpFamily, SourceError};
use ddns_dns::hickory_proto::op::ResponseCode;
use ddns_dns::hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use ddns_dns::{Client, Transport, query_message, rcode_name};
use tracing::{debug, instrument};

use crate::error::{Error, Result};
use crate::local::{LocalIpv6Lookup, temporary_answer};
use crate::parse::{check_family, parse_plain};

/// The port asked when an entry names none.
const DNS_PORT: u16 = 53;

/// The name whose answer is TXT in class CH when no kind is given.
const CLOUDFLARE_WHOAMI: &str = "whoami.cloudflare";

/// What a [`DnsDetector`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsQueryKind {
    /// `a:`: A for IPv4, AAAA for IPv6, class IN (`myip.opendns.com`).
    Address,
    /// `txt:`: TXT in class IN whose text is the address
    /// (`o-o.myaddr.l.google.com` at Google's name servers).
    Txt,
    /// `txt-ch:`: TXT in class CH whose text is the address
    /// (`whoami.cloudflare` at 1.1.1.1).
    TxtChaos,
}

impl DnsQueryKind {
    /// The spelling in an entry: `a`, `txt` or `txt-ch`.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsQueryKind::Address => "a",
            DnsQueryKind::Txt => "txt",
            DnsQueryKind::TxtChaos => "txt-ch",
        }
    }

    /// The kind an entry without one gets: `txt-ch` for
    /// `whoami.cloudflare`, `a` for every other name.
    pub fn default_for(name: &Name) -> Self {
        let text = name.to_ascii().to_ascii_lowercase();
        if text.trim_end_matches('.') == CLOUDFLARE_WHOAMI {
            DnsQueryKind::TxtChaos
        } else {
            DnsQueryKind::Address
        }
    }
}

/// A `dns:` entry: what to ask, and of which server.
///
/// The syntax is `dns:[KIND:]NAME@SERVER`, where
///
/// - `KIND` is `a` (A for IPv4, AAAA for IPv6, class IN), `txt` (TXT,
///   class IN) or `txt-ch` (TXT, class CH); without it, `txt-ch` for
///   `whoami.cloudflare` and `a` for any other name;
/// - `NAME` is the name asked, such as `myip.opendns.com`;
/// - `SERVER` is the server's IP address, optionally with a port:
///   `208.67.222.222`, `208.67.222.222:5353`, `[2620:119:35::35]`,
///   `[2620:119:35::35]:53` (a bare IPv6 address without brackets is
///   accepted when no port follows). The port defaults to 53. Host names
///   are not accepted: the server's family is the family asked.
///
/// ```
/// use ddns_ip_http::{DnsEndpoint, DnsQueryKind};
/// let entry: DnsEndpoint = "dns:whoami.cloudflare@[2606:4700:4700::1111]".parse().unwrap();
/// assert_eq!(entry.kind(), DnsQueryKind::TxtChaos);
/// assert_eq!(entry.server().port(), 53);
/// assert_eq!(entry.to_string(), "dns:whoami.cloudflare@[2606:4700:4700::1111]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEndpoint {
    kind: DnsQueryKind,
    name: Name,
    server: SocketAddr,
}

impl DnsEndpoint {
    /// Asks `name` (made fully qualified and lower case) of `server`.
    pub fn new(kind: DnsQueryKind, name: Name, server: SocketAddr) -> Self {
        let mut name = name.to_lowercase();
        name.set_fqdn(true);
        Self { kind, name, server }
    }

    /// What is asked.
    pub fn kind(&self) -> DnsQueryKind {
        self.kind
    }

    /// The name asked.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The only family it can answer for: its server's.
    pub fn family(&self) -> IpFamily {
        IpFamily::of(&self.server.ip())
    }
}

impl fmt::Display for DnsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dns:")?;
        if self.kind != DnsQueryKind::default_for(&self.name) {
            write!(f, "{}:", self.kind.as_str())?;
        }
        let name = self.name.to_ascii();
        f.write_str(name.trim_end_matches('.'))?;
        match (self.server.ip(), self.server.port()) {
            (IpAddr::V4(ip), DNS_PORT) => write!(f, "@{ip}"),
            (IpAddr::V6(ip), DNS_PORT) => write!(f, "@[{ip}]"),
            (_, _) => write!(f, "@{}", self.server),
        }
    }
}

impl FromStr for DnsEndpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let rest = text
            .get(..4)
            .filter(|scheme| scheme.eq_ignore_ascii_case("dns:"))
            .and_then(|_| text.get(4..))
            .ok_or_else(|| format!("'{}' does not start with dns:", shown(text)))?;
        let Some((head, server)) = rest.split_once('@') else {
            return Err(format!(
                "'{}' names no server: write dns:NAME@SERVER, such as dns:myip.opendns.com@208.67.222.222",
                shown(text)
            ));
        };
        let (kind, name_text) = match head.split_once(':') {
            Some((kind, name)) => (Some(parse_kind(kind)?), name),
            None => (None, head),
        };
        let name = parse_name(name_text)?;
        let server = parse_server(server)?;
        let kind = kind.unwrap_or_else(|| DnsQueryKind::default_for(&name));
        Ok(Self::new(kind, name, server))
    }
}

fn parse_kind(text: &str) -> Result<DnsQueryKind, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "a" => Ok(DnsQueryKind::Address),
        "txt" => Ok(DnsQueryKind::Txt),
        "txt-ch" => Ok(DnsQueryKind::TxtChaos),
        _ => Err(format!(
            "'{}' is not a query kind (expected a, txt or txt-ch, as in dns:txt-ch:whoami.cloudflare@1.1.1.1)",
            shown(text)
        )),
    }
}

fn parse_name(text: &str) -> Result<Name, String> {
    let text = text.trim();
    let valid_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if text.trim_end_matches('.').is_empty() || !valid_chars {
        return Err(format!(
            "'{}' is not a DNS name such as myip.opendns.com",
            shown(text)
        ));
    }
    let mut name = Name::from_ascii(text)
        .map_err(|e| format!("'{}' is not a valid DNS name: {e}", shown(text)))?;
    name.set_fqdn(true);
    Ok(name)
}

fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let bracketed = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'));
    let parsed = text
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(|ip| (ip, DNS_PORT).into()))
        .or_else(|| {
            bracketed
                .and_then(|inner| inner.parse::<IpAddr>().ok())
                .filter(IpAddr::is_ipv6)
                .map(|ip| (ip, DNS_PORT).into())
        });
    match parsed {
        Some(server) if server.port() != 0 => Ok(server),
        Some(_) => Err(format!("port 0 in '{}' cannot be asked", shown(text))),
        None => Err(format!(
            "the server '{}' is not an IP address with an optional port; name it by address, as in @208.67.222.222 or @[2620:119:35::35]:53",
            shown(text)
        )),
    }
}

/// At most 64 characters of a user's value.
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(64).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Asks a DNS server for the address it sees us from, with recursion
/// desired (OpenDNS and 1.1.1.1 are resolvers), over UDP from a socket of
/// the server's family, again over TCP when the answer is truncated.
///
/// The answer must hold exactly one address of the family asked: one
/// A/AAAA address, or one TXT record whose text is one address. With
/// [`DnsDetector::with_local_ipv6`], an IPv6 answer that is one of this
/// host's temporary (privacy) addresses is refused: the question is not
/// bound to a stable address, so on a host that prefers temporary
/// addresses the server sees one of those.
#[derive(Debug, Clone)]
pub struct DnsDetector {
    endpoint: DnsEndpoint,
    name: String,
    timeout: Duration,
    local_ipv6: Option<LocalIpv6Lookup>,
}

impl DnsDetector {
    /// A detector for `endpoint`, named after it, waiting `timeout` for
    /// each exchange.
    pub fn new(endpoint: DnsEndpoint, timeout: Duration) -> Self {
        Self {
            name: endpoint.to_string(),
            endpoint,
            timeout,
            local_ipv6: None,
        }
    }

    /// Refuses an IPv6 answer that is one of the host's temporary
    /// addresses, as `lookup` reads them before each IPv6 question.
    pub fn with_local_ipv6(mut self, lookup: LocalIpv6Lookup) -> Self {
        self.local_ipv6 = Some(lookup);
        self
    }

    /// Another name for logs.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What it asks.
    pub fn endpoint(&self) -> &DnsEndpoint {
        &self.endpoint
    }

    /// The address of `family` the server sees.
    #[instrument(level = "debug", skip_all, fields(source = %self.name, family = %family))]
    pub async fn ask(&self, family: IpFamily) -> Result<IpAddr> {
        let endpoint = &self.endpoint;
        if family != endpoint.family() {
            return Err(Error::FamilyUnsupported {
                source_name: self.name.clone(),
                family,
            });
        }
        let (record_type, class) = match (endpoint.kind, family) {
            (DnsQueryKind::Address, IpFamily::V4) => (RecordType::A, DNSClass::IN),
            (DnsQueryKind::Address, IpFamily::V6) => (RecordType::AAAA, DNSClass::IN),
            (DnsQueryKind::Txt, _) => (RecordType::TXT, DNSClass::IN),
            (DnsQueryKind::TxtChaos, _) => (RecordType::TXT, DNSClass::CH),
        };
        let question = format!("{} {class} {record_type}", self.name);
        let mut request = query_message(&endpoint.name, record_type);
        request.metadata.recursion_desired = true;
        for query in &mut request.queries {
            query.set_query_class(class);
        }
        let response = Client::new(endpoint.server, None, Transport::Udp, self.timeout)
            .send_named(request, &question)
            .await
            .map_err(|source| Error::DnsExchange {
                question: question.clone(),
                source,
            })?;
        if response.metadata.response_code != ResponseCode::NoError {
            return Err(Error::DnsRcode {
                question,
                server: endpoint.server,
                rcode: rcode_name(response.metadata.response_code),
            });
        }
        let malformed = |reason: String| Error::DnsMalformed {
            question: question.clone(),
            reason,
        };
        let found: Vec<&RData> = response
            .answers
            .iter()
            .filter(|r| r.record_type() == record_type)
            .map(|r| &r.data)
            .collect();
        let address = match record_type {
            RecordType::TXT => txt_address(&found),
            _ => single_address(&found, record_type),
        }
        .and_then(|address| check_family(address, family))
        .map_err(malformed)?;
        if let (IpFamily::V6, Some(lookup)) = (family, &self.local_ipv6) {
            match lookup.read().await {
                Ok(local) => {
                    if let Some(reason) = temporary_answer(address, &local.temporary) {
                        return Err(Error::TemporaryAddress {
                            source_name: question,
                            reason,
                        });
                    }
                }
                Err(error) => {
                    debug!(source = %self.name, error = %error, "cannot read this host's IPv6 addresses; the answer is not checked against its temporary addresses");
                }
            }
        }
        debug!(source = %self.name, family = %family, address = %address, "DNS server answered");
        Ok(address)
    }
}

/// The one address of A or AAAA records.
fn single_address(found: &[&RData], record_type: RecordType) -> Result<IpAddr, String> {
    let mut addresses: Vec<IpAddr> = found
        .iter()
        .filter_map(|data| match data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    match addresses.as_slice() {
        [address] => Ok(*address),
        [] => Err(format!("the answer holds no {record_type} record")),
        many => Err(format!(
            "the answer holds {} different addresses, not one",
            many.len()
        )),
    }
}

/// The address written in the one TXT record (its strings joined).
fn txt_address(found: &[&RData]) -> Result<IpAddr, String> {
    let texts: Vec<&ddns_dns::hickory_proto::rr::rdata::TXT> = found
        .iter()
        .filter_map(|data| match data {
            RData::TXT(txt) => Some(txt),
            _ => None,
        })
        .collect();
    let txt = match texts.as_slice() {
        [txt] => *txt,
        [] => return Err("the answer holds no TXT record".into()),
        many => {
            return Err(format!(
                "the answer holds {} TXT records, not one",
                many.len()
            ));
        }
    };
    let bytes: Vec<u8> = txt
        .txt_data
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    let text = std::str::from_utf8(&bytes).map_err(|_| "the TXT record is not text".to_string())?;
    parse_plain(text.trim()).map_err(|reason| reason.replacen("the answer", "the TXT record", 1))
}

#[async_trait]
impl Detector for DnsDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        family == self.endpoint.family()
    }

    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError> {
        self.ask(family).await.map_err(SourceError::from)
    }
}

#[cfg(test)]
mod tests;
