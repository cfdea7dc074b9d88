//! `DDNS_VERIFY=dns`: plain DNS queries without recursion, to given
//! servers or to the zone's authoritative servers.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ddns_core::{Observation, ProviderError, Record, Verifier};
use ddns_dns::hickory_proto::rr::{Name, RData, RecordType};
use ddns_dns::{Answer, Client, Transport};
use futures_util::future::join_all;
use tracing::debug;

use crate::discovery::Discovery;
use crate::error::{Error, Result};
use crate::resolver::Resolver;
use crate::server::DNS_PORT;
use crate::{DNS, TIMEOUT};

/// Which servers to ask.
#[derive(Debug)]
enum Servers {
    /// These, whatever the zone.
    Fixed(Arc<[SocketAddr]>),
    /// The zone's own, found through recursive resolvers.
    Authoritative(Discovery),
}

/// Reads a record from DNS servers directly, without recursion, and
/// reports it as authoritative only when every server answered with the
/// AA bit and they all agree.
#[derive(Debug)]
pub struct DnsVerifier {
    servers: Servers,
}

impl DnsVerifier {
    /// Asks these servers, whatever the record's zone.
    pub fn new(servers: Vec<SocketAddr>) -> Self {
        Self {
            servers: Servers::Fixed(servers.into()),
        }
    }

    /// Asks each zone's authoritative servers, found once per zone through
    /// the recursive resolvers `resolvers` (SOA, then NS, then addresses).
    pub fn authoritative(resolvers: Vec<SocketAddr>) -> Self {
        Self::authoritative_on_port(resolvers, DNS_PORT)
    }

    /// Like [`DnsVerifier::authoritative`], reaching the servers found on
    /// `port` rather than 53: for test setups and labs whose servers
    /// listen elsewhere.
    pub fn authoritative_on_port(resolvers: Vec<SocketAddr>, port: u16) -> Self {
        Self {
            servers: Servers::Authoritative(Discovery::new(
                Resolver::new(resolvers, TIMEOUT),
                port,
            )),
        }
    }

    /// Asks each zone's authoritative servers, found through the
    /// resolvers named in a resolv.conf file (`/etc/resolv.conf`).
    pub fn from_resolv_conf(path: &Path) -> Result<Self> {
        crate::resolv::read_resolv_conf(path).map(Self::authoritative)
    }

    /// A description for logs and `ddnsd check`.
    pub(crate) fn describe(&self) -> String {
        match &self.servers {
            Servers::Fixed(servers) => join(servers),
            Servers::Authoritative(discovery) => format!(
                "the zone's authoritative servers, found through {}",
                join(discovery.resolver().servers())
            ),
        }
    }

    async fn servers_for(&self, name: &Name) -> Result<Arc<[SocketAddr]>> {
        match &self.servers {
            Servers::Fixed(servers) => Ok(servers.clone()),
            Servers::Authoritative(discovery) => discovery.servers_for(name).await,
        }
    }

    async fn read(&self, record: &Record) -> Result<Observation> {
        let name = record_name(record)?;
        let record_type = record_type(record);
        let servers = self.servers_for(&name).await?;
        let answers = join_all(servers.iter().map(|server| {
            let client = Client::new(*server, None, Transport::Udp, TIMEOUT);
            let name = &name;
            async move { (*server, client.query(name, record_type).await) }
        }))
        .await;
        combine(&record.to_string(), answers)
    }
}

#[async_trait]
impl Verifier for DnsVerifier {
    fn name(&self) -> &str {
        DNS
    }

    async fn observe(&self, record: &Record) -> Result<Observation, ProviderError> {
        self.read(record).await.map_err(ProviderError::from)
    }
}

