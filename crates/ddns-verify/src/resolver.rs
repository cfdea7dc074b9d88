//! Recursive questions to the system's resolvers (RD set), for finding a
//! zone's authoritative servers.
//!
//! `ddns_dns::Client` only asks without recursion, since it talks to
//! authoritative servers, so the few lines that move a recursive query
//! live here. Messages are built by `ddns_dns::query_message` and checked
//! by `ddns_dns::parse_response`; nothing here touches the wire format.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ddns_dns::hickory_proto::op::{Message, ResponseCode};
use ddns_dns::hickory_proto::rr::{Name, RecordType};
use ddns_dns::{Error as DnsError, parse_response, query_message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tracing::debug;

use crate::error::{Error, Result};

/// Recursive resolvers, asked in order until one answers.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Resolver {
    pub(crate) fn new(servers: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self { servers, timeout }
    }

    pub(crate) fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The first answer (NOERROR or NXDOMAIN) any resolver gives; the
    /// others are asked only when one fails.
    pub(crate) async fn ask(&self, name: &Name, record_type: RecordType) -> Result<Message> {
        let mut failures = Vec::new();
        for server in &self.servers {
            let mut request = query_message(name, record_type);
            request.metadata.recursion_desired = true;
            match exchange(*server, &request, self.timeout).await {
                Ok(response) => match response.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(response),
                    rcode => failures.push(DnsError::Rcode {
                        server: *server,
                        operation: format!("query {name} {record_type}"),
                        rcode,
                        hint: String::new(),
                    }),
                },
                Err(error) => {
                    debug!(resolver = %server, error = %error, "resolver failed; trying the next one");
                    failures.push(error);
                }
            }
        }
        Err(Error::ResolversFailed {
            question: format!("{name} {record_type}"),
            failures,
        })
    }
}

/// One question over UDP, asked again over TCP when the answer is cut short.
async fn exchange(
    server: SocketAddr,
    request: &Message,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let bytes = request.to_vec().map_err(|e| DnsError::Encode {
        reason: e.to_string(),
    })?;
    let id = request.metadata.id;
    let parse = |answer: &[u8]| {
        parse_response(answer, request).map_err(|reason| DnsError::Malformed { server, reason })
    };
    let response = parse(&within(server, timeout, udp(server, &bytes, id)).await?)?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    debug!(resolver = %server, "answer truncated; asking again over TCP");
    parse(&within(server, timeout, tcp(server, &bytes, id)).await?)
}

async fn within(
    server: SocketAddr,
    timeout: Duration,
    exchange: impl Future<Output = Result<Vec<u8>, DnsError>>,
) -> Result<Vec<u8>, DnsError> {
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| DnsError::Timeout {
            server,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        })?
}

fn io_error(server: SocketAddr, error: std::io::Error) -> DnsError {
    use std::io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
        | AddrNotAvailable => DnsError::Unreachable {
            server,
            source: error,
        },
        _ => DnsError::Io {
            server,
            source: error,
        },
    }
}

fn is_answer_to(bytes: &[u8], id: u16) -> bool {
    bytes.len() >= 12 && u16::from_be_bytes([bytes[0], bytes[1]]) == id && bytes[2] & 0x80 != 0
}

/// Datagrams from elsewhere are dropped by the connected socket; strays
/// with another ID are skipped.
async fn udp(server: SocketAddr, request: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| io_error(server, e))?;
    socket
        .connect(server)
        .await
        .map_err(|e| io_error(server, e))?;
    socket
        .send(request)
        .await
        .map_err(|e| io_error(server, e))?;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let n = socket
            .recv(&mut buffer)
            .await
            .map_err(|e| io_error(server, e))?;
        if is_answer_to(&buffer[..n], id) {
            buffer.truncate(n);
            return Ok(buffer);
        }
    }
}

async fn tcp(server: SocketAddr, request: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
    let length = u16::try_from(request.len()).map_err(|_| DnsError::Encode {
        reason: format!(
            "a {}-byte question does not fit in TCP framing",
            request.len()
        ),
    })?;
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| io_error(server, e))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(request);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| io_error(server, e))?;
    loop {
        let length = stream.read_u16().await.map_err(|e| io_error(server, e))?;
        let mut buffer = vec![0u8; usize::from(length)];
        stream
            .read_exact(&mut buffer)
            .await
            .map_err(|e| io_error(server, e))?;
        if is_answer_to(&buffer, id) {
            return Ok(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_dns::hickory_proto::op::{MessageType, OpCode};
    use ddns_dns::hickory_proto::rr::{RData, Record, rdata::A};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// A resolver on a loopback socket that answers each question with
    /// `reply(request)`, as many times as asked.
    async fn fake_resolver(
        reply: impl Fn(&Message) -> Message + Send + 'static,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<Message>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buffer = vec![0u8; 65_535];
            while let Ok(Ok((n, peer))) =
                tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buffer))
                    .await
            {
                let request = Message::from_vec(&buffer[..n]).unwrap();
                let response = reply(&request);
                socket
                    .send_to(&response.to_vec().unwrap(), peer)
                    .await
                    .unwrap();
                seen.push(request);
            }
            seen
        });
        (addr, task)
    }

    fn answer(request: &Message, rcode: ResponseCode) -> Message {
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.message_type = MessageType::Response;
        response.metadata.response_code = rcode;
        response.metadata.recursion_available = true;
        response.add_queries(request.queries.clone());
        if rcode == ResponseCode::NoError {
            response.add_answer(Record::from_rdata(
                request.queries[0].name().clone(),
                60,
                RData::A(A::new(192, 0, 2, 7)),
            ));
        }
        response
    }

    #[tokio::test]
    async fn asks_with_recursion_desired_and_falls_over_to_the_next_resolver() {
        let (failing, failing_task) =
            fake_resolver(|request| answer(request, ResponseCode::ServFail)).await;
        let (working, working_task) =
            fake_resolver(|request| answer(request, ResponseCode::NoError)).await;
        let resolver = Resolver::new(vec![failing, working], Duration::from_secs(2));
        let response = resolver
            .ask(&name("ns1.example.test."), RecordType::A)
            .await
            .unwrap();
        assert_eq!(response.answers.len(), 1);
        let seen = working_task.await.unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].metadata.recursion_desired, "RD must be set");
        assert_eq!(failing_task.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn every_resolver_failing_names_each_of_them() {
        let (failing, _task) =
            fake_resolver(|request| answer(request, ResponseCode::Refused)).await;
        // Nothing listens here: the kernel refuses the datagram.
        let closed = {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap()
        };
        let resolver = Resolver::new(vec![failing, closed], Duration::from_secs(2));
        let err = resolver
            .ask(&name("example.test."), RecordType::NS)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "no usable answer from the resolvers for example.test. NS (looking for the zone's servers): "
            ),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "{failing} answered query example.test. NS with REFUSED"
            )),
            "{err}"
        );
        assert!(err.contains(&format!("cannot reach {closed}")), "{err}");
    }
}
