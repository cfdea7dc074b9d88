//! The client: one server, an optional key, a transport and a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tracing::debug;

use crate::error::{Error, Result};
use crate::message::{Section, parse_response, query_message, update_message};
use crate::transport::{self, MAX_UDP_REQUEST, Transport};
use crate::tsig::TsigKey;

/// The values of an RRset as a server answered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The RRset's values (empty when the name or type does not exist).
    pub values: Vec<RData>,
    /// Whether the answer came with the AA bit (from a server of the zone).
    pub authoritative: bool,
}

/// A change of one RRset inside a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RrsetChange {
    /// Make the RRset of the values' type hold exactly `values`.
    Replace {
        /// Owner name.
        name: Name,
        /// TTL of the new records.
        ttl: u32,
        /// The new values, all of one type; must not be empty.
        values: Vec<RData>,
        /// Apply only if the RRset holds exactly these values now (empty:
        /// only if it does not exist).
        expect: Option<Vec<RData>>,
    },
    /// Remove the RRset of `record_type` at `name`.
    Delete {
        /// Owner name.
        name: Name,
        /// Type to remove.
        record_type: RecordType,
        /// Apply only if the RRset holds exactly these values now.
        expect: Option<Vec<RData>>,
    },
}

impl RrsetChange {
    /// Replaces the RRset unconditionally.
    pub fn replace(name: Name, ttl: u32, values: Vec<RData>) -> Self {
        RrsetChange::Replace {
            name,
            ttl,
            values,
            expect: None,
        }
    }

    /// Adds the prerequisite that the RRset holds exactly `current` now.
    pub fn expecting(mut self, current: Vec<RData>) -> Self {
        match &mut self {
            RrsetChange::Replace { expect, .. } | RrsetChange::Delete { expect, .. } => {
                *expect = Some(current)
            }
        }
        self
    }

    fn target(&self) -> (&Name, Option<RecordType>) {
        match self {
            RrsetChange::Replace { name, values, .. } => {
                (name, values.first().map(RData::record_type))
            }
            RrsetChange::Delete {
                name, record_type, ..
            } => (name, Some(*record_type)),
        }
    }

    pub(crate) fn sections(&self) -> Vec<Section> {
        let (name, record_type) = self.target();
        let Some(record_type) = record_type else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match self {
            RrsetChange::Replace { expect, .. } | RrsetChange::Delete { expect, .. } => {
                match expect {
                    Some(values) if values.is_empty() => {
                        out.push(Section::RrsetAbsent(name.clone(), record_type))
                    }
                    Some(values) => out.push(Section::RrsetEquals(name.clone(), values.clone())),
                    None => {}
                }
            }
        }
        out.push(Section::DeleteRrset(name.clone(), record_type));
        if let RrsetChange::Replace { ttl, values, .. } = self {
            out.push(Section::Add(name.clone(), *ttl, values.clone()));
        }
        out
    }
}

/// Talks to one DNS server.
#[derive(Debug, Clone)]
pub struct Client {
    server: SocketAddr,
    key: Option<TsigKey>,
    transport: Transport,
    timeout: Duration,
}

impl Client {
    /// A client of `server`, signing with `key` when given.
    pub fn new(
        server: SocketAddr,
        key: Option<TsigKey>,
        transport: Transport,
        timeout: Duration,
    ) -> Self {
        Self {
            server,
            key,
            transport,
            timeout,
        }
    }

    /// The server.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The key, if any.
    pub fn key(&self) -> Option<&TsigKey> {
        self.key.as_ref()
    }

    /// Sends `request` as built by the caller and returns the answer,
    /// whatever its response code.
    ///
    /// This is the exchange [`Client::query`] and [`Client::apply`] use,
    /// for messages they do not build: a recursive query (RD set), a
    /// question in class CH, a query of another type. The request is signed
    /// when the client has a key; in [`Transport::Udp`] mode it goes over
    /// UDP from the unspecified address of the server's family (`0.0.0.0`
    /// or `[::]`) and is asked again over TCP when the answer is truncated
    /// (or over TCP at once when it is too big for a datagram); in
    /// [`Transport::Tcp`] mode over TCP only. The answer must match the
    /// request's ID, opcode and question (see [`crate::parse_response`])
    /// and, with a key, be correctly signed.
    ///
    /// The response code is not judged: a `REFUSED` or `SERVFAIL` answer is
    /// returned as `Ok`, for the caller to read `response.metadata.response_code`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Unreachable`] or [`Error::Io`] when no
    /// answer arrives, [`Error::Malformed`] when the answer does not answer
    /// the request, [`Error::Encode`] when the request cannot be written,
    /// and the TSIG errors when a key is set.
    pub async fn send(&self, request: Message) -> Result<Message> {
        self.send_named(request, "request").await
    }

    /// [`Client::send`], naming the request `operation` in logs.
    pub async fn send_named(&self, request: Message, operation: &str) -> Result<Message> {
        self.exchange(request, operation).await
    }