/// The DNS name of a record (absolute).
pub(crate) fn record_name(record: &Record) -> Result<Name> {
    Name::from_ascii(format!("{}.", record.name())).map_err(|e| Error::InvalidName {
        name: record.name().to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn record_type(record: &Record) -> RecordType {
    match record.family() {
        ddns_core::IpFamily::V4 => RecordType::A,
        ddns_core::IpFamily::V6 => RecordType::AAAA,
    }
}

/// The addresses among record data, sorted and without duplicates.
pub(crate) fn addresses(values: &[RData]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = values
        .iter()
        .filter_map(|value| match value {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One observation from the answers of several servers, in the order the
/// servers are listed. The values are those of the first server that
/// answered; the observation is authoritative only when every server
/// answered, each with AA, and all with the same values. Servers that lag
/// behind (a secondary before its transfer) or fail make it "not
/// confirmed", which never justifies skipping a write.
pub(crate) fn combine(
    question: &str,
    answers: Vec<(SocketAddr, Result<Answer, ddns_dns::Error>)>,
) -> Result<Observation> {
    let mut first: Option<Vec<IpAddr>> = None;
    let mut authoritative = true;
    let mut failures = Vec::new();
    for (server, result) in answers {
        match result {
            Ok(answer) => {
                let values = addresses(&answer.values);
                authoritative &= answer.authoritative;
                if !answer.authoritative {
                    debug!(record = question, server = %server, "answer without AA: the server is not authoritative for the zone");
                }
                match &first {
                    None => first = Some(values),
                    Some(expected) if *expected != values => {
                        debug!(record = question, server = %server, served = ?values, first = ?expected, "servers disagree");
                        authoritative = false;
                    }
                    Some(_) => {}
                }
            }
            Err(error) => {
                debug!(record = question, server = %server, error = %error, "server did not answer");
                failures.push(error);
            }
        }
    }
    match first {
        Some(values) => Ok(Observation {
            values,
            authoritative: authoritative && failures.is_empty(),
        }),
        None => Err(Error::ServersFailed {
            question: question.to_string(),
            failures,
        }),
    }
}

fn join(servers: &[SocketAddr]) -> String {
    servers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_dns::hickory_proto::rr::rdata::{A, AAAA};

    fn server(n: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, n], 53))
    }

    fn answer(values: &[[u8; 4]], authoritative: bool) -> Result<Answer, ddns_dns::Error> {
        Ok(Answer {
            values: values
                .iter()
                .map(|v| RData::A(A::new(v[0], v[1], v[2], v[3])))
                .collect(),
            ttl: (!values.is_empty()).then_some(60),
            authoritative,
        })
    }

    fn timeout(n: u8) -> Result<Answer, ddns_dns::Error> {
        Err(ddns_dns::Error::Timeout {
            server: server(n),
            timeout_ms: 5000,
        })
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn agreeing_authoritative_servers_confirm() {
        let observation = combine(
            "h.example.test A",
            vec![
                (
                    server(1),
                    answer(&[[198, 51, 100, 2], [198, 51, 100, 1]], true),
                ),
                (
                    server(2),
                    answer(&[[198, 51, 100, 1], [198, 51, 100, 2]], true),
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            observation,
            Observation {
                values: ips(&["198.51.100.1", "198.51.100.2"]),
                authoritative: true
            }
        );
    }

    #[test]
    fn disagreement_gives_the_first_answer_unconfirmed() {
        let observation = combine(
            "h.example.test A",
            vec![
                (server(1), timeout(1)),
                (server(2), answer(&[[198, 51, 100, 1]], true)),
                (server(3), answer(&[[198, 51, 100, 9]], true)),
            ],
        )
        .unwrap();
        assert_eq!(observation.values, ips(&["198.51.100.1"]));
        assert!(!observation.authoritative);
    }

    #[test]
    fn a_silent_or_non_authoritative_server_leaves_it_unconfirmed() {
        let partial = combine(
            "h.example.test A",
            vec![
                (server(1), answer(&[[198, 51, 100, 1]], true)),
                (server(2), timeout(2)),
            ],
        )
        .unwrap();
        assert_eq!(partial.values, ips(&["198.51.100.1"]));
        assert!(!partial.authoritative);

        let cached = combine(
            "h.example.test A",
            vec![
                (server(1), answer(&[[198, 51, 100, 1]], true)),
                (server(2), answer(&[[198, 51, 100, 1]], false)),
            ],
        )
        .unwrap();
        assert!(!cached.authoritative);
    }

    #[test]
    fn an_empty_answer_is_an_observation_of_nothing() {
        let observation =
            combine("h.example.test A", vec![(server(1), answer(&[], true))]).unwrap();
        assert_eq!(
            observation,
            Observation {
                values: vec![],
                authoritative: true
            }
        );
    }

    #[test]
    fn no_answer_at_all_names_every_server() {
        let err = combine(
            "h.example.test A",
            vec![(server(1), timeout(1)), (server(2), timeout(2))],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no usable answer for h.example.test A: no answer from 192.0.2.1:53 within 5000 ms; no answer from 192.0.2.2:53 within 5000 ms"
        );
        let provider_error = ProviderError::from(err);
        assert!(provider_error.is_transient());
        assert!(provider_error.message().contains("192.0.2.2:53"));
    }

    #[test]
    fn only_addresses_count() {
        let values = vec![
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            RData::A(A::new(192, 0, 2, 1)),
            RData::A(A::new(192, 0, 2, 1)),
        ];
        assert_eq!(addresses(&values), ips(&["192.0.2.1", "2001:db8::1"]));
    }

    #[test]
    fn descriptions_name_the_servers() {
        assert_eq!(
            DnsVerifier::new(vec![server(1), "[2001:db8::53]:5300".parse().unwrap()]).describe(),
            "192.0.2.1:53, [2001:db8::53]:5300"
        );
        assert_eq!(
            DnsVerifier::authoritative(vec![server(53)]).describe(),
            "the zone's authoritative servers, found through 192.0.2.53:53"
        );
    }
}
