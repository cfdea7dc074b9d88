//! The DoH verifier against a strict stand-in on loopback (plain HTTP/1.1,
//! allowed there), for what BIND never sends: error statuses, wrong media
//! types, garbage, answers to other questions, oversized bodies. The
//! stand-in also checks the request itself (RFC 8484 POST).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use ddns_core::config::Env;
use ddns_core::{IpFamily, Observation, Record, VerifierFactory};
use ddns_dns::hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use ddns_dns::hickory_proto::rr::rdata::A;
use ddns_dns::hickory_proto::rr::{Name, RData, Record as DnsRecord, RecordType};
use ddns_verify::DohVerifierFactory;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the stand-in sends back: status, content type, body.
type Reply = (u16, &'static str, Vec<u8>);

/// Makes the reply from the question.
type Replier = Box<dyn FnOnce(Message) -> Reply + Send>;

/// Serves one request with `reply(dns_question)` after checking that it is
/// an RFC 8484 POST to `/dns-query` with ID 0 and RD set.
async fn stand_in(reply: impl FnOnce(Message) -> Reply + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        let (head, body) = loop {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the client closed before a whole request");
            request.extend_from_slice(&buffer[..n]);
            let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .parse()
                .unwrap();
            if request.len() >= end + 4 + length {
                break (head, request[end + 4..end + 4 + length].to_vec());
            }
        };
        assert!(head.starts_with("post /dns-query http/1.1"), "{head}");
        assert!(
            head.contains("\r\ncontent-type: application/dns-message"),
            "{head}"
        );
        assert!(
            head.contains("\r\naccept: application/dns-message"),
            "{head}"
        );
        let question = Message::from_vec(&body).unwrap();
        assert_eq!(question.metadata.id, 0, "RFC 8484: ID 0");
        assert!(question.metadata.recursion_desired);

        let (status, content_type, body) = reply(question);
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    addr
}

/// An answer to `question` with `rcode`, AA as given and one A record.
fn answer(question: &Message, rcode: ResponseCode, authoritative: bool) -> Vec<u8> {
    let mut response = Message::response(question.metadata.id, question.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.response_code = rcode;
    response.metadata.authoritative = authoritative;
    response.add_queries(question.queries.clone());
    if rcode == ResponseCode::NoError {
        response.add_answer(DnsRecord::from_rdata(
            question.queries[0].name().clone(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
    }
    response.to_vec().unwrap()
}

async fn observe(addr: SocketAddr) -> Result<Observation, String> {
    let env = Env::from_pairs([("DDNS_VERIFY_DOH_URL", format!("http://{addr}/dns-query"))]);
    let verifier = DohVerifierFactory
        .configure(&env)
        .unwrap()
        .build()
        .await
        .unwrap();
    let record = Record::new("host.example.test".parse().unwrap(), IpFamily::V4);
    verifier.observe(&record).await.map_err(|e| {
        assert!(e.is_transient(), "{e}");
        e.to_string()
    })
}

#[tokio::test]
async fn a_resolvers_answer_is_read_but_not_authoritative() {
    let addr = stand_in(|q| {
        (
            200,
            "application/dns-message",
            answer(&q, ResponseCode::NoError, false),
        )
    })
    .await;
    assert_eq!(
        observe(addr).await.unwrap(),
        Observation {
            values: vec!["192.0.2.1".parse().unwrap()],
            authoritative: false
        }
    );
}

#[tokio::test]
async fn bad_answers_are_errors_that_say_what_was_wrong() {
    let origin = |addr: SocketAddr| format!("http://{addr}");
    let cases: Vec<(Replier, &str)> = vec![
        (
            Box::new(|_| (503, "text/plain", b"busy".to_vec())),
            "{origin} answered the DNS-over-HTTPS query for host.example.test A with HTTP 503",
        ),
        (
            Box::new(|q| (200, "text/html", answer(&q, ResponseCode::NoError, true))),
            "bad DNS-over-HTTPS answer from {origin} for host.example.test A: the content type is 'text/html', not application/dns-message",
        ),
        (
            Box::new(|_| (200, "application/dns-message", b"\xde\xad".to_vec())),
            "bad DNS-over-HTTPS answer from {origin} for host.example.test A: not a DNS message",
        ),
        (
            Box::new(|q| {
                let mut other = q.clone();
                other.queries = vec![Query::query(
                    Name::from_ascii("elsewhere.example.test.").unwrap(),
                    RecordType::A,
                )];
                (
                    200,
                    "application/dns-message",
                    answer(&other, ResponseCode::NoError, true),
                )
            }),
            "bad DNS-over-HTTPS answer from {origin} for host.example.test A: the answer is for another question",
        ),
        (
            Box::new(|q| {
                (
                    200,
                    "application/dns-message",
                    answer(&q, ResponseCode::ServFail, false),
                )
            }),
            "{origin} answered host.example.test A with Server Failure",
        ),
        (
            Box::new(|_| (200, "application/dns-message", vec![0u8; 70_000])),
            "bad DNS-over-HTTPS answer from {origin} for host.example.test A: the answer is larger than 65535 bytes",
        ),
    ];
    for (reply, expected) in cases {
        let addr = stand_in(reply).await;
        let expected = expected.replace("{origin}", &origin(addr));
        let message = observe(addr).await.expect_err(&expected);
        assert!(
            message.starts_with(&expected),
            "got: {message}\nexpected: {expected}"
        );
    }
}