    /// Sends `request` (signed when a key is set) and returns the checked
    /// answer. `operation` names the request in logs.
    async fn exchange(&self, mut request: Message, operation: &str) -> Result<Message> {
        let (bytes, mac) = match &self.key {
            Some(key) => {
                let (bytes, mac) = key.sign(&mut request)?;
                (bytes, Some(mac))
            }
            None => (
                request.to_vec().map_err(|e| Error::Encode {
                    reason: e.to_string(),
                })?,
                None,
            ),
        };
        let id = request.metadata.id;
        let use_tcp = self.transport == Transport::Tcp || bytes.len() > MAX_UDP_REQUEST;
        let mut answer = if use_tcp {
            transport::tcp(self.server, &bytes, id, self.timeout).await?
        } else {
            transport::udp(self.server, &bytes, id, self.timeout).await?
        };
        let mut response = self.parse(&answer, &request)?;
        if response.metadata.truncation && !use_tcp {
            debug!(server = %self.server, operation, "answer truncated; asking again over TCP");
            answer = transport::tcp(self.server, &bytes, id, self.timeout).await?;
            response = self.parse(&answer, &request)?;
        }
        if let (Some(key), Some(mac)) = (&self.key, &mac) {
            key.check(self.server, &answer, &response, mac)?;
        }
        Ok(response)
    }

    fn parse(&self, bytes: &[u8], request: &Message) -> Result<Message> {
        parse_response(bytes, request).map_err(|reason| Error::Malformed {
            server: self.server,
            reason,
        })
    }

    fn rcode_error(&self, operation: String, rcode: ResponseCode, zone: Option<&Name>) -> Error {
        let zone = zone.map(|z| z.to_string()).unwrap_or_default();
        let hint = match rcode {
            ResponseCode::Refused => format!(
                "; the server does not allow this; grant the key updates in the zone (update-policy or allow-update for {zone}) and check the key name"
            ),
            ResponseCode::NotAuth => format!("; the server is not authoritative for zone {zone}: check the zone and the server address"),
            ResponseCode::NotZone => format!("; the name is not inside zone {zone}: check the zone"),
            ResponseCode::NXRRSet | ResponseCode::YXRRSet | ResponseCode::NXDomain | ResponseCode::YXDomain => {
                "; a prerequisite failed: the record does not hold the value ddns expected, so someone else changed it".to_string()
            }
            ResponseCode::ServFail => "; the server failed, it may recover".to_string(),
            _ => String::new(),
        };
        Error::Rcode {
            server: self.server,
            operation,
            rcode,
            hint,
        }
    }

    /// Queries an RRset at this server.
    pub async fn query(&self, name: &Name, record_type: RecordType) -> Result<Answer> {
        let operation = format!("query {name} {record_type}");
        let response = self
            .exchange(query_message(name, record_type), &operation)
            .await?;
        match response.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            rcode => return Err(self.rcode_error(operation, rcode, None)),
        }
        let values = response
            .answers
            .iter()
            .filter(|r| r.record_type() == record_type && r.name == *name)
            .map(|r| r.data.clone())
            .collect();
        Ok(Answer {
            values,
            authoritative: response.metadata.authoritative,
        })
    }

    /// Finds the zone that holds `name` on this server: asks for the SOA of
    /// the name, then of each parent, and takes the first SOA in an answer
    /// or in the authority section of a negative answer.
    pub async fn find_zone(&self, name: &Name) -> Result<Name> {
        let mut current = name.clone();
        loop {
            let operation = format!("query {current} SOA");
            let response = self
                .exchange(query_message(&current, RecordType::SOA), &operation)
                .await?;
            match response.metadata.response_code {
                ResponseCode::NoError | ResponseCode::NXDomain => {
                    let soa = response
                        .answers
                        .iter()
                        .chain(response.authorities.iter())
                        .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(name));
                    if let Some(record) = soa {
                        return Ok(record.name.clone());
                    }
                }
                ResponseCode::Refused | ResponseCode::NotAuth => {}
                rcode => return Err(self.rcode_error(operation, rcode, None)),
            }
            if current.is_root() || current.num_labels() <= 1 {
                return Err(Error::ZoneNotFound {
                    server: self.server,
                    name: name.to_string(),
                });
            }
            current = current.base_name();
        }
    }

    /// Applies `changes` in one UPDATE message: all or nothing.
    pub async fn apply(&self, zone: &Name, changes: &[RrsetChange]) -> Result<()> {
        let operation = format!("UPDATE of zone {zone}");
        let response = self
            .exchange(update_message(zone, changes), &operation)
            .await?;
        match response.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            rcode => Err(self.rcode_error(operation, rcode, Some(zone))),
        }
    }

    /// Proves the key works: a signed SOA query for `zone`. Without a key
    /// it only checks that the server answers for the zone.
    pub async fn check_key(&self, zone: &Name) -> Result<()> {
        self.query(zone, RecordType::SOA).await.map(|_| ())
    }
}
