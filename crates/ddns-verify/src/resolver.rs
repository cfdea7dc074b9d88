//! Recursive questions to the system's resolvers (RD set), for finding a
//! zone's authoritative servers.
//!
//! The query is built by `ddns_dns::query_message` with RD set and moved
//! by `ddns_dns::Client::send` (UDP, TCP when the answer is truncated);
//! this module only picks the resolver and judges the response code.

use std::net::SocketAddr;
use std::time::Duration;

use ddns_dns::hickory_proto::op::{Message, ResponseCode};
use ddns_dns::hickory_proto::rr::{Name, RecordType};
use ddns_dns::{Client, Error as DnsError, Transport, query_message};
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
            let operation = format!("query {name} {record_type}");
            let client = Client::new(*server, None, Transport::Udp, self.timeout);
            match client.send_named(request, &operation).await {
                Ok(response) => match response.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(response),
                    rcode => failures.push(DnsError::Rcode {
                        server: *server,
                        operation,
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

#[cfg(test)]
mod tests {
    use super::*;
    use ddns_dns::hickory_proto::op::{MessageType, OpCode};
    use ddns_dns::hickory_proto::rr::{RData, Record, rdata::A};
    use tokio::net::UdpSocket;

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
