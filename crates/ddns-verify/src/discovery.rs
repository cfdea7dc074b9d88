//! Finding a zone's authoritative servers through recursive resolvers:
//! the zone from an SOA walk, its NS names, one address for each.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use ddns_dns::hickory_proto::op::Message;
use ddns_dns::hickory_proto::rr::{Name, RData, RecordType};
use tracing::debug;

use crate::error::{Error, Result};
use crate::resolver::Resolver;

/// Finds and remembers the authoritative servers of the zones of the
/// names it is asked about, for as long as it lives.
#[derive(Debug)]
pub(crate) struct Discovery {
    resolver: Resolver,
    port: u16,
    /// Record name → its zone.
    zones: Mutex<HashMap<Name, Name>>,
    /// Zone → its servers.
    servers: Mutex<HashMap<Name, Arc<[SocketAddr]>>>,
}

impl Discovery {
    /// Asks `resolver`, and reaches the servers found on `port`.
    pub(crate) fn new(resolver: Resolver, port: u16) -> Self {
        Self {
            resolver,
            port,
            zones: Mutex::default(),
            servers: Mutex::default(),
        }
    }

    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The authoritative servers of the zone holding `name`. Found once per
    /// zone; a failure is not remembered, so the next call tries again.
    pub(crate) async fn servers_for(&self, name: &Name) -> Result<Arc<[SocketAddr]>> {
        let known_zone = lock(&self.zones).get(name).cloned();
        let zone = match known_zone {
            Some(zone) => zone,
            None => {
                let zone = self.find_zone(name).await?;
                lock(&self.zones).insert(name.clone(), zone.clone());
                zone
            }
        };
        if let Some(servers) = lock(&self.servers).get(&zone) {
            return Ok(servers.clone());
        }
        let servers: Arc<[SocketAddr]> = self.find_servers(&zone).await?.into();
        debug!(zone = %zone, servers = ?servers, "found the zone's authoritative servers");
        lock(&self.servers).insert(zone, servers.clone());
        Ok(servers)
    }

    /// Asks for the SOA of the name, then of each parent, until an answer
    /// (or the authority section of a negative answer) names the zone.
    async fn find_zone(&self, name: &Name) -> Result<Name> {
        let mut current = name.clone();
        loop {
            let response = self.resolver.ask(&current, RecordType::SOA).await?;
            if let Some(zone) = zone_of(&response, name) {
                return Ok(zone);
            }
            if current.num_labels() <= 1 {
                return Err(Error::ZoneNotFound {
                    name: name.to_string(),
                });
            }
            current = current.base_name();
        }
    }

    async fn find_servers(&self, zone: &Name) -> Result<Vec<SocketAddr>> {
        let response = self.resolver.ask(zone, RecordType::NS).await?;
        let targets = ns_targets(&response, zone);
        let mut servers = Vec::new();
        for target in &targets {
            let mut addresses = addresses_of(&response, target);
            if addresses.is_empty() {
                addresses = self.lookup_addresses(target).await?;
            }
            match pick_address(&addresses) {
                Some(ip) => {
                    let server = SocketAddr::new(ip, self.port);
                    if !servers.contains(&server) {
                        servers.push(server);
                    }
                }
                None => {
                    debug!(zone = %zone, server = %target, "name server has no address; left out")
                }
            }
        }
        if servers.is_empty() {
            let names = if targets.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = targets.iter().map(ToString::to_string).collect();
                format!(" ({})", names.join(", "))
            };
            return Err(Error::NoServers {
                zone: zone.to_string(),
                names,
            });
        }
        Ok(servers)
    }

    /// The IPv4 addresses of a server, or its IPv6 ones when it has none.
    async fn lookup_addresses(&self, target: &Name) -> Result<Vec<IpAddr>> {
        for record_type in [RecordType::A, RecordType::AAAA] {
            let response = self.resolver.ask(target, record_type).await?;
            let addresses = addresses_of(&response, target);
            if !addresses.is_empty() {
                return Ok(addresses);
            }
        }
        Ok(Vec::new())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps are only ever inserted into, so a panic elsewhere cannot
    // leave them half-changed.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The zone that holds `name`, from the SOA record in an answer or in the
/// authority section of a negative answer.
pub(crate) fn zone_of(response: &Message, name: &Name) -> Option<Name> {
    response
        .answers
        .iter()
        .chain(response.authorities.iter())
        .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(name))
        .map(|r| r.name.clone())
}

