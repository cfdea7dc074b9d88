//! The client: one server, an optional key, a transport and a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
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
    /// The RRset's TTL as served (the lowest when the records differ);
    /// `None` without values.
    pub ttl: Option<u32>,
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
    /// Add `add` to the RRset, then remove the records `remove` from it one
    /// by one, leaving its other records: how the NS set at a zone's apex
    /// changes, since servers ignore a deletion of that whole set (RFC 2136
    /// §3.4.2.3) and never remove its last record. `ttl` applies to the
    /// added records (BIND gives the whole set the TTL of an addition).
    Edit {
        /// Owner name.
        name: Name,
        /// TTL of the added records.
        ttl: u32,
        /// Records to add, all of one type.
        add: Vec<RData>,
        /// Records to remove, of the same type.
        remove: Vec<RData>,
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

    /// Adds the prerequisite that the RRset holds exactly `current` now
    /// (an [`RrsetChange::Edit`] takes no prerequisite).
    pub fn expecting(mut self, current: Vec<RData>) -> Self {
        match &mut self {
            RrsetChange::Replace { expect, .. } | RrsetChange::Delete { expect, .. } => {
                *expect = Some(current)
            }
            RrsetChange::Edit { .. } => {}
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
            RrsetChange::Edit {
                name, add, remove, ..
            } => (name, add.first().or(remove.first()).map(RData::record_type)),
        }
    }

    pub(crate) fn sections(&self) -> Vec<Section> {
        let (name, record_type) = self.target();
        let Some(record_type) = record_type else {
            return Vec::new();
        };
        if let RrsetChange::Edit {
            ttl, add, remove, ..
        } = self
        {
            return vec![
                Section::Add(name.clone(), *ttl, add.clone()),
                Section::DeleteRecords(name.clone(), remove.clone()),
            ];
        }
        let mut out = Vec::new();
        match self {
            RrsetChange::Edit { .. } => {}
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

/// The values and TTL of the `record_type` records at `name` in `records`.
fn rrset_in(records: &[Record], name: &Name, record_type: RecordType) -> (Vec<RData>, Option<u32>) {
    let matching = records
        .iter()
        .filter(|r| r.record_type() == record_type && r.name == *name);
    let ttl = matching.clone().map(|r| r.ttl).min();
    (matching.map(|r| r.data.clone()).collect(), ttl)
}

/// The RRset of `record_type` at `name` as the zone holds it, from an
/// answer: the answer section, or for a referral (no AA bit, no answer, NS
/// records in the authority section) the delegation's NS set or the glue.
fn zone_data(
    response: &Message,
    name: &Name,
    record_type: RecordType,
) -> (Vec<RData>, Option<u32>) {
    let referral = !response.metadata.authoritative
        && response.answers.is_empty()
        && response
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NS);
    if !referral {
        return rrset_in(&response.answers, name, record_type);
    }
    let section = if record_type == RecordType::NS {
        &response.authorities
    } else {
        &response.additionals
    };
    rrset_in(section, name, record_type)
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
        let (values, ttl) = rrset_in(&response.answers, name, record_type);
        Ok(Answer {
            values,
            ttl,
            authoritative: response.metadata.authoritative,
        })
    }

    /// Queries an RRset as the server's zone holds it, including data at
    /// or below a delegation.
    ///
    /// Like [`Client::query`], except for names where the zone delegates:
    /// there the server answers with a referral (no AA bit, nothing in the
    /// answer section), and the zone's own data comes from the other
    /// sections: the delegation's NS set from the authority section, the
    /// glue addresses from the additional section. A tool that keeps a
    /// zone's RRsets up to date needs them to see that a delegation or its
    /// glue already holds the right values.
    pub async fn query_zone_data(&self, name: &Name, record_type: RecordType) -> Result<Answer> {
        let operation = format!("query {name} {record_type}");
        let response = self
            .exchange(query_message(name, record_type), &operation)
            .await?;
        match response.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            rcode => return Err(self.rcode_error(operation, rcode, None)),
        }
        let (values, ttl) = zone_data(&response, name, record_type);
        Ok(Answer {
            values,
            ttl,
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::{A, NS};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_else(|_| Name::root())
    }

    fn record(owner: &str, ttl: u32, data: RData) -> Record {
        Record::from_rdata(name(owner), ttl, data)
    }

    fn ns(target: &str) -> RData {
        RData::NS(NS(name(target)))
    }

    #[test]
    fn zone_data_reads_answers_and_referrals() {
        let mut answer = Message::response(1, OpCode::Query);
        answer.metadata.authoritative = true;
        answer.add_answer(record(
            "a.example.test.",
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        answer.add_answer(record(
            "a.example.test.",
            30,
            RData::A(A::new(192, 0, 2, 2)),
        ));
        answer.add_answer(record(
            "b.example.test.",
            60,
            RData::A(A::new(192, 0, 2, 3)),
        ));
        let (values, ttl) = zone_data(&answer, &name("a.example.test."), RecordType::A);
        assert_eq!((values.len(), ttl), (2, Some(30)), "the lowest TTL");

        let mut referral = Message::response(2, OpCode::Query);
        referral.add_authority(record("sub.example.test.", 300, ns("ns.sub.example.test.")));
        referral.add_additional(record(
            "ns.sub.example.test.",
            120,
            RData::A(A::new(192, 0, 2, 53)),
        ));
        let (values, ttl) = zone_data(&referral, &name("sub.example.test."), RecordType::NS);
        assert_eq!((values, ttl), (vec![ns("ns.sub.example.test.")], Some(300)));
        let (values, ttl) = zone_data(&referral, &name("ns.sub.example.test."), RecordType::A);
        assert_eq!(
            (values, ttl),
            (vec![RData::A(A::new(192, 0, 2, 53))], Some(120))
        );
        let (values, ttl) = zone_data(&referral, &name("x.sub.example.test."), RecordType::NS);
        assert_eq!((values.len(), ttl), (0, None), "only the cut's own NS set");

        // An authoritative negative answer with the zone's NS in authority
        // is not a referral.
        let mut negative = Message::response(3, OpCode::Query);
        negative.metadata.authoritative = true;
        negative.add_authority(record("example.test.", 300, ns("ns.example.test.")));
        let (values, _) = zone_data(&negative, &name("example.test."), RecordType::NS);
        assert!(values.is_empty());
    }
}
