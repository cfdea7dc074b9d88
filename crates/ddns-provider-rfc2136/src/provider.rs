//! The provider: records in, RRset changes out.

use std::collections::HashMap;
use std::net::IpAddr;

use async_trait::async_trait;
use ddns_core::{DnsProvider, ErrorScope, IpFamily, ProviderError, Record, RecordChange};
use ddns_dns::hickory_proto::rr::rdata::{A, AAAA};
use ddns_dns::hickory_proto::rr::{Name, RData, RecordType};
use ddns_dns::{Client, Error as DnsError, RrsetChange};
use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use crate::NAME;

/// Talks RFC 2136 to one server.
#[derive(Debug)]
pub struct Rfc2136Provider {
    client: Client,
    zone: Option<Name>,
    ttl: u32,
    prerequisites: bool,
    zones: Mutex<HashMap<Name, Name>>,
}

impl Rfc2136Provider {
    /// A provider over `client`. With `zone`, every record must be inside
    /// it; without, each record's zone is asked from the server once.
    /// With `prerequisites`, a write only lands if the record still holds
    /// what ddns last saw.
    pub fn new(client: Client, zone: Option<Name>, ttl: u32, prerequisites: bool) -> Self {
        Self {
            client,
            zone,
            ttl,
            prerequisites,
            zones: Mutex::new(HashMap::new()),
        }
    }

    async fn zone_of(&self, name: &Name) -> Result<Name, ProviderError> {
        if let Some(zone) = &self.zone {
            return Ok(zone.clone());
        }
        if let Some(zone) = self.zones.lock().await.get(name) {
            return Ok(zone.clone());
        }
        let zone = self.client.find_zone(name).await.map_err(classify)?;
        debug!(name = %name, zone = %zone, "zone found");
        self.zones.lock().await.insert(name.clone(), zone.clone());
        Ok(zone)
    }

    fn change(&self, change: &RecordChange) -> Result<RrsetChange, ProviderError> {
        let name = fqdn(&change.record)?;
        let value = match change.address {
            IpAddr::V4(v4) => RData::A(A::from(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA::from(v6)),
        };
        let rrset = RrsetChange::replace(name, self.ttl, vec![value]);
        Ok(match (&change.expected, self.prerequisites) {
            (Some(expected), true) => {
                rrset.expecting(expected.iter().map(|a| to_rdata(*a)).collect())
            }
            _ => rrset,
        })
    }
}

fn to_rdata(address: IpAddr) -> RData {
    match address {
        IpAddr::V4(v4) => RData::A(A::from(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA::from(v6)),
    }
}

fn fqdn(record: &Record) -> Result<Name, ProviderError> {
    Name::from_ascii(format!("{}.", record.name())).map_err(|e| {
        ProviderError::permanent(format!("'{}' is not a valid DNS name: {e}", record.name()))
    })
}

/// Turns a DNS client error into the engine's classification.
fn classify_ref(error: &DnsError) -> ProviderError {
    let message = error.to_string();
    let scope = if error.is_server_wide() {
        ErrorScope::Provider
    } else {
        ErrorScope::Record
    };
    let classified = if error.is_credentials() {
        ProviderError::credentials(message)
    } else if error.is_timeout() {
        ProviderError::timeout(message)
    } else if error.is_transient() {
        if let DnsError::TsigRejected {
            clock_offset: Some(offset),
            ..
        } = error
        {
            warn!(
                clock_offset_secs = offset,
                "the DNS server rejected the TSIG time (BADTIME): this machine's clock is off"
            );
        }
        ProviderError::transient(message)
    } else {
        ProviderError::permanent(message)
    };
    classified.with_scope(scope)
}

fn classify(error: DnsError) -> ProviderError {
    classify_ref(&error).with_source(error)
}

#[async_trait]
impl DnsProvider for Rfc2136Provider {
    fn name(&self) -> &str {
        NAME
    }

    fn supports_record(&self, record: &Record) -> bool {
        match (&self.zone, fqdn(record)) {
            (Some(zone), Ok(name)) => zone.zone_of(&name),
            (None, Ok(_)) => true,
            (_, Err(_)) => false,
        }
    }

    fn max_batch(&self) -> usize {
        // One UPDATE per zone per batch; BIND writes one journal entry per message.
        100
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        let Some(key) = self.client.key() else {
            info!(server = %self.client.server(), "no TSIG key: updates are sent unsigned, for servers that allow them by address");
            return Ok(());
        };
        let zone = self.zone.clone().unwrap_or_else(Name::root);
        match self.client.check_key(&zone).await {
            Ok(()) => Ok(()),
            Err(error) if error.is_credentials() || error.is_transient() => Err(classify(error)),
            // Anything else (REFUSED for a zone it does not serve) still
            // proves the server accepted the signature.
            Err(error) => {
                debug!(key = %key.name(), error = %error, "key accepted");
                Ok(())
            }
        }
    }

    async fn read(&self, record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError> {
        let name = fqdn(record)?;
        let record_type = match record.family() {
            IpFamily::V4 => RecordType::A,
            IpFamily::V6 => RecordType::AAAA,
        };
        let answer = self
            .client
            .query(&name, record_type)
            .await
            .map_err(classify)?;
        let values = answer
            .values
            .iter()
            .filter_map(|value| match value {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        Ok(Some(values))
    }

    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError> {
        let name = fqdn(&change.record)?;
        let zone = self.zone_of(&name).await?;
        let rrset = self.change(change)?;
        self.client.apply(&zone, &[rrset]).await.map_err(classify)
    }

    async fn update_many(&self, changes: &[RecordChange]) -> Vec<Result<(), ProviderError>> {
        // Group by zone, keeping the configuration order inside each group.
        let mut results: Vec<Option<Result<(), ProviderError>>> =
            changes.iter().map(|_| None).collect();
        let mut groups: Vec<(Name, Vec<usize>, Vec<RrsetChange>)> = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let prepared = match fqdn(&change.record) {
                Ok(name) => match self.zone_of(&name).await {
                    Ok(zone) => self.change(change).map(|rrset| (zone, rrset)),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match prepared {
                Ok((zone, rrset)) => match groups.iter_mut().find(|(z, _, _)| *z == zone) {
                    Some((_, indices, rrsets)) => {
                        indices.push(index);
                        rrsets.push(rrset);
                    }
                    None => groups.push((zone, vec![index], vec![rrset])),
                },
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        for (zone, indices, rrsets) in groups {
            let outcome = self.client.apply(&zone, &rrsets).await;
            for index in indices {
                results[index] = Some(match &outcome {
                    Ok(()) => Ok(()),
                    // The message is all or nothing: every change shares its fate.
                    Err(error) => Err(classify_ref(error)),
                });
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ProviderError::transient("change was not attempted"))))
            .collect()
    }
}