/// The names of the zone's servers, from the NS records of the answer,
/// sorted so that "the first server" means the same one every time.
pub(crate) fn ns_targets(response: &Message, zone: &Name) -> Vec<Name> {
    let mut targets: Vec<Name> = response
        .answers
        .iter()
        .filter(|r| r.name == *zone)
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// The addresses the response gives for `target` in its answer or
/// additional section (glue), following a CNAME chain in the answer.
pub(crate) fn addresses_of(response: &Message, target: &Name) -> Vec<IpAddr> {
    let mut names = vec![target.clone()];
    // A chain is at most as long as the answer; this bounds a loop in it.
    for _ in 0..response.answers.len() {
        let Some(next) = response.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(cname) if names.last() == Some(&r.name) && !names.contains(&cname.0) => {
                Some(cname.0.clone())
            }
            _ => None,
        }) else {
            break;
        };
        names.push(next);
    }
    response
        .answers
        .iter()
        .chain(response.additionals.iter())
        .filter(|r| names.contains(&r.name))
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect()
}

/// One address per server is enough to ask it; IPv4 first, because a host
/// without IPv6 connectivity would otherwise see those servers fail and
/// never get a confirmed answer.
pub(crate) fn pick_address(addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_dns::hickory_proto::op::OpCode;
    use ddns_dns::hickory_proto::rr::Record;
    use ddns_dns::hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn record(owner: &str, data: RData) -> Record {
        Record::from_rdata(name(owner), 300, data)
    }

    fn soa(zone: &str) -> RData {
        RData::SOA(SOA::new(
            name(&format!("ns1.{zone}")),
            name(&format!("hostmaster.{zone}")),
            1,
            3600,
            600,
            86400,
            60,
        ))
    }

    fn ns(target: &str) -> RData {
        RData::NS(NS(name(target)))
    }

    fn response() -> Message {
        Message::response(1, OpCode::Query)
    }

    #[test]
    fn zone_from_an_answer_or_from_a_negative_answer() {
        let home = name("home.example.com.");
        let mut positive = response();
        positive.add_answer(record("example.com.", soa("example.com.")));
        assert_eq!(zone_of(&positive, &home), Some(name("example.com.")));

        // NODATA or NXDOMAIN: the SOA of the zone is in the authority section.
        let mut negative = response();
        negative.add_authority(record("example.com.", soa("example.com.")));
        assert_eq!(zone_of(&negative, &home), Some(name("example.com.")));

        // An SOA of an unrelated zone (after a CNAME elsewhere) is not it.
        let mut elsewhere = response();
        elsewhere.add_answer(record(
            "home.example.com.",
            RData::CNAME(CNAME(name("x.other.net."))),
        ));
        elsewhere.add_answer(record("other.net.", soa("other.net.")));
        assert_eq!(zone_of(&elsewhere, &home), None);
        assert_eq!(zone_of(&response(), &home), None);
    }

    #[test]
    fn ns_targets_are_the_zones_ns_records_sorted() {
        let zone = name("example.com.");
        let mut message = response();
        message.add_answer(record("example.com.", ns("ns2.example.net.")));
        message.add_answer(record("example.com.", ns("NS1.example.net.")));
        message.add_answer(record("example.com.", ns("ns2.example.net.")));
        // Not the zone's: another owner, another type.
        message.add_answer(record("sub.example.com.", ns("ns9.example.net.")));
        message.add_answer(record(
            "example.com.",
            RData::TXT(TXT::new(vec!["x".into()])),
        ));
        message.add_authority(record("example.com.", ns("ns8.example.net.")));
        assert_eq!(
            ns_targets(&message, &zone),
            vec![name("ns1.example.net."), name("ns2.example.net.")]
        );
        assert!(ns_targets(&response(), &zone).is_empty());
    }

    #[test]
    fn addresses_from_glue_and_through_cnames() {
        let target = name("ns1.example.net.");
        let mut message = response();
        message.add_answer(record("example.com.", ns("ns1.example.net.")));
        message.add_additional(record(
            "ns1.example.net.",
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53)),
        ));
        message.add_additional(record("ns1.example.net.", RData::A(A::new(192, 0, 2, 53))));
        message.add_additional(record("ns2.example.net.", RData::A(A::new(192, 0, 2, 54))));
        let addresses = addresses_of(&message, &target);
        assert_eq!(
            addresses,
            vec![
                "2001:db8::53".parse::<IpAddr>().unwrap(),
                "192.0.2.53".parse().unwrap()
            ]
        );
        assert_eq!(
            pick_address(&addresses),
            Some("192.0.2.53".parse().unwrap())
        );

        let mut chained = response();
        chained.add_answer(record(
            "ns1.example.net.",
            RData::CNAME(CNAME(name("host.example.net."))),
        ));
        chained.add_answer(record(
            "host.example.net.",
            RData::CNAME(CNAME(name("ns1.example.net."))),
        ));
        chained.add_answer(record("host.example.net.", RData::A(A::new(192, 0, 2, 9))));
        assert_eq!(
            addresses_of(&chained, &target),
            vec!["192.0.2.9".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn ipv6_only_servers_are_asked_over_ipv6() {
        let v6: IpAddr = "2001:db8::53".parse().unwrap();
        assert_eq!(pick_address(&[v6]), Some(v6));
        assert_eq!(pick_address(&[]), None);
    }
}
